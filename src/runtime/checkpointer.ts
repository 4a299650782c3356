/**
 * Checkpoints of a recorded run: the registered state, the policy that decides when a snapshot
 * is worth its cost, the writer thread for heavy state, and the journal frames that name the
 * snapshots written.
 */
import { putCheckpoint } from '../store/checkpoints.js';
import type { JournalFrame } from '../store/journal.js';
import { CheckpointState, CheckpointPolicy, parseShare, writePriorMs, DEFAULT_SHARE } from './checkpoint.js';
import { CheckpointSaver } from './checkpoint-saver.js';
import { cpuMark, cpuSince, processCpuMs } from './thread-cpu.js';

/** Snapshots up to this size are written on the main thread (about a millisecond), larger ones by the writer thread. */
const INLINE_CKPT_BYTES = 256 * 1024;
/**
 * What starting the writer thread is expected to cost (ms of CPU: the thread's creation and boot,
 * 35–45 ms measured here) before it has said; its actual cost is charged when it does.
 */
const WRITER_BOOT_PRIOR_MS = 40;
/** Exit waits at most this long for checkpoint writes still in flight. */
const CKPT_DRAIN_MS = 30_000;

/** A share that does not parse: the run goes on at the default, and says so (a silent 5% would surprise). */
function badShare(where: string, text: string): number {
  process.stderr.write(`git flor: ${where} is ${JSON.stringify(text)}, not a share (0 to 1, or 0% to 100%); checkpointing at the default ${DEFAULT_SHARE * 100}%\n`);
  return DEFAULT_SHARE;
}

/** The checkpoint share: FLOR_CKPT_SHARE, else git config flor.checkpointShare, else 5%. */
export function checkpointShare(florConfig: ReadonlyMap<string, string> | null): number {
  const env = process.env.FLOR_CKPT_SHARE;
  if (env !== undefined && env.trim() !== '') {
    const fromEnv = parseShare(env);
    if (fromEnv !== null) return fromEnv;
    return badShare('FLOR_CKPT_SHARE', env);
  }
  const text = florConfig?.get('flor.checkpointshare')?.trim();
  if (text === undefined) return DEFAULT_SHARE;
  return parseShare(text) ?? badShare('git config flor.checkpointShare', text);
}

export interface CheckpointStats {
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
}

/** Where checkpoint frames go: `live()` is false once the journal is closed or failed. */
export interface FrameSink {
  live(): boolean;
  append(frame: JournalFrame): void;
}

export class Checkpointer {
  readonly state = new CheckpointState();
  private policy: CheckpointPolicy | null = null;
  private saver: CheckpointSaver | null = null;
  private off = false;
  readonly frames: Array<{ iter: number; key: string; bytes: number }> = [];
  /** Process CPU (ms) when the outer loop started: the policy's clock (see loopTime). */
  private outerCpu0 = 0;
  /** The loop's own time at the last end of an outer iteration (ms), as the policy saw it. */
  private loopMs = 0;
  /** Size of the latest snapshot (the registration's trial until one is taken): picks inline or thread. */
  private bytes = 0;
  private commonDir = '';

  constructor(private readonly sink: FrameSink) {}

  /**
   * Registers state (every mode: replay restores into it). `record`: the repository's common dir
   * when this run takes checkpoints, and the share they may cost.
   */
  register(state: Record<string, unknown>, record: { commonDir: string; share: () => number } | null): void {
    const trial = this.state.register(state);
    // After a snapshot failed the run goes on without checkpoints: registering again must not
    // start a fresh budget (and a second writer thread) as if nothing had been spent.
    if (!record || this.off) return;
    if (!this.policy) {
      this.policy = new CheckpointPolicy(record.share(), trial.ms, writePriorMs(trial.bytes));
      this.saver = new CheckpointSaver(record.commonDir);
      this.commonDir = record.commonDir;
    } else this.policy.estimate(trial.ms, writePriorMs(trial.bytes));
    // The trial and the serialiser's load are checkpointing's cost too. The writer thread is
    // started later, by the first checkpoint that needs it and that the budget affords with its
    // boot (CheckpointPolicy).
    this.policy.startup(trial.ms + trial.loadMs);
    if (trial.bytes > 0) this.bytes = trial.bytes;
  }

  names(): string[] {
    return this.state.names();
  }

