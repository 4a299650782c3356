/**
 * Column types for typed outputs (Parquet): what the values of a column are, in the vocabulary of
 * the Parquet writer. A column whose values mix types is JSON text, so nothing is lost.
 */
import type { Value } from '../store/records.js';
import { cellAt, type Table } from './table.js';

import type { ColumnType } from './duckdb.js';

export type { ColumnType };

export function valueType(values: Iterable<Value>): ColumnType {
  let t: ColumnType | null = null;
  for (const v of values) {
    if (v === null) continue;
    const vt: ColumnType = typeof v === 'number' || typeof v === 'bigint' ? 'DOUBLE' : typeof v === 'boolean' ? 'BOOLEAN' : typeof v === 'string' ? 'VARCHAR' : 'JSON';
    if (t === null) t = vt;
    else if (t !== vt) return 'JSON';
  }
  return t ?? 'VARCHAR';
}

/** Types of a view's columns: loop iterations are integers, run start times timestamps. */
export function tableTypes(t: Table, known: Record<string, ColumnType> = { time: 'TIMESTAMP' }): Array<{ name: string; type: ColumnType }> {
  return t.columns.map((name, c) => {
    const col = t.cols[c]!;
    if (known[name]) return { name, type: known[name]! };
    if (col.type === 'int') return { name, type: 'BIGINT' };
    if (col.type === 'num' && col.other.size === 0) return { name, type: 'DOUBLE' };
    const it = function* () {
      for (let i = 0; i < t.length; i++) yield cellAt(col, i);
    };
    return { name, type: valueType(it()) };
  });
}
