/** `--format parquet --output FILE`, shared by the query commands. */
import { FlorError } from '../errors.js';
import type { ColumnType } from '../query/coltypes.js';

/** Parquet is binary: it goes to a file, never to a terminal. Checked before any work. */
export function checkOutput(format: string, output: string | undefined): void {
  if (format === 'parquet' && !output) {
    throw new FlorError('OUTPUT_REQUIRED', '--format parquet writes a file: name it with --output FILE', { hint: 'e.g. --format parquet --output runs.parquet' });
  }
}

type ParquetWriter = (rows: Record<string, unknown>[], columns: { name: string; type: ColumnType }[], file: string) => Promise<void>;

/** The writer lives with the query part and loads DuckDB: imported only when parquet is asked for. */
export async function writeParquetOutput(rows: Record<string, unknown>[], columns: { name: string; type: ColumnType }[], file: string): Promise<void> {
  // A computed specifier: the module is optional at build time, this is its only caller.
  const where = '../query/parquet.js';
  const mod = (await import(where)) as { writeParquet: ParquetWriter };
  await mod.writeParquet(rows, columns, file);
}
