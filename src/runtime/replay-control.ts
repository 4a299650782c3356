/**
 * What a replay child does differently from a recorded run, by its ReplaySpec: which outer
 * iterations run and from which checkpoint, which inner loops are skipped, where a run that did
 * not finish stops, the progress it reports, and whether its orchestrator is still there.
 */
import { writeFileSync } from 'node:fs';
import { FlorError } from '../errors.js';
import { getCheckpoint } from '../store/checkpoints.js';
import type { CheckpointState } from './checkpoint.js';
import type { LoopCtx } from './loop-ctx.js';
import { REPLAY_PARENT_ENV, PROGRESS_MS, type ReplaySpec } from './replay-spec.js';

export class ReplayControl {
  /** Replay of a run that did not finish: the name of its last record (flor.log checks it; see stopAfter). */
  readonly stopName: string | null;
  private stopSeen = 0;
  private lastProgress = -Infinity;
  /** The pid of the process that started this child (see orphaned). */
  private readonly parent: number;

  constructor(readonly spec: ReplaySpec) {
    this.stopName = spec.stopAfter?.name ?? null;
    this.parent = Number(process.env[REPLAY_PARENT_ENV]) || process.ppid;
  }

  /** The orchestrator is gone (getppid is a cheap syscall: checked at each flush). */
  orphaned(): boolean {
    return this.parent !== 0 && process.ppid !== this.parent;
  }

  /**
   * Sets the range of a loop just entered: the outer loop's iterations and checkpoint, or the
   * skip of an inner loop entered directly in outer iteration `outerIter`.
   */
  placeLoop(ctx: LoopCtx, inOuter: boolean, outerIter: number): void {
    const spec = this.spec;
    if (ctx.outer) {
      // Without a checkpoint to start from, earlier iterations must run to rebuild the state;
      // they run muted (see Session.beginIter). With one, their items are only taken and dropped.
      ctx.first = spec.restoreFrom ? spec.start : 0;
      if (!spec.runToEnd) ctx.stop = spec.end;
      ctx.restoreKey = spec.restoreFrom;
    } else if (inOuter && spec.skipInner.includes(ctx.name)) {
      // Only a loop entered directly in an outer iteration: the planner judged those (plan.ts).
      const k = spec.ckptKeys[String(outerIter)];
      if (k) {
        ctx.skip = true;
        ctx.restoreKey = k;
      }
    }
  }

  /** Restores checkpoint `key` into `state`. */
  restore(key: string, state: CheckpointState): void {
    const spec = this.spec;
    const bytes = getCheckpoint(spec.ckptDir, key);
    if (!bytes) {
      throw new FlorError('CKPT_MISSING', `checkpoint ${key.slice(0, 12)} is not in ${spec.ckptDir}`, {
        hint: 'replay without it (from an earlier checkpoint or the start)',
        data: { key },
      });
    }
    state.restore(bytes);
  }

  /** Tells the orchestrator the outer iteration this replay child is in (ReplaySpec.progress). */
  progress(i: number, now: number): void {
    if (!this.spec.progress || now - this.lastProgress < PROGRESS_MS) return;
    this.lastProgress = now;
    try {
      writeFileSync(this.spec.progress, String(i));
    } catch {
      // progress is for the display only
    }
  }

  /** A record of the stop name was logged at loop path `at`: true once it is the run's last record. */
  stopReached(at: Array<[string, number]>): boolean {
    const stop = this.spec.stopAfter;
    if (!stop) return false;
    if (at.length !== stop.at.length || at.some(([l, i], k) => l !== stop.at[k]![0] || i !== stop.at[k]![1])) return false;
    return this.stopSeen++ === stop.occurrence;
  }
}
