/**
 * A cache of things derived from the ledgers, under `.git/flor/cache/`, so that a second query of
 * the same history skips listing trees and decoding segments. Never trusted over the ledgers:
 *
 * - decoded segments are kept by blob id (content-addressed: an entry cannot go stale);
 * - the run listing is kept under a key made of every ref tip under refs/flor/ (the ledgers, the
 *   fetched ledgers and anything else the union reads), so any new run, fetch or rewrite misses;
 * - per-run aggregates are kept under the run's content key (its id, writer and segment ids);
 * - every file, and every entry of a pack, carries a CRC-32 of its bytes: a damaged or truncated
 *   one is ignored (and rewritten), never read as data.
 *
 * Segments and aggregates live in packs (cache-pack.ts: one file per command that writes, not one
 * per entry); the listing is a file of its own. Deleting the directory is always safe. Writes go
 * to a temporary name and are renamed into place, so concurrent readers see a whole file or none.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RepoInfo } from './git.js';
import { FLOR_REFS } from './refs.js';
import { refListing } from './transfer.js';
import { refListingFromFiles } from './ref-files.js';
import { pack, unpack, encodeValue, decodeValue, damageOf, noteDamage } from './pack.js';
import { crc32 } from './crc32.js';
import { PackDir, writeParts } from './cache-pack.js';
import { writeReplacing } from './atomic-file.js';
import type { RunMeta, Segment } from './types.js';
import type { Value } from './records.js';
import type { ReadMark } from './marks.js';

const MAGIC = Buffer.from('FLORC1\n');

export function cacheDir(repo: RepoInfo): string {
  return join(repo.commonDir, 'flor', 'cache');
}

/** Bytes framed as MAGIC, payload, CRC-32 of the payload: the pieces, written one after another. */
function frame(parts: Uint8Array[]): Uint8Array[] {
  let crc = 0;
  for (const p of parts) crc = crc32(p, crc);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(crc >>> 0);
  return [MAGIC, ...parts, tail];
}

