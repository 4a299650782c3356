/**
 * The two ends of a recorded run that touch the repository: at start, finding it and journaling
 * the run's metadata with its code snapshot; at the end, handing the journal to a detached
 * capturer. Everything between is the session's.
 */
import type { SpawnOptions } from 'node:child_process';
import { childProcess, hostName, stderrIsTTY } from '../store/builtins.js';
import { relative, dirname, resolve, sep, isAbsolute } from 'node:path';
import { readdirSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RepoInfo } from '../store/git.js';
import { snapshotCodeSync, headSync, findRunRepoSync, type Head } from '../store/worktree.js';
import { florConfigSync, largeTrackedLine, skippedLine, skippedSummary } from '../store/code-select.js';
import { openJournal, journalDir, journalPath, JOURNAL_EXT, type JournalWriter } from '../store/journal.js';
import { startWaitingCapture } from '../store/waiting-capture.js';
import type { DetachedChild } from '../store/detached-child.js';
import { lastListedRunIds } from '../store/derived-cache.js';
import { capturedIds } from '../store/captured-ids.js';
import { pinCodeSync } from '../store/code-ref.js';
import { recordableExecArgv } from '../store/exec-argv.js';
import { configBool } from '../store/config.js';
import { firstTime, initDone } from '../store/once.js';
import type { RunMeta, RunStatus } from '../store/types.js';
import { ulid } from './ulid.js';
import { REPLAY_ENV, REPLAY_PARENT_ENV } from './replay-spec.js';

/**
 * Variables of the script's environment its capturer does not inherit: replay mode, which would
 * change what it does, and NODE_EXTRA_CA_CERTS, which Node 20 reads and parses at every start
 * (45 ms of a 100 ms `node -e 0` with Debian's bundle) for TLS the capturer never makes.
 */
const CAPTURER_DROPS = [REPLAY_ENV, REPLAY_PARENT_ENV, 'NODE_EXTRA_CA_CERTS'];

export function firstLine(e: unknown): string {
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return msg.split('\n')[0]!.slice(0, 500);
}

export function toSlash(p: string): string {
  return sep === '/' ? p : p.split(sep).join('/');
}

export function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/** The script's path relative to `from` (slashes), or '' when there is no script (`node -e`). */
export function scriptPath(from: string): string {
  return process.argv[1] ? toSlash(relative(from, real(process.argv[1]))) : '';
}

function moduleSibling(rel: string): { path: string; execArgv: string[] } {
  // Under tsx (tests of src/) modules are .ts and need the loader; the built package is plain JS.
  const ts = import.meta.url.endsWith('.ts');
  const url = new URL(rel + (ts ? '.ts' : '.js'), import.meta.url);
  // The loader by its full path: the child runs in the git dir, where `tsx` would not resolve.
  return { path: fileURLToPath(url), execArgv: ts ? ['--import', import.meta.resolve('tsx')] : [] };
}

/** `true` in scripts/bundle.ts's function bundles (the runtime's among them), undefined in tsc's output. */
declare const __florBundled: boolean | undefined;

/**
 * What the capturer runs. A bundled runtime was built with the capturer's bundle, and starts
 * capture-main.cjs, which runs it with a V8 code cache: through capture-main.js (an ES module) a
 * capture also paid Node's ES module loader, ~24M of its ~200M instructions (callgrind). The
 * runtime of a plain tsc build (one made after a bundle, too) starts tsc's capture-main.js.
 */
function capturerEntry(): { path: string; execArgv: string[] } {
  const entry = moduleSibling('../store/capture-main');
  return typeof __florBundled !== 'undefined' && entry.execArgv.length === 0 ? { path: entry.path.replace(/\.js$/, '.cjs'), execArgv: [] } : entry;
}

