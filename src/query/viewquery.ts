/**
 * `--where`, `--sort` and `--limit` on the per-iteration view of `git flor log`. Identifiers are
 * the view's columns (keys, loops, the names asked for, `replayed`), run-level values (status,
 * commit, branch, dirty, end, records, args) and run-level specs such as max(acc), computed per run.
 */
import { FlorError } from '../errors.js';
import { compile, conjoin, conjuncts, parseExpr, refsOf, type Binding, type Expr, type Ref } from './expr.js';
import { unknownName } from './names.js';
import { sortRows, type SortKey } from './sort.js';
import { parseSpec, type Spec } from './spec.js';
import { MARK_KEYS, RUN_KEYS, RunValues, keyValue, type History, type HistoryRun, type Resolved, type RunKey } from './run-values.js';
import type { Value } from '../store/records.js';
import { selectRows, cellAt, type Table } from './table.js';

export interface ViewQuery {
  where?: string;
  sort?: string[];
  limit?: number;
  /**
   * The runs whose arg names a condition may use (default: the view's). `log` passes the runs it
   * chose before leaving out those a run-level term rejects: `arg.X` must mean the same whether or
   * not the runs that have X were read.
   */
  argScope?: HistoryRun[];
}

function argNames(runs: HistoryRun[]): Set<string> {
  const s = new Set<string>();
  for (const r of runs) for (const a of Object.keys(r.meta.args ?? {})) s.add(a);
  return s;
}

/**
 * The part of a condition that only reads run-level values (args, version, status, time, file, and
 * the other run keys): the runs it rejects need not be read, nor replayed. Null when no top-level
 * `and` term is of that kind.
 */
export function runLevelPart(where: Expr, names: string[], runs: HistoryRun[]): Expr | null {
  const args = argNames(runs);
  const asked = new Set(names);
  const runLevel = (r: Ref): boolean => {
    const s = r.spec;
    if (s.t === 'arg') return true;
    if (s.t !== 'name' || asked.has(s.name)) return false;
    return (RUN_KEYS as readonly string[]).includes(s.name) || args.has(s.name);
  };
  return conjoin(conjuncts(where).filter((e) => refsOf(e).every(runLevel)));
}

/** Keeps the runs a run-level condition (see runLevelPart) accepts. */
export function filterRuns<R extends HistoryRun>(e: Expr, runs: R[]): R[] {
  const keep = compile(e, (ref) => {
    const s = ref.spec;
    const res: Resolved = s.t !== 'arg' && (RUN_KEYS as readonly string[]).includes(s.name) ? { t: 'key', key: s.name as RunKey } : { t: 'arg', name: s.name };
    return runBinding(res, runs);
  });
  return runs.filter((_, i) => keep(i));
}

function runBinding(res: Resolved, runs: HistoryRun[]): Binding {
  if (res.t === 'key' && (res.key === 'version' || res.key === 'commit')) return { get: (i) => runs[i]!.meta.commit, prefix: true };
  if (res.t === 'key' && res.key === 'run') return { get: (i) => runs[i]!.id, prefix: true };
  if (res.t === 'key') {
    const key = res.key;
    return { get: (i) => keyValue(key, runs[i]!), member: key === 'tags' };
  }
  if (res.t === 'arg') {
    const name = res.name;
    return { get: (i) => (Object.hasOwn(runs[i]!.meta.args ?? {}, name) ? runs[i]!.meta.args[name]! : null) };
  }
  throw new Error('runBinding: a logged value is not run-level');
}


/**
 * Filters, sorts and cuts the rows of a view. `history` holds the view's runs (for run-level
 * values); `known` gives the names logged anywhere, asked only to explain a name that is no column.
 */
