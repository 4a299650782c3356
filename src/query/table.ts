/**
 * The result shape every query produces and every formatter consumes: named columns of equal
 * length. Columnar and typed, so a million-row pivot is a few typed arrays rather than millions of
 * objects or boxed numbers (measured: a Value[]-per-column pivot of 1M rows spent ~40% in GC).
 */
import type { Value } from '../store/records.js';

export type Column =
  /** Any values. */
  | { type: 'values'; values: ArrayLike<Value> }
  /** Few distinct values repeated (run id, version...): row -> index into dict. */
  | { type: 'dict'; dict: Value[]; index: Int32Array }
  /** Small non-negative integers (loop iterations); -1 is null. */
  | { type: 'int'; ints: Int32Array }
  /** Logged values: kind 0 null, 1 the number in num, 2 the value in other. */
  | { type: 'num'; num: Float64Array; kind: Uint8Array; other: Map<number, Value> };

export interface Table {
  columns: string[];
  cols: Column[];
  length: number;
}

export function cellAt(col: Column, i: number): Value {
  switch (col.type) {
    case 'values': {
      const v = col.values[i];
      return v === undefined ? null : v;
    }
    case 'dict':
      return col.dict[col.index[i]!]!;
    case 'int': {
      const v = col.ints[i]!;
      return v < 0 ? null : v;
    }
    case 'num': {
      const k = col.kind[i];
      return k === 1 ? col.num[i]! : k === 2 ? (col.other.get(i) ?? null) : null;
    }
  }
}

/** Row i as a plain object (keys in column order). */
export function rowObject(t: Table, i: number): Record<string, Value> {
  const o: Record<string, Value> = {};
  for (let c = 0; c < t.columns.length; c++) o[t.columns[c]!] = cellAt(t.cols[c]!, i);
  return o;
}

export function rowObjects(t: Table): Array<Record<string, Value>> {
  const out: Array<Record<string, Value>> = new Array(t.length);
  for (let i = 0; i < t.length; i++) out[i] = rowObject(t, i);
  return out;
}

export function tableFromObjects(columns: string[], rows: Array<Record<string, Value>>): Table {
  return {
    columns,
    cols: columns.map((c) => ({ type: 'values' as const, values: rows.map((r) => (r[c] === undefined ? null : r[c]!)) })),
    length: rows.length,
  };
}

/** The given rows of a table, in the given order (a filter, a sort, a limit). */
export function selectRows(t: Table, rows: ArrayLike<number>): Table {
  const n = rows.length;
  const cols = t.cols.map((col): Column => {
    switch (col.type) {
      case 'values': {
        const values = new Array<Value>(n);
        for (let i = 0; i < n; i++) values[i] = cellAt(col, rows[i]!);
        return { type: 'values', values };
      }
      case 'dict': {
        const index = new Int32Array(n);
        for (let i = 0; i < n; i++) index[i] = col.index[rows[i]!]!;
        return { type: 'dict', dict: col.dict, index };
      }
      case 'int': {
        const ints = new Int32Array(n);
        for (let i = 0; i < n; i++) ints[i] = col.ints[rows[i]!]!;
        return { type: 'int', ints };
      }
      case 'num': {
        const num = new Float64Array(n);
        const kind = new Uint8Array(n);
        const other = new Map<number, Value>();
        for (let i = 0; i < n; i++) {
          const r = rows[i]!;
          kind[i] = col.kind[r]!;
          num[i] = col.num[r]!;
          if (kind[i] === 2) other.set(i, col.other.get(r) ?? null);
        }
        return { type: 'num', num, kind, other };
      }
    }
  });
  return { columns: [...t.columns], cols, length: n };
}
