/**
 * Run ledgers, as the other parts see them: `refs/flor/ledgers/<writer>` (this clone's, the only
 * one it writes) and `refs/flor/remotes/<remote>/ledgers/<writer>` (fetched). Each commit's tree
 * is cumulative: `runs/<id[0:2]>/<id>/{run.msgpack, code, logs/<segment>.msgpack, ckpt.msgpack}`.
 * The work is done in one file per job; this module only gathers their exports.
 */
export { ensureWriter } from './writer-id.js';
export { encodeRunMeta, decodeRunMeta } from './run-meta.js';
export { appendRun, appendSegment, replayCodePath, runDir, type RunCapture, type SegmentOptions } from './ledger-append.js';
export {
  checkRunSegments, listLedgers, listRunsChecked, readableRuns, readRunSegments, segmentProblem,
  type BrokenRun, type IgnoredPart, type LedgerRef, type RunEntry, type SegmentRef,
} from './ledger-union.js';
export { readCheckpointManifest, readSegment, segmentCache, SEGMENT_CACHE_BYTES, type SegmentCache, type SegmentReader } from './segment-read.js';
export { resolveIn, resolveRun } from './run-id.js';
