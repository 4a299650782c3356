/**
 * Loose objects read straight from the object directory, for the object reader (git.ts CatFile):
 * the file is the object's header and body, deflated. `git cat-file --batch` maps every loose
 * object it serves three times (its type, its size, then its body) and unmaps it as often; where
 * unmapping is dear (a virtual machine's TLB flushes go through the hypervisor) a cold
 * `git flor log` of 200 runs spent most of its wait for Git in munmap. Reading the file here
 * costs a read and an inflate.
 *
 * Only where the file is the whole answer: no GIT_OBJECT_DIRECTORY or quarantine (objects would
 * live elsewhere), no replace refs (cat-file would show the replacement). Anything this does not
 * fully understand — a packed or missing object, a rev spec, a file that does not inflate to a
 * well-formed object of the size its header states — is left to cat-file, whose answer (or error)
 * it is as before. Like cat-file, the content is not hashed again.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { nodeZlib } from './builtins.js';
import type { GitObject, RepoInfo } from './git.js';
import { refListingFromFiles } from './ref-files.js';

const OID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
const TYPES = new Set<string>(['blob', 'tree', 'commit', 'tag']);

/** A loose object by its id (a large one once inflated); null when cat-file must answer. */
export type LooseRead = (oid: string) => GitObject | Promise<GitObject | null> | null;

/**
 * Files from this size on are inflated on libuv's thread pool: a segment's inflate (most of its
 * read) then runs beside the main thread's decoding of the ones before it, as cat-file's did.
 */
const POOL_BYTES = 16 * 1024;

function envSet(...names: string[]): boolean {
  return names.some((n) => process.env[n] !== undefined && process.env[n] !== '');
}

/** The loose-object reader of `repo`, or null where cat-file's answer could differ from the file's. */
export function looseReader(repo: RepoInfo): LooseRead | null {
  if (envSet('GIT_OBJECT_DIRECTORY', 'GIT_QUARANTINE_PATH', 'GIT_REPLACE_REF_BASE')) return null;
  // With replace refs Git shows one object in place of another; null: they could not be read here.
  if (!envSet('GIT_NO_REPLACE_OBJECTS') && refListingFromFiles(repo, 'refs/replace/') !== '') return null;
  const dir = join(repo.commonDir, 'objects');
  const seen = new Map<string, GitObject>();
  let seenBytes = 0;
  return (oid) => {
    // A small object read before is answered from memory: an object never changes under its id,
    // and a replay reads the same ledger trees and commits for each run (57 distinct objects in
    // 122 reads of the eval loop's three runs), each read a file's open, read and inflate.
    const kept = seen.get(oid);
    if (kept) return { oid, type: kept.type, data: Buffer.from(kept.data) };
    if (!OID.test(oid)) return null;
    // Joined by hand: path.join normalizes, and a cold query names a thousand objects.
    const file = `${dir}/${oid.slice(0, 2)}/${oid.slice(2)}`;
    // Packed objects are the common miss: a failed existence check costs no exception.
    if (!existsSync(file)) return null;
    // Read into one reused buffer: a file that fills it is a large object, read again whole.
    // Gone meanwhile (packed and pruned), unreadable or damaged: cat-file says which.
    let n: number;
    try {
      const fd = openSync(file, 'r');
      try {
        n = readSync(fd, SMALL, 0, POOL_BYTES, 0);
      } finally {
        closeSync(fd);
      }
      if (n < POOL_BYTES) {
        const o = parseLoose(oid, SMALL.subarray(0, n));
        if (o && seenBytes + o.data.length <= SEEN_BYTES) {
          // A copy is handed out each time: a reader may change the bytes it was given.
          seen.set(oid, { oid, type: o.type, data: Buffer.from(o.data) });
          seenBytes += o.data.length;
        }
        return o;
      }
    } catch {
      return null;
    }
    return inflateLarge(oid, file, n);
  };
}

/** What a reader keeps of the small objects it read, in bytes: a long-lived process (the UI) keeps no more. */
const SEEN_BYTES = 1 << 20;

/** Where small objects' files are read (parseLoose inflates them into memory of their own). */
const SMALL = Buffer.allocUnsafeSlow(POOL_BYTES);

/**
 * Large objects read and inflating at once. Each one's file is read into a buffer kept for the
 * next one once its inflate is done: a cold query of 200 runs read 13 MB of segment files into
 * fresh memory that was dropped at once, and on a virtual machine every fresh 4 KB page costs a
 * fault of about 10 µs (and V8 collects early for the external memory). Four times libuv's four
 * threads: with only as many as threads, a pool thread waited for the main thread to hand it the
 * next file whenever that was busy (measured: the main thread idle ~70 ms of a cold `log`).
 */
