/**
 * How a command's process ends once its answer is written, for main.ts and help-main.ts alike.
 */
import { stdoutDirect } from './terminal.js';
import { endEarly } from '../replay/warm-early.js';

export async function leave(code: number): Promise<never> {
  // The replay child started with the command (cli/boot.ts) that no replay took: ended and reaped.
  await endEarly();
  // Flush what is queued, then leave even if a pool or a child process someone forgot still holds
  // the event loop: a CLI that lingers after printing its answer looks hung.
  // On Linux, writes to a pipe, a file or a terminal are synchronous: nothing is queued (and
  // process.stdout and process.stderr are not made just to ask).
  if (!stdoutDirect()) await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  if (process.platform !== 'linux') await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
  process.exit(code);
}
