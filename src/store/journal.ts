/**
 * The crash journal of a running process: `<commonDir>/flor/journal/<runId>.jrnl`, append-only
 * frames of `u32 LE length` + one standard msgpack map. Writes are synchronous (`writevSync`, one
 * syscall per frame) so a SIGKILL loses only what was never handed to the kernel, and the exit path
 * needs no event loop. A frame cut short by a crash is ignored on read: the length prefix says it
 * is incomplete. docs/format.md specifies the frames. Frames are encoded by msgpack-write.ts, so
 * a recorded run never loads msgpackr; they are read with it.
 */
import { openSync, writevSync, closeSync, mkdirSync, readFileSync, readdirSync, readSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { FlorError } from '../errors.js';
import { unpack, packTyped, encodeValue, decodeValue, type DType } from './pack.js';
import { packPlain } from './msgpack-write.js';
import { decodeRecordValues } from './memo-records.js';
import { allocColumns, emptyColumns, type RecordColumns, type Value, type TypedArray } from './records.js';
import type { RunMeta, RunStatus, LoopInfo } from './types.js';

export const JOURNAL_EXT = '.jrnl';

export interface StartFrame {
  t: 'start';
  meta: RunMeta;
  codeTree: string;
  pid: number;
  host: string;
}

/** New records since the last chunk; tables (`names`, `loops`, `frames`) carry only what is new. */
export interface ChunkFrame {
  t: 'chunk';
  names: string[];
  loops: string[];
  frames: { parent: Int32Array; loop: Int32Array; iter: Int32Array };
  name: Int32Array;
  frame: Int32Array;
  num: Float64Array;
  kind: Uint8Array;
  other: Value[];
}

export interface ArgsFrame {
  t: 'args';
  args: Record<string, Value>;
  /** Names flor.arg gave different values: every call's value so far, in call order. */
  calls?: Record<string, Value[]>;
}

export interface CkptFrame {
  t: 'ckpt';
  iter: number;
  key: string;
  bytes: number;
}

export interface EndFrame {
  t: 'end';
  status: RunStatus;
  exitCode: number | null;
  error: string | null;
  end: string;
  loops: LoopInfo[];
  outerMs: number[];
  /** Of outerMs, the time flor.memo calls took (absent: none made); runtime/memo-wait.ts. */
  memoMs?: number[];
  /** The time flor.memo calls took outside the outer loop's iterations (absent: none). */
  memoSetupMs?: number;
  checkpointing: string[];
}

export type JournalFrame = StartFrame | ChunkFrame | ArgsFrame | CkptFrame | EndFrame;

export interface JournalWriter {
  readonly path: string;
  /** Appends one frame, synchronously. */
  append(frame: JournalFrame): void;
  close(): void;
}

export interface JournalContents {
  path: string;
  start: StartFrame | null;
  /** All chunks merged, in order; table indices are the run's own (stable across chunks). */
  records: RecordColumns;
  /** Every `args` frame merged, later values winning. */
  args: Record<string, Value>;
  /** Every `args` frame's `calls` merged, later lists winning. */
  argCalls: Record<string, Value[]>;
  ckpts: Array<{ iter: number; key: string; bytes: number }>;
  end: EndFrame | null;
  /** Bytes at the tail that did not form a whole frame (a write cut short by a crash). */
  truncatedBytes: number;
  /**
   * Read with `salvage`: the first damaged frame (0-based) of `frames` whole frames, and why; every
   * frame before it was kept, it and all after it were dropped. null when the journal is sound.
   */
  damaged: { frame: number; frames: number; error: string } | null;
}

export function journalDir(commonDir: string): string {
  return join(commonDir, 'flor', 'journal');
}

export function journalPath(commonDir: string, runId: string): string {
  return join(journalDir(commonDir), runId + JOURNAL_EXT);
}

/** The journal of run `runId` in this repository's shared git dir. */
export function openJournal(commonDir: string, runId: string): JournalWriter {
  return openJournalAt(journalPath(commonDir, runId));
}

/** A journal at an explicit path (a replay child's `out`). Appends when the file exists. */
export function openJournalAt(path: string): JournalWriter {
  mkdirSync(dirname(path), { recursive: true });
  let fd: number | null = openSync(path, 'a');
  const header = Buffer.alloc(4);
  return {
    path,
    append(frame: JournalFrame): void {
      if (fd === null) throw new FlorError('JOURNAL_CLOSED', `journal ${path} is closed`);
      const body = packPlain(encodeFrame(frame));
      header.writeUInt32LE(body.length, 0);
      let written = writevSync(fd, [header, body]);
      // A short write (disk full, signal) leaves a partial frame: readers drop it as a cut tail.
      while (written < body.length + 4) {
        const rest = Buffer.concat([header, body]).subarray(written);
        written += writevSync(fd, [rest]);
      }
    },
    close(): void {
      if (fd === null) return;
      closeSync(fd);
      fd = null;
    },
  };
}

/** Turns typed columns and user values into plain msgpack (see pack.ts). */
function encodeFrame(f: JournalFrame): unknown {
  if (f.t === 'chunk') {
    return {
      t: 'chunk',
      names: f.names,
      loops: f.loops,
      frames: { parent: packTyped(f.frames.parent), loop: packTyped(f.frames.loop), iter: packTyped(f.frames.iter) },
      name: packTyped(f.name),
      frame: packTyped(f.frame),
      num: packTyped(f.num),
      kind: packTyped(f.kind),
      other: f.other.length ? f.other.map((x) => encodeValue(x)) : f.other,
    };
  }
  if (f.t === 'start') return { ...f, meta: { ...f.meta, args: encodeValue(f.meta.args) } };
  if (f.t === 'args') return { t: 'args', args: encodeValue(f.args), ...(f.calls ? { calls: encodeValue(f.calls) } : {}) };
  return f;
}

/** Paths of the journals waiting under `<commonDir>/flor/journal`, oldest run first. */
export function listJournals(commonDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(journalDir(commonDir));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names.filter((n) => n.endsWith(JOURNAL_EXT)).sort().map((n) => join(journalDir(commonDir), n));
}

function bad(path: string, what: string): FlorError {
  return new FlorError('CORRUPT_JOURNAL', `journal ${path}: ${what}`, {
    hint: 'the run that wrote it cannot be captured; move the file away and run `git flor doctor`',
    data: { path },
  });
}

/** Splits a journal into its whole frames; a cut tail is reported, not decoded. */
function splitFrames(buf: Buffer, path: string): { frames: Buffer[]; truncatedBytes: number } {
  const frames: Buffer[] = [];
  let i = 0;
  while (i + 4 <= buf.length) {
    const len = buf.readUInt32LE(i);
    if (i + 4 + len > buf.length) break;
    frames.push(buf.subarray(i + 4, i + 4 + len));
    i += 4 + len;
  }
  if (frames.length === 0 && buf.length > 0 && i === 0 && buf.length >= 4 && buf.readUInt32LE(0) > 1 << 30) {
    throw bad(path, 'not a journal (bad first frame length)');
  }
  return { frames, truncatedBytes: buf.length - i };
}

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
}

