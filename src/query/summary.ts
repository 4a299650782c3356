/**
 * `git flor runs`: one row per run, with chosen columns (spec.ts), a `--where` filter (expr.ts),
 * `--sort`, `--limit` and `--only-changed`. Values derived from logged names are computed only for
 * the runs that need them: a condition or sort key for every candidate run, a shown column for the
 * shown rows only, so `--sort -time --limit 20` over 10,000 runs reads 20 runs' segments.
 */
import { FlorError, type FlorErrorCode } from '../errors.js';
import type { Value } from '../store/records.js';
import type { RunMeta, Segment } from '../store/types.js';
import { valueType, type ColumnType } from './coltypes.js';
import { compile, parseExpr, refsOf, type Binding, type Expr, type Ref } from './expr.js';
import { toJson } from './json-rows.js';
import { unknownName } from './names.js';
import { aggregate, aggregatesOf, loopsOf, nameDepths, seriesOf, valueAt, type RunAggregates, type RunSeries } from './series.js';
import { sortRows, type SortKey } from './sort.js';
import { AGGREGATES, parseSpec, specText, type Aggregate, type Spec } from './spec.js';
import type { Table } from './table.js';

/** A run as the summary needs it (the store's RunEntry is one). */
export interface HistoryRun {
  id: string;
  meta: RunMeta;
  /** What marks say about the run (`git flor tag`, `note`), when it has any. */
  marks?: { tags: string[]; note: string | null; removed: boolean };
}

/** Where the summary reads from: the runs, and each run's log segments on demand (maybe cached). */
export interface History<R extends HistoryRun = HistoryRun> {
  /** Every readable run. */
  runs: R[];
  segments(run: R): Promise<Segment[]>;
  /** Where a run's aggregates of a name are kept between commands, if anywhere. */
  aggregates?: AggregateCache<R>;
}

/** Every aggregate of one name in one run (`count` a number), as computed from its series. */
export type Aggregates = Record<Aggregate, Value>;

export interface AggregateCache<R> {
  get(run: R, name: string): Aggregates | null;
  put(run: R, name: string, aggs: Aggregates): void;
  /** The deepest loop each name the run logged was logged in (series.ts nameDepths), or null when not kept. */
  depths(run: R): Map<string, number> | null;
  putDepths(run: R, depths: Map<string, number>): void;
}

/** Run-level columns, in the order `--format json` prints them. */
export const RUN_KEYS = ['run', 'version', 'commit', 'time', 'end', 'file', 'branch', 'dirty', 'status', 'records'] as const;
/**
 * Run-level columns from marks: the run's tags (`tag = 'x'` holds when any of them is x), its
 * note, and `removed` (true for a run `git flor rm` removed, listed with `--all`). In the default summary only when some run has one; a logged name or an arg of the same
 * name wins (`last(note)`, `arg.note` reach those).
 */
export const MARK_KEYS = ['tags', 'note', 'removed'] as const;
export type RunKey = (typeof RUN_KEYS)[number] | (typeof MARK_KEYS)[number];
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
  broken: Array<{ id: string; error: string; code: FlorErrorCode }>;
}

export type Resolved = { t: 'key'; key: RunKey } | { t: 'arg'; name: string } | { t: 'agg'; fn: 'last' | 'first' | 'min' | 'max' | 'mean' | 'count'; name: string } | { t: 'at'; name: string; loop: string; k: number };

/** A run-level column's value for a run (views read run-level conditions through it too). */
export function keyValue(key: RunKey, r: HistoryRun): Value {
  const id = r.id;
  const m = r.meta;
  switch (key) {
    case 'tags':
      return r.marks?.tags.length ? r.marks.tags : null;
    case 'note':
      return r.marks?.note ?? null;
    case 'removed':
      return r.marks?.removed ? true : null;
    case 'run':
      return id;
    case 'version':
      return m.commit ? m.commit.slice(0, 7) : null;
    case 'commit':
      return m.commit;
    case 'time':
      return m.start;
    case 'end':
      return m.end;
    case 'file':
      return m.script;
    case 'branch':
      return m.branch;
    case 'dirty':
      return m.dirty;
    case 'status':
      return m.status;
    case 'records':
      return m.records;
  }
}

function hasArg(m: RunMeta, name: string): boolean {
  return !!m.args && Object.hasOwn(m.args, name);
}

/** JSON has no NaN, Infinity or bigint: the value exactly as `--format json` writes it. */
export function jsonValue(v: Value): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  return toJson(v);
}

function parseSort(text: string): { spec: Spec; desc: boolean; text: string } {
  const desc = text.startsWith('-');
  const body = desc || text.startsWith('+') ? text.slice(1) : text;
  return { spec: parseSpec(body, '--sort'), desc, text: body };
}

/**
 * Run-level values of specs (keys, args, aggregates of logged names) for any set of runs of one
 * history, each run's segments read once. `runs` and `log --where` both compute through it.
 */
export class RunValues<R extends HistoryRun> {
  private segs = new Map<string, Promise<Segment[] | null>>();
  private series = new Map<string, Map<string, RunSeries>>();
  private allNames: Promise<Set<string>> | null = null;
  private logged = new Set<string>();
  broken: Summary['broken'] = [];

  constructor(private h: History<R>) {}

  /** A run's segments, or null when they cannot be read (the run is then reported, not fatal). */
  segments(r: R): Promise<Segment[] | null> {
    let p = this.segs.get(r.id);
    if (!p) {
      p = this.h.segments(r).then(
        (segs) => {
          for (const s of segs) for (const n of s.names) this.logged.add(n);
          return segs;
        },
        (e: unknown) => {
          this.broken.push({ id: r.id, code: e instanceof FlorError ? e.code : 'UNREADABLE', error: e instanceof Error ? e.message : String(e) });
          return null;
        },
      );
      this.segs.set(r.id, p);
    }
    return p;
  }

