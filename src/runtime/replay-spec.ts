/**
 * The contract between the replay orchestrator (src/replay) and a replay child process: the
 * orchestrator writes a ReplaySpec as JSON, starts the old version's entry script with
 * `FLOR_REPLAY=<path of that JSON>`, and reads the child's records back from `out` (journal format,
 * src/store/journal.ts). This file holds only types, the env name, the rules and a validator, so
 * src/replay may import it without pulling in the runtime.
 */
import { readFileSync } from 'node:fs';
import { FlorError } from '../errors.js';
import type { Value } from '../store/records.js';

/** Environment variable naming the JSON ReplaySpec file; its presence switches the runtime to replay mode. */
export const REPLAY_ENV = 'FLOR_REPLAY';
/**
 * The orchestrator's pid. The child compares its parent against this, not against the parent it
 * finds when the runtime boots: the runtime boots lazily, at the first flor call, and by then the
 * orchestrator may already be gone (the child was re-parented, and its "parent" is PID 1).
 */
export const REPLAY_PARENT_ENV = 'FLOR_REPLAY_PARENT';

export interface ReplaySpec {
  runId: string;
  /** flor.arg returns these, whatever the CLI or the defaults say (names missing here fall back to argv/default). */
  args: Record<string, Value>;
  /** Names the run gave different values: the n-th flor.arg call of a name returns its n-th value here (args past the end). */
  argCalls: Record<string, Value[]>;
  /** First outer iteration to execute (earlier items of the outer iterable are consumed and discarded). */
  start: number;
  /** Exclusive. */
  end: number;
  /** Last segment: continue after the outer loop (and record what is logged there). */
  runToEnd: boolean;
  /** Checkpoint key of the end-of-(start-1) state, restored in place before iteration `start`. */
  restoreFrom: string | null;
  /** Names of inner loops to skip: they yield nothing and ckptKeys[outer iter] is restored instead. */
  skipInner: string[];
  /** Outer iteration (decimal string) -> key of its end-of-iteration checkpoint. */
  ckptKeys: Record<string, string>;
  /** commonDir holding the checkpoint store (`<ckptDir>/flor/ckpt/..`). */
  ckptDir: string;
  /** Journal file the child writes its records to (start frame, chunks, args, end frame). */
  out: string;
  /**
   * A run that did not finish (crashed, interrupted, failed) is replayed only as far as it went:
   * the child ends right after logging the run's last record, named by its name, its loop
   * iterations (outermost first, empty at top level) and its occurrence there (0-based). Absent or
   * null: the segment's end decides.
   */
  stopAfter?: StopPoint | null;
  /**
   * File the child overwrites with the outer iteration it begins (the first one at once, then at
   * most every PROGRESS_MS), so the orchestrator sees progress inside a task. Absent: none.
   */
  progress?: string;
  /**
   * File of the run's recorded flor.memo values (runtime/memo.ts MemoFeedFile, msgpack): a memo
   * call found there returns its value without calling its function. Absent: none recorded.
   */
  memo?: string;
  /** A memo call with no recorded value fails the child instead of being made live. */
  noLiveCalls?: boolean;
}

/** A memo call's identity: name, loop iterations, key (JSON, '' without one), occurrence. */
export function memoId(name: string, ctx: string, key: string | number | null, occ: number): string {
  return `${name}\u0000${ctx}\u0000${key === null ? '' : JSON.stringify(key)}\u0000${occ}`;
}

/** The file a replay child reads its run's recorded memo values from (ReplaySpec.memo), msgpack. */
export interface MemoFeedFile {
  format: 'flor-memo-feed';
  /** [name, loop iterations ('epoch=3/step=7', '' at top level), memo tag as stored]. */
  entries: Array<[string, string, unknown]>;
}

/** How often a replay child reports the outer iteration it is in (spec.progress). */
export const PROGRESS_MS = 200;

export interface StopPoint {
  name: string;
  at: Array<[string, number]>;
  occurrence: number;
}