/** Metadata of a run as it starts; capture completes it from the journal. */
export function baseMeta(id: string): RunMeta {
  return {
    format: 'flor-run',
    version: 1,
    id,
    writer: '', // the capturing clone's writer id, filled in by capture
    start: new Date().toISOString(),
    end: null,
    script: '',
    cwd: '',
    argv: process.argv.slice(2),
    execArgv: [...process.execArgv],
    args: {},
    commit: null,
    branch: null,
    dirty: false,
    node: process.version,
    status: 'running',
    exitCode: null,
    error: null,
    loops: [],
    outerMs: [],
    checkpointing: [],
    records: 0,
  };
}

/** The repository to record in, and HEAD when the same git process found it. */
export interface Located {
  repo: RepoInfo;
  head: Head | null;
}

/**
 * The repository of the code that runs: the script's. A script given by a path outside any
 * repository falls back to the working directory's. Null outside one (or in a bare one).
 */
export function locateRepo(): Located | null {
  const script = process.argv[1];
  const fromScript = script ? findRunRepoSync(dirname(real(script))) : null;
  const found = fromScript ?? findRunRepoSync(process.cwd());
  return found?.repo.top ? { repo: found.repo, head: found.head } : null;
}

export interface Started {
  runId: string;
  meta: RunMeta;
  journal: JournalWriter;
  florConfig: Map<string, string>;
  /** The process that captures the journal when this one has ended (store/waiting-capture.ts), or null. */
  capturer: DetachedChild | null;
}

/**
 * Starts recording in `at`: starts the waiting capturer (which also lists the code), snapshots
 * the code, journals the start frame and pins the code tree. Throws when the run cannot be
 * recorded (the caller says so and runs the script unrecorded).
 */
export function startRun(at: Located): Started {
  const { repo } = at;
  const top = repo.top!;
  const runId = ulid();
  const main = capturerEntry();
  const jpath = journalPath(repo.commonDir, runId);
  // If the start fails below, the shell is left to end with this process (no journal: no capture;
  // it removes its listing): killed now, it would be this process's zombie until the loop turns.
  const waiting = startWaitingCapture(repo, jpath, [process.execPath, ...main.execArgv, main.path, jpath], CAPTURER_DROPS);
  // What does not depend on the code is done while the shell lists it.
  const florConfig = florConfigSync(repo);
  const head = at.head ?? headSync(repo);
  const cwd = toSlash(relative(top, real(process.cwd())));
  const started: RunMeta = {
    ...baseMeta(runId),
    script: scriptPath(top),
    cwd,
    // Only the loader flags replay needs travel with the run (store/exec-argv.ts).
    execArgv: recordableExecArgv(process.execArgv, cwd, (abs) => {
      const r = real(abs);
      const inTop = relative(real(top), r);
      if (inTop.startsWith('..') || isAbsolute(inTop)) return null;
      const rel = toSlash(relative(real(process.cwd()), r));
      return rel.startsWith('../') ? rel : `./${rel}`;
    }),
    commit: head.commit,
    branch: head.branch,
  };
  const snap = snapshotCodeSync(repo, { config: florConfig, warn: (l) => process.stderr.write(l), listed: waiting ? () => waiting.listed() : undefined });
  const codeTree = snap.tree;
  const skipped = skippedSummary(snap.skipped);
  const meta: RunMeta = { ...started, dirty: codeTree !== head.tree, ...(skipped ? { skipped } : {}) };
  const warning = skippedLine(runId, snap.skipped, snap.maxBytes) + largeTrackedLine(snap.largeModified, snap.maxBytes);
  if (warning) process.stderr.write(warning); // process.stderr is created only to say something
  const journal = openJournal(repo.commonDir, runId);
  journal.append({ t: 'start', meta, codeTree, pid: process.pid, host: hostName() });
  try {
    // Keeps the code tree alive through a `git gc --prune=now` until capture references it.
    pinCodeSync(repo, runId, codeTree);
  } catch {
    // Recording works without the pin; only a gc during the run could then lose its code.
  }
  return { runId, meta, journal, florConfig, capturer: waiting?.child ?? null };
}

