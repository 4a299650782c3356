/**
 * Pack files of the derived cache (derived-cache.ts): many entries, each named by a key, in a few
 * files under `cache/packs/` instead of a file each. A cold query of 200 runs made about 400 cache
 * files, and on ext4 each file made cost about 0.4 ms of open, rename and close (about 170 ms of a
 * 1 s query, measured); a pack is one file per command that writes.
 *
 * A pack is written once, to a temporary name, and renamed into place: it is never changed after,
 * so a reader sees a whole pack or none, and concurrent writers each write their own. Layout:
 * `FLORPK1\n`, the entries one after another, an index (JSON: `[[key, offset, length, crc], ...]`),
 * then a 16-byte trailer: index length (u32 LE), CRC-32 of the index, `FLORPK1\n`. Every entry
 * has its own CRC-32 in the index: an entry that does not check out (a flipped byte, a truncated
 * file) is a miss, and so is every entry of a pack whose trailer or index does not.
 *
 * A key may be in several packs: the newest (pack names sort by the time they were written) wins.
 * Past MAX_PACKS packs the next writer merges the newest ones, size-tiered (see tier); once a
 * damaged one was met, all of them. A merge keeps the newest entry per key, leaves damaged ones out,
 * streams (one entry in memory at a time) and removes the packs it merged. A reader that still
 * holds a removed pack open reads it as it was; one that has not opened it yet finds it gone: a miss.
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync, rmSync, statSync, writev, writevSync } from 'node:fs';
import { writeReplacing, writeReplacingAsync } from './atomic-file.js';
import { join } from 'node:path';
import { uniqueSuffix } from './builtins.js';
import { crc32 } from './crc32.js';

const MAGIC = Buffer.from('FLORPK1\n');
const TRAILER = 8 + MAGIC.length;
const SUFFIX = '.pack';
/** More packs than this and the next writer merges them: a lookup asks each pack's index in turn. */
export const MAX_PACKS = 8;
/** Entries queued past this many bytes are written at once instead of waiting for the flush. */
const QUEUE_BYTES = 128 * 1024 * 1024;
/** How long a long-lived process (the ui server, an API handle) keeps entries queued at most. */
const FLUSH_MS = 2000;

interface Loc {
  off: number;
  len: number;
  crc: number;
}

interface Pack {
  name: string;
  /** Bytes, once opened. */
  size: number;
  /** -1 until opened; null index: unreadable (gone, foreign or damaged). */
  fd: number;
  index: Map<string, Loc> | null | undefined;
}

/** Time-ordered names: the newest pack sorts last. */
let seq = 0;
function packName(): string {
  return `${Date.now().toString(36).padStart(9, '0')}-${(seq++).toString(36).padStart(4, '0')}-${uniqueSuffix()}${SUFFIX}`;
}

/** The packs of one cache directory, and the entries this process queued for its next pack. */
export class PackDir {
  /** Newest first. */
  private packs: Pack[] = [];
  /** The directory's identity and mtime when `packs` was listed: a rename into it changes it. */
  private stamp = '';
  /** A listed pack was gone when opened: another process merged it (its entries are in a newer pack). */
  private vanished = false;
  private damaged = false;
  private queue = new Map<string, Uint8Array[]>();
  private queued = 0;
  /** Entries of packs being written in the background (flushInBackground), until they are in place. */
  private writing = new Map<string, Uint8Array[]>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(readonly dir: string) {}

