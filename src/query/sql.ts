/**
 * `git flor sql`: the history as two DuckDB tables, `runs` (one row per run, one column per arg)
 * and `logs` (one row per logged record: long format), and the user's query over them.
 */
import { runFilter, type RunSelection } from './select.js';
import { FlorError } from '../errors.js';
import { KIND_NUMBER, type Value } from '../store/records.js';
import type { RepoInfo } from '../store/git.js';
import type { Segment } from '../store/types.js';
import type { BrokenRun, RunEntry } from '../store/ledger.js';
import { byStart, gitSegments, listHistory, loadRuns, type LoadedRun } from './history.js';
import { loadTable, memoryDb, quoteString, type ColumnSpec, type ColumnType } from './duckdb.js';
import type { Table } from './table.js';

export const RUNS_COLUMNS: ColumnSpec[] = [
  { name: 'run', type: 'VARCHAR' },
  { name: 'version', type: 'VARCHAR' },
  { name: 'commit', type: 'VARCHAR' },
  { name: 'time', type: 'TIMESTAMP' },
  { name: 'end', type: 'TIMESTAMP' },
  { name: 'file', type: 'VARCHAR' },
  { name: 'branch', type: 'VARCHAR' },
  { name: 'dirty', type: 'BOOLEAN' },
  { name: 'status', type: 'VARCHAR' },
  { name: 'records', type: 'BIGINT' },
];

export const LOGS_COLUMNS: ColumnSpec[] = [
  { name: 'run', type: 'VARCHAR' },
  { name: 'name', type: 'VARCHAR' },
  { name: 'value', type: 'DOUBLE' },
  { name: 'value_json', type: 'JSON' },
];

/** The narrowest column type holding every value (JSON when they mix). */
export function valueType(values: Iterable<Value>): ColumnType {
  let t: ColumnType | null = null;
  for (const v of values) {
    if (v === null) continue;
    const k: ColumnType = typeof v === 'number' ? 'DOUBLE' : typeof v === 'boolean' ? 'BOOLEAN' : typeof v === 'string' ? 'VARCHAR' : 'JSON';
    if (t !== null && t !== k) return 'JSON';
    t = k;
  }
  return t ?? 'VARCHAR';
}

/** An arg's column: its own name, or `arg.NAME` where that is taken by a fixed column. */
export function argColumn(name: string, taken: ReadonlySet<string>): string {
  return taken.has(name) ? `arg.${name}` : name;
}

/** The `runs` table: fixed columns, then one per arg (sorted by name). */
export function runsRows(runs: RunEntry[]): { columns: ColumnSpec[]; rows: unknown[][] } {
  const sorted = [...runs].sort(byStart);
  const argNames = [...new Set(sorted.flatMap((r) => Object.keys(r.meta.args ?? {})))].sort();
  const taken = new Set(RUNS_COLUMNS.map((c) => c.name));
  const argCols = argNames.map((a) => ({ name: argColumn(a, taken), type: valueType(sorted.map((r) => r.meta.args?.[a] ?? null)) }));
  const rows = sorted.map((r) => {
    const m = r.meta;
    return [r.id, m.commit ? m.commit.slice(0, 7) : null, m.commit, m.start, m.end, m.script, m.branch, m.dirty, m.status, m.records, ...argNames.map((a) => m.args?.[a] ?? null)];
  });
  return { columns: [...RUNS_COLUMNS, ...argCols], rows };
}

/** Columnar long-format records of many runs. */
interface LogsColumns {
  run: string[];
  runOf: Int32Array;
  name: string[];
  nameOf: Int32Array;
  num: Float64Array;
  isNum: Uint8Array;
  other: Map<number, Value>;
  loops: string[];
  /** per loop column: iteration, -1 outside that loop */
  iters: Int32Array[];
  length: number;
}

/** Segment precedence within a run, as in the view: forward first, then replays newest first. */
function precedence(segs: Segment[]): Segment[] {
  const time = (s: Segment) => s.provenance?.time ?? '';
  return [...segs].sort((a, b) => (a.source !== b.source ? (a.source === 'forward' ? -1 : 1) : time(a) < time(b) ? 1 : time(a) > time(b) ? -1 : 0));
}

/**
 * The loop column of each frame, named as the view names them: a loop nested inside a loop of the
 * same name is `x.1` (`x.2` deeper), so each level keeps a column of its own.
 */