export async function queryView(table: Table, history: History, q: ViewQuery, known: () => Promise<string[]>): Promise<Table> {
  const where = q.where !== undefined ? parseExpr(q.where) : null;
  const sorts = (q.sort ?? []).map((text) => {
    const desc = text.startsWith('-');
    const body = desc || text.startsWith('+') ? text.slice(1) : text;
    return { spec: parseSpec(body, '--sort'), desc, text: body };
  });
  if (q.limit !== undefined && !(Number.isInteger(q.limit) && q.limit >= 0)) {
    throw new FlorError('BAD_LIMIT', `--limit must be a whole number >= 0, not ${q.limit}`, { hint: 'e.g. --limit 10' });
  }
  if (!where && sorts.length === 0 && q.limit === undefined) return table;

  const runs = history.runs;
  const runCol = table.cols[0]!;
  if (table.length > 0 && runCol.type !== 'dict') throw new Error('view: the run column is expected dictionary-encoded');
  const dict = runCol.type === 'dict' ? runCol.dict : [];
  const rowRun = runCol.type === 'dict' ? runCol.index : new Int32Array(0);
  const byId = new Map(runs.map((r, i) => [r.id, i] as const));
  // dictionary entry -> index into runs
  const entryRun = Int32Array.from(dict, (id) => byId.get(id as string) ?? -1);
  const rv = new RunValues(history);
  const args = argNames(q.argScope ?? runs);
  const columns = new Set(table.columns);

  // Bindings that read a run-level value (the same for every row of a run) keep their reader by
  // dictionary entry too: a condition made only of those is decided once per run, not per row.
  const byEntry = new Map<Binding, (entry: number) => Value>();
  const bind = async (spec: Spec, text: string): Promise<Binding> => {
    const perRun = (b: Binding): Binding => {
      const rb: Binding = { get: (row) => b.get(entryRun[rowRun[row]!]!), prefix: b.prefix, member: b.member };
      byEntry.set(rb, (entry) => b.get(entryRun[entry]!));
      return rb;
    };
    if (spec.t === 'name') {
      if (spec.name === 'version' || spec.name === 'run') return perRun(runBinding({ t: 'key', key: spec.name }, runs));
      const c = table.columns.indexOf(spec.name);
      if (c >= 0) {
        const col = table.cols[c]!;
        return { get: (row) => cellAt(col, row) };
      }
      if ((RUN_KEYS as readonly string[]).includes(spec.name)) return perRun(runBinding({ t: 'key', key: spec.name as RunKey }, runs));
      if (args.has(spec.name)) return perRun(runBinding({ t: 'arg', name: spec.name }, runs));
      const names = await known();
      const mark = spec.name === 'tag' ? 'tags' : spec.name;
      if ((MARK_KEYS as readonly string[]).includes(mark) && !names.includes(spec.name)) return perRun(runBinding({ t: 'key', key: mark as RunKey }, runs));
      if (names.includes(spec.name)) {
        throw new FlorError('NOT_A_COLUMN', `'${spec.name}' is not a column of this view`, {
          hint: `add it to the names (git flor log ... ${spec.name}), or use a run-level value such as last(${spec.name}) or max(${spec.name})`,
        });
      }
      throw unknownName(spec.name, [...names, ...columns, ...args, ...RUN_KEYS], 'no run logged', text === spec.name ? '' : ` (in ${text})`);
    }
    if (spec.t === 'arg') {
      if (!args.has(spec.name)) throw unknownName(spec.name, [...args], 'no run has the arg');
      return perRun(runBinding({ t: 'arg', name: spec.name }, runs));
    }
    const res = await rv.resolve(spec);
    const vals = await rv.values(res, runs, text);
    const value = (entry: number): Value => (entryRun[entry]! >= 0 ? vals[entryRun[entry]!]! : null);
    const b: Binding = { get: (row) => value(rowRun[row]!) };
    byEntry.set(b, value);
    return b;
  };

  /** null: every row, in order. */
  let rows: ArrayLike<number> | null = null;
  if (where) {
    const bound = new Map<Ref, Binding>();
    for (const ref of refsOf(where)) bound.set(ref, await bind(ref.spec, ref.text));
    if ([...bound.values()].every((b) => byEntry.has(b))) {
      // Decided per run, in the order rows meet the runs (an error a row would raise, the first
      // run with rows raises the same), for the runs that have rows.
      const keepEntry = compile(where, (ref) => {
        const b = bound.get(ref)!;
        return { get: byEntry.get(b)!, prefix: b.prefix, member: b.member };
      });
      const decided = new Int8Array(dict.length); // 0 not yet, 1 keep, -1 drop
      // Made at the first row dropped: a condition the runs read already met (log prunes runs by
      // it before reading them) keeps every row, and a million-row index would be made for nothing.
      let kept: Int32Array | null = null;
      let n = 0;
      for (let i = 0; i < table.length; i++) {
        const e = rowRun[i]!;
        if (decided[e] === 0) decided[e] = keepEntry(e) ? 1 : -1;
        if (decided[e] === 1) {
          if (kept) kept[n] = i;
          n++;
        } else if (!kept) {
          kept = new Int32Array(table.length);
          for (let j = 0; j < n; j++) kept[j] = j; // every row before this one was kept
        }
      }
      if (kept) rows = kept.subarray(0, n);
    } else {
      const keep = compile(where, (ref) => bound.get(ref)!);
      const kept: number[] = [];
      for (let i = 0; i < table.length; i++) if (keep(i)) kept.push(i);
      rows = kept;
    }
  }
  if (sorts.length) {
    const keys: SortKey[] = [];
    for (const s of sorts) {
      const b = await bind(s.spec, s.text);
      keys.push({ get: b.get, desc: s.desc });
    }
    rows = sortRows(rows ?? Array.from({ length: table.length }, (_, i) => i), keys);
  }
  if (q.limit !== undefined) {
    const from = rows;
    rows = Array.from({ length: Math.min(q.limit, from ? from.length : table.length) }, (_, i) => (from ? from[i]! : i));
  }
  // Every row, in order: the table as it is (a copy of a million rows would change nothing).
  return rows === null ? table : selectRows(table, rows);
}