/** The payload of a framed file, or null when it is missing, foreign or damaged. */
function unframe(file: string): Buffer | null {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch {
    return null;
  }
  if (buf.length < MAGIC.length + 4 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return null;
  const body = buf.subarray(MAGIC.length, buf.length - 4);
  if ((crc32(body) >>> 0) !== buf.readUInt32LE(buf.length - 4)) return null;
  return body;
}

const pending = new Set<Promise<void>>();
/** The last write queued per file: writes of one file land in the order they were made. */
const lastWrite = new Map<string, Promise<void>>();

/**
 * Writes once the caller's synchronous work is done (the pieces are never changed afterwards), with
 * plain synchronous calls (an asynchronous one cost about twice the CPU in thread-pool round
 * trips, measured). settleCacheWrites waits for them before the process ends.
 */
function writeAtomic(file: string, parts: Uint8Array[]): void {
  const write = (): void => {
    writeReplacing(file, (fd) => writeParts(fd, parts));
  };
  const p = (lastWrite.get(file) ?? Promise.resolve()).then(write);
  lastWrite.set(file, p);
  track(p);
  void p.finally(() => {
    if (lastWrite.get(file) === p) lastWrite.delete(file);
  });
}

/** A write settleCacheWrites must wait for. */
function track(p: Promise<void>): void {
  pending.add(p);
  void p.finally(() => pending.delete(p));
}

/** The packs of each cache directory this process used. */
const packDirs = new Map<string, PackDir>();

function packsOf(repo: RepoInfo): PackDir {
  const dir = join(cacheDir(repo), 'packs');
  let d = packDirs.get(dir);
  if (!d) packDirs.set(dir, (d = new PackDir(dir)));
  return d;
}

/**
 * Starts writing the queued pack entries on libuv's thread pool (cache-pack flushInBackground): a
 * command that has read all it needs calls this, and computes while they are written.
 */
export function startCacheWrites(): void {
  for (const d of packDirs.values()) track(d.flushInBackground());
}

/** Every cache write started so far, finished (a command awaits this before it exits): queued pack entries are written as one pack. */
export async function settleCacheWrites(): Promise<void> {
  for (const d of packDirs.values()) d.flush();
  while (pending.size > 0) await Promise.all([...pending]);
}

// ---------------------------------------------------------------------------------------------
// Segments, by blob id

/** Pack keys: a segment by blob id, a run's aggregates by its content key. */
const SEGMENT_KEY = 's ';
const AGGREGATES_KEY = 'a ';

const ALIGN = 8;

/** A decoded segment as: u32 header length, msgpack header, padding, then the raw typed columns. */
function encodeCached(seg: Segment): Buffer[] {
  const cols = [seg.frames.parent, seg.frames.loop, seg.frames.iter, seg.name, seg.frame, seg.num, seg.kind];
  const head = pack({
    run: seg.run,
    source: seg.source,
    provenance: seg.provenance,
    names: seg.names,
    loops: seg.loops,
    nFrames: seg.frames.parent.length,
    n: seg.name.length,
    other: seg.other.map((x) => encodeValue(x)),
    // flor.memo records' tags, by record index (memo-records.ts): replay reads them from here too.
    ...(seg.memo?.size ? { memo: [...seg.memo] } : {}),
  });
  const len = Buffer.alloc(4);
  len.writeUInt32LE(head.length);
  const pre = 4 + head.length;
  // A pack entry is read into memory of its own: keep the columns 8-aligned relative to its start.
  const pad = Buffer.alloc((ALIGN - (pre % ALIGN)) % ALIGN);
  const parts: Buffer[] = [len, head, pad];
  for (const c of cols) {
    const b = Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    parts.push(b, Buffer.alloc((ALIGN - (b.length % ALIGN)) % ALIGN));
  }
  return parts;
}

function decodeCached(body: Buffer, oid: string): Segment | null {
  try {
    const hl = body.readUInt32LE(0);
    const h = unpack(body.subarray(4, 4 + hl), `cached segment ${oid}`) as {
      run: string; source: Segment['source']; provenance: Segment['provenance']; names: string[]; loops: string[]; nFrames: number; n: number; other: unknown[]; memo?: unknown;
    };
    let o = 4 + hl;
    o += (ALIGN - (o % ALIGN)) % ALIGN;
    const sizes = [h.nFrames * 4, h.nFrames * 4, h.nFrames * 4, h.n * 4, h.n * 4, h.n * 8, h.n];
    const padded = sizes.map((s) => s + ((ALIGN - (s % ALIGN)) % ALIGN));
    const total = padded.reduce((a, b) => a + b, 0);
    if (o + total !== body.length) return null;
    // The columns sit 8-aligned in the entry: views on the entry's own memory, no copy, when the
    // buffer starts aligned (an entry read into its own allocation does).
    let mem: ArrayBuffer;
    let at: number;
    if ((body.byteOffset + o) % ALIGN === 0) {
      mem = body.buffer as ArrayBuffer;
      at = body.byteOffset + o;
    } else {
      mem = new ArrayBuffer(total);
      new Uint8Array(mem).set(body.subarray(o, o + total));
      at = 0;
    }
    const take = <T>(Ctor: new (b: ArrayBuffer, off: number, len: number) => T, bytes: number, per: number): T => {
      const v = new Ctor(mem, at, bytes / per);
      at += bytes + ((ALIGN - (bytes % ALIGN)) % ALIGN);
      return v;
    };
    const parent = take(Int32Array, sizes[0]!, 4);
    const loop = take(Int32Array, sizes[1]!, 4);
    const iter = take(Int32Array, sizes[2]!, 4);
    const name = take(Int32Array, sizes[3]!, 4);
    const frame = take(Int32Array, sizes[4]!, 4);
    const num = take(Float64Array, sizes[5]!, 8);
    const kind = take(Uint8Array, sizes[6]!, 1);
    const memo = Array.isArray(h.memo) ? new Map(h.memo as Array<[number, unknown]>) : null;
    return {
      format: 'flor-segment',
      version: 1,
      run: h.run,
      source: h.source,
      provenance: h.provenance,
      names: h.names,
      loops: h.loops,
      frames: { parent, loop, iter },
      name,
      frame,
      num,
      kind,
      other: h.other.map((v) => decodeValue(v) as Value),
      ...(memo ? { memo } : {}),
    };
  } catch {
    return null;
  }
}

/** A segment decoded earlier, or null (absent, damaged: the caller reads it from Git). */
export function readCachedSegment(repo: RepoInfo, oid: string): Segment | null {
  const body = packsOf(repo).get(SEGMENT_KEY + oid);
  return body ? decodeCached(body, oid) : null;
}

export function writeCachedSegment(repo: RepoInfo, oid: string, seg: Segment): void {
  packsOf(repo).put(SEGMENT_KEY + oid, encodeCached(seg));
}

// ---------------------------------------------------------------------------------------------
// The run listing, by ref tips

/** Every ref under refs/flor/ and its tip (a few lines: one per ledger): the listing's cache key. */
export async function refsKey(repo: RepoInfo): Promise<string> {
  return refListingFromFiles(repo, FLOR_REFS) ?? (await refListing(repo, FLOR_REFS));
}

function listingFile(repo: RepoInfo): string {
  return join(cacheDir(repo), 'listing');
}

export interface CachedListing<R> {
  key: string;
  runs: R[];
  /** Every ledger's marks at these tips (absent in a listing written without them). */
  marks?: ReadMark[];
}

/**
 * The run ids of the last listing any reader cached, whatever tips it was made for: every run this
 * clone could read then (a run end abbreviates its id over them without a git process).
 */
export function lastListedRunIds(repo: RepoInfo): string[] {
  const body = unframe(listingFile(repo));
  if (!body) return [];
  try {
    const o = JSON.parse(body.toString('utf8')) as CachedListing<{ meta: { id: string } }>;
    return Array.isArray(o.runs) ? o.runs.map((r) => r.meta.id) : [];
  } catch {
    return [];
  }
}

/**
 * The listing is JSON: `JSON.parse`, native, reads 10,000 runs several times faster than a msgpack
 * decoder. User values (args, every flor.arg call's value) are not JSON's: each run's are a JSON
 * text of their store encoding (pack.ts encodeValue) in which bytes, numbers JSON lacks (NaN, ±Infinity,
 * -0) and a user object that has the marker key itself are tagged objects under TAG_KEY.
 */
const TAG_KEY = '\u0000flor';

function tagged(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Uint8Array) return { [TAG_KEY]: 'b', v: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
  if (typeof raw === 'number' && (!Number.isFinite(raw) || Object.is(raw, -0))) return { [TAG_KEY]: 'n', v: Object.is(raw, -0) ? '-0' : String(raw) };
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw) && Object.hasOwn(raw, TAG_KEY)) return { [TAG_KEY]: 'o', v: Object.entries(raw) };
  return value;
}

