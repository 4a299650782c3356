/**
 * The one way queries read the history: the union of the ledgers and the decoded log segments of
 * the runs asked for. One bad segment hides one run, never the whole answer.
 */
import { FlorError } from '../errors.js';
// The ledger's parts, not its barrel (store/ledger.ts): a query loads only what it reads with.
import { checkRunSegments, listRunsChecked, type BrokenRun, type RunEntry } from '../store/ledger-union.js';
import { readSegment, type SegmentReader } from '../store/segment-read.js';
import type { RepoInfo } from '../store/git.js';
import type { Segment } from '../store/types.js';
import { type CachedRunEntry, readCachedAggregates, readCachedHistory, readCachedSegment, refsKey, runContentKey, writeCachedAggregates, writeCachedListing, writeCachedSegment } from '../store/derived-cache.js';
import { AGGREGATES } from './spec.js';
import type { AggregateCache, Aggregates } from './run-values.js';
import type { ReadMark, readMarks } from '../store/marks.js';
import { settleJournals } from '../store/settle.js';
import { BoundedMap } from '../store/bounded-map.js';
import { readTrust } from '../store/trust.js';
import { applyMarks, type RunMarks } from './marks.js';

export interface Listing {
  runs: RunEntry[];
  broken: BrokenRun[];
  /** Runs `git flor rm` removed: left out of `runs` unless the listing was asked for all. */
  removed?: RunEntry[];
}

/** A run with what marks say about it (tags, note, removed), when it has any that count. */
export type MarkedRun = RunEntry & { marks?: RunMarks };

export interface LoadedRun {
  entry: RunEntry;
  /** In the order of entry.segments (forward first). */
  segments: Segment[];
}

/**
 * The union of the ledgers, from the derived cache when no ref under refs/flor/ moved since it was
 * written. A listing with unreadable runs is not kept: a repair (fetching the missing objects)
 * changes no tip, and the next listing must see it.
 */
export async function listHistory(repo: RepoInfo, opts: { all?: boolean } = {}): Promise<Listing> {
  // Runs that ended but are still journals land first: no ref has moved for them yet.
  const settled = await settleJournals(repo);
  const key = await refsKey(repo);
  const hit = settled.failed.length === 0 ? readCachedHistory<RunEntry>(repo, key) : null;
  if (hit) {
    if (!hit.marks) {
      // Written without marks (by an older version): read them once and keep them with it.
      const { marks, problems } = await marksOf(repo, key);
      if (problems.length === 0 && (await refsKey(repo)) === key) writeCachedListing(repo, key, hit.runs, marks);
    }
    return withMarks(repo, key, { runs: hit.runs, broken: [] }, opts.all === true, hit.marks);
  }
  const listing = await listRunsChecked(repo);
  const read = marksOf(repo, key);
  const { problems, marks } = await read;
  // Kept only if nothing moved while listing: the key must describe exactly what was read.
  if (listing.broken.length === 0 && problems.length === 0 && (await refsKey(repo)) === key) writeCachedListing(repo, key, listing.runs, marks);
  return withMarks(repo, key, { runs: listing.runs, broken: listing.broken }, opts.all === true);
}

// Keyed by the ledger tips, which move with every run: bounded, or a long-lived UI server would
// keep the marks of every state it ever listed.
const marksRead = new BoundedMap<string, ReturnType<typeof readMarks>>(8);

/** Marks are a function of the ledger tips, which `key` names: a command that lists twice reads them once. */
function marksOf(repo: RepoInfo, key: string, cached: ReadMark[] | null = null): ReturnType<typeof readMarks> {
  const memoKey = `${repo.commonDir}\0${key}`;
  let read = marksRead.get(memoKey);
  // Reading marks loads the ledger writer's half of the store: only when the cache has none.
  if (!read) marksRead.set(memoKey, (read = cached ? Promise.resolve({ marks: cached, problems: [] }) : import('../store/marks.js').then((m) => m.readMarks(repo))));
  return read;
}

/**
 * The listing with the marks of every ledger applied (query/marks.ts): tags and notes attached to
 * their runs, removed runs moved to `removed` (or kept, with `all`). A ledger whose marks cannot
 * be read is reported among the broken and adds none.
 */
