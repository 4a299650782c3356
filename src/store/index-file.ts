/**
 * Git's index file format (gitformat-index), read and written here so that the private index a run
 * snapshots through can be carried from run to run as a stat cache: an entry whose stat data still
 * matches its file is kept, so Git does not hash the file again. Entries only, versions 2 to 4 read,
 * 2 or 3 written, extensions dropped (Git rebuilds what it needs). A split index (`link`) or a sparse
 * index (`sdir`) is refused with `null`: the caller then lets Git do all the work.
 */
import { nodeCrypto } from './builtins.js';
import type { BigIntStats } from 'node:fs';

export interface IndexEntry {
  path: string;
  ctimeS: number;
  ctimeNs: number;
  mtimeS: number;
  mtimeNs: number;
  dev: number;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  oid: Buffer;
  /** assume-valid bit and stage, as in the on-disk flags (name length excluded). */
  flags: number;
  /** v3 extended flags (skip-worktree, intent-to-add); 0 when none. */
  extFlags: number;
}

const ASSUME_VALID = 0x8000;
const EXTENDED = 0x4000;
const STAGE_MASK = 0x3000;
const NAME_MASK = 0x0fff;

export function entryStage(e: IndexEntry): number {
  return (e.flags & STAGE_MASK) >> 12;
}

/** Parses an index; null when it is not one this module can carry over (unknown version, split or sparse). */
export function parseIndex(buf: Buffer, oidLen: 20 | 32): IndexEntry[] | null {
  if (buf.length < 12 + oidLen || buf.toString('latin1', 0, 4) !== 'DIRC') return null;
  const version = buf.readUInt32BE(4);
  if (version < 2 || version > 4) return null;
  const count = buf.readUInt32BE(8);
  const out: IndexEntry[] = [];
  let off = 12;
  let prev = '';
  for (let i = 0; i < count; i++) {
    const start = off;
    if (off + 40 + oidLen + 2 > buf.length) return null;
    const u = (k: number) => buf.readUInt32BE(start + k * 4);
    const e: IndexEntry = {
      path: '',
      ctimeS: u(0), ctimeNs: u(1), mtimeS: u(2), mtimeNs: u(3), dev: u(4), ino: u(5), mode: u(6), uid: u(7), gid: u(8), size: u(9),
      oid: Buffer.from(buf.subarray(start + 40, start + 40 + oidLen)),
      flags: 0,
      extFlags: 0,
    };
    const flags = buf.readUInt16BE(start + 40 + oidLen);
    e.flags = flags & (ASSUME_VALID | STAGE_MASK);
    off = start + 40 + oidLen + 2;
    if (flags & EXTENDED) {
      if (version < 3) return null;
      e.extFlags = buf.readUInt16BE(off);
      off += 2;
    }
    if (version === 4) {
      // Prefix compression: drop N bytes of the previous path, then a NUL-terminated suffix.
      let c = buf[off++]!;
      let drop = c & 127;
      while (c & 128) {
        c = buf[off++]!;
        drop = ((drop + 1) << 7) | (c & 127);
      }
      const nul = buf.indexOf(0, off);
      if (nul < 0) return null;
      const prevBytes = Buffer.from(prev, 'utf8');
      if (drop > prevBytes.length) return null;
      e.path = Buffer.concat([prevBytes.subarray(0, prevBytes.length - drop), buf.subarray(off, nul)]).toString('utf8');
      off = nul + 1;
    } else {
      const nul = buf.indexOf(0, off);
      if (nul < 0) return null;
      e.path = buf.toString('utf8', off, nul);
      // Entries are NUL-padded to a multiple of 8 bytes (at least one NUL).
      off = start + ((off - start + (nul - off) + 8) & ~7);
    }
    if ((e.mode & 0o170000) === 0o040000) return null; // a sparse directory entry
    prev = e.path;
    out.push(e);
  }
  // Extensions: a split index keeps its entries elsewhere.
  while (off + 8 <= buf.length - oidLen) {
    const sig = buf.toString('latin1', off, off + 4);
    if (sig === 'link' || sig === 'sdir') return null;
    off += 8 + buf.readUInt32BE(off + 4);
  }
  return out;
}