  private relist(): void {
    let st: { ino: number; mtimeMs: number } | undefined;
    try {
      st = statSync(this.dir, { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    const stamp = st ? `${st.ino}:${st.mtimeMs}` : '';
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    let names: string[] = [];
    try {
      names = st ? readdirSync(this.dir).filter((n) => n.endsWith(SUFFIX)) : [];
    } catch {
      names = [];
    }
    names.sort().reverse();
    const held = new Map(this.packs.map((p) => [p.name, p]));
    this.packs = names.map((name) => held.get(name) ?? { name, size: 0, fd: -1, index: undefined });
    for (const [name, p] of held) if (!names.includes(name) && p.fd >= 0) closeQuietly(p);
  }

  private indexOf(p: Pack): Map<string, Loc> | null {
    if (p.index !== undefined) return p.index;
    p.index = null;
    try {
      p.fd = openSync(join(this.dir, p.name), 'r');
    } catch {
      this.vanished = true; // removed by a merge since it was listed
      return null;
    }
    try {
      const size = (p.size = fstatSync(p.fd).size);
      if (size < MAGIC.length + TRAILER) throw new Error('short');
      const tailLen = Math.min(size, 64 * 1024);
      const tail = Buffer.allocUnsafe(tailLen);
      if (readSync(p.fd, tail, 0, tailLen, size - tailLen) !== tailLen) throw new Error('short');
      if (!tail.subarray(tailLen - MAGIC.length).equals(MAGIC)) throw new Error('foreign');
      const idxLen = tail.readUInt32LE(tailLen - TRAILER);
      const idxCrc = tail.readUInt32LE(tailLen - TRAILER + 4);
      if (idxLen + TRAILER + MAGIC.length > size) throw new Error('bad index length');
      let idx: Buffer;
      if (idxLen + TRAILER <= tailLen) idx = tail.subarray(tailLen - TRAILER - idxLen, tailLen - TRAILER);
      else {
        idx = Buffer.allocUnsafe(idxLen);
        if (readSync(p.fd, idx, 0, idxLen, size - TRAILER - idxLen) !== idxLen) throw new Error('short');
      }
      if (crc32(idx) >>> 0 !== idxCrc) throw new Error('index crc');
      const rows = JSON.parse(idx.toString('utf8')) as unknown;
      if (!Array.isArray(rows)) throw new Error('index');
      const m = new Map<string, Loc>();
      for (const r of rows as unknown[]) {
        if (!Array.isArray(r) || typeof r[0] !== 'string' || typeof r[1] !== 'number' || typeof r[2] !== 'number' || typeof r[3] !== 'number') throw new Error('index row');
        m.set(r[0], { off: r[1], len: r[2], crc: r[3] });
      }
      p.index = m;
    } catch {
      this.damaged = true;
      closeQuietly(p);
    }
    return p.index;
  }

  /** An entry's bytes in a buffer of their own (its memory starts 8-aligned), or null. */
  private readEntry(p: Pack, loc: Loc): Buffer | null {
    const buf = Buffer.allocUnsafeSlow(loc.len);
    try {
      if (readSync(p.fd, buf, 0, loc.len, loc.off) === loc.len && crc32(buf) >>> 0 === loc.crc) return buf;
    } catch {
      // fall through: a miss
    }
    this.damaged = true;
    return null;
  }

  /** The newest whole copy of `key`'s entry, or null. */
  get(key: string): Buffer | null {
    const q = this.queue.get(key) ?? this.writing.get(key);
    if (q) {
      const b = Buffer.allocUnsafeSlow(q.reduce((n, x) => n + x.length, 0));
      let at = 0;
      for (const x of q) {
        b.set(x, at);
        at += x.length;
      }
      return b;
    }
    // A merge renames its pack into place before it removes the packs it merged, so a pack gone
    // since the listing means a listing made now has its entries. The directory's mtime does not
    // always say so: it can be the same tick as the last listing's.
    for (let tries = 0; tries < 3; tries++) {
      this.relist();
      this.vanished = false;
      for (const p of this.packs) {
        const loc = this.indexOf(p)?.get(key);
        if (!loc) continue;
        const b = this.readEntry(p, loc);
        if (b) return b;
      }
      if (!this.vanished) return null;
      this.stamp = '';
    }
    return null;
  }

  /** Queues an entry for this process's next pack (the pieces must not change afterwards). */
  put(key: string, parts: Uint8Array[]): void {
    const old = this.queue.get(key);
    if (old) this.queued -= old.reduce((n, x) => n + x.length, 0);
    this.queue.set(key, parts);
    this.queued += parts.reduce((n, x) => n + x.length, 0);
    if (this.queued >= QUEUE_BYTES) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Writes what is queued as one pack, then merges packs when there are too many (or a damaged one). */
  flush(): void {
    const entries = this.take();
    // Listed again after this process's own pack: the directory's mtime may not have moved.
    if (entries.length > 0 && writePack(this.dir, entries.map(([key, parts]) => ({ key, read: () => parts })))) this.stamp = '';
    this.tidy();
  }

  /**
   * flush, with the pack's bytes written on libuv's thread pool: a command that has read what it
   * needs starts this, then computes and prints while the bytes go to disk (a cold `log` of 200
   * runs writes 23 MB). Resolves once the pack is in place (or could not be written: that only
   * costs speed); its entries are read from memory meanwhile.
   */
  async flushInBackground(): Promise<void> {
    const entries = this.take();
    if (entries.length === 0) return;
    for (const [key, parts] of entries) this.writing.set(key, parts);
    try {
      const pieces = packPieces(entries);
      await writeReplacingAsync(join(this.dir, packName()), async (fd) => {
        // One request for every piece (libuv writes them IOV_MAX at a time): the main thread may
        // not return to the event loop before the command ends, and a second request would wait.
        const want = pieces.reduce((n, b) => n + b.length, 0);
        const wrote = await new Promise<number>((resolve, reject) => writev(fd, pieces, (e, n) => (e ? reject(e) : resolve(n))));
        if (wrote !== want) throw new Error('short write');
      });
    } finally {
      for (const [key, parts] of entries) if (this.writing.get(key) === parts) this.writing.delete(key);
      this.stamp = '';
    }
    this.tidy();
  }

  /** The queued entries, taken for a pack. */
  private take(): Array<[string, Uint8Array[]]> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const entries = [...this.queue];
    this.queue.clear();
    this.queued = 0;
    return entries;
  }

  /** Merges packs when there are too many (or a damaged one was met). */
  private tidy(): void {
    this.relist();
    if (this.damaged && this.packs.length > 0) this.merge(this.packs.length);
    else if (this.packs.length > MAX_PACKS) this.merge(this.tier());
  }

  /**
   * How many of the newest packs to merge: at least two, and each older one whose size the newer
   * ones already merged reach (so a byte is rewritten about log(cache size) times, not at every
   * merge), and enough that at most MAX_PACKS remain.
   */
  private tier(): number {
    const sizes = this.packs.map((p) => (this.indexOf(p) ? p.size : 0));
    let k = 1;
    let acc = sizes[0]!;
    while (k < sizes.length && (k < 2 || acc >= sizes[k]! || sizes.length - k + 1 > MAX_PACKS)) acc += sizes[k++]!;
    return k;
  }

  /**
   * The good entries of the newest `k` packs (the newest per key) into one pack, written as it is
   * read (a merge holds one entry at a time, not the cache); those packs are removed. Being newer
   * than every pack left, the merged one keeps their precedence.
   */
  private merge(k: number): void {
    this.damaged = false;
    const packs = this.packs.slice(0, k);
    const take = new Map<string, { p: Pack; loc: Loc }>();
    // Oldest first: a newer pack's entry replaces an older one's.
    for (const p of [...packs].reverse()) {
      const idx = this.indexOf(p);
      if (idx) for (const [key, loc] of idx) take.set(key, { p, loc });
    }
    const entries = [...take].map(([key, { p, loc }]) => ({ key, read: () => this.readEntry(p, loc) }));
    this.damaged = false;
    if (entries.length > 0 && !writePack(this.dir, entries)) return;
    for (const p of packs) {
      closeQuietly(p);
      rmSync(join(this.dir, p.name), { force: true });
    }
    this.stamp = '';
  }
}

function closeQuietly(p: Pack): void {
  if (p.fd < 0) return;
  try {
    closeSync(p.fd);
  } catch {
    // already closed
  }
  p.fd = -1;
  p.index = null;
}

/** Pieces per writev call: the system takes a bounded number (IOV_MAX, 1024 on Linux). */
const WRITEV_PIECES = 512;

/** Writes `parts` to `fd` (writev takes a bounded number of pieces per call); false on a short write. */
function writeAll(fd: number, parts: Uint8Array[]): boolean {
  for (let i = 0; i < parts.length; i += WRITEV_PIECES) {
    const group = parts.slice(i, i + WRITEV_PIECES);
    const want = group.reduce((n, b) => n + b.length, 0);
    if (writevSync(fd, group) !== want) return false;
  }
  return true;
}

/** Writes all of `parts` to `fd`, or throws (a short write leaves a file that is never renamed into place). */
export function writeParts(fd: number, parts: Uint8Array[]): void {
  if (!writeAll(fd, parts)) throw new Error('short write');
}

/**
 * Writes one pack under a new name: each entry's pieces as `read` gives them (null: left out),
 * then the index and the trailer. False when it could not be written.
 */
function writePack(dir: string, entries: Array<{ key: string; read: () => Uint8Array[] | Uint8Array | null }>): boolean {
  return writeReplacing(join(dir, packName()), (fd) => {
    const index: Array<[string, number, number, number]> = [];
    let at = MAGIC.length;
    let batch: Uint8Array[] = [MAGIC];
    let batched = 0;
    for (const { key, read } of entries) {
      const got = read();
      if (!got) continue;
      const pieces = Array.isArray(got) ? got : [got];
      const len = indexEntry(index, key, at, pieces);
      at += len;
      batch.push(...pieces);
      batched += len;
      // Pieces of a few megabytes per write: few calls, and a merge holds little at a time.
      if (batched >= 4 << 20) {
        writeParts(fd, batch);
        batch = [];
        batched = 0;
      }
    }
    batch.push(...indexPieces(index));
    writeParts(fd, batch);
  });
}

/** Adds an entry of these pieces at `at` to a pack's index; returns its length. */
function indexEntry(index: Array<[string, number, number, number]>, key: string, at: number, pieces: Uint8Array[]): number {
  let len = 0;
  let crc = 0;
  for (const b of pieces) {
    crc = crc32(b, crc);
    len += b.length;
  }
  index.push([key, at, len, crc >>> 0]);
  return len;
}

/** A pack's index and trailer, after its entries. */
function indexPieces(index: Array<[string, number, number, number]>): Buffer[] {
  const idx = Buffer.from(JSON.stringify(index));
  const tail = Buffer.alloc(TRAILER);
  tail.writeUInt32LE(idx.length, 0);
  tail.writeUInt32LE(crc32(idx) >>> 0, 4);
  MAGIC.copy(tail, 8);
  return [idx, tail];
}

/** A whole pack of entries held in memory, as pieces to write one after another. */
function packPieces(entries: Array<[string, Uint8Array[]]>): Uint8Array[] {
  const pieces: Uint8Array[] = [MAGIC];
  const index: Array<[string, number, number, number]> = [];
  let at = MAGIC.length;
  for (const [key, parts] of entries) {
    at += indexEntry(index, key, at, parts);
    pieces.push(...parts);
  }
  pieces.push(...indexPieces(index));
  return pieces;
}