  /** Every name any run logged: read only to settle a name the runs at hand did not log. */
  namesEverywhere(): Promise<Set<string>> {
    this.allNames ??= Promise.all(this.h.runs.map((r) => this.segments(r))).then(() => this.logged);
    return this.allNames;
  }

  ensureSeries(name: string, runs: R[]): Promise<Map<string, RunSeries>> {
    return this.perRun(this.series, name, runs, seriesOf);
  }

  private aggs = new Map<string, Map<string, RunAggregates>>();

  /** Every aggregate of `name` per run (series.ts aggregatesOf). */
  ensureAggregates(name: string, runs: R[]): Promise<Map<string, RunAggregates>> {
    return this.perRun(this.aggs, name, runs, aggregatesOf);
  }

  /** What `make` gives for `name` per run, made once per run: `memo` keeps it by name and run id. */
  private async perRun<T>(memo: Map<string, Map<string, T>>, name: string, runs: R[], make: (name: string, runs: Array<{ run: R; segments: Segment[] }>) => Map<string, T>): Promise<Map<string, T>> {
    let m = memo.get(name);
    if (!m) memo.set(name, (m = new Map()));
    const need = runs.filter((r) => !m!.has(r.id));
    if (need.length) {
      const loaded = await Promise.all(need.map(async (r) => ({ run: r, segments: (await this.segments(r)) ?? [] })));
      for (const [id, x] of make(name, loaded)) m.set(id, x);
    }
    return m;
  }

  private args: Set<string> | null = null;

  argNames(): Set<string> {
    if (!this.args) {
      this.args = new Set<string>();
      for (const r of this.h.runs) for (const a of Object.keys(r.meta.args ?? {})) this.args.add(a);
    }
    return this.args;
  }

  /** What a spec reads. A plain name: a run-level key, else a logged name (its last value), else an arg. */
  async resolve(spec: Spec): Promise<Resolved> {
    switch (spec.t) {
      case 'arg':
        if (!this.argNames().has(spec.name)) throw unknownName(spec.name, [...this.argNames()], 'no run has the arg');
        return { t: 'arg', name: spec.name };
      case 'agg':
        return { t: 'agg', fn: spec.fn, name: spec.name };
      case 'at':
        return { t: 'at', name: spec.name, loop: spec.loop, k: spec.k };
      case 'name': {
        if ((RUN_KEYS as readonly string[]).includes(spec.name)) return { t: 'key', key: spec.name as RunKey };
        const mark = spec.name === 'tag' ? 'tags' : spec.name;
        if ((MARK_KEYS as readonly string[]).includes(mark) && !this.argNames().has(spec.name) && !(await this.namesEverywhere()).has(spec.name)) return { t: 'key', key: mark as RunKey };
        // Only an arg's name can also be a logged one: then, and only then, every run is read to tell.
        if (this.argNames().has(spec.name) && !this.logged.has(spec.name) && !(await this.namesEverywhere()).has(spec.name)) return { t: 'arg', name: spec.name };
        return { t: 'agg', fn: 'last', name: spec.name };
      }
    }
  }

  /** The values of a resolved spec for these runs, in their order; checks that the name exists. */
  async values(res: Resolved, runs: R[], text: string): Promise<Value[]> {
    if (res.t === 'key') return runs.map((r) => keyValue(res.key, r));
    if (res.t === 'arg') return runs.map((r) => (hasArg(r.meta, res.name) ? r.meta.args[res.name]! : null));
    const cache = this.h.aggregates;
    if (res.t === 'agg' && cache) {
      // Aggregates kept from an earlier command: no segment is read. A name none of these runs
      // logged still goes the long way below, which says so.
      const hits = runs.map((r) => cache.get(r, res.name));
      if (hits.every((h) => h !== null) && hits.some((h) => (h!.count as number) > 0)) return hits.map((h) => h![res.fn]);
    }
    const unknown = () => unknownName(res.name, [...this.logged, ...this.argNames(), ...RUN_KEYS], 'no run logged', text === res.name ? '' : ` (in ${text})`);
    if (res.t === 'agg') {
      const m = await this.ensureAggregates(res.name, runs);
      const as = runs.map((r) => m.get(r.id)!);
      if (cache) runs.forEach((r, i) => cache.put(r, res.name, as[i]!.aggs));
      if (!as.some((a) => a.rows > 0) && !(await this.namesEverywhere()).has(res.name)) throw unknown();
      return as.map((a) => a.aggs[res.fn]);
    }
    const m = await this.ensureSeries(res.name, runs);
    const ss = runs.map((r) => m.get(r.id)!);
    if (cache) {
      runs.forEach((r, i) => {
        const aggs = {} as Aggregates;
        for (const fn of AGGREGATES) aggs[fn] = aggregate(ss[i]!, fn);
        cache.put(r, res.name, aggs);
      });
    }
    if (!ss.some((s) => s.value) && !(await this.namesEverywhere()).has(res.name)) throw unknown();
    const loops = new Set<string>();
    for (const s of ss) for (const l of loopsOf(s, res.name)) loops.add(l);
    if (ss.some((s) => s.value) && !loops.has(res.loop)) throw unknownName(res.loop, [...loops], `'${res.name}' was never logged inside a loop`);
    return ss.map((s) => valueAt(s, res.name, res.loop, res.k));
  }
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
