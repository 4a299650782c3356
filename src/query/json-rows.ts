/**
 * The json and ndjson formats, written straight into byte buffers: a million-row result streams to
 * stdout in 1 MiB chunks without a string per row.
 */
import type { Value } from '../store/records.js';
import { cellAt, type Column, type Table } from './table.js';

/** Bytes of output gathered before a chunk is handed on (every format streams in chunks of about this size). */
export const CHUNK = 1 << 20;
const ROOM = 16 << 10;

/** Output buffers takeChunk handed out and nobody gave back yet: only these are ever reused. */
const lent = new WeakSet<ArrayBufferLike>();
const spare: Buffer[] = [];

/**
 * A CHUNK-sized output buffer, one given back by recycleChunk when there is one. A fresh megabyte
 * costs 256 page faults as it is first written: a million-row answer made 160 of them, and the
 * faults cost more CPU than writing the rows (measured: ~30,000 faults, ~200 ms of system time).
 */
export function takeChunk(): Buffer {
  const b = spare.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
  lent.add(b.buffer);
  return b;
}

/** Gives back a chunk once its bytes have been written out (its holder keeps no reference): the next chunk reuses its memory. */
export function recycleChunk(chunk: Uint8Array): void {
  const ab = chunk.buffer;
  if (!lent.has(ab)) return;
  lent.delete(ab);
  if (spare.length < 2) spare.push(Buffer.from(ab, 0, CHUNK));
}

/** JSON has no bigint, typed array, NaN or Infinity: numbers stay numbers, the rest degrade plainly. */
export function toJson(v: Value): unknown {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    return v;
  }
  if (ArrayBuffer.isView(v)) return Array.from(v as ArrayLike<number | bigint>, (x) => toJson(x as Value));
  if (Array.isArray(v)) return v.map(toJson);
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(v)) o[k] = toJson(v[k]!);
  return o;
}

function jsonCell(v: Value): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  return JSON.stringify(toJson(v));
}

/**
 * One stretch of a JSON row: adjacent dictionary columns sharing an index collapse into one.
 * One class for every kind, so the row loop's property reads see a single object shape.
 */
class Part {
  index: Int32Array = new Int32Array(0); // t 0: row -> entry of enc
  enc: Buffer[] = []; // t 0: pre-encoded `,"k":v,"k2":v2` per dictionary entry
  key: Buffer = Buffer.alloc(0); // t 1-3: `,"k":`
  ints: Int32Array = new Int32Array(0); // t 1
  kind: Uint8Array = new Uint8Array(0); // t 2
  other = new Map<number, Value>(); // t 2
  num: Float64Array = new Float64Array(0); // t 2
  /** t 2: the next SLICE numbers of the column as a JSON array text, read in row order; `scan`: the row the slice after it starts at. */
  text = '';
  scan = 0;
  private nums: number[] = [];
  col: Column | null = null; // t 3
  constructor(readonly t: 0 | 1 | 2 | 3) {}

  /**
   * The next slice of numbers as text. Numbers are converted in bulk by JSON.stringify (V8's
   * native double-to-text), a slice at a time: the whole column at once made an array, a text and
   * a copy of it as large as the output's numbers, all fresh memory, which cost more in page faults
   * than the conversion. A slice's array and text are small and die young. The array is refilled
   * by push: a packed array of doubles stringifies ~1.7x faster than a holey one.
   */
  refill(n: number): void {
    const nums = this.nums;
    nums.length = 0;
    const { kind, num } = this;
    let i = this.scan;
    for (; i < n && nums.length < SLICE; i++) if (kind[i] === 1) nums.push(num[i]!);
    this.scan = i;
    this.text = JSON.stringify(nums);
  }
}

/** Numbers per slice of text: the slice's array and text stay below V8's large-object size. */
const SLICE = 4096;

function jsonParts(t: Table): Part[] {
  const parts: Part[] = [];
  t.cols.forEach((col, c) => {
    const key = (c ? ',' : '') + JSON.stringify(t.columns[c]!) + ':';
    const last = parts[parts.length - 1];
    switch (col.type) {
      case 'dict': {
        const enc = col.dict.map((v) => Buffer.from(key + jsonCell(v)));
        if (last && last.t === 0 && last.index === col.index) {
          last.enc = last.enc.map((b, j) => Buffer.concat([b, enc[j]!]));
        } else {
          const p = new Part(0);
          p.index = col.index;
          p.enc = enc;
          parts.push(p);
        }
        return;
      }
      case 'int': {
        const p = new Part(1);
        p.key = Buffer.from(key);
        p.ints = col.ints;
        parts.push(p);
        return;
      }
      case 'num': {
        // The column's numbers as JSON array texts (Part.refill), cut at the commas while writing.
        const p = new Part(2);
        p.key = Buffer.from(key);
        p.kind = col.kind;
        p.num = col.num;
        p.other = col.other;
        parts.push(p);
        return;
      }
      case 'values': {
        const p = new Part(3);
        p.key = Buffer.from(key);
        p.col = col;
        parts.push(p);
      }
    }
  });
  return parts;
}

