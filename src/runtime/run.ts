/**
 * One process's flor session: started lazily by the first flor.* call, in one of three modes.
 * - record: the run is journaled under `<commonDir>/flor/journal/` and captured into the ledger
 *   by a detached process started when it finishes (commit(), normal exit, uncaught error,
 *   SIGINT/SIGTERM): the script's process exits without waiting for the capture;
 * - replay: FLOR_REPLAY names a ReplaySpec; only the requested outer iterations run, records go to
 *   the spec's `out` journal, nothing is captured and no checkpoint is taken;
 * - off: outside a Git repository (or after commit()): the script runs, nothing is recorded.
 * The parts: start.ts (the repository, the start frame, capture), lifecycle.ts (process hooks),
 * checkpointer.ts (checkpoints), arg-calls.ts (flor.arg and the script's flags).
 */
import { FlorError } from '../errors.js';
import { hostName, nowMs } from '../store/builtins.js';
import type { RepoInfo } from '../store/git.js';
import { openJournalAt, type JournalWriter, type EndFrame, type JournalFrame } from '../store/journal.js';
import type { RunMeta, RunStatus, LoopInfo } from '../store/types.js';
import { RecordBuffer, MAX_DEPTH, TOO_DEEP, type FreezeIssues } from './buffer.js';
import { REPLAY_ENV, readReplaySpec, type ReplaySpec } from './replay-spec.js';
import { AsyncPlaces } from './async-place.js';
import { innerClock, newLoopCtx, type LoopCtx } from './loop-ctx.js';
import { ReplayControl } from './replay-control.js';
import { ArgCalls } from './arg-calls.js';
import { MemoWait } from './memo-wait.js';
import { Checkpointer, checkpointShare, type CheckpointStats } from './checkpointer.js';
import { Lifecycle, FLUSH_MS } from './lifecycle.js';
import type { DetachedChild } from '../store/detached-child.js';
import { baseMeta, firstLine, locateRepo, sayRecorded, scriptPath, startCapture, startRun, waiting } from './start.js';

export { FLUSH_MS } from './lifecycle.js';
export type { LoopCtx } from './loop-ctx.js';

export type Mode = 'record' | 'replay' | 'off';

/**
 * Chunks are also cut at this many records: a chunk that stays around 1 MB keeps the buffers in
 * cache and lets the msgpack encoder reuse its output buffer instead of growing it every flush.
 */
const CHUNK_RECORDS = 1 << 16;
/** Exit status of a replay child that found its orchestrator gone (EX_UNAVAILABLE-like; nobody reads it). */
const ORPHAN_EXIT = 75;