function isStrArray(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((s) => typeof s === 'string');
}

const ELEM: Record<string, number> = { Int32Array: 4, Float64Array: 8, Uint8Array: 1 };

/** Checks a packed column `{dtype, data}` and returns its bytes and element count. */
function column(p: unknown, dtype: DType, path: string, field: string): { data: Uint8Array; n: number } {
  if (!isObj(p) || p.dtype !== dtype || !(p.data instanceof Uint8Array)) throw bad(path, `chunk column ${field} is not ${dtype}`);
  const size = ELEM[dtype]!;
  if (p.data.byteLength % size !== 0) throw bad(path, `chunk column ${field} has a partial element`);
  return { data: p.data, n: p.data.byteLength / size };
}

interface RawChunk {
  names: string[];
  loops: string[];
  parent: Uint8Array;
  loop: Uint8Array;
  iter: Uint8Array;
  nFrames: number;
  name: Uint8Array;
  frame: Uint8Array;
  num: Uint8Array;
  kind: Uint8Array;
  n: number;
  other: unknown[];
}

function rawChunk(o: Record<string, unknown>, path: string): RawChunk {
  if (!isStrArray(o.names) || !isStrArray(o.loops) || !isObj(o.frames) || !Array.isArray(o.other)) throw bad(path, 'malformed chunk frame');
  const parent = column(o.frames.parent, 'Int32Array', path, 'frames.parent');
  const loop = column(o.frames.loop, 'Int32Array', path, 'frames.loop');
  const iter = column(o.frames.iter, 'Int32Array', path, 'frames.iter');
  const name = column(o.name, 'Int32Array', path, 'name');
  const frame = column(o.frame, 'Int32Array', path, 'frame');
  const num = column(o.num, 'Float64Array', path, 'num');
  const kind = column(o.kind, 'Uint8Array', path, 'kind');
  if (loop.n !== parent.n || iter.n !== parent.n) throw bad(path, 'chunk frame columns differ in length');
  if (frame.n !== name.n || num.n !== name.n || kind.n !== name.n) throw bad(path, 'chunk record columns differ in length');
  return {
    names: o.names, loops: o.loops, parent: parent.data, loop: loop.data, iter: iter.data, nFrames: parent.n,
    name: name.data, frame: frame.data, num: num.data, kind: kind.data, n: name.n, other: o.other,
  };
}