const INFLATING = 16;
let inflating = 0;
const spare: Buffer[] = [];
/** Read buffers made so far (tests: reads of many large objects share a few). */
export const largeReads = { buffers: 0 };
/** A larger buffer is not kept: a long-lived process holds at most sixteen of these (16 MB). */
const SPARE_BYTES = 1 << 20;
const waiting: Array<() => void> = [];

/** Reads `file` (`size` bytes when last seen) into a spare buffer and inflates it on the thread pool; null when cat-file must answer. */
function inflateLarge(oid: string, file: string, size: number): Promise<GitObject | null> {
  return new Promise((resolve) => {
    const start = (): void => {
      inflating++;
      let buf = spare.pop();
      const done = (o: GitObject | null): void => {
        if (buf && buf.length <= SPARE_BYTES) spare.push(buf);
        inflating--;
        waiting.shift()?.();
        resolve(o);
      };
      let raw: Buffer;
      try {
        const fd = openSync(file, 'r');
        try {
          // The size now: the file may have been replaced since (packed objects are pruned, never rewritten).
          const n = fstatSync(fd).size;
          if (!buf || buf.length < n) {
            buf = Buffer.allocUnsafeSlow(Math.max(n, size, buf ? buf.length * 2 : 0));
            largeReads.buffers++;
          }
          let got = 0;
          while (got < n) {
            const r = readSync(fd, buf, got, n - got, got);
            if (r === 0) break;
            got += r;
          }
          raw = buf.subarray(0, got);
        } finally {
          closeSync(fd);
        }
      } catch {
        done(null);
        return;
      }
      // One byte more than the object: output that fills its chunk exactly made zlib allocate
      // another chunk (as large, never used) and inflate once more to find the end.
      const exact = exactChunk(raw);
      nodeZlib().inflate(raw, { chunkSize: exact === null ? chunkFor(raw) : exact + 1 }, (e, all) => done(e ? null : objectOf(oid, all)));
    };
    if (inflating < INFLATING) start();
    else waiting.push(start);
  });
}

/**
 * The inflated length of a loose object, from the header its first bytes inflate to; null when
 * they do not say. A large object is inflated into a buffer of that and one byte: a segment decoded
 * in its own bytes (segment.ts) keeps that buffer, and a guess would keep up to four times the object.
 */
function exactChunk(raw: Buffer): number | null {
  const z = nodeZlib();
  let start: Buffer;
  try {
    // A small chunk comes from Node's shared pool: the default 16 KB was fresh memory per object.
    start = z.inflateSync(raw.subarray(0, 256), { finishFlush: z.constants.Z_SYNC_FLUSH, chunkSize: 2048 });
  } catch {
    return null;
  }
  const nul = start.indexOf(0);
  const m = nul > 0 && nul <= 32 ? /^[a-z]+ (0|[1-9]\d{0,15})$/.exec(start.toString('latin1', 0, nul)) : null;
  // Deflate shrinks by at most 1032:1: a larger claim is damage, left for the full inflate to find.
  const size = m ? nul + 1 + Number(m[1]) : 0;
  return size >= 64 && size <= raw.length * 1032 ? size : null;
}

/**
 * Most objects inflate to less than four times their size (segments' numbers barely shrink):
 * then the output is one buffer, not pieces joined by a copy.
 */
function chunkFor(raw: Buffer): number {
  return Math.max(1024, raw.length * 4);
}

/** `<type> <size>\0<body>`, inflated; null when it is not exactly that (throws when it does not inflate). */
export function parseLoose(oid: string, raw: Buffer): GitObject | null {
  return objectOf(oid, nodeZlib().inflateSync(raw, { chunkSize: chunkFor(raw) }));
}

function objectOf(oid: string, all: Buffer): GitObject | null {
  const nul = all.indexOf(0);
  if (nul < 0 || nul > 32) return null;
  const head = all.toString('latin1', 0, nul);
  const sp = head.indexOf(' ');
  const type = head.slice(0, sp);
  const size = head.slice(sp + 1);
  if (sp < 0 || !TYPES.has(type) || !/^(0|[1-9]\d*)$/.test(size) || Number(size) !== all.length - nul - 1) return null;
  return { oid, type: type as GitObject['type'], data: all.subarray(nul + 1) };
}
