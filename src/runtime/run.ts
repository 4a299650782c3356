/**
 * One process's flor session: started lazily by the first flor.* call, in one of three modes.
 * - record: the run is journaled under `<commonDir>/flor/journal/` and captured into the ledger
 *   by a detached process started when it finishes (commit(), normal exit, uncaught error,
 *   SIGINT/SIGTERM): the script's process exits without waiting for the capture;
 * - replay: FLOR_REPLAY names a ReplaySpec; only the requested outer iterations run, records go to
 *   the spec's `out` journal, nothing is captured and no checkpoint is taken;
 * - off: outside a Git repository (or after commit()): the script runs, nothing is recorded.
 */
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { hostname, constants as osConstants } from 'node:os';
import { relative, dirname, resolve, sep, isAbsolute } from 'node:path';
import { realpathSync, writeFileSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FlorError } from '../errors.js';
import type { RepoInfo } from '../store/git.js';
import { snapshotCodeSync, headSync, findRunRepoSync, type Head } from '../store/worktree.js';
import { florConfigSync, largeTrackedLine, skippedLine, skippedSummary } from '../store/code-select.js';
import { openJournal, openJournalAt, type JournalWriter, type EndFrame, type JournalFrame } from '../store/journal.js';
import { getCheckpoint, putCheckpoint } from '../store/checkpoints.js';
import { pinCodeSync } from '../store/code-ref.js';
import { configBool } from '../store/config.js';
import { firstTime, initDone } from '../store/once.js';
import { recordableExecArgv } from '../store/exec-argv.js';
import type { RunMeta, RunStatus, LoopInfo } from '../store/types.js';
import type { Value } from '../store/records.js';
import { RecordBuffer, MAX_DEPTH, TOO_DEEP, type FreezeIssues } from './buffer.js';
import { parseArg, recordableArg } from './args.js';
import { ulid } from './ulid.js';
import { CheckpointState, CheckpointPolicy, parseShare, writePriorMs, DEFAULT_SHARE } from './checkpoint.js';
import { CheckpointSaver } from './checkpoint-saver.js';
import { cpuMark, cpuSince, processCpuMs } from './thread-cpu.js';
import { REPLAY_ENV, REPLAY_PARENT_ENV, PROGRESS_MS, readReplaySpec, type ReplaySpec } from './replay-spec.js';
import { AsyncPlaces, type Placed } from './async-place.js';
import { ScriptFlags, scriptHelpEnabled, wantsHelp } from './flags.js';

export type Mode = 'record' | 'replay' | 'off';

/** A share that does not parse: the run goes on at the default, and says so (a silent 5% would surprise). */
function badShare(where: string, text: string): number {
  process.stderr.write(`git flor: ${where} is ${JSON.stringify(text)}, not a share (0 to 1, or 0% to 100%); checkpointing at the default ${DEFAULT_SHARE * 100}%\n`);
  return DEFAULT_SHARE;
}

/** Records reach the journal at least this often while the process runs (bounds SIGKILL loss). */
export const FLUSH_MS = 100;
/**
 * Chunks are also cut at this many records: a chunk that stays around 1 MB keeps the buffers in
 * cache and lets the msgpack encoder reuse its output buffer instead of growing it every flush.
 */
const CHUNK_RECORDS = 1 << 16;
/** Snapshots up to this size are written on the main thread (about a millisecond), larger ones by the writer thread. */
const INLINE_CKPT_BYTES = 256 * 1024;
/**
 * What starting the writer thread is expected to cost (ms of CPU: the thread's creation and boot,
 * 35–45 ms measured here) before it has said; its actual cost is charged when it does.
 */
const WRITER_BOOT_PRIOR_MS = 40;
/** Exit status of a replay child that found its orchestrator gone (EX_UNAVAILABLE-like; nobody reads it). */
const ORPHAN_EXIT = 75;
/** Exit waits at most this long for checkpoint writes still in flight. */
const CKPT_DRAIN_MS = 30_000;
/**
 * Without an event-loop turn for this long the script is in a synchronous stretch, where a JS
 * signal handler would not run until the stretch ends: the handlers are detached so Ctrl-C keeps
 * killing at once (the journal is then recovered as crashed) instead of being deferred.
 */
const SYNC_STRETCH_MS = 1000;

export interface LoopCtx extends Placed<LoopCtx> {
  name: string;
  loopId: number;
  parentFrame: number;
  outer: boolean;
  info: LoopInfo;
  /** First iteration to yield (replay of the outer loop skips earlier items). */
  first: number;
  /** Stop after this many iterations (replay segment end). */
  stop: number;
  /** Checkpoint restored before `first` (outer) or instead of the loop (skipped inner). */
  restoreKey: string | null;
  /** Skipped inner loop: yields nothing. */
  skip: boolean;
  loopStart: number;
  iterStart: number;
  /** The iteration running (set by beginIter; -1 before the first). */
  iter: number;
  /** Inner loops: clock reads every `stride` iterations (see innerClock). */
  stride: number;
  countdown: number;
  lastClock: number;
  /** Loops started inside this one's current iteration and still running (see interleaved). */
  running: number;
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return msg.split('\n')[0]!.slice(0, 500);
}

