/**
 * The CLI's only path to the terminal for errors, and the exit-code policy:
 * 0 ok, 1 findings (doctor damage, fidelity mismatch), 2 error of any kind.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { FlorError } from '../errors.js';
import type { Table } from '../query/table.js';
import { outWritten, writeOut } from './terminal.js';
import { recycleChunk } from '../query/json-rows.js';
import { safeLines, safeText } from '../terminal-text.js';

/**
 * Thrown by a handler that has already printed its findings and wants a non-zero exit
 * (like changesets' ExitError). main turns it into the exit code and prints nothing more.
 */
export class ExitError extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = 'ExitError';
  }
}

/** Usage errors from yargs (unknown option, missing argument): the user's to fix, not a crash. */
export class UsageError extends Error {
  /** `suggestion`: what the user probably meant (`'--status'`), said first in the hint. */
  constructor(message: string, readonly command: string, readonly suggestion: string = '') {
    super(message);
    this.name = 'UsageError';
  }
}

function errorLines(e: unknown): string {
  if (e instanceof FlorError) {
    // Messages quote stored data (ids, paths, names from fetched ledgers): never raw to the terminal.
    return `git flor: ${safeLines(e.message)}\n` + (e.hint ? `hint: ${safeLines(e.hint)}\n` : '');
  }
  if (e instanceof UsageError) {
    // A bare `git flor --help` is answered by Git itself (it looks for a man page): point at -h.
    const meant = e.suggestion ? `did you mean ${e.suggestion}? ` : '';
    return `git flor: ${e.message}\nhint: ${meant}see \`git flor ${e.command ? e.command + ' --help' : '-h'}\`\n`;
  }
  const stack = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
  return `git flor: unexpected error (a bug in git flor)\n${stack}\n`;
}

/** Prints an error as the user should see it and returns the exit code it deserves. */
export function reportError(e: unknown): number {
  if (e instanceof ExitError) return e.exitCode;
  process.stderr.write(errorLines(e));
  return 2;
}

/** Writes text to stdout (through the pager when one is chosen), resolving once it is handed to the OS, so large outputs are not cut at exit. */
export function out(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    writeOut(text, (err) => (err ? reject(err) : resolve()));
  });
}

/** Streams a formatted table to stdout (or to `file`) chunk by chunk, honouring backpressure. */
export async function writeFormatted(f: (t: Table) => Iterable<string | Uint8Array>, t: Table, file?: string): Promise<void> {
  if (file !== undefined) {
    const w = createWriteStream(file);
    const failed = once(w, 'error').then(([e]: unknown[]) => {
      throw new FlorError('OUTPUT_FAILED', `cannot write ${file}: ${(e as Error).message}`);
    });
    const done = (async () => {
      for (const chunk of f(t)) if (!w.write(chunk)) await Promise.race([once(w, 'drain'), failed]);
      w.end();
      await once(w, 'finish');
    })();
    await Promise.race([done, failed]);
    return;
  }
  for (const chunk of f(t)) {
    if (!writeOut(chunk)) await new Promise<void>((resolve) => process.stdout.once('drain', () => resolve()));
    // Written through (a file or a pipe that took it at once): its memory serves the next chunk.
    if (typeof chunk !== 'string' && outWritten()) recycleChunk(chunk);
  }
  await out('');
}

/** Runs that could not be read are named on stderr; the rest of the answer still prints. */
export function warnBroken(broken: ReadonlyArray<{ id: string; ledger: string; error: string }>): void {
  for (const b of broken) {
    // A ledger that lost runs since it was last seen is read whole (its old runs kept): a warning, not damage.
    const alert = (b as { code?: string }).code?.startsWith('LEDGER_');
    process.stderr.write(safeText(alert ? `git flor: ${b.error}` : `git flor: ${b.id ? `run ${b.id}` : `ledger ${b.ledger}`} is unreadable: ${b.error}`) + '\n');
  }
  if (broken.length) process.stderr.write('hint: run `git flor doctor`\n');
}
