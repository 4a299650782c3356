/**
 * Log segments: `runs/<aa>/<id>/logs/<name>.msgpack`. One standard msgpack map; each column is one
 * `{dtype, data}` (little-endian bytes), user values in `other` as pack.ts's tagged values, so a
 * decoder in any language reads it (docs/format.md). Decoding validates everything an index
 * points at, so a corrupt segment fails here with its name, never later as a wrong row.
 */
import { FlorError } from '../errors.js';
import { unpack, packTyped, noteDamage } from './pack.js';
import { packPlain } from './msgpack-write.js';
import { decodeRecordValues, storedValues } from './memo-records.js';
import { allocColumns, KIND_NUMBER, KIND_OTHER, type RecordColumns } from './records.js';
import { validateSegmentHeader } from './schema.js';
import type { Segment, SegmentKind, Provenance } from './types.js';

/**
 * Written by the plain encoder (msgpack-write.ts), in the bytes msgpackr writes: a segment is
 * plain data once its values are encoded, and loading msgpackr to write one cost a replay (and a
 * capture) its load.
 */
export function encodeSegment(seg: Segment): Buffer {
  const stored = storedValues(seg);
  return packPlain({
    format: 'flor-segment',
    version: 1,
    run: seg.run,
    source: seg.source,
    provenance: seg.provenance,
    names: seg.names,
    loops: seg.loops,
    frames: { parent: packTyped(seg.frames.parent), loop: packTyped(seg.frames.loop), iter: packTyped(seg.frames.iter) },
    name: packTyped(seg.name),
    frame: packTyped(seg.frame),
    num: packTyped(stored.num),
    kind: packTyped(stored.kind),
    other: stored.other,
  });
}

/** A segment from records (the header fields a capture or a replay knows). */
export function makeSegment(run: string, source: SegmentKind, records: RecordColumns, provenance: Provenance | null = null): Segment {
  return { format: 'flor-segment', version: 1, run, source, provenance, ...records };
}

function corrupt(what: string, msg: string): FlorError {
  return new FlorError('CORRUPT_SEGMENT', `${what}: ${msg}`, { hint: 'run `git flor doctor`; other runs are unaffected', data: { what } });
}

const CTOR = { Int32Array, Float64Array, Uint8Array } as const;

/** A column's bytes, checked to be a whole number of `dtype` elements. */
function columnBytes(p: unknown, dtype: keyof typeof CTOR, what: string, field: string): Uint8Array {
  const o = p as { dtype?: unknown; data?: unknown } | null;
  if (!o || typeof o !== 'object' || o.dtype !== dtype || !(o.data instanceof Uint8Array)) {
    throw corrupt(what, `column ${field} is not a ${dtype}`);
  }
  if (o.data.byteLength % CTOR[dtype].BYTES_PER_ELEMENT !== 0) throw corrupt(what, `column ${field} has a partial element`);
  return o.data;
}

/**
 * Columns as typed arrays on one aligned buffer of their own (the msgpack bytes may sit at any
 * offset): one allocation per segment, not one per column (each costs a backing store).
 */
function columns<D extends keyof typeof CTOR>(cols: Array<{ bytes: Uint8Array; dtype: D }>, own: Uint8Array | null): Array<InstanceType<(typeof CTOR)[D]>> {
  return (own && columnsInPlace(cols, own)) || copiedColumns(cols);
}

/**
 * Columns made where they lie, in the segment's own bytes (decodeSegment's `own`): each is moved
 * back to the aligned offset at most 7 bytes before it, over its own `data` key and bin header
 * (already read: at least 7 bytes of msgpack), and viewed there. A cold query of 200 segments
 * spent more in the page faults of the copies' fresh memory than in decoding. Null when the
 * columns are not views of one buffer in order with room for that (then they are copied).
 */
