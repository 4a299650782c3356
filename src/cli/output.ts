/**
 * Where a command's table goes: stdout in a text format, or a file (`--output FILE`), which
 * `--format parquet` requires (Parquet is binary and written in one piece by DuckDB).
 */
import { createWriteStream } from 'node:fs';
import { FlorError } from '../errors.js';
import { formatter } from '../query/formats.js';
import type { Table } from '../query/table.js';
import { writeFormatted } from './print.js';

/** Checks `--format`/`--output` before any work, so a bad pair fails fast. */
export function checkOutput(format: string, output: string | undefined, allowed: readonly string[]): void {
  if (format === 'parquet') {
    if (!allowed.includes('parquet')) formatter(format, allowed);
    if (!output) throw new FlorError('OUTPUT_REQUIRED', '--format parquet writes a file: give it with --output FILE', { hint: 'e.g. `--format parquet --output runs.parquet`' });
    return;
  }
  formatter(format, allowed.filter((f) => f !== 'parquet'));
}

export async function emitTable(t: Table, format: string, output: string | undefined, allowed: readonly string[]): Promise<void> {
  checkOutput(format, output, allowed);
  if (format === 'parquet') {
    // Loaded only here: DuckDB is an optional dependency and heavy to start.
    const { writeParquetTable } = await import('../query/parquet.js');
    await writeParquetTable(t, output!);
    return;
  }
  const f = formatter(format, allowed.filter((x) => x !== 'parquet'));
  if (!output) return writeFormatted(f, t);
  const stream = createWriteStream(output);
  await new Promise<void>((resolve, reject) => {
    stream.on('error', (e) => reject(new FlorError('OUTPUT_WRITE', `cannot write ${output}: ${e.message}`)));
    stream.on('open', async () => {
      for (const chunk of f(t)) if (!stream.write(chunk)) await new Promise<void>((r) => stream.once('drain', () => r()));
      stream.end(() => resolve());
    });
  });
}
