/**
 * The ids of the runs this clone captured lately, one a line in `<commonDir>/flor/captured`. A
 * run's end line names the run by a prefix no other run shares over the runs it can see without a
 * git process: the last listing a reader cached, the journals waiting, and these. A run captured
 * after the last listing, with no reader since, is in neither of the first two; its capture
 * appends its id here before it deletes its journal, so it is always in one of them. Bounded:
 * past 32 KiB (about 1,200 ids) the file moves to `captured.old` and a new one starts; both are
 * read. Two captures moving it at once can drop the older half: a shorter memory, nothing else.
 */
import { appendFileSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';

const MAX_BYTES = 32 * 1024;

function file(commonDir: string): string {
  return join(commonDir, 'flor', 'captured');
}

/** Remembers that run `id` was captured (a failure only leaves it out: it is a naming aid). */
export function noteCaptured(commonDir: string, id: string): void {
  const f = file(commonDir);
  try {
    if (statSync(f).size >= MAX_BYTES) renameSync(f, `${f}.old`);
  } catch {
    // no file yet
  }
  try {
    appendFileSync(f, `${id}\n`);
  } catch {
    // the run-end line may then name it by a shorter prefix
  }
}

/** The ids noted, oldest first. */
export function capturedIds(commonDir: string): string[] {
  const out: string[] = [];
  for (const f of [`${file(commonDir)}.old`, file(commonDir)]) {
    try {
      for (const l of readFileSync(f, 'utf8').split('\n')) if (l) out.push(l);
    } catch {
      // not there
    }
  }
  return out;
}
