/**
 * The Node API, `import { openHistory } from 'git-flor/query'`: the answers of `git flor runs`,
 * `log` and `diff` as plain objects, identical to their `--format json` rows, read in-process (no
 * CLI, no shell). Errors are FlorError with a stable `code`.
 *
 *   const h = await openHistory({ cwd: '/path/to/repo' });
 *   const rows = await h.log(['loss', 'acc']);
 *   await h.close();
 */
import { FlorError, isFlorError } from '../errors.js';
import { requireRepoSync, type RepoInfo } from '../store/git.js';
import { closeReader } from '../store/objects.js';
import { settleCacheWrites } from '../store/derived-cache.js';
import type { SegmentReader } from '../store/ledger.js';
import type { Value } from '../store/records.js';
import { cellAt, type Table } from './table.js';
import { toJson } from './json-rows.js';
import { logView, repoHistory, segmentsOf } from './runs.js';
import { queryView } from './viewquery.js';
import { summarizeRuns, type SummaryOptions } from './summary.js';
import { gitSegments, memoSegments } from './history.js';
import { diffRuns, type RunDiff, type DiffRun, type DiffName, type NameStats } from './diff.js';
import { parseSince } from './since.js';

export { FlorError, isFlorError };
export type { RunDiff, DiffRun, DiffName, NameStats };

/** A JSON value, as `--format json` writes it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/**
 * One row of `git flor runs --format json`: `run`, the run-level keys (version, commit, time, end,
 * file, branch, dirty, status, records) unless `cols` chose the columns, `args`, then one key per
 * column (`last(acc)`, or each of `cols` titled as written).
 */
export interface RunRow {
  run: string;
  args: Record<string, JsonValue>;
  [column: string]: JsonValue;
}

/** The options of `git flor runs`: `--col`, `--where`, `--sort`, `--limit`, `--only-changed`. */
export type RunsOptions = SummaryOptions;

/** One row of `git flor log --format json`: key columns, loop columns, then one per name. */
export interface LogRow {
  run: string;
  version: string | null;
  time: string;
  file: string;
  [column: string]: JsonValue;
}

export interface OpenOptions {
  /** Any directory inside the repository (default: process.cwd()). */
  cwd?: string;
}

export interface LogOptions {
  /** `--where`: keep the rows where this expression holds (the grammar of `git flor log --where`). */
  where?: string;
  /** `--sort`: `[-]COL`, later ones break ties. */
  sort?: string[];
  /** `--limit`: at most this many rows, after sorting. */
  limit?: number;
  /** Run ids or unique prefixes (`--run`). */
  runs?: string[];
  /** `--since`: a Date, ms since the epoch, or text such as '2026-01-31' or '3 days ago'. */
  since?: Date | number | string;
}

export interface History {
  /** The rows of `git flor runs --format json` with these options (default: every run, oldest first). */
  runs(opts?: RunsOptions): Promise<RunRow[]>;
  /** The rows of `git flor log NAME... --format json`. Names no run logged are simply absent. */
  log(names: string[], opts?: LogOptions): Promise<LogRow[]>;
  /** `git flor diff A B --format json`. */
  diff(a: string, b: string): Promise<RunDiff>;
  /** Ends the repository's reader process; the handle is unusable afterwards. */
  close(): Promise<void>;
}

/** A cell as `--format json` writes it (NaN and Infinity become null). */
function jsonCell(v: Value): JsonValue {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  return toJson(v) as JsonValue;
}

function rows<T>(t: Table): T[] {
  const out = new Array<T>(t.length);
  const C = t.columns.length;
  for (let i = 0; i < t.length; i++) {
    const o: Record<string, JsonValue> = {};
    for (let c = 0; c < C; c++) o[t.columns[c]!] = jsonCell(cellAt(t.cols[c]!, i));
    out[i] = o as T;
  }
  return out;
}

function sinceMs(s: LogOptions['since']): number | undefined {
  if (s === undefined) return undefined;
  if (s instanceof Date) return s.getTime();
  return typeof s === 'number' ? s : parseSince(s);
}

export async function openHistory(opts: OpenOptions = {}): Promise<History> {
  const repo: RepoInfo = requireRepoSync(opts.cwd ?? process.cwd());
  // Decoded segments stay with the handle: a second query of the same runs skips decoding.
  let segments: SegmentReader | null = memoSegments(gitSegments(repo));
  const open = (): SegmentReader => {
    if (!segments) throw new FlorError('HISTORY_CLOSED', 'this history handle is closed', { hint: 'call openHistory() again' });
    return segments;
  };
  return {
    async runs(o = {}) {
      const sum = await summarizeRuns(await repoHistory(repo, open()), o);
      return sum.rows as RunRow[];
    },
    async log(names, o = {}) {
      const from = open();
      const view = await logView(repo, { names, runs: o.runs, since: sinceMs(o.since), segments: from });
      if (o.where === undefined && o.sort === undefined && o.limit === undefined) return rows<LogRow>(view.table);
      const history = { runs: view.runs, segments: (r: (typeof view.runs)[number]) => segmentsOf(repo, r, from) };
      return rows<LogRow>(await queryView(view.table, history, { where: o.where, sort: o.sort, limit: o.limit }, async () => view.known));
    },
    async diff(a, b) {
      return diffRuns(repo, a, b, { segments: open() });
    },
    async close() {
      segments = null;
      await settleCacheWrites();
      await closeReader(repo);
    },
  };
}