function columnsInPlace<D extends keyof typeof CTOR>(cols: Array<{ bytes: Uint8Array; dtype: D }>, own: Uint8Array): Array<InstanceType<(typeof CTOR)[D]>> | null {
  const mem = own.buffer;
  if (!(mem instanceof ArrayBuffer) || cols.some((c) => c.bytes.buffer !== mem)) return null;
  const order = cols.map((_, i) => i).sort((a, b) => cols[a]!.bytes.byteOffset - cols[b]!.bytes.byteOffset);
  const at: number[] = [];
  let free = own.byteOffset; // nothing before the segment's own bytes, nor over a column already placed
  for (const i of order) {
    const { bytes, dtype } = cols[i]!;
    const to = bytes.byteOffset - (bytes.byteOffset % CTOR[dtype].BYTES_PER_ELEMENT);
    if (to < free || bytes.byteOffset + bytes.byteLength > own.byteOffset + own.byteLength) return null;
    at[i] = to;
    free = to + bytes.byteLength;
  }
  // In order of place: a column moved back lands on its own header and on what is left of the
  // column before it, which has already moved.
  const all = new Uint8Array(mem);
  for (const i of order) {
    const b = cols[i]!.bytes;
    if (at[i] !== b.byteOffset) all.copyWithin(at[i]!, b.byteOffset, b.byteOffset + b.byteLength);
  }
  return cols.map(({ bytes, dtype }, i) => {
    const Ctor = CTOR[dtype];
    return new Ctor(mem, at[i]!, bytes.byteLength / Ctor.BYTES_PER_ELEMENT) as InstanceType<(typeof CTOR)[D]>;
  });
}

function copiedColumns<D extends keyof typeof CTOR>(cols: Array<{ bytes: Uint8Array; dtype: D }>): Array<InstanceType<(typeof CTOR)[D]>> {
  const at = (n: number) => Math.ceil(n / 8) * 8;
  const mem = new ArrayBuffer(cols.reduce((n, c) => n + at(c.bytes.byteLength), 0));
  let o = 0;
  return cols.map(({ bytes, dtype }) => {
    new Uint8Array(mem, o, bytes.byteLength).set(bytes);
    const Ctor = CTOR[dtype];
    const a = new Ctor(mem, o, bytes.byteLength / Ctor.BYTES_PER_ELEMENT) as InstanceType<(typeof CTOR)[D]>;
    o += at(bytes.byteLength);
    return a;
  });
}

/** Checks that every index in the columns points inside its table. */
export function checkColumns(c: RecordColumns, what: string): void {
  const nFrames = c.frames.parent.length;
  if (c.frames.loop.length !== nFrames || c.frames.iter.length !== nFrames) throw corrupt(what, 'frame columns differ in length');
  const n = c.name.length;
  if (c.frame.length !== n || c.num.length !== n || c.kind.length !== n) throw corrupt(what, 'record columns differ in length');
  const nLoops = c.loops.length;
  for (let f = 0; f < nFrames; f++) {
    const p = c.frames.parent[f]!;
    // Parents precede children (a frame is made when its loop iteration starts), which also rules out cycles.
    if (p < -1 || p >= f) throw corrupt(what, `frame ${f} has parent ${p}`);
    const l = c.frames.loop[f]!;
    if (l < 0 || l >= nLoops) throw corrupt(what, `frame ${f} names loop ${l} of ${nLoops}`);
    if (c.frames.iter[f]! < 0) throw corrupt(what, `frame ${f} has a negative iteration`);
  }
  const nNames = c.names.length;
  let others = 0;
  for (let r = 0; r < n; r++) {
    const nm = c.name[r]!;
    if (nm < 0 || nm >= nNames) throw corrupt(what, `record ${r} names ${nm} of ${nNames}`);
    const f = c.frame[r]!;
    if (f < -1 || f >= nFrames) throw corrupt(what, `record ${r} is in frame ${f} of ${nFrames}`);
    const k = c.kind[r]!;
    if (k === KIND_OTHER) others++;
    else if (k !== KIND_NUMBER) throw corrupt(what, `record ${r} has kind ${k}`);
  }
  if (others !== c.other.length) throw corrupt(what, `${others} non-numeric records but ${c.other.length} values`);
}

/**
 * Decodes and validates a segment; `what` names it in errors (e.g. `run 01J… segment forward`).
 * `own`: nothing else reads `buf` (a blob just read): its columns are made in it where they lie,
 * and its bytes are changed for that; otherwise `buf` is only read and the columns are copies.
 */