  /** The outer loop started: its CPU clock starts now. */
  outerStarted(): void {
    this.outerCpu0 = processCpuMs();
  }

  /**
   * The outer loop's own time so far (ms): the smaller of wall and process CPU time, less what
   * checkpointing was charged. CPU, because on a loaded machine wall time stretches while the work
   * (and a checkpoint's cost, measured in CPU) does not; wall, because a loop whose threads keep
   * several cores busy must not buy checkpoints with CPU its user does not wait for. A loop that
   * mostly waits (I/O, GPU) thus gets fewer checkpoints, never more than its share.
   */
  private loopTime(loopStart: number, now: number, last: boolean, startMs: number): number {
    const policy = this.policy!;
    const wall = now - loopStart - policy.spentMs;
    // Wall time bounds the figure from above: when even it affords no checkpoint, the CPU clock
    // (a syscall) is not read, so a fast outer loop pays nothing extra per iteration.
    if (!last && policy.share < 1 && !policy.shouldTake(wall, false, startMs)) return Math.max(0, wall);
    return Math.max(0, Math.min(wall, processCpuMs() - this.outerCpu0 - policy.spentMs));
  }

  /** End of outer iteration `i` of a loop that started at `loopStart` (nowMs()). */
  maybeCheckpoint(loopStart: number, i: number, last: boolean, now: number): void {
    const policy = this.policy;
    const saver = this.saver;
    if (!policy || !saver || this.state.size === 0) return;
    this.collect(); // the writer's latest costs count before deciding
    // Heavy state goes through the writer thread; a periodic checkpoint that would start it must
    // afford its boot too (the last one never starts it: see below).
    const startMs = this.bytes > INLINE_CKPT_BYTES && !saver.alive() && !saver.failed() && !last ? WRITER_BOOT_PRIOR_MS : 0;
    this.loopMs = this.loopTime(loopStart, now, last, startMs);
    // A writer that is behind would queue snapshots in memory, and one still booting has not
    // reported what its boot cost: skip this one unless it is the last.
    const writerFree = saver.pending() < 2 && !saver.booting();
    if (policy.shouldTake(this.loopMs, last, startMs) && (last || policy.share >= 1 || writerFree)) {
      const m = cpuMark();
      let snap: Buffer;
      try {
        snap = this.state.snapshot();
      } catch {
        // State that stopped being serialisable mid-run: the run goes on without checkpoints.
        this.policy = null;
        this.off = true;
        return;
      }
      this.bytes = snap.byteLength;
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
      key = putCheckpoint(this.commonDir, snap);
    } catch {
      return; // a checkpoint that cannot be written is skipped: replay recomputes from an earlier one
    }
    const f = { iter, key, bytes: snap.byteLength };
    this.frames.push(f);
    this.sink.append({ t: 'ckpt', ...f });
  }

  /** Journals the checkpoints the writer thread has finished (only finished ones: the manifest never names a missing file). */
  collect(): void {
    if (!this.saver || !this.sink.live()) return;
    for (const r of this.saver.drain()) {
      if ('ready' in r) {
        this.policy?.startup(r.boot);
        continue;
      }
      this.policy?.written(r.ms);
      if ('error' in r) continue;
      const f = { iter: r.iter, key: r.key, bytes: r.bytes };
      this.frames.push(f);
      this.sink.append({ t: 'ckpt', ...f });
    }
  }

  /** At the run's end: waits (bounded) for writes in flight, journals them and stops the thread. */
  drain(): void {
    if (!this.saver) return;
    this.saver.waitIdle(CKPT_DRAIN_MS);
    this.collect();
    this.saver.close();
  }

  /** The journal failed: no more writes. */
  close(): void {
    this.saver?.close();
  }

  /**
   * Checkpointing statistics (tests and benchmarks): the policy's charges (ms of CPU) and
   * `loopMs`, the loop's own time at the last outer iteration as the policy measured it.
   */
  stats(): CheckpointStats | null {
    const p = this.policy;
    if (!p) return null;
    this.collect();
    return {
      share: p.share,
      spentMs: p.spentMs,
      stallMs: p.stallMs,
      startupMs: p.startupMs,
      maxMs: p.maxMs,
      estimateMs: p.estimateMs,
      loopMs: this.loopMs,
      taken: p.taken,
      written: this.frames.length,
      writer: this.saver?.everStarted() === true,
    };
  }
}