/** An index file (version 2, or 3 when an entry has extended flags) holding `entries`, which must be sorted. */
export function writeIndex(entries: IndexEntry[], oidLen: 20 | 32): Buffer {
  const ext = entries.some((e) => e.extFlags !== 0);
  const names = entries.map((e) => Buffer.from(e.path, 'utf8'));
  const fixedOf = (e: IndexEntry) => 40 + oidLen + 2 + (e.extFlags ? 2 : 0);
  let total = 12;
  for (let i = 0; i < entries.length; i++) total += (fixedOf(entries[i]!) + names[i]!.length + 8) & ~7;
  const b = Buffer.alloc(total + oidLen);
  b.write('DIRC', 0, 'latin1');
  b.writeUInt32BE(ext ? 3 : 2, 4);
  b.writeUInt32BE(entries.length, 8);
  let off = 12;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const name = names[i]!;
    const fixed = fixedOf(e);
    b.writeUInt32BE(e.ctimeS >>> 0, off);
    b.writeUInt32BE(e.ctimeNs >>> 0, off + 4);
    b.writeUInt32BE(e.mtimeS >>> 0, off + 8);
    b.writeUInt32BE(e.mtimeNs >>> 0, off + 12);
    b.writeUInt32BE(e.dev >>> 0, off + 16);
    b.writeUInt32BE(e.ino >>> 0, off + 20);
    b.writeUInt32BE(e.mode >>> 0, off + 24);
    b.writeUInt32BE(e.uid >>> 0, off + 28);
    b.writeUInt32BE(e.gid >>> 0, off + 32);
    b.writeUInt32BE(e.size >>> 0, off + 36);
    e.oid.copy(b, off + 40);
    b.writeUInt16BE(e.flags | (e.extFlags ? EXTENDED : 0) | Math.min(name.length, NAME_MASK), off + 40 + oidLen);
    if (e.extFlags) b.writeUInt16BE(e.extFlags, off + 40 + oidLen + 2);
    name.copy(b, off + fixed);
    off += (fixed + name.length + 8) & ~7;
  }
  nodeCrypto().createHash(oidLen === 20 ? 'sha1' : 'sha256').update(b.subarray(0, off)).digest().copy(b, off);
  return b;
}

/**
 * Sorts entries in Git's index order: by path bytes, then stage. UTF-16 order is UTF-8 byte order
 * except around surrogate pairs, so only paths with one are compared as bytes.
 */
export function sortEntries(entries: IndexEntry[]): IndexEntry[] {
  const wide = entries.some((e) => /[\ud800-\uffff]/.test(e.path));
  const cmpPath = wide ? (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')) : (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return entries.sort((a, b) => cmpPath(a.path, b.path) || entryStage(a) - entryStage(b));
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/**
 * Whether `e` still describes the file whose lstat is `st`, by every stat field Git records (a
 * stricter test than Git's own, so a match here is one there too), and not racily clean: an entry
 * whose file changed in the same instant its index was written (`indexMtimeNs`) proves nothing.
 */
export function statMatches(e: IndexEntry, st: BigIntStats, indexMtimeNs: bigint): boolean {
  if (entryStage(e) !== 0 || e.extFlags !== 0 || e.flags & ASSUME_VALID) return false;
  const type = e.mode & S_IFMT;
  if (type === S_IFLNK ? !st.isSymbolicLink() : type !== S_IFREG || !st.isFile()) return false;
  if (type === S_IFREG && ((e.mode & 0o100) !== 0) !== ((Number(st.mode) & 0o100) !== 0)) return false;
  const lo = (v: bigint) => Number(v & 0xffffffffn);
  const sec = (ns: bigint) => lo(ns / 1_000_000_000n);
  const nsec = (ns: bigint) => Number(ns % 1_000_000_000n);
  if (e.mtimeS !== sec(st.mtimeNs) || e.mtimeNs !== nsec(st.mtimeNs)) return false;
  if (e.ctimeS !== sec(st.ctimeNs) || e.ctimeNs !== nsec(st.ctimeNs)) return false;
  if (e.ino !== lo(st.ino) || e.dev !== lo(st.dev) || e.uid !== lo(st.uid) || e.gid !== lo(st.gid)) return false;
  if (e.size !== lo(st.size)) return false;
  // A size of 0 is how Git marks an entry it found racy (unless the file is empty).
  if (st.mtimeNs >= indexMtimeNs) return false;
  return true;
}
