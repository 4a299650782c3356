/**
 * Run-level values for `git flor runs` and `log --where`: the history they read, the run-level
 * keys (run, version, time, ..., tags), and RunValues, which computes the value of a column spec
 * (a key, an arg, an aggregate of a logged name, a value at an iteration) for any set of runs of one
 * history, reading each run's segments once and keeping aggregates and name depths where the
 * history caches them.
 */
import { FlorError, type FlorErrorCode } from '../errors.js';
import type { Value } from '../store/records.js';
import type { RunMeta, Segment } from '../store/types.js';
import { toJson } from './json-rows.js';
import { unknownName } from './names.js';
import { aggregate, aggregatesOf, loopsOf, seriesOf, valueAt, type RunAggregates, type RunSeries } from './series.js';
import { AGGREGATES, type Aggregate, type Spec } from './spec.js';

/** A run whose segments could not be read: left out of what is computed, and said. */
export interface BrokenRun {
  id: string;
  error: string;
  code: FlorErrorCode;
}

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

export function hasArg(m: RunMeta, name: string): boolean {
  return !!m.args && Object.hasOwn(m.args, name);
}

/** JSON has no NaN, Infinity or bigint: the value exactly as `--format json` writes it. */
export function jsonValue(v: Value): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  return toJson(v);
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
  broken: BrokenRun[] = [];

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
