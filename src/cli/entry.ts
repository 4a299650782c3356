/**
 * What each of the CLI's entries (main.ts, and the bundles of their own: help-main.ts,
 * query-main.ts) does around the command it runs: the terminal set up for it, its error reported,
 * the pager closed, and the process ended once the answer is written.
 */
import { reportError } from './print.js';
import { closePager, loadTerminalConfig, needsTerminalConfig, setupTerminal, stdoutDirect, type GlobalFlags } from './terminal.js';
import { endEarly } from '../replay/warm-early.js';

/**
 * Runs `body` as command `command` (its name decides the pager: setupTerminal) and returns its exit
 * code: 0, or the code reportError gives its error. `settle` runs before the pager closes, whatever
 * happened (the derived cache's writes in flight).
 */
export async function runInTerminal(command: string, flags: GlobalFlags, body: () => Promise<void>, settle?: () => Promise<void>): Promise<number> {
  if (needsTerminalConfig()) await loadTerminalConfig();
  setupTerminal(command, flags);
  try {
    await body();
    return 0;
  } catch (e) {
    return reportError(e);
  } finally {
    await settle?.();
    await closePager();
  }
}

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
