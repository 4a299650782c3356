/**
 * What flor.checkpointing registers, how it is snapshotted, restored in place, and how often.
 *
 * A snapshot is `v8.serialize({ name: state })` where state is the entry itself (plain objects,
 * arrays, typed arrays, Maps, Sets, class instances' own fields) or `entry.state()` for objects
 * that bring their own. Restore writes INTO the live objects (typed arrays via set(), objects
 * key by key, arrays element by element) so references the user's code holds stay valid.
 */
import { nodeV8 } from '../store/builtins.js';
import { FlorError } from '../errors.js';
import { cpuMark, cpuSince } from './thread-cpu.js';

export type { Stateful } from './api.js';
import type { Stateful } from './api.js';

function isStateful(x: unknown): x is Stateful {
  return typeof x === 'object' && x !== null && typeof (x as Stateful).state === 'function' && typeof (x as Stateful).restore === 'function';
}

function isTyped(v: unknown): v is ArrayBufferView & { length: number; set(a: ArrayLike<number | bigint>): void } {
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

function unsupported(name: string, why: string): FlorError {
  return new FlorError('CKPT_UNSUPPORTED', `checkpoint entry "${name}" ${why}`, {
    hint: 'register plain objects, arrays, typed arrays, or objects with state() and restore(s) methods',
    data: { name },
  });
}

export class CheckpointState {
  private readonly entries = new Map<string, unknown>();

  get size(): number {
    return this.entries.size;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * Registers entries; a name registered again is replaced. Returns the cost (ms) and size of a
   * trial snapshot, and `loadMs`: loading the serialiser, paid once per process.
   */
  register(state: Record<string, unknown>): { ms: number; bytes: number; loadMs: number } {
    if (typeof state !== 'object' || state === null || Array.isArray(state)) {
      throw new FlorError('CKPT_UNSUPPORTED', 'flor.checkpointing expects an object of named entries', {
        hint: 'call it as flor.checkpointing({ model, optimizer })',
      });
    }
    for (const [name, v] of Object.entries(state)) {
      if (typeof v !== 'object' || v === null) throw unsupported(name, `is a ${v === null ? 'null' : typeof v}, which cannot be restored in place`);
      if (!isStateful(v) && (typeof (v as { state?: unknown }).state === 'function' || typeof (v as { restore?: unknown }).restore === 'function')) {
        throw unsupported(name, 'has only one of state() and restore(s)');
      }
    }
    // Registering the same objects again (e.g. from inside the loop) is free: they were checked.
    if (Object.entries(state).every(([name, v]) => this.entries.get(name) === v)) return { ms: 0, bytes: 0, loadMs: 0 };
    for (const [name, v] of Object.entries(state)) this.entries.set(name, v);
    // A trial snapshot now turns a value v8 cannot serialise into an error at the call site,
    // instead of at the end of some iteration, and gives the first cost estimate. In this
    // thread's CPU time, as every other charge: on a loaded machine a preempted trial measured in
    // wall time cost several times its work, charged as startup and as the first estimate.
    // Loading node:v8 (~3.5 ms here, 7 ms under load) is measured apart: as part of the first
    // estimate it made a 0.2 ms snapshot look 20 times dearer, and the policy skipped the first
    // iterations of a run whose checkpoints it could afford every time.
    const l = cpuMark();
    const v8 = nodeV8();
    const loadMs = cpuSince(l);
    const m = cpuMark();
    let bytes = 0;
    for (const [name, v] of Object.entries(state)) {
      try {
        bytes += v8.serialize(isStateful(v) ? v.state() : v).byteLength;
      } catch (e) {
        this.entries.delete(name);
        throw unsupported(name, `cannot be serialised: ${(e as Error).message}`);
      }
    }
    return { ms: cpuSince(m), bytes, loadMs };
  }

  /** The bytes of one checkpoint (the main-thread stall: state() calls and v8.serialize). */
  snapshot(): Buffer {
    const out: Record<string, unknown> = {};
    for (const [name, v] of this.entries) out[name] = isStateful(v) ? v.state() : v;
    return nodeV8().serialize(out);
  }

  /** Restores a snapshot into the registered objects; entries absent from it are left alone. */
  restore(bytes: Uint8Array): void {
    let snap: unknown;
    try {
      snap = nodeV8().deserialize(bytes);
    } catch (e) {
      throw new FlorError('CKPT_CORRUPT', `checkpoint cannot be decoded: ${(e as Error).message}`, { hint: 'delete it; replay recomputes from the start' });
    }
    if (typeof snap !== 'object' || snap === null) throw new FlorError('CKPT_CORRUPT', 'checkpoint is not a map of entries');
    const saved = snap as Record<string, unknown>;
    for (const [name, live] of this.entries) {
      if (!(name in saved)) continue;
      if (isStateful(live)) live.restore(saved[name]);
      else if (!restoreInto(live, saved[name])) {
        throw new FlorError('CKPT_RESTORE', `checkpoint entry "${name}" no longer has the shape it was saved with`, {
          hint: 'the code registers a different object under this name than the run that saved it',
          data: { name },
        });
      }
    }
  }
}

/** Writes `saved` into `live` in place when their shapes allow it; false when they do not. */
export function restoreInto(live: unknown, saved: unknown): boolean {
  if (typeof live !== 'object' || live === null || typeof saved !== 'object' || saved === null) return false;
  if (isTyped(live)) {
    if (!isTyped(saved) || live.constructor !== saved.constructor || live.length !== (saved as { length: number }).length) return false;
    live.set(saved as unknown as ArrayLike<number>);
    return true;
  }
  if (Array.isArray(live)) {
    if (!Array.isArray(saved)) return false;
    for (let i = 0; i < saved.length; i++) live[i] = child(live[i], saved[i]);
    live.length = saved.length;
    return true;
  }
  if (live instanceof Map) {
    if (!(saved instanceof Map)) return false;
    const old = new Map(live);
    live.clear();
    for (const [k, v] of saved) live.set(k, child(old.get(k), v));
    return true;
  }
  if (live instanceof Set) {
    if (!(saved instanceof Set)) return false;
    live.clear();
    for (const v of saved) live.add(v);
    return true;
  }
  if (Array.isArray(saved) || isTyped(saved) || saved instanceof Map || saved instanceof Set) return false;
  const l = live as Record<string, unknown>;
  const s = saved as Record<string, unknown>;
  for (const k of Object.keys(l)) if (!(k in s) && typeof l[k] !== 'function') delete l[k];
  for (const k of Object.keys(s)) l[k] = child(l[k], s[k]);
  return true;
}

/** A nested value: restored in place when possible (keeps identity), else replaced. */
function child(live: unknown, saved: unknown): unknown {
  return restoreInto(live, saved) ? live : saved;
}

/**
 * When to checkpoint. Invariant: everything checkpointing costs — one-off startup (the writer
 * thread's boot, first-use initialisation), main-thread snapshots, the writer's hash+deflate+write
 * — stays within `share` of the outer loop's own time, the last iteration's checkpoint included.
 *
 * - Costs are CPU time (thread-cpu.ts), so machine load neither inflates a checkpoint's cost nor
 *   lets one preempted snapshot poison the period; the caller measures elapsed time the same way.
 * - The policy aims at AIM × share, not the whole share: the thread clocks do not see all that
 *   checkpointing costs the process (the writer thread's share of process overhead, GC of
 *   snapshot buffers, caches the writer evicts). Against runs without checkpointing
 *   (bench/runtime.bench.ts, 2 shared cores) the process spent up to 2 points of the run more than
 *   the clocks saw at a 5% share, and about what they saw at 20% (11.4% vs 11.8%, 25 pairs); the
 *   rest of the share is headroom for that, so the share stays a ceiling rather than a target.
 * - An iteration is taken when `spent + start + 2 × estimate <= AIM × share × elapsed`: the second
 *   estimate is the reserve for the last iteration, which is always taken; `start` is what the
 *   caller must start first to take this one (the writer thread's boot, ~40 ms), so a thread is
 *   started only once the budget affords it, and a short run with heavy state pays for its last
 *   checkpoint alone instead of for a thread that never gets to write a periodic one.
 * - The estimate of one checkpoint (main part + writer part, each its own decaying average) starts
 *   from the registration's trial snapshot and, for the write, a prior from the snapshot's size
 *   (writePriorMs), then follows measurements with weight 1/3, a single one counting at most 3×
 *   the current estimate: an outlier (a slow first write, a GC pause, a CPU-time tick landing
 *   inside a 0.1 ms checkpoint) moves the period a little for a few checkpoints instead of for
 *   the rest of the run. Startup is charged to `spentMs` but never to the estimate. `spentMs`
 *   stays the exact sum either way, so an estimate that is off only shifts when the budget
 *   allows the next checkpoint.
 * - A share of 0 turns checkpointing off; a share of 1 takes every iteration.
 */
export class CheckpointPolicy {
  /** Everything charged so far (ms of CPU): startup, snapshots, writes. */
  spentMs = 0;
  /** Main-thread part (ms): the stall the training loop sees. */
  stallMs = 0;
  /** One-off costs (ms): the writer thread's creation and boot, registration's trial snapshots. */
  startupMs = 0;
  /** Most expensive single checkpoint so far, main part + its write (ms). */
  maxMs = 0;
  taken = 0;
  private estMain: number;
  private estWrite: number;
  private lastMain = 0;

  constructor(
    readonly share: number,
    firstEstimateMs = 0,
    writePriorMs = 0,
  ) {
    this.estMain = firstEstimateMs;
    this.estWrite = writePriorMs;
  }

  /** Expected cost of the next checkpoint (ms). */
  get estimateMs(): number {
    return this.estMain + this.estWrite;
  }

  /** What the policy lets checkpointing spend by `elapsedMs` of loop time (ms). */
  budgetMs(elapsedMs: number): number {
    return AIM * this.share * elapsedMs;
  }

  /** `startMs`: what must be started before this checkpoint can be taken (not yet charged). */
  shouldTake(elapsedMs: number, last: boolean, startMs = 0): boolean {
    if (this.share <= 0) return false;
    if (last || this.share >= 1) return true;
    return this.spentMs + startMs + 2 * this.estimateMs <= this.budgetMs(elapsedMs);
  }

  /**
   * A checkpoint taken: `snapMs` is its main-thread snapshot (and hand-off); `inlineWriteMs` its
   * write when that also ran on the main thread (a stall too, and a measurement of the write part).
   */
  record(snapMs: number, inlineWriteMs?: number): void {
    const mainMs = snapMs + (inlineWriteMs ?? 0);
    this.spentMs += mainMs;
    this.stallMs += mainMs;
    this.taken++;
    this.lastMain = snapMs;
    this.estMain = follow(this.estMain, snapMs);
    if (inlineWriteMs !== undefined) this.estWrite = follow(this.estWrite, inlineWriteMs);
    const total = inlineWriteMs === undefined ? mainMs + this.estWrite : mainMs;
    if (total > this.maxMs) this.maxMs = total;
  }

  /** The writer thread's part of one checkpoint, reported later (off the hot path). */
  written(writeMs: number): void {
    this.spentMs += writeMs;
    this.estWrite = follow(this.estWrite, writeMs);
    if (this.lastMain + writeMs > this.maxMs) this.maxMs = this.lastMain + writeMs;
  }

  /** A one-off cost (thread creation, thread boot): charged, never expected again. */
  startup(ms: number): void {
    this.spentMs += ms;
    this.startupMs += ms;
  }

  /** A new trial snapshot (state registered again, maybe larger): each part is at least that. */
  estimate(snapMs: number, writePriorMs = 0): void {
    this.estMain = Math.max(this.estMain, snapMs);
    this.estWrite = Math.max(this.estWrite, writePriorMs);
  }
}

/** The share of `share` the policy aims at; see CheckpointPolicy. */
export const AIM = 0.6;

/**
 * Before the first write is measured: hashing, deflating and writing a snapshot of `bytes`, at a
 * rate measured here for 4 MB of float state (sha256 2 ms, deflate level 1 8 ms, write 0.4 ms;
 * 11–19 ms stored, for data that does not compress): ~14 ms for 4 MB. The first measured write
 * corrects it within a few checkpoints.
 */
export function writePriorMs(bytes: number): number {
  return bytes / WRITE_PRIOR_BYTES_PER_MS;
}
const WRITE_PRIOR_BYTES_PER_MS = 300_000;

/** The decaying estimate after one more sample; the first sample of an estimate-less part replaces it. */
function follow(est: number, sample: number): number {
  if (est <= 0) return sample;
  return est + (Math.min(sample, 3 * est) - est) / 3;
}

/** Parses a share given as `0.05` or `5%`; null when unusable. */
export function parseShare(text: string | undefined | null): number | null {
  if (text === undefined || text === null) return null;
  const t = text.trim();
  if (t === '') return null;
  const n = t.endsWith('%') ? Number(t.slice(0, -1)) / 100 : Number(t);
  if (!Number.isFinite(n) || n < 0 || n > 1) return null;
  return n;
}

export const DEFAULT_SHARE = 0.05;