/**
 * What the runtime does with a ReplaySpec, for both sides of the contract (src/runtime/run.ts and
 * replay-control.ts keep them; src/replay writes specs that rely on them):
 * - the outer loop is the first flor.loop entered at top level; its items before `start` are
 *   consumed and discarded, then `restoreFrom` is restored in place, then items start..end-1 run
 * - when `restoreFrom` is null and start > 0, iterations before `start` run (to rebuild the state)
 *   but record nothing
 * - the restore happens after item `start` is taken from the iterable, as in record mode, where
 *   the end-of-iteration-k checkpoint is taken after item k+1 was taken
 * - an inner loop named in `skipInner` yields nothing and restores ckptKeys[k] (k = current outer
 *   iteration) in its place; when that key is missing the loop runs normally
 * - records at top level are kept before the outer loop only when start === 0, after it only when
 *   runToEnd
 * - when iteration end-1 is done and runToEnd is false, the child flushes `out`, writes the end
 *   frame and exits with status 0
 * - with `progress`, beginning outer iteration i writes the decimal i to that file (the first at
 *   once, then at most every PROGRESS_MS); a failed write is ignored
 * - with `stopAfter`, it does the same right after logging that record (counted whether or not it
 *   is kept, so occurrences before the outer loop count in every segment)
 * - a flor.memo call whose (name, loop iterations, key, occurrence) `memo` holds returns that
 *   value (or throws that error) without calling its function, also in iterations that run muted;
 *   one it lacks is made live and recorded with `live`, or, with `noLiveCalls`, ends the child
 *   with status 1
 * - nothing is written under .git/flor, no run is captured, no checkpoint is taken
 * - an uncaught error ends `out` with status failed and the error message, and a non-zero exit
 *   status
 */

function bad(path: string, what: string): FlorError {
  return new FlorError('BAD_REPLAY_SPEC', `replay spec ${path}: ${what}`, {
    hint: 'replay specs are written by `git flor replay`; re-run it',
    data: { path },
  });
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Checks a parsed spec; throws BAD_REPLAY_SPEC naming the first wrong field. */
export function validateReplaySpec(x: unknown, path = '<spec>'): ReplaySpec {
  if (!isRecord(x)) throw bad(path, 'not a JSON object');
  const int = (k: string): number => {
    const v = x[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad(path, `${k} must be a non-negative integer`);
    return v;
  };
  const str = (k: string): string => {
    const v = x[k];
    if (typeof v !== 'string' || v === '') throw bad(path, `${k} must be a non-empty string`);
    return v;
  };
  const runId = str('runId');
  const start = int('start');
  const end = int('end');
  if (end < start) throw bad(path, `end (${end}) is before start (${start})`);
  if (typeof x.runToEnd !== 'boolean') throw bad(path, 'runToEnd must be a boolean');
  if (x.restoreFrom !== null && typeof x.restoreFrom !== 'string') throw bad(path, 'restoreFrom must be a key or null');
  if (!isRecord(x.args)) throw bad(path, 'args must be an object');
  const argCalls = x.argCalls ?? {};
  if (!isRecord(argCalls) || !Object.values(argCalls).every(Array.isArray)) throw bad(path, 'argCalls must map names to arrays of values');
  if (!Array.isArray(x.skipInner) || !x.skipInner.every((s) => typeof s === 'string')) throw bad(path, 'skipInner must be an array of loop names');
  if (!isRecord(x.ckptKeys) || !Object.values(x.ckptKeys).every((s) => typeof s === 'string')) throw bad(path, 'ckptKeys must map iterations to keys');
  const stop = x.stopAfter;
  if (stop !== undefined && stop !== null) {
    const ok = isRecord(stop) && typeof stop.name === 'string' && Number.isInteger(stop.occurrence) && (stop.occurrence as number) >= 0
      && Array.isArray(stop.at) && stop.at.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && Number.isInteger(p[1]) && p[1] >= 0);
    if (!ok) throw bad(path, 'stopAfter must be null or { name, at: [[loop, iteration]...], occurrence }');
  }
  return {
    runId,
    args: x.args as Record<string, Value>,
    argCalls: argCalls as Record<string, Value[]>,
    start,
    end,
    runToEnd: x.runToEnd,
    restoreFrom: x.restoreFrom as string | null,
    skipInner: x.skipInner as string[],
    ckptKeys: x.ckptKeys as Record<string, string>,
    ckptDir: str('ckptDir'),
    out: str('out'),
    stopAfter: (stop ?? null) as StopPoint | null,
    ...(typeof x.progress === 'string' && x.progress !== '' ? { progress: x.progress } : {}),
    ...(typeof x.memo === 'string' && x.memo !== '' ? { memo: x.memo } : {}),
    ...(x.noLiveCalls === true ? { noLiveCalls: true } : {}),
  };
}

export function readReplaySpec(path: string): ReplaySpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw bad(path, `cannot read it: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw bad(path, `not JSON: ${(e as Error).message}`);
  }
  return validateReplaySpec(parsed, path);
}
