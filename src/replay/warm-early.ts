/**
 * The first replay child of a `git flor` command that replays, started as the command starts
 * (cli/boot.ts), before the CLI's own code is compiled and loaded. A replay's orchestrator works
 * on one core from its start until its first task is handed out, and every replay child it starts
 * boots on the cores it needs too (~0.1 s of CPU each, most of it Node's own start). Started this
 * early, the first one boots on the core the command leaves idle while it starts, not beside the
 * orchestrator's propagation and checkout; the pool (warm.ts) takes it as one of the processes it
 * keeps ready. A command that ends without a pool taking it ends it (endEarly), as the pool ends
 * the ones no task took.
 * Only where the command and the work tree are plain to see: `log … --replay` or `replay` (not a
 * dry run, nor a plan being written, nor help), run at the top of a work tree (a `.git` there),
 * with no GIT_DIR or GIT_WORK_TREE. boot.cjs and cli.cjs are separate bundles, each with its own
 * copy of this module: the process started is kept in a process-wide slot.
 */
import type { ChildProcess } from 'node:child_process';
import { REPLAY_ENV, REPLAY_PARENT_ENV } from '../runtime/replay-spec.js';
// Built-ins at first use, through process.getBuiltinModule: every command loads this module
// (boot.ts, main.ts), and a require made at load loaded node:module, and with it Node's ES module
// loader and source-map support, in every command's start.
import { childProcess, nodeFs, nodePath } from '../store/builtins.js';
const SLOT = Symbol.for('git-flor.warm-early');

/** A replay child waiting for its task (warm-child.ts), with what decides which tasks it may take. */
export interface Waiting {
  child: ChildProcess;
  /** The environment it was started with, as envKey gives it. */
  key: string;
  gone: boolean;
}

interface Early extends Waiting {
  entry: string;
  top: string;
}

type Slot = { [SLOT]?: Early };

/** The environment of a task's process, but for its spec's path (the same for every task of a replay). */
export function childEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra, [REPLAY_PARENT_ENV]: String(process.pid) };
  delete env[REPLAY_ENV];
  // The replay child must not believe it is part of a Git hook of the user's.
  delete env.GIT_DIR;
  delete env.GIT_INDEX_FILE;
  delete env.GIT_WORK_TREE;
  return env;
}

export function envKey(env: NodeJS.ProcessEnv): string {
  return JSON.stringify(Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Starts warm-child.ts (`entry`) for the work tree `top`: idle, it keeps neither this process nor its pipes alive. */
export function spawnWarm(entry: string, top: string, env: NodeJS.ProcessEnv): Waiting {
  const { spawn } = childProcess();
  const child = spawn(process.execPath, [entry, top], { cwd: top, env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  const w: Waiting = { child, key: envKey(env), gone: false };
  child.on('error', () => (w.gone = true));
  child.on('exit', () => (w.gone = true));
  child.unref();
  for (const s of [child.stderr, child.stdio[3]]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  return w;
}

/** Whether `argv` (the command's, global flags first) runs replay tasks: the commands an early child is started for. */
export function replaysTasks(argv: string[]): boolean {
  if (argv.some((a) => a === '-h' || a === '--help' || a === '--dry-run' || a === '--shards' || a.startsWith('--shards='))) return false;
  return (argv[0] === 'log' && argv.includes('--replay')) || argv[0] === 'replay';
}

/**
 * Starts the early child for `argv` run in `cwd`, when it is such a command there (see above).
 * `entry` may be given as a function, called only then: boot.ts's URL to path took ~0.4 ms of
 * every command's start (timed in the process).
 */
export function startEarly(argv: string[], entryOf: string | (() => string), cwd = process.cwd()): void {
  if (!replaysTasks(argv) || process.env.GIT_DIR !== undefined || process.env.GIT_WORK_TREE !== undefined) return;
  const entry = typeof entryOf === 'string' ? entryOf : entryOf();
  const fs = nodeFs();
  const path = nodePath();
  let top: string;
  try {
    if (!fs.existsSync(path.join(cwd, '.git')) || !fs.existsSync(entry)) return;
    top = fs.realpathSync(cwd);
  } catch {
    return;
  }
  const slot = globalThis as Slot;
  if (slot[SLOT]) return;
  slot[SLOT] = { ...spawnWarm(entry, top, childEnv(undefined)), entry, top };
}

/** The early child, for a pool of `entry` over `top` whose tasks get the environment of `key`; null when there is none (or it does not fit). */
export function takeEarly(entry: string, top: string, key: string): Waiting | null {
  const slot = globalThis as Slot;
  const e = slot[SLOT];
  if (!e || e.gone || e.entry !== entry || e.top !== top || e.key !== key) return null;
  delete slot[SLOT];
  return e;
}

/** Ends the early child no pool took, and waits until it is gone (a child left behind is never reaped here). */
export async function endEarly(): Promise<void> {
  const slot = globalThis as Slot;
  const e = slot[SLOT];
  if (!e) return;
  delete slot[SLOT];
  const { child } = e;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.ref();
  child.kill('SIGKILL');
  await gone;
}