/** Two recorded arg values are the same (they are plain data: compared as msgpack would write them). */
function sameArg(a: Value, b: Value): boolean {
  if (Object.is(a, b)) return true;
  try {
    return JSON.stringify(a, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)) === JSON.stringify(b, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));
  } catch {
    return false;
  }
}

function argText(v: Value): string {
  const t = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'bigint' ? `${v}n` : (JSON.stringify(v) ?? String(v));
  return t.length > 40 ? t.slice(0, 39) + '…' : t;
}

function toSlash(p: string): string {
  return sep === '/' ? p : p.split(sep).join('/');
}

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

function signalNumber(sig: NodeJS.Signals): number {
  return (osConstants.signals as Record<string, number>)[sig] ?? 0;
}

function moduleSibling(rel: string): { path: string; execArgv: string[] } {
  // Under tsx (tests of src/) modules are .ts and need the loader; the built package is plain JS.
  const ts = import.meta.url.endsWith('.ts');
  const url = new URL(rel + (ts ? '.ts' : '.js'), import.meta.url);
  // The loader by its full path: the child runs in the git dir, where `tsx` would not resolve.
  return { path: fileURLToPath(url), execArgv: ts ? ['--import', import.meta.resolve('tsx')] : [] };
}

/** Metadata of a run as it starts; capture completes it from the journal. */
function baseMeta(id: string): RunMeta {
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

export class Session {
  mode: Mode = 'off';
  /** False once finished or when off: flor.log only returns its value. */
  recording = false;
  /** Top-level records are kept (replay drops them outside the requested part). */
  topEnabled = true;
  readonly buf = new RecordBuffer((name, issues) => this.valueIssue(name, issues));
  private readonly issueSaid = new Set<string>();

  runId: string | null = null;
  repo: RepoInfo | null = null;
  journal: JournalWriter | null = null;
  spec: ReplaySpec | null = null;

  private meta: RunMeta | null = null;
  private pendingArgs: Record<string, Value> | null = null;
  /** flor.arg calls per name: the first value, how many calls, and every value once they differ. */
  private readonly argCalls = new Map<string, { first: Value; n: number; list: Value[] | null }>();
  private pendingCalls: Record<string, Value[]> | null = null;
  private readonly argSaid = new Set<string>();
  private readonly loops: LoopInfo[] = [];
  private readonly loopInfos = new Map<string, LoopInfo>();
  readonly outerMs: number[] = [];
  private outerSeen = false;
  private outerCtx: LoopCtx | null = null;
  /** Innermost loop whose iteration is running (loops started before any async loop). */
  private curCtx: LoopCtx | null = null;
  /** Set by the first async loop: from then on each async context has its own innermost loop. */
  places: AsyncPlaces<LoopCtx> | null = null;
  private interleaveSaid = false;

  readonly ckpt = new CheckpointState();
  private policy: CheckpointPolicy | null = null;
  private saver: CheckpointSaver | null = null;
  private ckptOff = false;
  readonly ckptFrames: Array<{ iter: number; key: string; bytes: number }> = [];
  /** Process CPU (ms) when the outer loop started: the policy's clock (see loopTime). */
  private outerCpu0 = 0;
  /** The loop's own time at the last end of an outer iteration (ms), as the policy saw it. */
  private loopMs = 0;
  /** In a replay child: the pid of the process that started it (see checkOrphaned); 0 otherwise. */
  private replayParent = 0;
  /** Size of the latest snapshot (the registration's trial until one is taken): picks inline or thread. */
  private ckptBytes = 0;

  private lastFlush = performance.now();
  private lastTurn = performance.now();
  private timer: NodeJS.Timeout | null = null;
  private finished = false;
  private error: string | null = null;
  private interruptedBy: NodeJS.Signals | null = null;
  private signalsAttached = false;
  private hooksInstalled = false;

  /** The session for this process, by environment: replay, record, or off outside a repository. */
  static boot(): Session {
    const s = new Session();
    const specPath = process.env[REPLAY_ENV];
    if (specPath) s.startReplay(readReplaySpec(specPath));
    else if (!s.startHelp()) s.startRecord();
    return s;
  }

  // ---------------------------------------------------------------- start

  /** HEAD when the repository was found (same git process), and the flor.* settings: read once at start. */
  private startHead: Head | null = null;
  private florConfig: Map<string, string> | null = null;

  private locateRepo(): RepoInfo | null {
    // The code that runs is the script's; its repository is the one to snapshot. A script given
    // by a path outside any repository falls back to the working directory's.
    const script = process.argv[1];
    const fromScript = script ? findRunRepoSync(dirname(real(script))) : null;
    const found = fromScript ?? findRunRepoSync(process.cwd());
    this.startHead = found?.head ?? null;
    return found?.repo.top ? found.repo : null;
  }

  startRecord(): void {
    let repo: RepoInfo | null;
    try {
      repo = this.locateRepo();
    } catch (e) {
      process.stderr.write(`git flor: cannot look for a Git repository (${firstLine(e)}); this run is not recorded\n`);
      return;
    }
    if (!repo) {
      process.stderr.write('git flor: not inside a Git repository; this run is not recorded\n');
      return;
    }
    try {
      const top = repo.top!;
      const runId = ulid();
      this.florConfig = florConfigSync(repo);
      const snap = snapshotCodeSync(repo, { config: this.florConfig, warn: (l) => process.stderr.write(l) });
      const codeTree = snap.tree;
      const skipped = skippedSummary(snap.skipped);
      const head = this.startHead ?? headSync(repo);
      const cwd = toSlash(relative(top, real(process.cwd())));
      const meta: RunMeta = {
        ...baseMeta(runId),
        script: process.argv[1] ? toSlash(relative(top, real(process.argv[1]))) : '',
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
        dirty: codeTree !== head.tree,
        ...(skipped ? { skipped } : {}),
      };
      process.stderr.write(skippedLine(runId, snap.skipped, snap.maxBytes) + largeTrackedLine(snap.largeModified, snap.maxBytes));
      const journal = openJournal(repo.commonDir, runId);
      journal.append({ t: 'start', meta, codeTree, pid: process.pid, host: hostname() });
      try {
        // Keeps the code tree alive through a `git gc --prune=now` until capture references it.
        pinCodeSync(repo, runId, codeTree);
      } catch {
        // Recording works without the pin; only a gc during the run could then lose its code.
      }
      this.repo = repo;
      this.runId = runId;
      this.meta = meta;
      this.journal = journal;
    } catch (e) {
      process.stderr.write(`git flor: cannot start recording (${firstLine(e)}); this run is not recorded\n`);
      return;
    }
    this.mode = 'record';
    this.recording = true;
    this.installHooks();
  }

  /** The script's flags as flor.arg declares them (runtime/flags.ts); not judged in replay. */
  readonly flags = new ScriptFlags(process.argv.slice(2));
  private helpMode = false;
  private flagsJudged = false;

  /** `node script --help`: nothing is recorded; the args are listed at the first loop or at exit. */
  private startHelp(): boolean {
    if (!wantsHelp(process.argv.slice(2))) return false;
    let config: Map<string, string> | null = null;
    try {
      const repo = this.locateRepo();
      if (repo) config = florConfigSync(repo);
    } catch {
      // no repository: the environment alone decides
    }
    if (!scriptHelpEnabled(process.env, config)) return false;
    this.helpMode = true;
    process.on('exit', () => this.judgeFlags());
    return true;
  }

  /** At the first loop, or at exit: the help (and exit 0), or the warning about unknown flags. */
  private judgeFlags(): void {
    // Once: process.exit below runs the exit hook, which comes here again.
    if (this.mode === 'replay' || this.flagsJudged) return;
    this.flagsJudged = true;
    if (this.helpMode) {
      const script = process.argv[1] ? toSlash(relative(process.cwd(), real(process.argv[1]))) : 'script';
      writeSync(1, this.flags.help(script));
      process.exit(0);
    }
    const warning = this.flags.judge();
    if (warning) process.stderr.write(warning);
  }

  /** A value that does not parse ends the process with exit 2, as a script's own parser would; the run is recorded as failed. */
  private parsedArg<T>(name: string, def: T): T {
    try {
      return parseArg(name, def, process.argv.slice(2));
    } catch (e) {
      if (!(e instanceof FlorError) || e.code !== 'BAD_ARG') throw e;
      if (this.helpMode) return def;
      this.error = e.message;
      process.stderr.write(`git flor: ${e.message}\n`);
      process.exit(2);
    }
  }

  startReplay(spec: ReplaySpec): void {
    this.spec = spec;
    this.runId = spec.runId;
    this.journal = openJournalAt(spec.out);
    // Where the old code came from is the orchestrator's business; the start frame only opens `out`.
    const meta: RunMeta = {
      ...baseMeta(spec.runId),
      script: process.argv[1] ? toSlash(relative(process.cwd(), real(process.argv[1]))) : '',
    };
    this.meta = meta;
    this.journal.append({ t: 'start', meta, codeTree: '', pid: process.pid, host: hostname() });
    this.mode = 'replay';
    this.recording = true;
    this.stopName = spec.stopAfter?.name ?? null;
    this.topEnabled = spec.start === 0;
    this.replayParent = Number(process.env[REPLAY_PARENT_ENV]) || process.ppid;
    this.installHooks();
    this.checkOrphaned();
  }

  /**
   * A replay child whose orchestrator is gone (killed, or a `kill` of the CLI that did not reach
   * the whole process group) would run to its end for nobody: its supervisor is what turns its
   * journal into a finished task. Checked at each flush (~100 ms; getppid is a cheap syscall), so
   * synchronous loops, which never turn the event loop, stop too.
   */
  private checkOrphaned(): void {
    if (this.replayParent === 0 || this.finished || process.ppid === this.replayParent) return;
    this.finished = true; // nothing to finish: the journal is a .part nobody will rename
    this.mode = 'off';
    process.exit(ORPHAN_EXIT);
  }

  // ---------------------------------------------------------------- lifecycle hooks

  private readonly onExit = (code: number): void => {
    this.judgeFlags();
    const status: RunStatus = this.interruptedBy ? 'interrupted' : code === 0 ? 'ok' : 'failed';
    this.finish(status, code, code === 0 ? null : this.error, true);
  };

  private readonly onUncaught = (err: unknown): void => {
    this.error = firstLine(err);
  };

  private readonly onSignal = (sig: NodeJS.Signals): void => {
    this.interruptedBy = sig;
    // The user's own handler decides what a signal means; the run ends when the process does.
    if (process.listenerCount(sig) > 1) return;
    const code = 128 + signalNumber(sig);
    this.finish('interrupted', code, null, true);
    // Default semantics: die of the signal, so the parent sees how the process ended.
    process.kill(process.pid, sig);
    process.exit(code);
  };

  private installHooks(): void {
    if (this.hooksInstalled) return;
    this.hooksInstalled = true;
    process.on('exit', this.onExit);
    process.on('uncaughtExceptionMonitor', this.onUncaught);
    this.attachSignals();
    this.lastTurn = performance.now();
    // Flushes records of async code, and marks that the event loop turns (signal handlers work).
    this.timer = setInterval(() => {
      this.lastTurn = performance.now();
      if (!this.signalsAttached) this.attachSignals();
      if (this.lastTurn - this.lastFlush >= FLUSH_MS) this.flush();
    }, FLUSH_MS);
    this.timer.unref();
  }

  private attachSignals(): void {
    if (this.signalsAttached || this.finished) return;
    // First in line, so the run knows it was interrupted even when the user's handler exits.
    process.prependListener('SIGINT', this.onSignal);
    process.prependListener('SIGTERM', this.onSignal);
    this.signalsAttached = true;
  }

  private detachSignals(): void {
    if (!this.signalsAttached) return;
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
    this.signalsAttached = false;
  }

  private removeHooks(): void {
    process.removeListener('exit', this.onExit);
    process.removeListener('uncaughtExceptionMonitor', this.onUncaught);
    this.detachSignals();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Cheap periodic check from hot paths: flush when due; detach signal handlers in long sync stretches. */
  tick(): void {
    const now = performance.now();
    if (now - this.lastFlush >= FLUSH_MS || this.buf.count >= CHUNK_RECORDS) this.flush();
    if (this.signalsAttached && now - this.lastTurn > SYNC_STRETCH_MS) this.detachSignals();
  }

  // ---------------------------------------------------------------- records

  flush(): void {
    this.lastFlush = performance.now();
    if (this.mode === 'replay') this.checkOrphaned();
    const j = this.journal;
    if (!j || this.mode === 'off') return;
    try {
      this.collectCheckpoints();
      if ((this.mode as Mode) === 'off') return;
      if (this.pendingArgs || this.pendingCalls) {
        j.append({ t: 'args', args: this.pendingArgs ?? {}, ...(this.pendingCalls ? { calls: this.pendingCalls } : {}) });
        this.pendingArgs = null;
        this.pendingCalls = null;
      }
      if (this.buf.dirty()) j.append(this.buf.takeChunk());
    } catch (e) {
      this.journalFailed(e);
    }
  }

  /** Appends one frame outside flush (checkpoint frames, from inside the user's loop): never throws. */
  private appendFrame(frame: JournalFrame): void {
    if (!this.journal || this.mode === 'off') return;
    try {
      this.journal.append(frame);
    } catch (e) {
      this.journalFailed(e);
    }
  }

  /**
   * A journal that cannot be written (disk full, file removed) must not break the training: say so
   * once, stop recording, and append nothing more after what may be a cut frame, so recovery keeps
   * everything before it.
   */
  private journalFailed(e: unknown): void {
    if (this.mode === 'off') return;
    process.stderr.write(`git flor: cannot write the journal of run ${this.runId} (${firstLine(e)}); recording stops here\n`);
    this.recording = false;
    this.mode = 'off';
    this.finished = true;
    this.removeHooks();
    this.saver?.close();
    try {
      this.journal?.close();
    } catch {
      // already unusable
    }
  }

  /** A logged value could not be stored whole: said once per name, and the run goes on. */
  private valueIssue(name: string, issues: FreezeIssues): void {
    if (this.issueSaid.has(name)) return;
    this.issueSaid.add(name);
    const what =
      issues.unstorable !== null
        ? `could not be read (${issues.unstorable}); it is recorded as an error value {"$flor":"unstorable"}`
        : `is nested deeper than ${MAX_DEPTH} levels (or is circular); it is cut there, as "${TOO_DEEP}"`;
    process.stderr.write(`git flor: the value logged as '${name}' ${what}\n`);
  }

  arg<T>(name: string, def: T): T {
    const seen = this.argCalls.get(name);
    const n = seen ? seen.n : 0; // this call's index among the name's calls
    let v: T;
    const replayed = this.mode === 'replay' ? this.spec!.argCalls[name] : undefined;
    if (replayed && n < replayed.length) v = replayed[n] as T;
    else if (this.mode === 'replay' && Object.hasOwn(this.spec!.args, name)) v = this.spec!.args[name] as T;
    else {
      this.flags.declare(name, def);
      v = this.parsedArg(name, def);
    }
    const rec = recordableArg(v);
    if (!seen) {
      this.argCalls.set(name, { first: rec, n: 1, list: null });
      if (this.recording) (this.pendingArgs ??= {})[name] = rec;
      return v;
    }
    seen.n++;
    // A name given different values: `args` keeps the first, and every call's value is recorded
    // so that replay gives each call its own.
    if (!seen.list && !sameArg(seen.first, rec)) seen.list = new Array<Value>(n).fill(seen.first);
    if (!seen.list) return v;
    seen.list.push(rec);
    if (this.recording) (this.pendingCalls ??= {})[name] = seen.list;
    if (!this.argSaid.has(name)) {
      this.argSaid.add(name);
      process.stderr.write(
        `git flor: flor.arg('${name}', …) is called more than once with different values (${argText(seen.first)}, then ${argText(rec)}); ` +
          `the run records each call's value (its args show the first) and replay gives each call its own\n`,
      );
    }
    return v;
  }

  // ---------------------------------------------------------------- loops

  /** Where a record logged here goes: its frame, and its loop iterations (`epoch=3/step=7`, '' at top level). */
  place(): { frame: number; ctx: string } {
    const parts: string[] = [];
    for (let c = this.places ? this.places.here(this.curCtx) : this.curCtx; c; c = c.parent) parts.push(`${c.name}=${c.iter}`);
    return { frame: this.places ? this.frameHere() : this.buf.curFrame, ctx: parts.reverse().join('/') };
  }

  /**
   * flor.iteration: iteration `index` of loop `name`, in the current place, for code that is not a
   * loop (a request handler). Never the outer loop: no timing, checkpoint or replay range applies.
   */
  iterationCtx(name: string, index: number): LoopCtx {
    this.places ??= new AsyncPlaces();
    const ctx = this.enterLoop(name, true, true);
    this.places.exit(ctx); // enterLoop entered it in the caller's context; iteration.ts runs it in its own
    this.beginIter(ctx, index);
    return ctx;
  }

  /** The frame a record logged here belongs to, when async contexts are tracked. */
  frameHere(): number {
    const ctx = this.places!.here(this.curCtx);
    return ctx === this.curCtx ? this.buf.curFrame : ctx ? ctx.frame : -1;
  }

  enterLoop(name: string, isAsync = false, event = false): LoopCtx {
    if (typeof name !== 'string' || name === '') {
      throw new FlorError('BAD_LOOP', `flor.loop needs a non-empty name, got ${JSON.stringify(name)}`, { hint: "write flor.loop('epoch', iterable)" });
    }
    if (!this.outerSeen) this.judgeFlags();
    if (isAsync) this.places ??= new AsyncPlaces();
    const parent = this.places ? this.places.here(this.curCtx) : this.curCtx;
    const outer = !event && parent === null && !this.outerSeen;
    const key = `${parent ? parent.name : ''}\u0000${name}`;
    let info = this.loopInfos.get(key);
    if (!info) {
      info = { name, parent: parent ? parent.name : null, iterations: 0 };
      this.loopInfos.set(key, info);
      this.loops.push(info);
    }
    const now = performance.now();
    const ctx: LoopCtx = {
      name,
      loopId: this.buf.loopId(name),
      parentFrame: parent === this.curCtx ? this.buf.curFrame : parent ? parent.frame : -1,
      parent,
      outer,
      info,
      first: 0,
      stop: Infinity,
      restoreKey: null,
      skip: false,
      loopStart: now,
      iterStart: now,
      iter: -1,
      stride: 1,
      countdown: 1,
      lastClock: now,
      frame: -1,
      begun: false,
      done: false,
      tracked: false,
      entry: null,
      before: undefined,
      running: 0,
    };
    if (parent) parent.running++;
    this.places?.enter(ctx);
    if (outer) {
      this.outerSeen = true;
      this.outerCtx = ctx;
      this.outerCpu0 = processCpuMs();
    }
    const spec = this.spec;
    if (this.mode === 'replay' && spec && !event) {
      if (outer) {
        // Without a checkpoint to start from, earlier iterations must run to rebuild the state;
        // they run muted (see beginIter). With one, their items are only taken and dropped.
        ctx.first = spec.restoreFrom ? spec.start : 0;
        if (!spec.runToEnd) ctx.stop = spec.end;
        ctx.restoreKey = spec.restoreFrom;
      } else if (parent !== null && parent === this.outerCtx && spec.skipInner.includes(name)) {
        // Only a loop entered directly in an outer iteration: the planner judged those (plan.ts).
        const k = spec.ckptKeys[String(this.outerIter())];
        if (k) {
          ctx.skip = true;
          ctx.restoreKey = k;
        }
      }
    }
    return ctx;
  }

  /** Iteration of the outer loop that is running, -1 outside it. */
  private outerIter(): number {
    return this.outerCtx ? this.curOuterIter : -1;
  }

  private curOuterIter = -1;

  beginIter(ctx: LoopCtx, i: number): void {
    if (ctx.outer && this.mode === 'replay') this.recording = i >= this.spec!.start;
    // Frames are kept only while recording: unflushed frames would otherwise pile up in memory.
    if (this.recording) ctx.frame = this.buf.newFrame(ctx.parentFrame, ctx.loopId, i);
    ctx.begun = true;
    ctx.iter = i;
    if (!ctx.tracked) {
      if (this.recording) this.buf.curFrame = ctx.frame;
      this.curCtx = ctx;
    }
    if (i + 1 > ctx.info.iterations) ctx.info.iterations = i + 1;
    if (ctx.outer) {
      this.curOuterIter = i;
      ctx.iterStart = performance.now();
      if (this.mode === 'replay' && this.spec!.progress) this.reportProgress(i, ctx.iterStart);
      this.tick();
    } else if (--ctx.countdown <= 0) this.innerClock(ctx);
  }

  /**
   * Reading the clock costs about as much as a tiny loop iteration, so an inner loop reads it
   * every `stride` iterations, the stride adapting (per pass of the loop, starting at 1) so that
   * reads stay a few ms apart: fast loops pay almost nothing, slow ones still flush in time.
   */
  private innerClock(ctx: LoopCtx): void {
    const now = performance.now();
    const dt = now - ctx.lastClock;
    ctx.lastClock = now;
    if (dt < 2 && ctx.stride < 256) ctx.stride *= 2;
    else if (dt > 10 && ctx.stride > 1) ctx.stride >>= 1;
    ctx.countdown = ctx.stride;
    this.tick();
  }

  /** End of iteration `i` (the next item, if any, has been taken). */
  endIter(ctx: LoopCtx, i: number, last: boolean): void {
    if (ctx.running > 0) this.interleaved(ctx);
    if (!ctx.outer) return;
    const now = performance.now();
    this.outerMs[i] = now - ctx.iterStart;
    if (this.mode === 'record') this.maybeCheckpoint(ctx, i, last, now);
    else if (this.mode === 'replay' && i + 1 >= ctx.stop) this.replayDone();
  }

  /** The consumer asked for the next item (called right after each yield). */
  resumed(ctx: LoopCtx): void {
    if (ctx.tracked) this.places!.resumed(ctx);
  }

  /**
   * A loop started in an iteration outlived it: loops ran concurrently in a way async contexts do
   * not tell apart (sync loops whose bodies await, run side by side). Records may then sit in the
   * wrong iteration: say so once.
   */
  private interleaved(ctx: LoopCtx): void {
    if (this.interleaveSaid) return;
    this.interleaveSaid = true;
    process.stderr.write(
      `git flor: a loop started inside an iteration of loop '${ctx.name}' was still running when that iteration ended; ` +
        `loops that run concurrently are told apart only when each is iterated with \`for await\` in its own async function, ` +
        `so some records of run ${this.runId} may be attributed to the wrong iteration\n`,
    );
  }

  exitLoop(ctx: LoopCtx): void {
    ctx.done = true;
    if (ctx.parent) ctx.parent.running--;
    if (ctx.running > 0) this.interleaved(ctx);
    if (ctx.tracked) this.places!.exit(ctx);
    else {
      this.buf.curFrame = ctx.parentFrame;
      this.curCtx = ctx.parent;
    }
    if (ctx.outer) {
      this.outerCtx = null;
      if (this.mode === 'replay') this.topEnabled = this.spec!.runToEnd;
    }
  }

  /** Restores checkpoint `key` into the registered state (replay only). */
  restore(key: string): void {
    const spec = this.spec!;
    const bytes = getCheckpoint(spec.ckptDir, key);
    if (!bytes) {
      throw new FlorError('CKPT_MISSING', `checkpoint ${key.slice(0, 12)} is not in ${spec.ckptDir}`, {
        hint: 'replay without it (from an earlier checkpoint or the start)',
        data: { key },
      });
    }
    this.ckpt.restore(bytes);
  }

  private lastProgress = -Infinity;

  /** Tells the orchestrator the outer iteration this replay child is in (ReplaySpec.progress). */
  private reportProgress(i: number, now: number): void {
    if (now - this.lastProgress < PROGRESS_MS) return;
    this.lastProgress = now;
    try {
      writeFileSync(this.spec!.progress!, String(i));
    } catch {
      // progress is for the display only
    }
  }

  /** Replay of a run that did not finish: the name of its last record (flor.log checks it; see stopAfter). */
  stopName: string | null = null;
  private stopSeen = 0;

  /** A record of the stop name was logged: the replay ends once it is the run's last record. */
  loggedStopName(): void {
    const stop = this.spec?.stopAfter;
    if (!stop) return;
    const at: Array<[string, number]> = [];
    for (let c = this.places ? this.places.here(this.curCtx) : this.curCtx; c; c = c.parent) at.push([c.name, c.iter]);
    at.reverse();
    if (at.length !== stop.at.length || at.some(([l, i], k) => l !== stop.at[k]![0] || i !== stop.at[k]![1])) return;
    if (this.stopSeen++ === stop.occurrence) this.replayDone();
  }

  private replayDone(): never {
    this.finish('ok', 0, null);
    process.exit(0);
  }

  // ---------------------------------------------------------------- checkpoints

  register(state: Record<string, unknown>): void {
    const trial = this.ckpt.register(state);
    if (this.meta) this.meta.checkpointing = this.ckpt.names();
    // After a snapshot failed the run goes on without checkpoints: registering again must not
    // start a fresh budget (and a second writer thread) as if nothing had been spent.
    if (this.mode !== 'record' || !this.repo || this.ckptOff) return;
    if (!this.policy) {
      this.policy = new CheckpointPolicy(this.share(), trial.ms, writePriorMs(trial.bytes));
      this.saver = new CheckpointSaver(this.repo.commonDir);
    } else this.policy.estimate(trial.ms, writePriorMs(trial.bytes));
    // The trial is checkpointing's cost too. The writer thread is started later, by the first
    // checkpoint that needs it and that the budget affords with its boot (CheckpointPolicy).
    this.policy.startup(trial.ms);
    if (trial.bytes > 0) this.ckptBytes = trial.bytes;
  }

  /** The checkpoint share: FLOR_CKPT_SHARE, else git config flor.checkpointShare, else 5%. */
  private share(): number {
    const env = process.env.FLOR_CKPT_SHARE;
    if (env !== undefined && env.trim() !== '') {
      const fromEnv = parseShare(env);
      if (fromEnv !== null) return fromEnv;
      return badShare('FLOR_CKPT_SHARE', env);
    }
    const text = this.florConfig?.get('flor.checkpointshare')?.trim();
    if (text === undefined) return DEFAULT_SHARE;
    return parseShare(text) ?? badShare('git config flor.checkpointShare', text);
  }

  /**
   * The outer loop's own time so far (ms): the smaller of wall and process CPU time, less what
   * checkpointing was charged. CPU, because on a loaded machine wall time stretches while the work
   * (and a checkpoint's cost, measured in CPU) does not; wall, because a loop whose threads keep
   * several cores busy must not buy checkpoints with CPU its user does not wait for. A loop that
   * mostly waits (I/O, GPU) thus gets fewer checkpoints, never more than its share.
   */
  private loopTime(ctx: LoopCtx, now: number, last: boolean, startMs: number): number {
    const policy = this.policy!;
    const wall = now - ctx.loopStart - policy.spentMs;
    // Wall time bounds the figure from above: when even it affords no checkpoint, the CPU clock
    // (a syscall) is not read, so a fast outer loop pays nothing extra per iteration.
    if (!last && policy.share < 1 && !policy.shouldTake(wall, false, startMs)) return Math.max(0, wall);
    return Math.max(0, Math.min(wall, processCpuMs() - this.outerCpu0 - policy.spentMs));
  }

  private maybeCheckpoint(ctx: LoopCtx, i: number, last: boolean, now: number): void {
    const policy = this.policy;
    const saver = this.saver;
    if (!policy || !saver || this.ckpt.size === 0) return;
    this.collectCheckpoints(); // the writer's latest costs count before deciding
    // Heavy state goes through the writer thread; a periodic checkpoint that would start it must
    // afford its boot too (the last one never starts it: see below).
    const startMs = this.ckptBytes > INLINE_CKPT_BYTES && !saver.alive() && !saver.failed() && !last ? WRITER_BOOT_PRIOR_MS : 0;
    this.loopMs = this.loopTime(ctx, now, last, startMs);
    // A writer that is behind would queue snapshots in memory, and one still booting has not
    // reported what its boot cost: skip this one unless it is the last.
    const writerFree = saver.pending() < 2 && !saver.booting();
    if (policy.shouldTake(this.loopMs, last, startMs) && (last || policy.share >= 1 || writerFree)) {
      const m = cpuMark();
      let snap: Buffer;
      try {
        snap = this.ckpt.snapshot();
      } catch {
        // State that stopped being serialisable mid-run: the run goes on without checkpoints.
        this.policy = null;
        this.ckptOff = true;
        return;
      }
      this.ckptBytes = snap.byteLength;
      // Small snapshots are written here: cheaper than a hand-off. So is the last one when no
      // thread runs yet: starting one (~40 ms) to write a single snapshot costs more CPU than the
      // write, and the loop it would keep from stalling is over (exit waits for the write anyway).
      // And any, once the thread could not start or died; and the last one while the thread has
      // not said it is up (one that fails while loading says nothing in a synchronous loop).
      if (snap.byteLength <= INLINE_CKPT_BYTES || saver.failed() || (last && (!saver.alive() || saver.booting()))) {
        const snapMs = cpuSince(m);
        const w = cpuMark();
        this.writeInline(i, snap);
        policy.record(snapMs, cpuSince(w));
      } else {
        if (!saver.submit(i, snap)) this.writeInline(i, snap); // the thread could not be created
        const startup = saver.takeStartMs();
        policy.record(cpuSince(m) - startup);
        policy.startup(startup);
      }
    }
  }

  /** Writes a snapshot on this thread: deflate, hash and write. */
  private writeInline(iter: number, snap: Buffer): void {
    let key: string;
    try {
      key = putCheckpoint(this.repo!.commonDir, snap);
    } catch {
      return; // a checkpoint that cannot be written is skipped: replay recomputes from an earlier one
    }
    const f = { iter, key, bytes: snap.byteLength };
    this.ckptFrames.push(f);
    this.appendFrame({ t: 'ckpt', ...f });
  }

  /** Journals the checkpoints the writer thread has finished (only finished ones: the manifest never names a missing file). */
  private collectCheckpoints(): void {
    if (!this.saver || !this.journal || this.mode === 'off') return;
    for (const r of this.saver.drain()) {
      if ('ready' in r) {
        this.policy?.startup(r.boot);
        continue;
      }
      this.policy?.written(r.ms);
      if ('error' in r) continue;
      const f = { iter: r.iter, key: r.key, bytes: r.bytes };
      this.ckptFrames.push(f);
      this.appendFrame({ t: 'ckpt', ...f });
    }
  }

  /**
   * Checkpointing statistics (tests and benchmarks): the policy's charges (ms of CPU) and
   * `loopMs`, the loop's own time at the last outer iteration as the policy measured it.
   */
  checkpointStats(): {
    share: number;
    spentMs: number;
    stallMs: number;
    startupMs: number;
    maxMs: number;
    estimateMs: number;
    loopMs: number;
    taken: number;
    written: number;
    /** The writer thread was started (heavy state whose budget afforded its boot). */
    writer: boolean;
  } | null {
    const p = this.policy;
    if (!p) return null;
    this.collectCheckpoints();
    return {
      share: p.share,
      spentMs: p.spentMs,
      stallMs: p.stallMs,
      startupMs: p.startupMs,
      maxMs: p.maxMs,
      estimateMs: p.estimateMs,
      loopMs: this.loopMs,
      taken: p.taken,
      written: this.ckptFrames.length,
      writer: this.saver?.everStarted() === true,
    };
  }

  // ---------------------------------------------------------------- finish

  /**
   * Ends the session: flush, end frame, capture. Idempotent; never throws at exit. `exiting`: the
   * process ends right after (see capture).
   */
  finish(status: RunStatus, exitCode: number | null, error: string | null, exiting = false): void {
    if (this.finished) return;
    this.finished = true;
    this.removeHooks();
    const mode = this.mode;
    this.recording = false;
    if (mode === 'off' || !this.journal) return;
    const journal = this.journal;
    try {
      if (this.saver) {
        this.saver.waitIdle(CKPT_DRAIN_MS);
        this.collectCheckpoints();
        this.saver.close();
      }
      this.flush();
      if ((this.mode as Mode) === 'off') return; // the journal failed; flush said so
      const end: EndFrame = {
        t: 'end',
        status,
        exitCode,
        error,
        end: new Date().toISOString(),
        loops: this.loops.map((l) => ({ ...l })),
        outerMs: Array.from(this.outerMs, (x) => (x === undefined ? 0 : Math.round(x * 1000) / 1000)),
        checkpointing: this.ckpt.names(),
      };
      journal.append(end);
      journal.close();
    } catch (e) {
      process.stderr.write(`git flor: could not finish the journal of run ${this.runId} (${firstLine(e)})\n`);
      return;
    } finally {
      this.mode = 'off';
    }
    if (mode === 'record') {
      this.capture(journal.path, exiting);
      this.sayRecorded(status);
    }
  }

  /**
   * On a terminal, one line saying the run was recorded and how to see it (the capture is still in
   * flight: the count is the runtime's own), and once per clone not set up by `git flor init`, how
   * to share runs. `git config flor.quiet true` turns both off.
   */
  private sayRecorded(status: RunStatus): void {
    if (!process.stderr.isTTY || configBool(this.florConfig?.get('flor.quiet')) === true) return;
    // 10 characters of a ULID change every millisecond: unique unless runs start in the same one.
    const id = this.runId!.slice(0, 10);
    const n = this.buf.total();
    const as = status === 'ok' ? '' : ` as ${status}`;
    let text = `flor: run ${id} recorded${as} (${n.toLocaleString('en-US')} record${n === 1 ? '' : 's'}) — git flor show ${id}\n`;
    const common = this.repo!.commonDir;
    if (!initDone(common) && firstTime(common, 'share-hint')) text += 'flor: runs stay in this clone until `git flor init` makes `git push` share them (said once)\n';
    process.stderr.write(text);
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
  private capture(journalPath: string, exiting: boolean): void {
    const main = moduleSibling('../store/capture-main');
    const argv = [...main.execArgv, main.path, journalPath];
    const opts: SpawnOptions = { cwd: this.repo!.commonDir, detached: true, stdio: 'ignore', env: { ...process.env, [REPLAY_ENV]: undefined, [REPLAY_PARENT_ENV]: undefined } };
    try {
      if (exiting || process.platform === 'win32') {
        const child = spawn(process.execPath, argv, opts);
        child.on('error', () => {}); // reported by the next reader, which captures the journal
        child.unref();
      } else {
        const r = spawnSync('/bin/sh', ['-c', '"$@" &', 'sh', process.execPath, ...argv], opts);
        if (r.error) throw r.error;
      }
    } catch (e) {
      process.stderr.write(`git flor: run ${this.runId} is journaled but not captured yet (${firstLine(e)}); the next \`git flor\` command that lists runs captures it\n`);
    }
  }

  /** flor.commit(): finishes now, as a successful run; later flor calls record nothing. */
  commit(): string | null {
    const id = this.mode === 'record' ? this.runId : null;
    this.finish('ok', null, null);
    return id;
  }
}