function loopColumnsOf(s: Segment): string[] {
  const n = s.frames.parent.length;
  const same = new Int32Array(n); // ancestors with this frame's loop
  const out = new Array<string>(n);
  for (let f = 0; f < n; f++) {
    const l = s.frames.loop[f]!;
    let k = 0;
    for (let a = s.frames.parent[f]!; a >= 0; a = s.frames.parent[a]!) {
      if (s.frames.loop[a] === l) {
        k = same[a]! + 1;
        break;
      }
    }
    same[f] = k;
    const name = s.loops[l]!;
    out[f] = k === 0 ? name : `${name}.${k}`;
  }
  return out;
}

/**
 * One row per record. A replayed record is kept only where no segment of higher precedence logged
 * that name in the same iteration (the rule of `git flor log`: a recorded value is never replaced).
 */
export function logsColumns(runs: LoadedRun[]): LogsColumns {
  const sorted = [...runs].sort((a, b) => byStart(a.entry, b.entry));
  // Loop columns in the order of the view: shallowest depth first, then first seen.
  const depthOf = new Map<string, number>();
  const order: string[] = [];
  let total = 0;
  const frameCols = new Map<Segment, string[]>();
  for (const r of sorted) {
    for (const s of r.segments) {
      total += s.name.length;
      const cols = loopColumnsOf(s);
      frameCols.set(s, cols);
      const depth = new Int32Array(s.frames.parent.length);
      for (let f = 0; f < depth.length; f++) {
        const p = s.frames.parent[f]!;
        depth[f] = p < 0 ? 1 : depth[p]! + 1;
        const l = cols[f]!;
        const d = depthOf.get(l);
        if (d === undefined) order.push(l);
        if (d === undefined || depth[f]! < d) depthOf.set(l, depth[f]!);
      }
    }
  }
  const loops = order.map((l, i) => ({ l, i })).sort((a, b) => depthOf.get(a.l)! - depthOf.get(b.l)! || a.i - b.i).map((x) => x.l);
  for (const l of loops) {
    if (LOGS_COLUMNS.some((c) => c.name === l)) {
      throw new FlorError('NAME_CLASH', `loop '${l}' has the same name as a column of the logs table`, { hint: 'rename the loop (flor.loop name)' });
    }
  }
  const loopCol = new Map(loops.map((l, i) => [l, i] as const));
  const out: LogsColumns = {
    run: [],
    runOf: new Int32Array(total),
    name: [],
    nameOf: new Int32Array(total),
    num: new Float64Array(total),
    isNum: new Uint8Array(total),
    other: new Map(),
    loops,
    iters: loops.map(() => new Int32Array(total).fill(-1)),
    length: 0,
  };
  const nameIx = new Map<string, number>();
  let o = 0;
  for (const r of sorted) {
    const ri = out.run.push(r.entry.id) - 1;
    const segs = precedence(r.segments);
    const seen = segs.length > 1 ? new Set<string>() : null;
    for (const s of segs) {
      const nf = s.frames.parent.length;
      const cols = frameCols.get(s)!;
      const colOf = Int32Array.from(cols, (l) => loopCol.get(l)!);
      const pathKey = seen ? new Array<string>(nf) : null;
      if (pathKey) {
        for (let f = 0; f < nf; f++) {
          const p = s.frames.parent[f]!;
          pathKey[f] = `${p < 0 ? '' : pathKey[p]}/${s.loops[s.frames.loop[f]!]}:${s.frames.iter[f]}`;
        }
      }
      const names = Int32Array.from(s.names, (n) => {
        let i = nameIx.get(n);
        if (i === undefined) nameIx.set(n, (i = out.name.push(n) - 1));
        return i;
      });
      const added = seen ? new Set<string>() : null;
      let oi = 0;
      for (let rec = 0; rec < s.name.length; rec++) {
        const isNum = s.kind[rec] === KIND_NUMBER;
        const v: Value = isNum ? s.num[rec]! : (s.other[oi++] ?? null);
        const f = s.frame[rec]!;
        if (seen) {
          const key = `${s.names[s.name[rec]!]}\0${f < 0 ? '' : pathKey![f]}`;
          if (seen.has(key)) continue;
          added!.add(key);
        }
        out.runOf[o] = ri;
        out.nameOf[o] = names[s.name[rec]!]!;
        if (isNum) {
          out.isNum[o] = 1;
          out.num[o] = v as number;
        } else out.other.set(o, v);
        for (let a = f; a >= 0; a = s.frames.parent[a]!) out.iters[colOf[a]!]![o] = s.frames.iter[a]!;
        o++;
      }
      if (seen) for (const k of added!) seen.add(k);
    }
  }
  out.length = o;
  return out;
}

