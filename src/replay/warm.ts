/**
 * Replay children started ahead of their tasks. Most of a short task's time is Node booting and
 * loading the runtime (an eval's task: ~180 ms, of which ~130 ms before the script's first line),
 * and before the first task is due the orchestrator works on one core, propagating and checking
 * out the runs' code. A warm process (warm-child.ts) boots then and waits for its task; the task
 * starts in it as it would in a process of its own (`node <script> <argv>`, same environment, cwd
 * and argv), but ~130 ms sooner.
 * As many are kept ready as tasks are known to come, up to a limit (pool.ts): a warm process
 * never runs a task the dispatcher did not start, so --workers still bounds the tasks running.
 * Used only for tasks started without Node options (a loader flag must be there at boot) and with
 * the environment the process was started with; any other task starts a process of its own.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { envKey, spawnWarm, takeEarly, type Waiting } from './warm-early.js';

export { childEnv } from './warm-early.js';

/** The warm process's entry: the built file, also when this module runs from src/ under tsx (tests). */
export function childEntry(): string | null {
  const here = import.meta.url;
  const url = here.endsWith('.ts') ? new URL('../../dist/replay/warm-child.js', here) : new URL('./warm-child.js', here);
  const path = fileURLToPath(url);
  return existsSync(path) ? path : null;
}

/** A warm process given its task; `started` tells whether it began running it (else it died before). */
export interface WarmStart {
  child: ChildProcess;
  started(): boolean;
}

export interface WarmPool {
  /** `n` more tasks are known to come (negative: fewer); warm processes are started or ended to match. */
  ahead(n: number): void;
  /**
   * Starts a task in a warm process, or returns null (none ready, or the task needs a process of
   * its own). Counts as one task started either way.
   */
  start(task: { node: string; execArgv: string[]; script: string; argv: string[]; cwd: string }, env: NodeJS.ProcessEnv, taskEnv: Record<string, string>): WarmStart | null;
  /** Ends the warm processes no task took. */
  close(): Promise<void>;
}

type Idle = Waiting;

/**
 * `env`: the environment a task's process gets, but for the variables of its own task (`taskEnv`
 * in start()). `top`: the work tree, whose 'git-flor' the warm processes load.
 */
export function warmPool(o: { limit: number; top: string; env: () => NodeJS.ProcessEnv }): WarmPool {
  const entry = childEntry();
  const idle: Idle[] = [];
  /** The ended ones' exits: reaped before the replay returns (a CLI exiting at once would leave zombies). */
  const ended: Array<Promise<void>> = [];
  let ahead = 0;
  let pending = false;
  let closed = false;

  // The process the command started as it started (warm-early.ts), when it fits this pool's tasks.
  const early = entry ? takeEarly(entry, o.top, envKey(o.env())) : null;
  if (early) idle.push(early);

  const boot = (): void => {
    idle.push(spawnWarm(entry!, o.top, o.env()));
  };

  const end = (w: Idle): void => {
    const { child } = w;
    ended.push(new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r()))));
    w.gone = true;
    child.ref(); // its exit is awaited by close()
    child.kill('SIGKILL');
  };

  const fit = (): void => {
    if (closed) return;
    for (let i = idle.length - 1; i >= 0; i--) if (idle[i]!.gone) idle.splice(i, 1);
    const want = entry ? Math.max(0, Math.min(o.limit, ahead)) : 0;
    while (idle.length < want) boot();
    while (idle.length > want) end(idle.pop()!);
  };

  /**
   * fit() after this turn, where a task was handed out: a spawn holds this thread up to tens of
   * milliseconds (the fork), and the tasks handed out in this turn start first.
   */
  const later = (): void => {
    if (pending) return;
    pending = true;
    setImmediate(() => {
      pending = false;
      fit();
    });
  };

  return {
    ahead(n) {
      ahead += n;
      fit();
    },
    start(task, env, taskEnv) {
      ahead--;
      let w: Idle | undefined;
      if (task.execArgv.length === 0 && task.node === process.execPath) {
        const key = envKey(env);
        const i = idle.findIndex((x) => !x.gone && x.key === key);
        if (i >= 0) [w] = idle.splice(i, 1);
      }
      later();
      if (!w) return null;
      const { child } = w;
      let acked = false;
      const channel = child.stdio[3] as unknown as NodeJS.ReadWriteStream;
      // Its task's process now: waited for like any other.
      child.ref();
      for (const s of [child.stderr, channel]) (s as unknown as { ref?: () => void } | null)?.ref?.();
      channel.on('data', () => (acked = true));
      channel.on('error', () => undefined);
      channel.end(JSON.stringify({ env: taskEnv, cwd: task.cwd, script: task.script, argv: task.argv }) + '\n');
      return { child, started: () => acked };
    },
    async close() {
      closed = true;
      for (const w of idle.splice(0)) end(w);
      await Promise.all(ended);
    },
  };
}