function untagged(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || !Object.hasOwn(value, TAG_KEY)) return value;
  const t = value as { [TAG_KEY]: string; v: unknown };
  switch (t[TAG_KEY]) {
    case 'b':
      return new Uint8Array(Buffer.from(t.v as string, 'base64'));
    case 'n':
      return Number(t.v);
    case 'o':
      return Object.fromEntries(t.v as Array<[string, unknown]>);
  }
  throw new Error('unknown tag in a cached value');
}

/** A user value from its cached text; the reviver only when the text holds a tag (most hold none). */
function userValue(text: string): Value {
  return decodeValue(text.includes(TAGGED_TEXT) ? JSON.parse(text, untagged) : JSON.parse(text));
}

/** Beside a cached run's metadata: the damaged values its decoding found (pack.ts damageOf), which the cached text no longer shows as damage. */
const DAMAGE_KEY = '\u0000damage';

/** How TAG_KEY reads inside JSON text. */
const TAGGED_TEXT = JSON.stringify(TAG_KEY).slice(1, -1);

/** Whether JSON keeps `x` as it is: plain data, finite numbers, no -0, no undefined. */
function jsonSafe(x: unknown): boolean {
  if (x === null || typeof x === 'string' || typeof x === 'boolean') return true;
  if (typeof x === 'number') return Number.isFinite(x) && !Object.is(x, -0);
  if (Array.isArray(x)) return x.every(jsonSafe);
  if (typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) return Object.values(x as object).every(jsonSafe);
  return false;
}

/** The cached listing and marks when they were made for exactly these tips. */
export function readCachedHistory<R extends { meta: RunMeta }>(repo: RepoInfo, key: string): { runs: R[]; marks: ReadMark[] | null } | null {
  const body = unframe(listingFile(repo));
  if (!body) return null;
  try {
    const o = JSON.parse(body.toString('utf8')) as CachedListing<R>;
    if (o.key !== key || !Array.isArray(o.runs)) return null;
    // Each run was parsed into objects of its own: its meta is completed in place.
    for (const r of o.runs) {
      const m = r.meta as unknown as Record<string, unknown>;
      m.args = userValue(m.args as string);
      if (typeof m.argCalls === 'string') m.argCalls = userValue(m.argCalls);
      // The damage found when the metadata was decoded, told again by every reader as it was then.
      const hurt = m[DAMAGE_KEY];
      delete m[DAMAGE_KEY];
      if (Array.isArray(hurt)) noteDamage(r.meta, hurt.map(String));
    }
    return { runs: o.runs, marks: Array.isArray(o.marks) ? o.marks : null };
  } catch {
    return null;
  }
}