/** Per-iteration milliseconds as the end frame keeps them: to the microsecond, an iteration never reached as 0. */
function msList(ms: number[]): number[] {
  return Array.from(ms, (x) => (x === undefined ? 0 : Math.round(x * 1000) / 1000));
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
  /** The flor.* settings, read once at start. */
  private florConfig: Map<string, string> | null = null;
  private readonly args = new ArgCalls({
    replaySpec: () => (this.mode === 'replay' ? this.spec : null),
    recording: () => this.recording,
    failed: (message) => (this.error = message),
  });
  /** The script's flags as flor.arg declares them (runtime/flags.ts); not judged in replay. */
  readonly flags = this.args.flags;
  private readonly loops: LoopInfo[] = [];
  private readonly loopInfos = new Map<string, LoopInfo>();
  readonly outerMs: number[] = [];
  /** Of each outer iteration's time, what flor.memo calls took (recording only; see memo-wait.ts). */
  private readonly outerMemoMs: number[] = [];
  readonly memoWait = new MemoWait();
  private memoAtIter = 0;
  private outerSeen = false;
  private outerCtx: LoopCtx | null = null;
  /** Innermost loop whose iteration is running (loops started before any async loop). */
  private curCtx: LoopCtx | null = null;
  /** Set by the first async loop: from then on each async context has its own innermost loop. */
  places: AsyncPlaces<LoopCtx> | null = null;
  private interleaveSaid = false;

  readonly cp = new Checkpointer({ live: () => this.journal !== null && this.mode !== 'off', append: (f) => this.appendFrame(f) });
  /** In a replay child: its ranges, stop and orchestrator (replay-control.ts). */
  private replay: ReplayControl | null = null;

  /** The process that captures the journal when this one has ended (store/waiting-capture.ts), or null. */
  private capturer: DetachedChild | null = null;
  private lastFlush = nowMs();
  private finished = false;
  private error: string | null = null;
  private readonly life = new Lifecycle({
    exiting: (code, interruptedBy) => {
      this.args.judgeFlags();
      const status: RunStatus = interruptedBy ? 'interrupted' : code === 0 ? 'ok' : 'failed';
      this.finish(status, code, code === 0 ? null : this.error, true);
    },
    uncaught: (err) => (this.error = firstLine(err)),
    interrupted: (code) => this.finish('interrupted', code, null, true),
    turned: (now) => {
      if (now - this.lastFlush >= FLUSH_MS) this.flush();
    },
    finished: () => this.finished,
  });

  /** The session for this process, by environment: replay, record, or off outside a repository. */
  static boot(): Session {
    const s = new Session();
    const specPath = process.env[REPLAY_ENV];
    if (specPath) s.startReplay(readReplaySpec(specPath));
    else if (!s.args.startHelp()) {
      s.startRecord();
      // Unrecorded (outside a repository): flags are still judged at exit, as in a recorded run.
      if (s.mode === 'off') process.on('exit', () => s.args.judgeFlags());
    }
    return s;
  }

  // ---------------------------------------------------------------- start

  startRecord(): void {
    let at: ReturnType<typeof locateRepo>;
    try {
      at = locateRepo();
    } catch (e) {
      process.stderr.write(`git flor: cannot look for a Git repository (${firstLine(e)}); this run is not recorded\n`);
      return;
    }
    if (!at) {
      process.stderr.write('git flor: not inside a Git repository; this run is not recorded\n');
      return;
    }
    try {
      const started = startRun(at);
      this.florConfig = started.florConfig;
      this.repo = at.repo;
      this.runId = started.runId;
      this.meta = started.meta;
      this.journal = started.journal;
      this.capturer = started.capturer;
    } catch (e) {
      process.stderr.write(`git flor: cannot start recording (${firstLine(e)}); this run is not recorded\n`);
      return;
    }
    this.mode = 'record';
    this.recording = true;
    this.life.install();
  }

  startReplay(spec: ReplaySpec): void {
    this.spec = spec;
    this.runId = spec.runId;
    this.journal = openJournalAt(spec.out);
    // Where the old code came from is the orchestrator's business; the start frame only opens `out`.
    const meta: RunMeta = { ...baseMeta(spec.runId), script: scriptPath(process.cwd()) };
    this.meta = meta;
    this.journal.append({ t: 'start', meta, codeTree: '', pid: process.pid, host: hostName() });
    this.mode = 'replay';
    this.recording = true;
    this.replay = new ReplayControl(spec);
    this.stopName = this.replay.stopName;
    this.topEnabled = spec.start === 0;
    this.life.install();
    this.checkOrphaned();
  }

  /**
   * A replay child whose orchestrator is gone (killed, or a `kill` of the CLI that did not reach
   * the whole process group) would run to its end for nobody: its supervisor is what turns its
   * journal into a finished task. Checked at each flush (~100 ms; getppid is a cheap syscall), so
   * synchronous loops, which never turn the event loop, stop too.
   */
  private checkOrphaned(): void {
    if (!this.replay || this.finished || !this.replay.orphaned()) return;
    this.finished = true; // nothing to finish: the journal is a .part nobody will rename
    this.mode = 'off';
    process.exit(ORPHAN_EXIT);
  }

  /** Cheap periodic check from hot paths: flush when due; detach signal handlers in long sync stretches. */
  tick(): void {
    const now = nowMs();
    if (now - this.lastFlush >= FLUSH_MS || this.buf.count >= CHUNK_RECORDS) this.flush();
    this.life.check(now);
  }

  // ---------------------------------------------------------------- records

  flush(): void {
    this.lastFlush = nowMs();
    if (this.mode === 'replay') this.checkOrphaned();
    const j = this.journal;
    if (!j || this.mode === 'off') return;
    try {
      this.cp.collect();
      if ((this.mode as Mode) === 'off') return;
      const args = this.args.takePending();
      if (args) j.append({ t: 'args', ...args });
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
    this.life.remove();
    this.cp.close();
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
    return this.args.arg(name, def);
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
    if (!this.outerSeen) this.args.judgeFlags();
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
    const now = nowMs();
    const ctx = newLoopCtx(name, this.buf.loopId(name), parent, parent === this.curCtx ? this.buf.curFrame : parent ? parent.frame : -1, outer, info, now);
    if (parent) parent.running++;
    this.places?.enter(ctx);
    if (outer) {
      this.outerSeen = true;
      this.outerCtx = ctx;
      this.cp.outerStarted();
    }
    if (this.replay && this.mode === 'replay' && !event) this.replay.placeLoop(ctx, parent !== null && parent === this.outerCtx, this.outerIter());
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
      ctx.iterStart = nowMs();
      this.memoAtIter = this.memoWait.total(ctx.iterStart);
      if (this.mode === 'replay') this.replay!.progress(i, ctx.iterStart);
      this.tick();
    } else if (--ctx.countdown <= 0) {
      innerClock(ctx);
      this.tick();
    }
  }

  /** End of iteration `i` (the next item, if any, has been taken). */
  endIter(ctx: LoopCtx, i: number, last: boolean): void {
    if (ctx.running > 0) this.interleaved(ctx);
    if (!ctx.outer) return;
    const now = nowMs();
    this.outerMs[i] = now - ctx.iterStart;
    const memo = this.memoWait.total(now) - this.memoAtIter;
    if (memo > 0) this.outerMemoMs[i] = memo;
    if (this.mode === 'record') this.cp.maybeCheckpoint(ctx.loopStart, i, last, now);
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
    this.replay!.restore(key, this.cp.state);
  }

  /** Replay of a run that did not finish: the name of its last record (flor.log checks it). */
  stopName: string | null = null;

  /** A record of the stop name was logged: the replay ends once it is the run's last record. */
  loggedStopName(): void {
    if (!this.replay) return;
    const at: Array<[string, number]> = [];
    for (let c = this.places ? this.places.here(this.curCtx) : this.curCtx; c; c = c.parent) at.push([c.name, c.iter]);
    at.reverse();
    if (this.replay.stopReached(at)) this.replayDone();
  }

  private replayDone(): never {
    this.finish('ok', 0, null);
    process.exit(0);
  }
// ---------------------------------------------------------------- checkpoints

  register(state: Record<string, unknown>): void {
    const record = this.mode === 'record' && this.repo ? { commonDir: this.repo.commonDir, share: () => checkpointShare(this.florConfig) } : null;
    this.cp.register(state, record);
    if (this.meta) this.meta.checkpointing = this.cp.names();
  }

  /** Checkpointing statistics (tests and benchmarks; see Checkpointer.stats). */
  checkpointStats(): CheckpointStats | null {
    return this.cp.stats();
  }

  // ---------------------------------------------------------------- finish

  /**
   * Ends the session: flush, end frame, capture. Idempotent; never throws at exit. `exiting`: the
   * process ends right after (see capture).
   */
  finish(status: RunStatus, exitCode: number | null, error: string | null, exiting = false): void {
    if (this.finished) return;
    this.finished = true;
    this.life.remove();
    const mode = this.mode;
    this.recording = false;
    if (mode === 'off' || !this.journal) return;
    const journal = this.journal;
    try {
      this.cp.drain();
      this.flush();
      if ((this.mode as Mode) === 'off') return; // the journal failed; flush said so
      const inLoop = this.outerMemoMs.reduce((a, b) => a + (b ?? 0), 0);
      const setupMemo = Math.round((this.memoWait.total(nowMs()) - inLoop) * 1000) / 1000;
      const end: EndFrame = {
        t: 'end',
        status,
        exitCode,
        error,
        end: new Date().toISOString(),
        loops: this.loops.map((l) => ({ ...l })),
        outerMs: msList(this.outerMs),
        ...(this.outerMemoMs.length ? { memoMs: msList(this.outerMemoMs) } : {}),
        ...(setupMemo > 0 ? { memoSetupMs: setupMemo } : {}),
        checkpointing: this.cp.names(),
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
      // At exit the waiting capturer takes over as this process ends; mid-process (commit()) the
      // capture starts now, and the waiting one finds no journal left at exit.
      if (!exiting || !waiting(this.capturer)) startCapture(this.repo!.commonDir, journal.path, this.runId!, exiting);
      sayRecorded(this.repo!, this.runId!, status, this.buf.total(), this.florConfig);
    }
  }

  /** flor.commit(): finishes now, as a successful run; later flor calls record nothing. */
  commit(): string | null {
    const id = this.mode === 'record' ? this.runId : null;
    this.finish('ok', null, null);
    return id;
  }
}
