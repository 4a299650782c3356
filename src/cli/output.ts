/** `--format parquet --output FILE`, shared by the query commands. */
import { FlorError } from '../errors.js';
import type { ColumnType } from '../query/coltypes.js';

/** Parquet is binary: it goes to a file, never to a terminal. Checked before any work. */
export function checkOutput(format: string, output: string | undefined): void {
  if (format === 'parquet' && !output) {
    throw new FlorError('OUTPUT_REQUIRED', '--format parquet writes a file: name it with --output FILE', { hint: 'e.g. --format parquet --output runs.parquet' });
  }
}

/** The writer loads DuckDB: imported only when parquet is asked for. */
export async function writeParquetOutput(rows: Record<string, unknown>[], columns: { name: string; type: ColumnType }[], file: string): Promise<void> {
  const { writeParquet } = await import('../query/parquet.js');
  await writeParquet(rows, columns, file);
}