/** The waiting capturer is still there to capture at this process's exit (as far as this process has seen). */
export function waiting(child: DetachedChild | null): boolean {
  return child !== null && child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/**
 * Starts the capture of the finished journal in a detached process and returns at once: the
 * script's process exits without waiting for Git. Nothing is lost meanwhile: a reader waits for
 * a capture in flight or does it itself (store/settle.ts). The capturer reads only the journal
 * and the repository's objects (the code tree was snapshotted at start), runs in the git dir,
 * and is in a session of its own, so a Ctrl-C meant for the script does not stop it.
 * At exit it is a plain child, adopted by init as this process ends. Mid-process (commit()) it
 * is started through `sh -c '… &'`: the shell, reaped here at once, leaves the capturer to init,
 * so it never lingers as this process's zombie while a synchronous stretch keeps the event loop
 * (which reaps children) from turning.
 */
export function startCapture(commonDir: string, journalPath: string, runId: string, exiting: boolean): void {
  const main = capturerEntry();
  const argv = [...main.execArgv, main.path, journalPath];
  const opts: SpawnOptions = { cwd: commonDir, detached: true, stdio: 'ignore', env: { ...process.env, ...Object.fromEntries(CAPTURER_DROPS.map((k) => [k, undefined])) } };
  try {
    if (exiting || process.platform === 'win32') {
      const child = childProcess().spawn(process.execPath, argv, opts);
      child.on('error', () => {}); // reported by the next reader, which captures the journal
      child.unref();
    } else {
      const r = childProcess().spawnSync('/bin/sh', ['-c', '"$@" &', 'sh', process.execPath, ...argv], opts);
      if (r.error) throw r.error;
    }
  } catch (e) {
    process.stderr.write(`git flor: run ${runId} is journaled but not captured yet (${firstLine(e)}); the next \`git flor\` command that lists runs captures it\n`);
  }
}

/**
 * The shortest prefix of `id`, 8 characters or more, that no other run this clone knows shares: the
 * runs of the last listing a reader cached, the journals waiting (concurrent runs), and the runs
 * captured lately (store/captured-ids.ts: captured since that listing, with no reader since). Read
 * from files, without a git process; a run fetched since the last listing is not among them.
 */
export function shortRunId(repo: RepoInfo, id: string): string {
  let names: string[] = [];
  try {
    names = readdirSync(journalDir(repo.commonDir));
  } catch {
    // no journal directory
  }
  const journals = names.filter((n) => n.includes(JOURNAL_EXT)).map((n) => n.slice(0, n.indexOf(JOURNAL_EXT)));
  let shared = 0;
  for (const other of [...lastListedRunIds(repo), ...journals, ...capturedIds(repo.commonDir)]) {
    if (other === id) continue;
    let i = 0;
    while (i < id.length && other[i] === id[i]) i++;
    if (i > shared) shared = i;
  }
  return id.slice(0, Math.max(8, shared + 1));
}

/**
 * On a terminal, one line saying the run was recorded and how to see it (the capture is still in
 * flight: the count is the runtime's own), and once per clone not set up by `git flor init`, how
 * to share runs. `git config flor.quiet true` turns both off.
 */
export function sayRecorded(repo: RepoInfo, runId: string, status: RunStatus, records: number, florConfig: ReadonlyMap<string, string> | null): void {
  if (!stderrIsTTY() || configBool(florConfig?.get('flor.quiet')) === true) return;
  const id = shortRunId(repo, runId);
  const n = records;
  const as = status === 'ok' ? '' : ` as ${status}`;
  let text = `flor: run ${id} recorded${as} (${n.toLocaleString('en-US')} record${n === 1 ? '' : 's'}) — git flor show ${id}\n`;
  if (!initDone(repo.commonDir) && firstTime(repo.commonDir, 'share-hint')) text += 'flor: runs stay in this clone until `git flor init` makes `git push` share them (said once)\n';
  process.stderr.write(text);
}
