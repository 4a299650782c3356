/**
 * Parquet output (`--format parquet --output FILE`), written by DuckDB with standard logical types
 * only (DOUBLE, INT64, UTF8 strings, BOOLEAN, JSON, TIMESTAMP micros), so pandas, polars and
 * DuckDB read it back with the types `--format json` shows.
 */
import { renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { FlorError } from '../errors.js';
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
