/**
 * `git flor runs`: one row per run, with chosen columns (spec.ts), a `--where` filter (expr.ts),
 * `--sort`, `--limit` and `--only-changed`. Values derived from logged names are computed only for
 * the runs that need them: a condition or sort key for every candidate run, a shown column for the
 * shown rows only, so `--sort -time --limit 20` over 10,000 runs reads 20 runs' segments.
 */
import { FlorError } from '../errors.js';
import type { Value } from '../store/records.js';
import { valueType, type ColumnType } from './coltypes.js';
import { compile, parseExpr, refsOf, type Binding, type Expr, type Ref } from './expr.js';
import { nameDepths } from './series.js';
import { sortRows, type SortKey } from './sort.js';
import { parseSpec, specText, type Spec } from './spec.js';
import type { Table } from './table.js';
import { MARK_KEYS, RUN_KEYS, RunValues, hasArg, jsonValue, keyValue, type BrokenRun, type History, type HistoryRun, type Resolved, type RunKey } from './run-values.js';

/** The ones a terminal table shows by default (the rest is in `--format json` and `git flor show`). */
export const TABLE_KEYS: readonly RunKey[] = ['run', 'version', 'time', 'status'];
/** At most this many logged names join the default summary; more would not read as a table. */
export const DEFAULT_NAMES_MAX = 12;

export type { ColumnType };

export interface SummaryColumn {
  /** The title: a key column, an arg's name (`arg.NAME` when it collides), or the SPEC text as written. */
  name: string;
  kind: 'key' | 'arg' | 'value';
  type: ColumnType;
  /** A run-level detail of the default summary that the terminal table leaves out (csv, md and json keep it). */
  detail: boolean;
}

export interface SummaryOptions {
  /** SPEC texts (`acc`, `max(acc)`, `loss@epoch=3`, `lr`, `arg.lr`); default: the summary. */
  cols?: string[];
  where?: string;
  /** `[-]COL`: a minus sorts descending. Default: oldest first. */
  sort?: string[];
  limit?: number;
  onlyChanged?: boolean;
}

export interface Summary {
  /** Columns of the flat layout (csv, md, table, parquet): `run`, args as their own columns, then values. */
  columns: SummaryColumn[];
  /** Rows exactly as `--format json` prints them: `run`, run-level keys, `args` as an object, then values. */
  rows: Array<Record<string, unknown>>;
  /** The keys of `rows`, in order, with their types (`args` is JSON). */
  jsonColumns: Array<{ name: string; type: ColumnType }>;
  /** Same rows, flat and with values as logged (NaN stays NaN): what table/csv/md print. */
  flat: Array<Record<string, Value>>;
  /** Things the reader should know (names left out of the default summary); the CLI prints them on stderr. */
  notes: string[];
  /** Runs whose segments could not be read: left out. */
  broken: BrokenRun[];
}

function parseSort(text: string): { spec: Spec; desc: boolean; text: string } {
  const desc = text.startsWith('-');
  const body = desc || text.startsWith('+') ? text.slice(1) : text;
  return { spec: parseSpec(body, '--sort'), desc, text: body };
}

function columnType(res: Resolved | null, values: Value[]): ColumnType {
  if (res?.t === 'key') return res.key === 'time' || res.key === 'end' ? 'TIMESTAMP' : res.key === 'records' ? 'BIGINT' : res.key === 'dirty' ? 'BOOLEAN' : 'VARCHAR';
  if (res?.t === 'agg' && res.fn === 'count') return 'BIGINT';
  return valueType(values);
}

function same(values: Value[]): boolean {
  if (values.length === 0) return true;
  const first = JSON.stringify(jsonValue(values[0]!));
  return values.every((v) => JSON.stringify(jsonValue(v)) === first);
}

