/**
 * Whether an object is in this repository's object store, without a git process: a loose file,
 * or an entry of a pack index (version 2, searched with a few positioned reads). Used where a
 * false "no" only costs a git process (the caller then asks Git), never where a false "yes"
 * could: an object found here is there, since Git deletes objects only by unlinking loose files
 * and whole packs.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';

function objectsDir(commonDir: string): string {
  return process.env.GIT_OBJECT_DIRECTORY || join(commonDir, 'objects');
}

/** `oid` (hex) is in pack index `path` (version 2; any other version answers false). */
function inPackIndex(path: string, oid: Buffer): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const head = Buffer.alloc(8 + 256 * 4);
    if (readSync(fd, head, 0, head.length, 0) !== head.length) return false;
    if (head.readUInt32BE(0) !== 0xff744f63 || head.readUInt32BE(4) !== 2) return false;
    const first = oid[0]!;
    let lo = first === 0 ? 0 : head.readUInt32BE(8 + (first - 1) * 4);
    let hi = head.readUInt32BE(8 + first * 4);
    const at = Buffer.alloc(oid.length);
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (readSync(fd, at, 0, at.length, head.length + mid * oid.length) !== at.length) return false;
      const c = at.compare(oid);
      if (c === 0) return true;
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return false;
  } finally {
    closeSync(fd);
  }
}

export function objectPresent(commonDir: string, oid: string): boolean {
  const dir = objectsDir(commonDir);
  if (existsSync(join(dir, oid.slice(0, 2), oid.slice(2)))) return true;
  let packs: string[];
  try {
    packs = readdirSync(join(dir, 'pack'));
  } catch {
    return false;
  }
  const bin = Buffer.from(oid, 'hex');
  return packs.some((p) => p.endsWith('.idx') && inPackIndex(join(dir, 'pack', p), bin));
}