async function withMarks(repo: RepoInfo, key: string, listing: Listing, all: boolean, cached: ReadMark[] | null = null): Promise<Listing> {
  const { marks, problems } = await marksOf(repo, key, cached);
  const broken = [...listing.broken, ...problems.map((p) => ({ id: '', ledger: p.ledger, code: 'CORRUPT_DATA' as const, error: p.error }))];
  if (marks.length === 0) return { runs: listing.runs, broken, removed: [] };
  const applied = applyMarks(listing.runs, marks, await readTrust(repo));
  const runs: MarkedRun[] = listing.runs.map((r) => (applied.has(r.id) ? { ...r, marks: applied.get(r.id)! } : r));
  const removed = runs.filter((r) => r.marks?.removed);
  return { runs: all ? runs : runs.filter((r) => !r.marks?.removed), broken, removed };
}

/**
 * Reads segments from the derived cache (raw columns: no msgpack decoding, no validation pass),
 * else from Git, keeping what it decoded for the next query.
 */
export function gitSegments(repo: RepoInfo): SegmentReader {
  return {
    async read(oid) {
      const hit = readCachedSegment(repo, oid);
      if (hit) return hit;
      const seg = await readSegment(repo, oid);
      writeCachedSegment(repo, oid, seg);
      return seg;
    },
  };
}

/** The bytes a decoded segment holds: its columns, and a rough 32 per other value. */
function segmentBytes(s: Segment): number {
  const cols = [s.frames.parent, s.frames.loop, s.frames.iter, s.name, s.frame, s.num, s.kind];
  return cols.reduce((a, c) => a + c.byteLength, 0) + 32 * s.other.length;
}

/**
 * A reader that keeps what it read in memory, up to `maxBytes`: for a long-lived server. Once full,
 * further segments are read but not kept (not evicting keeps the earliest runs, which a second
 * pass in the same order reads first, instead of churning).
 */
export function boundedSegments(from: SegmentReader, maxBytes: number): SegmentReader {
  const held = new Map<string, Segment>();
  let bytes = 0;
  return {
    async read(oid) {
      const hit = held.get(oid);
      if (hit) return hit;
      const seg = await from.read(oid);
      const b = segmentBytes(seg);
      if (!held.has(oid) && bytes + b <= maxBytes) {
        held.set(oid, seg);
        bytes += b;
      }
      return seg;
    },
  };
}

/** A reader that keeps what it read in memory: for one handle that queries the same runs again. */
export function memoSegments(from: SegmentReader): SegmentReader {
  const held = new Map<string, Promise<Segment>>();
  return {
    read(oid) {
      let p = held.get(oid);
      if (!p) {
        p = from.read(oid);
        held.set(oid, p);
        p.catch(() => held.delete(oid)); // a failed read is tried again, and fails the same way
      }
      return p;
    },
  };
}

/** Segments of every run in `runs`, read in parallel; a run that cannot be read goes to `unreadable`. */
export async function loadRuns(runs: RunEntry[], from: SegmentReader): Promise<{ loaded: LoadedRun[]; unreadable: BrokenRun[] }> {
  const loaded: LoadedRun[] = [];
  const unreadable: BrokenRun[] = [];
  const results = await Promise.all(
    runs.map(async (entry) => {
      try {
        // Segments posing as recorded values outside the run's writer's forward one are left out.
        const { segments } = checkRunSegments(entry, await Promise.all(entry.segments.map((s) => from.read(s.oid))));
        return { entry: { ...entry, segments: segments.map((s) => s.ref) }, segments: segments.map((s) => s.seg) };
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

/**
 * Aggregates of names per run, kept in the derived cache under the run's content key: the second
 * `runs --col max(loss)` reads one small file per run instead of decoding every segment.
 */
export function cachedAggregates(repo: RepoInfo): AggregateCache<RunEntry> {
  const held = new Map<string, CachedRunEntry>();
  const entry = (run: RunEntry): { key: string; e: CachedRunEntry } => {
    const key = runContentKey(run);
    let e = held.get(key);
    if (!e) held.set(key, (e = readCachedAggregates(repo, key)));
    return { key, e };
  };
  return {
    get(run, name) {
      const a = entry(run).e.names.get(name);
      // An entry written by another version of this code may lack an aggregate: then it is none.
      return a && AGGREGATES.every((fn) => fn in a) ? (a as Aggregates) : null;
    },
    put(run, name, aggs) {
      const { key, e } = entry(run);
      e.names.set(name, aggs);
      writeCachedAggregates(repo, key, e);
    },
    depths(run) {
      return entry(run).e.depths;
    },
    putDepths(run, depths) {
      const { key, e } = entry(run);
      e.depths = depths;
      writeCachedAggregates(repo, key, e);
    },
  };
}
