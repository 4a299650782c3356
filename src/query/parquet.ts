/**
 * Parquet output (`--format parquet --output FILE`), written by DuckDB with standard logical types
 * only (DOUBLE, INT64, UTF8 strings, BOOLEAN, JSON, TIMESTAMP micros), so pandas, polars and
 * DuckDB read it back with the types `--format json` shows.
 */
import { renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { FlorError } from '../errors.js';
import { cellAt, type Table } from './table.js';
import { loadTable, memoryDb, quoteString, type CellSource, type ColumnSpec, type ColumnType } from './duckdb.js';

export type { ColumnSpec, ColumnType };

async function writeSource(columns: ColumnSpec[], src: CellSource, file: string): Promise<void> {
  const db = await memoryDb();
  const target = resolve(file);
  // Written beside the target and renamed: a failed write never leaves half a file under its name.
  const tmp = `${target}.tmp-${process.pid}`;
  try {
    await loadTable(db.duck, db.con, 'out', columns, src);
    await db.con.run(`COPY out TO ${quoteString(tmp)} (FORMAT parquet)`);
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    if (e instanceof FlorError) throw e;
    throw new FlorError('PARQUET_WRITE', `cannot write ${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  } finally {
    db.close();
  }
}

/** Rows as objects keyed by column name; a missing key is null. */
export async function writeParquet(rows: Record<string, unknown>[], columns: { name: string; type: ColumnType }[], file: string): Promise<void> {
  const names = columns.map((c) => c.name);
  await writeSource(columns, { length: rows.length, cell: (i, c) => rows[i]![names[c]!] }, file);
}

/** Keys of the view that hold ISO times. */
const TIME_COLUMNS = new Set(['time', 'end']);

/** The Parquet type a column's values need: the narrowest that holds every non-null one. */
export function columnTypes(t: Table): ColumnSpec[] {
  return t.columns.map((name, c) => {
    const col = t.cols[c]!;
    if (col.type === 'int') return { name, type: 'BIGINT' };
    const values: Iterable<unknown> =
      col.type === 'dict' ? col.dict : col.type === 'num' ? numValues(col.kind, col.other, t.length) : Array.from({ length: t.length }, (_, i) => cellAt(col, i));
    return { name, type: typeOf(values, TIME_COLUMNS.has(name)) };
  });
}

function* numValues(kind: Uint8Array, other: Map<number, unknown>, n: number): Generator<unknown> {
  let sawNumber = false;
  for (let i = 0; i < n; i++) {
    if (kind[i] === 1) {
      if (!sawNumber) yield 0.5; // one stand-in is enough to say "numbers here"
      sawNumber = true;
    }
  }
  yield* other.values();
}

function typeOf(values: Iterable<unknown>, time: boolean): ColumnType {
  const kinds = new Set<string>();
  for (const v of values) {
    if (v === null || v === undefined) continue;
    if (typeof v === 'number') kinds.add('number');
    else if (typeof v === 'bigint') kinds.add('bigint');
    else if (typeof v === 'boolean') kinds.add('boolean');
    else if (typeof v === 'string') kinds.add(time && !Number.isNaN(Date.parse(v)) ? 'time' : 'string');
    else kinds.add('json');
    if (kinds.size > 1) return 'JSON';
  }
  const k = [...kinds][0];
  return k === 'number' ? 'DOUBLE' : k === 'bigint' ? 'BIGINT' : k === 'boolean' ? 'BOOLEAN' : k === 'time' ? 'TIMESTAMP' : k === 'string' ? 'VARCHAR' : k === 'json' ? 'JSON' : 'VARCHAR';
}

/** A query result as Parquet, column types inferred from its values. */
export async function writeParquetTable(t: Table, file: string): Promise<void> {
  await writeSource(columnTypes(t), { length: t.length, cell: (i, c) => cellAt(t.cols[c]!, i) }, file);
}