export interface SqlResult {
  table: Table;
  broken: BrokenRun[];
}

type Db = Awaited<ReturnType<typeof memoryDb>>;

/**
 * Creates the tables the query may name. A word match, not a parse: building a table the query
 * does not use only costs time, and the logs table is the expensive one.
 */
async function prepare(repo: RepoInfo, db: Db, query: string, select: RunSelection): Promise<BrokenRun[]> {
  const wanted = new Set(['runs', 'logs'].filter((t) => new RegExp(`\\b${t}\\b`, 'i').test(query)));
  if (wanted.size === 0) return [];
  const listed = await listHistory(repo);
  const { broken } = listed;
  // The tables hold only the runs chosen (--version), as every listing command does.
  const keep = await runFilter(repo, select, listed.runs);
  const runs = keep ? listed.runs.filter((r) => keep(r.meta)) : listed.runs;
  if (wanted.has('runs')) {
    const { columns, rows } = runsRows(runs);
    await loadTable(db.duck, db.con, 'runs', columns, { length: rows.length, cell: (i, c) => rows[i]![c] });
  }
  if (!wanted.has('logs')) return broken;
  const { loaded, unreadable } = await loadRuns(runs, gitSegments(repo));
  const L = logsColumns(loaded);
  const columns: ColumnSpec[] = [...LOGS_COLUMNS, ...L.loops.map((name) => ({ name, type: 'BIGINT' as const }))];
  await loadTable(db.duck, db.con, 'logs', columns, {
    length: L.length,
    cell(i, c) {
      switch (c) {
        case 0:
          return L.run[L.runOf[i]!];
        case 1:
          return L.name[L.nameOf[i]!];
        case 2:
          return L.isNum[i] ? L.num[i] : null;
        case 3:
          return L.isNum[i] ? L.num[i] : (L.other.get(i) ?? null);
        default: {
          const it = L.iters[c - 4]![i]!;
          return it < 0 ? null : it;
        }
      }
    },
  });
  return [...broken, ...unreadable];
}

/** DuckDB's JS values as flor Values: times as ISO text, JSON columns parsed. */
function toValue(v: unknown, json: boolean): Value {
  if (v === null || v === undefined) return null;
  if (json && typeof v === 'string') {
    try {
      return JSON.parse(v) as Value;
    } catch {
      return v;
    }
  }
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (Array.isArray(v)) return v.map((x) => toValue(x, false));
  if (typeof v === 'object' && !ArrayBuffer.isView(v)) {
    const o: Record<string, Value> = {};
    for (const [k, x] of Object.entries(v)) o[k] = toValue(x, false);
    return o;
  }
  return v as Value;
}

function sqlError(e: unknown, query: string): FlorError {
  const msg = e instanceof Error ? e.message : String(e);
  return new FlorError('SQL_ERROR', msg.split('\n')[0]!, {
    hint: /Table with name|Referenced column|not found/i.test(msg)
      ? 'the tables are runs (run, version, commit, time, end, file, branch, dirty, status, records, one column per arg) and logs (run, name, value, value_json, one column per loop)'
      : `in: ${query.length > 200 ? query.slice(0, 200) + '…' : query}`,
    cause: e,
  });
}

/** Runs a query over the history. With `parquet`, writes its result there instead of returning rows. */
export async function runSql(repo: RepoInfo, query: string, opts: { parquet?: string; select?: RunSelection } = {}): Promise<SqlResult> {
  const db = await memoryDb();
  try {
    const broken = await prepare(repo, db, query, opts.select ?? {});
    if (opts.parquet) {
      const { resolve } = await import('node:path');
      const body = query.trim().replace(/;+\s*$/, '');
      try {
        await db.con.run(`COPY (${body}) TO ${quoteString(resolve(opts.parquet))} (FORMAT parquet)`);
      } catch (e) {
        throw sqlError(e, query);
      }
      return { table: { columns: [], cols: [], length: 0 }, broken };
    }
    let reader;
    try {
      reader = await db.con.runAndReadAll(query);
    } catch (e) {
      throw sqlError(e, query);
    }
    const columns = reader.columnNames();
    const json = reader.columnTypes().map((t) => (t as { alias?: string }).alias === 'JSON');
    const raw = reader.getColumnsJS();
    const cols = raw.map((values, c) => ({ type: 'values' as const, values: values.map((v) => toValue(v, json[c]!)) }));
    return { table: { columns, cols, length: reader.currentRowCount }, broken };
  } finally {
    db.close();
  }
}