/** The cached listing when it was made for exactly these tips. */
export function readCachedListing<R extends { meta: RunMeta }>(repo: RepoInfo, key: string): R[] | null {
  return readCachedHistory<R>(repo, key)?.runs ?? null;
}

/** Keeps the listing (not when some part of it is not plain data JSON keeps as it is: then it only costs speed). */
export function writeCachedListing<R extends { meta: RunMeta }>(repo: RepoInfo, key: string, runs: R[], marks?: ReadMark[]): void {
  const enc = runs.map((r) => {
    const meta: Record<string, unknown> = { ...r.meta, args: JSON.stringify(encodeValue(r.meta.args), tagged) };
    if (r.meta.argCalls !== undefined) meta.argCalls = JSON.stringify(encodeValue(r.meta.argCalls), tagged);
    const hurt = damageOf(r.meta);
    if (hurt.length) meta[DAMAGE_KEY] = [...hurt];
    return { ...r, meta };
  });
  const doc = { key, runs: enc, ...(marks ? { marks } : {}) };
  if (!jsonSafe(doc)) return;
  writeAtomic(listingFile(repo), frame([Buffer.from(JSON.stringify(doc))]));
}

// ---------------------------------------------------------------------------------------------
// Per-run aggregates of logged names (`runs --col max(loss)`), by the run's content

/**
 * Names a run's content for its aggregates: its id, the writer whose segments count (readers keep
 * only those), and its segments' blob ids. A new replay segment is a new key, so an entry never
 * goes stale.
 */
export function runContentKey(run: { id: string; writer: string; segments: Array<{ oid: string }> }): string {
  return [run.id, run.writer, ...run.segments.map((s) => s.oid)].join('\0');
}

/**
 * A run's entry, for exactly its content: name -> (aggregate -> value), and the deepest loop each
 * name was logged in (query/series.ts nameDepths: 0 outside every loop), which the default `runs`
 * summary needs of every run to choose its columns, and would otherwise decode every segment for.
 * `depths` null: not kept (an entry written before they were, or by a query that did not need them).
 */
export interface CachedRunEntry {
  names: Map<string, Record<string, Value>>;
  depths: Map<string, number> | null;
}

/** Depths as kept, `[name, depth]` pairs (a name is any string, `__proto__` too), or null when they are not that. */
function depthsOf(raw: unknown): Map<string, number> | null {
  if (!Array.isArray(raw)) return null;
  const m = new Map<string, number>();
  for (const p of raw) {
    if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string' || !Number.isInteger(p[1]) || (p[1] as number) < 0 || m.has(p[0])) return null;
    m.set(p[0], p[1] as number);
  }
  return m;
}

/** A run's entry as cached for exactly this content; empty (no names, no depths) when nothing was. */
export function readCachedAggregates(repo: RepoInfo, key: string): CachedRunEntry {
  const body = packsOf(repo).get(AGGREGATES_KEY + key);
  const out: CachedRunEntry = { names: new Map(), depths: null };
  if (!body) return out;
  try {
    const o = unpack(body, 'cached aggregates') as { key: string; names: Record<string, Record<string, unknown>>; depths?: unknown };
    if (o.key !== key) return out;
    for (const [name, aggs] of Object.entries(o.names)) {
      const m: Record<string, Value> = {};
      for (const [fn, v] of Object.entries(aggs)) m[fn] = decodeValue(v);
      out.names.set(name, m);
    }
    out.depths = depthsOf(o.depths);
  } catch {
    out.names.clear();
    out.depths = null;
  }
  return out;
}

/** A run's whole entry, written again with what was added (a concurrent writer may win: that costs only speed). */
export function writeCachedAggregates(repo: RepoInfo, key: string, entry: CachedRunEntry): void {
  const o: Record<string, Record<string, unknown>> = {};
  for (const [name, aggs] of entry.names) {
    const e: Record<string, unknown> = {};
    for (const [fn, v] of Object.entries(aggs)) e[fn] = encodeValue(v);
    o[name] = e;
  }
  packsOf(repo).put(AGGREGATES_KEY + key, [pack({ key, names: o, ...(entry.depths ? { depths: [...entry.depths] } : {}) })]);
}
