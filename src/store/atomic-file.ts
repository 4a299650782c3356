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
  let t: TempFile | undefined;
  try {
    t = tempBeside(dest);
    fill(t.fd);
    t.done();
    return true;
  } catch {
    t?.drop();
    return false;
  }
}

/** writeReplacing with a `fill` that writes asynchronously (on libuv's thread pool). */
export function writeReplacingAsync(dest: string, fill: (fd: number) => Promise<void>): Promise<boolean> {
  let t: TempFile;
  try {
    t = tempBeside(dest);
  } catch {
    return Promise.resolve(false);
  }
  return fill(t.fd).then(
    () => (t.done(), true),
    () => false,
  ).catch(() => false).finally(() => t.drop());
}

/** A temporary file beside `dest`, open for writing: `done` renames it into place, `drop` removes it unless it was placed. */
interface TempFile {
  fd: number;
  done(): void;
  drop(): void;
}

function tempBeside(dest: string): TempFile {
  const tmp = join(dirname(dest), `tmp-${uniqueSuffix()}`);
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch {
    mkdirSync(dirname(dest), { recursive: true });
    fd = openSync(tmp, 'w');
  }
  let open = true;
  let placed = false;
  const close = () => {
    if (!open) return;
    open = false;
    closeSync(fd);
  };
  return {
    fd,
    done() {
      close();
      renameSync(tmp, dest);
      placed = true;
    },
    drop() {
      if (placed) return;
      try {
        close();
        rmSync(tmp, { force: true });
      } catch {
        // nothing more to undo
      }
    },
  };
}

/** `text` as the whole of `path` (see writeReplacing); a failure only loses the cache. */
export function writeFileAtomic(path: string, text: string): void {
  writeReplacing(path, (fd) => {
    const b = Buffer.from(text);
    for (let at = 0; at < b.length; ) at += writeSync(fd, b, at);
  });
}