/** The runs view. Rows of `rows` are what `--format json` prints, key for key. */
export async function summarizeRuns<R extends HistoryRun>(history: History<R>, opts: SummaryOptions = {}): Promise<Summary> {
  const s = new RunValues(history);
  const where: Expr | null = opts.where !== undefined ? parseExpr(opts.where) : null;
  const sorts = (opts.sort ?? []).map(parseSort);
  const cols = (opts.cols ?? []).map((text) => ({ text, spec: parseSpec(text, '--col') }));
  if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit >= 0)) {
    throw new FlorError('BAD_LIMIT', `--limit must be a whole number >= 0, not ${opts.limit}`, { hint: 'e.g. --limit 10' });
  }

  // Oldest first, as without --sort; a sort is stable, so ties keep this order too.
  let runs = [...history.runs].sort((a, b) => (a.meta.start < b.meta.start ? -1 : a.meta.start > b.meta.start ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

  if (where) {
    const refs = refsOf(where);
    const bound = new Map<Ref, Binding>();
    for (const ref of refs) {
      const res = await s.resolve(ref.spec);
      // `version` compares as the full commit, so that a prefix of any length matches.
      const vals = res.t === 'key' && res.key === 'version' ? runs.map((r) => r.meta.commit) : await s.values(res, runs, ref.text);
      bound.set(ref, { get: (i) => vals[i]!, prefix: res.t === 'key' && (res.key === 'version' || res.key === 'commit' || res.key === 'run'), member: res.t === 'key' && res.key === 'tags' });
    }
    const keep = compile(where, (ref) => bound.get(ref)!);
    runs = runs.filter((_, i) => keep(i));
  }

  if (sorts.length) {
    const keys: SortKey[] = [];
    for (const k of sorts) {
      const vals = await s.values(await s.resolve(k.spec), runs, k.text);
      keys.push({ get: (i) => vals[i]!, desc: k.desc });
    }
    const order = sortRows(Array.from(runs.keys()), keys);
    runs = order.map((i) => runs[i]!);
  }
  if (opts.limit !== undefined) runs = runs.slice(0, opts.limit);

  const notes: string[] = [];
  type Col = { name: string; kind: SummaryColumn['kind']; res: Resolved | null; values: Value[] };
  const out: Col[] = [];
  let argCols: Col[] = [];
  const keyCols: Col[] = [];
  const loggedShown = new Set<string>();

  if (cols.length === 0) {
    for (const key of RUN_KEYS) keyCols.push({ name: key, kind: 'key', res: { t: 'key', key }, values: runs.map((r) => keyValue(key, r)) });
    for (const key of MARK_KEYS) {
      const values = runs.map((r) => keyValue(key, r));
      if (values.some((v) => v !== null)) keyCols.push({ name: key, kind: 'key', res: { t: 'key', key }, values });
    }
    // Names logged outside an inner loop (outside every loop, or in an outermost one). Kept with
    // the run's aggregates: the summary of a history read before decodes no segment.
    const cache = history.aggregates;
    const depths: Array<Map<string, number>> = await Promise.all(
      runs.map(async (r) => {
        const kept = cache?.depths(r);
        if (kept) return kept;
        const segs = await s.segments(r);
        const d = new Map<string, number>();
        for (const seg of segs ?? []) nameDepths(seg, d);
        // A run whose segments could not be read is reported, and its depths are not kept.
        if (segs && cache) cache.putDepths(r, d);
        return d;
      }),
    );
    const shallow = new Set<string>();
    for (const d of depths) {
      for (const [n, depth] of d) {
        loggedShown.add(n);
        if (depth <= 1) shallow.add(n);
      }
    }
    const candidates = [...shallow].filter((n) => !(RUN_KEYS as readonly string[]).includes(n)).sort();
    const kept: string[] = [];
    const left: string[] = [];
    for (const n of candidates) {
      const values = await s.values({ t: 'agg', fn: 'last', name: n }, runs, n);
      // Structured values (arrays, objects) do not read in a cell: they stay for --col.
      const readable = values.every((v) => v === null || typeof v !== 'object');
      if (readable && kept.length < DEFAULT_NAMES_MAX) {
        kept.push(n);
        out.push({ name: specText({ t: 'agg', fn: 'last', name: n }), kind: 'value', res: { t: 'agg', fn: 'last', name: n }, values });
      } else left.push(n);
    }
    if (left.length) notes.push(`not shown: last(...) of ${left.join(', ')} (name them with --col)`);
    const args = new Set<string>();
    for (const r of runs) for (const a of Object.keys(r.meta.args ?? {})) args.add(a);
    argCols = [...args].sort().map((a) => ({
      name: keyCols.some((k) => k.name === a) || loggedShown.has(a) ? `arg.${a}` : a,
      kind: 'arg' as const,
      res: { t: 'arg' as const, name: a },
      values: runs.map((r) => (hasArg(r.meta, a) ? r.meta.args[a]! : null)),
    }));
  } else {
    keyCols.push({ name: 'run', kind: 'key', res: { t: 'key', key: 'run' }, values: runs.map((r) => r.id) });
    const seen = new Set<string>(['run']);
    for (const c of cols) {
      if (seen.has(c.text)) continue;
      seen.add(c.text);
      const res = await s.resolve(c.spec);
      const values = await s.values(res, runs, c.text);
      out.push({ name: c.text, kind: res.t === 'key' ? 'key' : res.t === 'arg' ? 'arg' : 'value', res, values });
    }
  }

  if (opts.onlyChanged) {
    const changed = (c: Col) => c.name === 'run' || !same(c.values);
    keyCols.splice(0, keyCols.length, ...keyCols.filter(changed));
    argCols = argCols.filter(changed);
    out.splice(0, out.length, ...out.filter(changed));
  }

  const flatCols = [...keyCols, ...argCols, ...out];
  const columns: SummaryColumn[] = flatCols.map((c) => ({ name: c.name, kind: c.kind, type: columnType(c.res, c.values), detail: cols.length === 0 && c.kind === 'key' && !TABLE_KEYS.includes(c.name as RunKey) && !(MARK_KEYS as readonly string[]).includes(c.name) }));
  const shownArgs = argCols.map((c) => (c.res as { name: string }).name);
  const rows: Array<Record<string, unknown>> = runs.map((r, i) => {
    const row: Record<string, unknown> = {};
    for (const c of keyCols) row[c.name] = jsonValue(c.values[i]!);
    // json keeps the args as one object; in the default summary with --only-changed, the changed ones.
    const args: Record<string, unknown> = {};
    const names = cols.length === 0 ? shownArgs : Object.keys(r.meta.args ?? {});
    for (const a of names) if (hasArg(r.meta, a)) args[a] = jsonValue(r.meta.args[a]!);
    row.args = args;
    for (const c of out) row[c.name] = jsonValue(c.values[i]!);
    return row;
  });
  const flat = runs.map((_, i) => {
    const row: Record<string, Value> = {};
    for (const c of flatCols) row[c.name] = c.values[i]!;
    return row;
  });
  const typeOf = new Map(columns.map((c) => [c.name, c.type] as const));
  const jsonColumns = [...keyCols.map((c) => c.name), 'args', ...out.map((c) => c.name)].map((name) => ({ name, type: name === 'args' ? ('JSON' as const) : typeOf.get(name)! }));
  return { columns, rows, jsonColumns, flat, notes, broken: s.broken };
}

/** The summary as a table for a formatter: json/ndjson keep `args` an object, the others spread it. */
export function summaryTable(sum: Summary, format: string): Table {
  if (format === 'json' || format === 'ndjson') {
    const names = sum.jsonColumns.map((c) => c.name);
    return { columns: names, cols: names.map((n) => ({ type: 'values' as const, values: sum.rows.map((r) => r[n] as Value) })), length: sum.rows.length };
  }
  const cols = format === 'table' ? sum.columns.filter((c) => !c.detail) : sum.columns;
  return { columns: cols.map((c) => c.name), cols: cols.map((c) => ({ type: 'values' as const, values: sum.flat.map((r) => r[c.name] ?? null) })), length: sum.flat.length };
}
