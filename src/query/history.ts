/**
 * The one way queries read the history: the union of the ledgers and the decoded log segments of
 * the runs asked for. One bad segment hides one run, never the whole answer.
 */
import { FlorError } from '../errors.js';
import { listRunsChecked, readSegment, type BrokenRun, type RunEntry, type SegmentReader } from '../store/ledger.js';
import type { RepoInfo } from '../store/git.js';
import type { Segment } from '../store/types.js';

export interface Listing {
  runs: RunEntry[];
  broken: BrokenRun[];
}

export interface LoadedRun {
  entry: RunEntry;
  /** In the order of entry.segments (forward first). */
  segments: Segment[];
}

export function listHistory(repo: RepoInfo): Promise<Listing> {
  return listRunsChecked(repo);
}

/** Reads segments straight from Git. */
export function gitSegments(repo: RepoInfo): SegmentReader {
  return { read: (oid) => readSegment(repo, oid) };
}

/** Segments of every run in `runs`, read in parallel; a run that cannot be read goes to `unreadable`. */
export async function loadRuns(runs: RunEntry[], from: SegmentReader): Promise<{ loaded: LoadedRun[]; unreadable: BrokenRun[] }> {
  const loaded: LoadedRun[] = [];
  const unreadable: BrokenRun[] = [];
  const results = await Promise.all(
    runs.map(async (entry) => {
      try {
        return { entry, segments: await Promise.all(entry.segments.map((s) => from.read(s.oid))) };
      } catch (e) {
        unreadable.push({ id: entry.id, ledger: entry.ledgers[0] ?? '', code: e instanceof FlorError ? e.code : 'UNREADABLE', error: e instanceof Error ? e.message : String(e) });
        return null;
      }
    }),
  );
  for (const r of results) if (r) loaded.push(r);
  return { loaded, unreadable };
}

/** Oldest first, ties by id: the order every listing and view uses. */
export function byStart(a: RunEntry, b: RunEntry): number {
  return a.meta.start < b.meta.start ? -1 : a.meta.start > b.meta.start ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
