/**
 * Per-run series of one logged name, and the run-level values computed from them
 * (last, first, min, max, mean, count, NAME@LOOP=K). A series is the name's own rows of the pivot
 * (pivot.ts) asked for that name alone: one row per value logged, replays merged the same way the
 * `log` view merges them, so a summary never disagrees with the rows it summarizes.
 */
import type { Value } from '../store/records.js';
import type { RunMeta, Segment } from '../store/types.js';
import { gatherRows, KEY_COLUMNS, pivot, type RunRows } from './pivot.js';
import type { Aggregate } from './spec.js';
import { cellAt, type Column, type Table } from './table.js';

export interface SeriesRun {
  id: string;
  meta: RunMeta;
}

/** One run's rows of one name within a pivot table. */
export interface RunSeries {
  table: Table;
  value: Column | null;
  start: number;
  end: number;
}

const EMPTY: Table = { columns: [], cols: [], length: 0 };

/** The series of `name` for each run (runs that never logged it get an empty one). */
export function seriesOf(name: string, runs: Array<{ run: SeriesRun; segments: Segment[] }>): Map<string, RunSeries> {
  // Args are left out: an arg of the same name must not read as a value the run logged.
  const table = pivot(
    runs.map(({ run, segments }) => ({ meta: { ...run.meta, args: {} }, segments })),
    [name],
  ).table;
  const out = new Map<string, RunSeries>();
  const c = table.columns.indexOf(name);
  const value = c >= 0 ? table.cols[c]! : null;
  if (table.length > 0) {
    const ids = table.cols[0]!;
    if (ids.type !== 'dict') throw new Error('pivot: the run column is expected dictionary-encoded');
    let start = 0;
    for (let i = 1; i <= table.length; i++) {
      if (i === table.length || ids.index[i] !== ids.index[start]) {
        out.set(ids.dict[ids.index[start]!] as string, { table, value, start, end: i });
        start = i;
      }
    }
  }
  for (const { run } of runs) if (!out.has(run.id)) out.set(run.id, { table: EMPTY, value: null, start: 0, end: 0 });
  return out;
}

/** Every aggregate of one name in one run, and how many rows its series has. */
export interface RunAggregates {
  aggs: Record<Aggregate, Value>;
  rows: number;
}

/**
 * The aggregates `aggregate` gives over each run's series of `name`, without making the series'
 * table: the same rows (pivot.ts gatherRows), their cells read off the run's tree in row order.
 */
export function aggregatesOf(name: string, runs: Array<{ run: SeriesRun; segments: Segment[] }>): Map<string, RunAggregates> {
  const out = new Map<string, RunAggregates>();
  gatherRows(
    runs.map(({ run, segments }) => ({ meta: { ...run.meta, args: {} }, segments })),
    [name],
    (r) => {
      if (r.tree.k === 1) out.set(r.run.meta.id, runAggregates(r));
    },
  );
  for (const { run } of runs) {
    if (!out.has(run.id)) out.set(run.id, { aggs: { last: null, first: null, min: null, max: null, mean: null, count: 0 }, rows: 0 });
  }
  return out;
}

/** One run's aggregates of the one name its rows were planned for (the cells pivot.ts emitRun writes). */
function runAggregates({ tree, plan }: RunRows): RunAggregates {
  const nv = tree.names[0]!;
  const { kind, num, other, many } = nv;
  const parent = tree.parent;
  const { rows, copies } = plan;
  let count = 0;
  let first: Value = null;
  let last: Value = null;
  let n = 0;
  let sum = 0;
  let min: number | null = null;
  let max: number | null = null;
  for (let j = 0; j < rows.length; j++) {
    const node = rows[j]!;
    let a = node;
    while (a > 0 && kind[a] === 0) a = parent[a]!;
    const at = kind[a] === 0 ? -1 : a;
    const list = at < 0 || many.size === 0 ? undefined : many.get(at);
    const cp = copies[j]!;
    for (let c = 0; c < cp; c++) {
      count++;
      let v: Value = null;
      if (at >= 0) {
        if (list) v = at === node ? (list[c] ?? null) : null;
        else v = kind[at] === 1 ? num[at]! : (other.get(at) ?? null);
      }
      if (v === null) continue;
      if (first === null) first = v;
      last = v;
      const x = numeric(v);
      if (x === null) continue;
      n++;
      sum += x;
      if (min === null || x < min) min = x;
      if (max === null || x > max) max = x;
    }
  }
  return { aggs: { last, first, min, max, mean: n ? sum / n : null, count }, rows: count };
}

