import type { Value, RecordColumns } from './records.js';

export type RunStatus = 'running' | 'ok' | 'failed' | 'interrupted' | 'crashed';

/** One flor.loop seen in the run: its name, the loop it was nested in, iterations seen. */
export interface LoopInfo {
  name: string;
  parent: string | null;
  /** Most iterations seen in one pass of this loop. */
  iterations: number;
}

/** `runs/<aa>/<id>/run.msgpack`. Validated by the store's schema on every read. */
export interface RunMeta {
  format: 'flor-run';
  version: 1;
  id: string; // ULID
  writer: string; // the clone that captured it
  start: string; // ISO time
  end: string | null;
  script: string; // entry script, relative to the work tree top, '/'-separated
  cwd: string; // working directory relative to the work tree top ('' = top)
  argv: string[]; // process.argv.slice(2)
  execArgv: string[]; // e.g. ['--import', 'tsx'], reused by replay
  args: Record<string, Value>; // flor.arg values as the run used them (the first call's, for a name called more than once)
  /** Names flor.arg gave different values in one run: each call's value, in call order. Absent when none. */
  argCalls?: Record<string, Value[]>;
  commit: string | null; // HEAD at start (null on an unborn branch)
  branch: string | null;
  dirty: boolean; // the code that ran differs from `commit`
  node: string; // process.version
  status: RunStatus;
  exitCode: number | null;
  error: string | null; // first line of an uncaught error, when status is 'failed'
  loops: LoopInfo[];
  /** Wall-clock ms of each iteration of the outermost loop (for replay cost estimates). */
  outerMs: number[];
  /**
   * Of each outerMs, the wall-clock time during which a flor.memo call was running: what a replay
   * that gets the calls' results from the record does not spend. Absent when no call was made.
   */
  memoMs?: number[];
  /** The same outside the outer loop's iterations (setup, the code after it). Absent when none. */
  memoSetupMs?: number;
  checkpointing: string[]; // names registered with flor.checkpointing
  records: number; // forward records
  /** What capture left out of `code` (size cap, node_modules, nested repositories); absent when nothing. */
  skipped?: SkippedCode;
}

/** One path capture left out of a run's code. */
export interface SkippedPath {
  path: string; // '/'-separated, relative to the top; a directory ends in '/'
  why: 'size' | 'node_modules' | 'repository';
  bytes: number | null; // file size; null for a directory, which is not walked
}

/** `count` and `bytes` cover every skipped path; `paths` lists the first ones (SKIPPED_LISTED) by path. */
export interface SkippedCode {
  count: number;
  bytes: number;
  paths: SkippedPath[];
}

/** Checkpoint manifest, `runs/<aa>/<id>/ckpt.msgpack`: end-of-iteration k of the outer loop -> key. */
export interface CheckpointManifest {
  format: 'flor-ckpt';
  version: 1;
  loop: string; // the outermost loop's name
  iters: number[]; // iteration k whose END state was saved
  keys: string[]; // content key in the local checkpoint store, same order as iters
  bytes: number[]; // uncompressed size of each
}

export type SegmentKind = 'forward' | 'replay';

/** Where a replay segment came from: enough to redo or audit it. */
export interface Provenance {
  statements: string[]; // names requested
  code: string; // tree of the propagated code that ran
  time: string; // ISO
  writer: string;
  segments: Array<[number, number]>; // outer-iteration ranges replayed
  /**
   * Names whose statement was carried into the run's code (propagated); the other statements were
   * in that version already. Absent in segments written before it was recorded.
   */
  carried?: string[];
  /** The pinned plan (refs/flor/plans/<id>) this segment is a shard's share of; absent otherwise. */
  plan?: string;
}

/** `runs/<aa>/<id>/logs/<name>.msgpack`. */
export interface Segment extends RecordColumns {
  format: 'flor-segment';
  version: 1;
  run: string;
  /** forward or replay. Not `kind`: that name is the per-record kind column of RecordColumns. */
  source: SegmentKind;
  provenance: Provenance | null;
}