/**
 * JSON rows written as bytes into 1 MB buffers: building a million row strings and writing them
 * cost about twice as much here (measured). Numbers are converted in bulk by JSON.stringify (V8's
 * native double-to-text) a slice at a time (Part.refill), then copied up to their separator. The hot row loop
 * lives in a plain method that fills one buffer; the generator only hands buffers out.
 */
export function* jsonRows(t: Table, open: string, sep: string, close: string, empty: string): Generator<Uint8Array> {
  if (t.length === 0) {
    if (empty) yield Buffer.from(empty);
    return;
  }
  const w = new JsonWriter(t, sep);
  let buf: Buffer = takeChunk();
  let o = buf.write(open, 0);
  while (w.row < t.length) {
    const r = w.fill(buf, o);
    buf = r.buf;
    o = r.o;
    if (w.row < t.length) {
      yield buf.subarray(0, o);
      buf = takeChunk();
      o = 0;
    }
  }
  const end = Buffer.from('}' + close);
  if (o + end.length > buf.length) {
    yield buf.subarray(0, o);
    buf = Buffer.allocUnsafe(end.length);
    o = 0;
  }
  buf.set(end, o);
  yield buf.subarray(0, o + end.length);
}

class JsonWriter {
  row = 0;
  private parts: Part[];
  private pos: Int32Array;
  private sepB: Buffer;
  private NULL = Buffer.from('null');

  constructor(private t: Table, sep: string) {
    this.parts = jsonParts(t);
    this.pos = new Int32Array(this.parts.length);
    this.sepB = Buffer.from('}' + sep);
  }

  /** Writes whole rows from `row` on while they fit; returns the (possibly grown) buffer and end. */
  fill(buf: Buffer, o: number): { buf: Buffer; o: number } {
    const { parts, pos, sepB, NULL, t } = this;
    const P = parts.length;
    const n = t.length;
    let i = this.row;
    // No closures over buf/o in this loop: captured variables live in a context object and every
    // `buf[o++]` would go through it. Short byte runs (keys, separators, small cells) are copied
    // by hand, longer ones (the per-run prefix) with set(): measured, either way round is slower.
    for (; i < n && o + ROOM <= buf.length; i++) {
      if (i > 0) for (let j = 0; j < sepB.length; j++) buf[o++] = sepB[j]!;
      buf[o++] = 123; // {
      for (let p = 0; p < P; p++) {
        const part = parts[p]!;
        let b: Uint8Array;
        if (part.t === 0) {
          b = part.enc[part.index[i]!]!;
        } else {
          const key = part.key;
          for (let j = 0; j < key.length; j++) buf[o++] = key[j]!;
          if (part.t === 1) {
            const v = part.ints[i]!;
            if (v >= 0) {
              o += writeUint(buf, o, v);
              continue;
            }
            b = NULL;
          } else if (part.t === 2) {
            const k = part.kind[i];
            if (k === 1) {
              let text = part.text;
              let q = pos[p]!;
              if (q >= text.length) {
                part.refill(n);
                text = part.text;
                q = 1; // past the '['
              }
              let ch = text.charCodeAt(q++);
              while (ch !== 44 && ch !== 93) {
                buf[o++] = ch;
                ch = text.charCodeAt(q++);
              }
              pos[p] = q;
              continue;
            }
            b = k === 2 ? Buffer.from(jsonCell(part.other.get(i) ?? null)) : NULL;
          } else {
            b = Buffer.from(jsonCell(cellAt(part.col!, i)));
          }
        }
        // A variable-length cell: make room for it plus the fixed-size rest of its row (rows start
        // only with ROOM to spare, so ordinary cells never get here with too little).
        if (o + b.length + 1024 > buf.length) {
          const bigger = Buffer.allocUnsafe(o + b.length + CHUNK);
          buf.copy(bigger, 0, 0, o);
          buf = bigger;
        }
        if (b.length > 32) {
          buf.set(b, o);
          o += b.length;
        } else for (let j = 0; j < b.length; j++) buf[o++] = b[j]!;
      }
    }
    this.row = i;
    return { buf, o };
  }
}

function writeUint(buf: Buffer, o: number, v: number): number {
  if (v < 10) {
    buf[o] = 48 + v;
    return 1;
  }
  const s = String(v);
  for (let j = 0; j < s.length; j++) buf[o + j] = s.charCodeAt(j);
  return s.length;
}
