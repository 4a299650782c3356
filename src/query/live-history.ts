/**
 * The history as a live view sees it: every stored run, plus the runs still recording (or not yet
 * captured), read from their journals. A run in both is shown from the ledger: once captured, the
 * stored run replaces its journal copy with the same records, so nothing jumps.
 */
import type { RepoInfo } from '../store/git.js';
import type { SegmentReader } from '../store/ledger.js';
import type { Segment } from '../store/types.js';
import { liveRuns } from '../store/live.js';
import { repoHistory } from './runs.js';
import type { CurveHistory } from './curve-view.js';
import type { HistoryRun } from './run-values.js';

/** `from`: where stored segments are read (a cache a long-lived server keeps); default Git. */
export async function liveHistory(repo: RepoInfo, from?: SegmentReader): Promise<CurveHistory & { live: Set<string> }> {
  const stored = await repoHistory(repo, from);
  const have = new Set(stored.runs.map((r) => r.id));
  const live = liveRuns(repo).filter((l) => !have.has(l.id));
  const segs = new Map<string, Segment[]>(live.map((l) => [l.id, [l.segment]]));
  const runs: HistoryRun[] = [...stored.runs, ...live.map((l) => ({ id: l.id, meta: l.meta }))];
  const kept = stored.aggregates;
  return {
    runs,
    broken: stored.broken,
    live: new Set(segs.keys()),
    segments: (r) => segs.get(r.id) ? Promise.resolve(segs.get(r.id)!) : stored.segments(r as (typeof stored.runs)[number]),
    // A run still recording has no content key yet: its aggregates are computed each time.
    aggregates: kept && {
      get: (r, name) => (segs.has(r.id) ? null : kept.get(r as (typeof stored.runs)[number], name)),
      put: (r, name, aggs) => {
        if (!segs.has(r.id)) kept.put(r as (typeof stored.runs)[number], name, aggs);
      },
      depths: (r) => (segs.has(r.id) ? null : kept.depths(r as (typeof stored.runs)[number])),
      putDepths: (r, depths) => {
        if (!segs.has(r.id)) kept.putDepths(r as (typeof stored.runs)[number], depths);
      },
    },
  };
}