export function decodeSegment(buf: Uint8Array, what: string, own = false): Segment {
  const raw = unpack(buf, what) as Record<string, unknown>;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw corrupt(what, 'not a msgpack map');
  const head = validateSegmentHeader(raw, what) as unknown as {
    run: string; source: SegmentKind; provenance: Provenance | null; names: string[]; loops: string[];
    frames: Record<string, unknown>; other: unknown[];
  };
  // Checked in this order, so that a segment damaged in several places is reported as before.
  const bytes = [
    columnBytes(raw.kind, 'Uint8Array', what, 'kind'),
    columnBytes(raw.num, 'Float64Array', what, 'num'),
    columnBytes(head.frames.parent, 'Int32Array', what, 'frames.parent'),
    columnBytes(head.frames.loop, 'Int32Array', what, 'frames.loop'),
    columnBytes(head.frames.iter, 'Int32Array', what, 'frames.iter'),
    columnBytes(raw.name, 'Int32Array', what, 'name'),
    columnBytes(raw.frame, 'Int32Array', what, 'frame'),
  ];
  const dtypes = ['Uint8Array', 'Float64Array', 'Int32Array', 'Int32Array', 'Int32Array', 'Int32Array', 'Int32Array'] as const;
  const [kindCol, numCol, parent, loop, iter, name, frame] = columns(bytes.map((b, i) => ({ bytes: b, dtype: dtypes[i]! as keyof typeof CTOR })), own ? buf : null);
  const kind = kindCol as Uint8Array;
  const num = numCol as Float64Array;
  const hurt: string[] = [];
  const { other, memo } = decodeRecordValues(kind, num, head.other, 0, kind.length, (i, why) => hurt.push(`value ${i}: ${why}`));
  const seg: Segment = {
    format: 'flor-segment',
    version: 1,
    run: head.run,
    source: head.source,
    provenance: head.provenance,
    names: head.names,
    loops: head.loops,
    frames: { parent: parent as Int32Array, loop: loop as Int32Array, iter: iter as Int32Array },
    name: name as Int32Array,
    frame: frame as Int32Array,
    num,
    kind,
    other,
    ...(memo ? { memo } : {}),
  };
  noteDamage(seg, hurt);
  checkColumns(seg, what);
  return seg;
}

/** Concatenates record sets whose tables are independent: indices are remapped, tables merged by value. */
export function concatColumns(parts: RecordColumns[]): RecordColumns {
  const names: string[] = [];
  const loops: string[] = [];
  const nameIx = new Map<string, number>();
  const loopIx = new Map<string, number>();
  const intern = (tbl: string[], ix: Map<string, number>, s: string): number => {
    let i = ix.get(s);
    if (i === undefined) {
      i = tbl.length;
      tbl.push(s);
      ix.set(s, i);
    }
    return i;
  };
  let nFrames = 0;
  let n = 0;
  for (const p of parts) {
    nFrames += p.frames.parent.length;
    n += p.name.length;
  }
  const out: RecordColumns = allocColumns(nFrames, n, names, loops);
  let f0 = 0;
  let r0 = 0;
  for (const p of parts) {
    const nameMap = Int32Array.from(p.names, (s) => intern(names, nameIx, s));
    const loopMap = Int32Array.from(p.loops, (s) => intern(loops, loopIx, s));
    const pf = p.frames.parent.length;
    for (let f = 0; f < pf; f++) {
      const par = p.frames.parent[f]!;
      out.frames.parent[f0 + f] = par < 0 ? -1 : par + f0;
      out.frames.loop[f0 + f] = loopMap[p.frames.loop[f]!]!;
      out.frames.iter[f0 + f] = p.frames.iter[f]!;
    }
    const pn = p.name.length;
    for (let r = 0; r < pn; r++) {
      out.name[r0 + r] = nameMap[p.name[r]!]!;
      const fr = p.frame[r]!;
      out.frame[r0 + r] = fr < 0 ? -1 : fr + f0;
    }
    out.num.set(p.num, r0);
    out.kind.set(p.kind, r0);
    if (p.memo) for (const [i, t] of p.memo) (out.memo ??= new Map()).set(r0 + i, t);
    for (const v of p.other) out.other.push(v);
    f0 += pf;
    r0 += pn;
  }
  return out;
}
