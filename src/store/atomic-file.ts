/** Cache files under `.git/flor/`, replaced whole so that a reader never sees half of one. */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { uniqueSuffix } from './builtins.js';

/**
 * Writes a file through a temporary one in its directory (made when missing: a cache may be
 * deleted at any time) that `fill` writes and is then renamed to `dest`; a reader sees the whole
 * file or none. False when it could not be written (read-only clone, full disk: a cache that
 * cannot be written only costs speed); the temporary file is removed then.
 */
export function writeReplacing(dest: string, fill: (fd: number) => void): boolean {
  const tmp = tempBeside(dest);
  try {
    const fd = openTemp(tmp);
    try {
      fill(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, dest);
    return true;
  } catch {
    discard(tmp);
    return false;
  }
}

/** writeReplacing with a `fill` that writes asynchronously (on libuv's thread pool). */
export async function writeReplacingAsync(dest: string, fill: (fd: number) => Promise<void>): Promise<boolean> {
  const tmp = tempBeside(dest);
  try {
    const fd = openTemp(tmp);
    try {
      await fill(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, dest);
    return true;
  } catch {
    discard(tmp);
    return false;
  }
}

function tempBeside(dest: string): string {
  return join(dirname(dest), `tmp-${uniqueSuffix()}`);
}

function openTemp(tmp: string): number {
  try {
    return openSync(tmp, 'w');
  } catch {
    mkdirSync(dirname(tmp), { recursive: true });
    return openSync(tmp, 'w');
  }
}

function discard(tmp: string): void {
  try {
    rmSync(tmp, { force: true });
  } catch {
    // nothing to remove
  }
}

/** `text` as the whole of `path` (see writeReplacing); a failure only loses the cache. */
export function writeFileAtomic(path: string, text: string): void {
  writeReplacing(path, (fd) => {
    const b = Buffer.from(text);
    for (let at = 0; at < b.length; ) at += writeSync(fd, b, at);
  });
}
