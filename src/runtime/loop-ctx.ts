/** The state of one running flor.loop (or flor.iteration), shared by the session and the replay control. */
import type { Placed } from './async-place.js';
import type { LoopInfo } from '../store/types.js';
import { nowMs } from '../store/builtins.js';

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

/** A loop entered now (nowMs()), with no replay range yet. */
export function newLoopCtx(name: string, loopId: number, parent: LoopCtx | null, parentFrame: number, outer: boolean, info: LoopInfo, now: number): LoopCtx {
  return {
    name,
    loopId,
    parentFrame,
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
}

/**
 * Reading the clock costs about as much as a tiny loop iteration, so an inner loop reads it
 * every `stride` iterations, the stride adapting (per pass of the loop, starting at 1) so that
 * reads stay a few ms apart: fast loops pay almost nothing, slow ones still flush in time.
 */
export function innerClock(ctx: LoopCtx): void {
  const now = nowMs();
  const dt = now - ctx.lastClock;
  ctx.lastClock = now;
  if (dt < 2 && ctx.stride < 256) ctx.stride *= 2;
  else if (dt > 10 && ctx.stride > 1) ctx.stride >>= 1;
  ctx.countdown = ctx.stride;
}
