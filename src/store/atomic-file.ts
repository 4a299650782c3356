/** Small cache files under `.git/flor/`, replaced whole so that a reader never sees half of one. */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { uniqueSuffix } from './builtins.js';

/** Writes `text` to a temporary file beside `path` and renames it into place; a failure only loses the cache. */
export function writeFileAtomic(path: string, text: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${uniqueSuffix()}`;
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch {
    // a cache: the next process asks Git again
  }
}