/** Concatenates chunk columns with one allocation per column (no per-chunk typed-array copies). */
function mergeChunks(chunks: RawChunk[]): RecordColumns {
  if (chunks.length === 0) return emptyColumns();
  let nFrames = 0;
  let n = 0;
  for (const c of chunks) {
    nFrames += c.nFrames;
    n += c.n;
  }
  const out: RecordColumns = allocColumns(nFrames, n, [], []);
  const put = (dst: TypedArray, src: Uint8Array, atElem: number): void => {
    new Uint8Array(dst.buffer, dst.byteOffset + atElem * dst.BYTES_PER_ELEMENT, src.byteLength).set(src);
  };
  let f = 0;
  let r = 0;
  for (const c of chunks) {
    for (const s of c.names) out.names.push(s);
    for (const s of c.loops) out.loops.push(s);
    put(out.frames.parent, c.parent, f);
    put(out.frames.loop, c.loop, f);
    put(out.frames.iter, c.iter, f);
    put(out.name, c.name, r);
    put(out.frame, c.frame, r);
    put(out.num, c.num, r);
    put(out.kind, c.kind, r);
    const { other, memo } = decodeRecordValues(out.kind, out.num, c.other, r, c.n);
    if (memo) for (const [i, t] of memo) (out.memo ??= new Map()).set(i, t);
    for (const v of other) out.other.push(v);
    f += c.nFrames;
    r += c.n;
  }
  return out;
}

/**
 * Reads a whole journal. A cut last frame is dropped; a frame that is whole but undecodable is
 * corruption: an error, or with `salvage` the end of what is read (`damaged` says where), so a
 * capture keeps every record written before the damage.
 */
export function readJournal(path: string, opts: { salvage?: boolean } = {}): JournalContents {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new FlorError('JOURNAL_MISSING', `journal ${path} does not exist`, { hint: 'it may have been captured already', data: { path } });
    }
    throw e;
  }
  const { frames, truncatedBytes } = splitFrames(buf, path);
  const out: JournalContents = { path, start: null, records: emptyColumns(), args: {}, argCalls: {}, ckpts: [], end: null, truncatedBytes, damaged: null };
  const chunks: RawChunk[] = [];
  for (const [i, bytes] of frames.entries()) {
    let o: unknown;
    try {
      o = unpack(bytes, `frame ${i}`);
    } catch (e) {
      // Only the last frame can be half-written; a bad frame before it means the file is damaged.
      if (i === frames.length - 1 && out.end === null) {
        out.truncatedBytes += bytes.length + 4;
        break;
      }
      if (!opts.salvage || i === 0) throw bad(path, (e as Error).message);
      out.damaged = { frame: i, frames: frames.length, error: (e as Error).message };
      break;
    }
    try {
      readFrame(o, i, path, out, chunks);
    } catch (e) {
      if (!opts.salvage || i === 0) throw e;
      out.damaged = { frame: i, frames: frames.length, error: (e as Error).message };
      break;
    }
  }
  out.records = mergeChunks(chunks);
  return out;
}

function readFrame(o: unknown, i: number, path: string, out: JournalContents, chunks: RawChunk[]): void {
  if (!isObj(o)) throw bad(path, `frame ${i} is not a map`);
  switch (o.t) {
    case 'start':
      out.start = decodeValue(o) as unknown as StartFrame;
      break;
    case 'chunk':
      chunks.push(rawChunk(o, path));
      break;
    case 'args':
      if (!isObj(o.args)) throw bad(path, `args frame ${i} is not a map`);
      Object.assign(out.args, decodeValue(o.args));
      if (o.calls !== undefined) {
        if (!isObj(o.calls)) throw bad(path, `args frame ${i} has calls that are not a map`);
        Object.assign(out.argCalls, decodeValue(o.calls));
      }
      break;
    case 'ckpt':
      if (typeof o.iter !== 'number' || typeof o.key !== 'string' || typeof o.bytes !== 'number') throw bad(path, `malformed ckpt frame ${i}`);
      out.ckpts.push({ iter: o.iter, key: o.key, bytes: o.bytes });
      break;
    case 'end':
      out.end = decodeValue(o) as unknown as EndFrame;
      break;
    default:
      throw bad(path, `frame ${i} has unknown type ${JSON.stringify(o.t)}`);
  }
}

/** Only the start frame (orphan detection reads pid and host without reading the records). */
export function readJournalStart(path: string): StartFrame | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const head = Buffer.alloc(4);
    if (readSync(fd, head, 0, 4, 0) < 4) return null;
    const len = head.readUInt32LE(0);
    if (len > 1 << 26) throw bad(path, 'start frame is implausibly large');
    const body = Buffer.alloc(len);
    if (readSync(fd, body, 0, len, 4) < len) return null;
    const o = unpack(body, `journal ${path}`);
    return isObj(o) && o.t === 'start' ? (decodeValue(o) as unknown as StartFrame) : null;
  } finally {
    closeSync(fd);
  }
}