function numeric(v: Value): number | null {
  if (typeof v === 'number') return Number.isNaN(v) ? null : v;
  if (typeof v === 'bigint') return Number(v);
  return null;
}

/** last/first: any value; min/max/mean: the numeric ones; count: values logged (a logged null counts). */
export function aggregate(s: RunSeries, fn: Aggregate): Value {
  const col = s.value;
  if (fn === 'count') return col ? s.end - s.start : 0;
  if (!col) return null;
  switch (fn) {
    case 'last':
      for (let i = s.end - 1; i >= s.start; i--) {
        const v = cellAt(col, i);
        if (v !== null) return v;
      }
      return null;
    case 'first':
      for (let i = s.start; i < s.end; i++) {
        const v = cellAt(col, i);
        if (v !== null) return v;
      }
      return null;
    default: {
      let n = 0;
      let sum = 0;
      let best: number | null = null;
      for (let i = s.start; i < s.end; i++) {
        const x = numeric(cellAt(col, i));
        if (x === null) continue;
        n++;
        sum += x;
        if (best === null || (fn === 'min' ? x < best : x > best)) best = x;
      }
      if (fn === 'mean') return n ? sum / n : null;
      return best;
    }
  }
}

/** The loop columns of a series' table (for NAME@LOOP=K and its "did you mean"). */
export function loopsOf(s: RunSeries, name: string): string[] {
  // Loop columns sit between the key columns and the name; pivot.ts fixes that order.
  const c = s.table.columns.indexOf(name);
  return c < 0 ? [] : s.table.columns.slice(KEY_COLUMNS.length, c);
}

/** The last value logged within iteration k of `loop`; null when the name never ran there. */
export function valueAt(s: RunSeries, name: string, loop: string, k: number): Value {
  const col = s.value;
  const l = s.table.columns.indexOf(loop);
  if (!col || l < 0 || !loopsOf(s, name).includes(loop)) return null;
  const lc = s.table.cols[l]!;
  for (let i = s.end - 1; i >= s.start; i--) {
    if (cellAt(lc, i) !== k) continue;
    const v = cellAt(col, i);
    if (v !== null) return v;
  }
  return null;
}

/** Names a segment logged, each with the deepest loop nesting it was logged at (0: outside every loop). */
export function nameDepths(seg: Segment, into: Map<string, number>): void {
  const fp = seg.frames.parent;
  const depth = new Int32Array(fp.length); // 0: not yet known
  for (let f = 0; f < fp.length; f++) {
    if (depth[f]) continue;
    const chain: number[] = [];
    let a = f;
    while (a >= 0 && !depth[a]) {
      chain.push(a);
      a = fp[a]!;
    }
    let d = a < 0 ? 0 : depth[a]!;
    for (let i = chain.length - 1; i >= 0; i--) depth[chain[i]!] = ++d;
  }
  const deepest = new Int32Array(seg.names.length).fill(-1);
  for (let r = 0; r < seg.name.length; r++) {
    const f = seg.frame[r]!;
    const d = f < 0 ? 0 : depth[f]!;
    const n = seg.name[r]!;
    if (d > deepest[n]!) deepest[n] = d;
  }
  deepest.forEach((d, n) => {
    if (d < 0) return;
    const name = seg.names[n]!;
    const seen = into.get(name);
    if (seen === undefined || d > seen) into.set(name, d);
  });
}
