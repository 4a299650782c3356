/**
 * Gathering for queries: which runs, their segments, the `runs` listing and the `log` view.
 * All I/O of the query part is here; pivot.ts and formats.ts stay pure.
 */
import { FlorError } from '../errors.js';
import { readRunSegments, type BrokenRun, type RunEntry } from '../store/ledger-union.js';
import { resolveIn } from '../store/run-id.js';
import type { SegmentReader } from '../store/segment-read.js';
import type { RepoInfo } from '../store/git.js';
import type { Segment } from '../store/types.js';
import { pivot, type PivotResult, type PivotRun } from './pivot.js';
import { damageOf } from '../store/pack.js';
import { cachedAggregates, gitSegments, listHistory, type MarkedRun } from './history.js';
import { startCacheWrites } from '../store/derived-cache.js';
import type { History } from './run-values.js';

export type { BrokenRun, RunEntry };

/** The history of a repository for summarizeRuns: every readable run, segments read on demand. */
export async function repoHistory(repo: RepoInfo, from?: SegmentReader, opts: { all?: boolean } = {}): Promise<History<RunEntry> & { broken: BrokenRun[]; removed: RunEntry[] }> {
  const { runs, broken, removed = [] } = await listHistory(repo, opts);
  return { runs, broken, removed, segments: (r) => segmentsOf(repo, r, from), aggregates: cachedAggregates(repo) };
}

export interface LogOptions {
  names: string[];
  /** Run ids or unique prefixes; all runs when empty. */
  runs?: string[];
  /** Only runs started at or after this time (ms since epoch). */
  since?: number;
  /**
   * Where segments come from: a cache a replay in the same command already filled (`log --replay`),
   * so runs it left unchanged are not read and decoded again. Default: read each from Git.
   */
  segments?: SegmentReader;
  /** Only runs this accepts (run-level conditions of `--where`), before any segment is read. */
  filter?: (run: RunEntry) => boolean;
  /** Runs removed with `git flor rm` too. */
  all?: boolean;
}

export interface LogView extends PivotResult {
  broken: BrokenRun[];
  runCount: number;
  /** The runs the view was built from (after --run, --since and the filter), readable ones. */
  runs: RunEntry[];
  /** Every readable run of the history, chosen or not (removed ones only with `all`). */
  all: RunEntry[];
  /** The runs --run and --since chose, before `filter` left some out unread. */
  unfiltered: RunEntry[];
  /** Every run this clone can read, removed ones too: what short ids must tell apart. */
  readable: RunEntry[];
}

/**
 * Segments are read in parallel: each is one object from the same long-lived `cat-file`. A segment
 * posing as recorded values outside the run's writer's forward one is left out (store readRunSegments).
 */
export async function segmentsOf(repo: RepoInfo, run: RunEntry, from?: SegmentReader): Promise<Segment[]> {
  const reader = from ?? gitSegments(repo);
  return (await readRunSegments(repo, run, reader)).segments.map((s) => s.seg);
}

export async function logView(repo: RepoInfo, opts: LogOptions): Promise<LogView> {
  if (opts.names.length === 0) throw new FlorError('NO_NAMES', 'name at least one logged value', { hint: 'e.g. `git flor log loss acc`' });
  const { runs, broken, removed = [] } = await listHistory(repo, { all: opts.all });
  let chosen = runs;
  if (opts.runs && opts.runs.length > 0) {
    const ids = new Set<string>();
    for (const p of opts.runs) ids.add(resolveIn(runs, p, broken).id);
    chosen = chosen.filter((r) => ids.has(r.id));
  }
  if (opts.since !== undefined) chosen = chosen.filter((r) => Date.parse(r.meta.start) >= opts.since!);
  const unfiltered = chosen;
  if (opts.filter) chosen = chosen.filter(opts.filter);
  const loaded: PivotRun[] = [];
  const read: RunEntry[] = [];
  const unreadable: BrokenRun[] = [...broken];
  await Promise.all(
    chosen.map(async (r) => {
      try {
        loaded.push({ meta: r.meta, segments: await segmentsOf(repo, r, opts.segments) });
        read.push(r);
      } catch (e) {
        // One bad segment hides one run, never the whole view.
        unreadable.push({ id: r.id, ledger: r.ledgers[0] ?? '', code: e instanceof FlorError ? e.code : 'UNREADABLE', error: e instanceof Error ? e.message : String(e) });
      }
    }),
  );
  // What was decoded goes to the derived cache while the view is made and printed.
  startCacheWrites();
  // Segments are read in parallel and finish in any order: the runs keep the listing's order, so
  // the same history always gives the same view.
  const wasRead = new Set(read);
  return { ...pivot(loaded, opts.names), broken: unreadable, runCount: loaded.length, runs: chosen.filter((r) => wasRead.has(r)), all: runs, unfiltered, readable: opts.all ? runs : [...runs, ...removed] };
}

/** Every name these runs logged (args not included), sorted; an unreadable run adds none. */
export async function loggedNames(repo: RepoInfo, runs: RunEntry[], from?: SegmentReader): Promise<string[]> {
  const names = new Set<string>();
  await Promise.all(
    runs.map(async (r) => {
      const segs = await segmentsOf(repo, r, from).catch(() => [] as Segment[]);
      for (const s of segs) for (const n of s.names) names.add(n);
    }),
  );
  return [...names].sort();
}

export interface RunDetail {
  run: RunEntry;
  /** Names logged per segment, with record counts. */
  segments: Array<{ name: string; source: string; records: number; names: string[]; provenance: Segment['provenance']; writer: string; damaged: readonly string[] }>;
}

/** One run (removed ones too) with its marks, from the same cached listing and segments as `runs`. */
export async function runDetail(repo: RepoInfo, idOrPrefix: string): Promise<RunDetail & { run: MarkedRun }> {
  const { runs, broken } = await listHistory(repo, { all: true });
  const run: MarkedRun = resolveIn(runs, idOrPrefix, broken);
  const { segments } = await readRunSegments(repo, run, gitSegments(repo));
  return {
    run,
    segments: segments.map(({ ref, seg: s }) => {
      const used = new Uint8Array(s.names.length);
      for (let r = 0; r < s.name.length; r++) used[s.name[r]!] = 1;
      return { name: ref.name, source: s.source, records: s.name.length, names: s.names.filter((_, j) => used[j]), provenance: s.provenance, writer: ref.writer, damaged: damageOf(s) };
    }),
  };
}
