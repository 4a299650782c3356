/**
 * msgpack encoding shared by log segments and journals. Everything written is *standard*
 * msgpack (maps, arrays, str, bin, float64, int) so any decoder in another language reads it:
 * msgpackr's own extensions (records, typed-array ext types) are switched off, and typed arrays
 * are written as `{ dtype, data: bin }` (little-endian bytes). User values keep their types through
 * tagged maps (`{ "$flor": "<tag>", ... }`); docs/format.md lists the tags.
 */
import { createRequire } from 'node:module';
import type { Packr, Unpackr } from 'msgpackr';
import { FlorError } from '../errors.js';
import type { TypedArray, Value } from './records.js';
import { unpackPlain } from './msgpack-read.js';

const UNPACK_OPTIONS = { useRecords: false, mapsAsObjects: true, int64AsType: 'number' } as const;
let codec: { packr: Packr; unpackr: Unpackr } | null = null;
let nativeUnpackr: Unpackr | null = null;
/**
 * Until msgpackr is loaded, buffers below PLAIN_MAX_BYTES are decoded by msgpack-read.ts, while
 * their total stays within PLAIN_BUDGET: loading msgpackr costs ~10 ms, and its decoder is a few
 * times faster, so a process with more to decode loads it.
 */
const PLAIN_MAX_BYTES = 64 * 1024;
const PLAIN_BUDGET = 256 * 1024;
let plainBytes = 0;
/** From this size on, decoding goes through msgpackr's native string extractor (about 2x on text-heavy data). */
const NATIVE_MIN_BYTES = 256 * 1024;

/**
 * msgpackr, loaded at first use, synchronously, as its one-file CommonJS build without `eval`
 * (used only for msgpackr's records, which are off) or the native string extractor. Its ES module
 * entry costs more to load than the rest of the runtime together, and every script that imports
 * git-flor would pay that before its first statement.
 */
function msgpack(): { packr: Packr; unpackr: Unpackr } {
  if (codec) return codec;
  const m = createRequire(import.meta.url)('msgpackr/index-no-eval') as typeof import('msgpackr');
  codec = {
    packr: new m.Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true, variableMapSize: true }),
    unpackr: new m.Unpackr(UNPACK_OPTIONS),
  };
  return codec;
}

/** The decoder for `bytes`: large buffers pay for loading the native extractor once, small ones never. */
function unpackrFor(bytes: number): Unpackr {
  if (bytes < NATIVE_MIN_BYTES) return msgpack().unpackr;
  if (!nativeUnpackr) {
    const m = createRequire(import.meta.url)('msgpackr') as typeof import('msgpackr');
    nativeUnpackr = new m.Unpackr(UNPACK_OPTIONS);
  }
  return nativeUnpackr;
}

const CTORS = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
} as const;
export type DType = keyof typeof CTORS;

export interface PackedTyped {
  dtype: DType;
  data: Uint8Array;
}

function bytesOf(a: TypedArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The base typed-array class: a Node Buffer (or any subclass) is stored as what it is underneath. */
function dtypeOf(a: TypedArray): DType {
  for (const name of Object.keys(CTORS) as DType[]) if (a instanceof CTORS[name]) return name;
  return a.constructor.name as DType;
}

/** A column: typed array -> { dtype, data }. */
export function packTyped(a: TypedArray): PackedTyped {
  return { dtype: dtypeOf(a), data: bytesOf(a) };
}

/** { dtype, data } -> a typed array on its own, aligned buffer. */
export function unpackTyped(p: unknown, expect?: DType): TypedArray {
  const o = p as PackedTyped | null;
  if (!o || typeof o !== 'object' || !(o.data instanceof Uint8Array) || !(o.dtype in CTORS)) {
    throw new FlorError('CORRUPT_DATA', 'malformed typed column', { hint: 'run `git flor doctor`' });
  }
  if (expect && o.dtype !== expect) throw new FlorError('CORRUPT_DATA', `column has dtype ${o.dtype}, expected ${expect}`);
  const Ctor = CTORS[o.dtype];
  if (o.data.byteLength % Ctor.BYTES_PER_ELEMENT !== 0) throw new FlorError('CORRUPT_DATA', `column of ${o.dtype} has a partial element`);
  const copy = new Uint8Array(o.data.byteLength);
  copy.set(o.data);
  return new Ctor(copy.buffer, 0, o.data.byteLength / Ctor.BYTES_PER_ELEMENT);
}

const TAG = '$flor';

/**
 * A value flor.log could not read (an invalid Date, a getter or Proxy trap that throws): recorded as
 * this marked error instead of breaking the user's program. Stored as the `unstorable` tag; read
 * back as `{ "$flor": "unstorable", error }`, which no logged object can be (their `$flor` keys are
 * escaped).
 */
export class Unstorable {
  constructor(readonly error: string) {}
}

function isTyped(v: unknown): v is TypedArray {
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

/**
 * One flor.memo result as the runtime records it (runtime/memo.ts): the value (Date, Map, Set kept
 * as such, written with their tags), or the error the function threw; how the call is told apart
 * from the others of its name in the iteration (`key`, `occ`); whether it returned a Promise; and
 * whether a replay made the call live. Stored as the `memo` tag (docs/format.md §5.3).
 */
export class MemoRecord {
  constructor(
    readonly value: unknown,
    readonly error: { name: string; message: string } | null,
    readonly key: string | number | null,
    readonly occ: number,
    readonly async: boolean,
    readonly live: boolean,
  ) {}
}

/** The encoded `memo` tag map, as a segment or journal holds it. */
export type MemoTag = { [TAG]: 'memo' } & Record<string, unknown>;

export function isMemoTag(v: unknown): v is MemoTag {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && (v as Record<string, unknown>)[TAG] === 'memo';
}

function encodeMemo(m: MemoRecord): MemoTag {
  const out: MemoTag = { [TAG]: 'memo', occ: m.occ };
  if (m.key !== null) out.key = m.key;
  if (m.async) out.async = true;
  if (m.live) out.live = true;
  if (m.error) out.error = { name: m.error.name, message: m.error.message };
  else if (m.value !== undefined) out.v = encodeValue(m.value, true);
  return out;
}

/**
 * A typed tag's bytes as the byte class its `as` names (`Buffer`, `ArrayBuffer`, `DataView`: what a
 * memoised value was), or as a typed array of its dtype when it names none.
 */
function exactBytes(o: Record<string, unknown>): unknown {
  const a = unpackTyped({ dtype: o.dtype, data: o.data });
  switch (o.as) {
    case 'Buffer':
      return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    case 'ArrayBuffer':
      return a.buffer;
    case 'DataView':
      return new DataView(a.buffer);
  }
  return a;
}

/**
 * A memo tag as flor.memo gives it back in a replay: Dates, Maps and Sets as such (decodeValue, for
 * readers, gives their text, a plain object and an array, as for logged values).
 */
export function decodeExact(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(decodeExact);
  const o = v as Record<string, unknown>;
  switch (o[TAG]) {
    case 'negzero':
      return -0;
    case 'typed':
      return tagDamage('typed', o) === null ? exactBytes(o) : decodeValue(v);
    case 'date':
      return new Date(o.v as string);
    case 'map':
      return new Map((o.v as unknown[][]).map(([k, x]) => [decodeExact(k), decodeExact(x)]));
    case 'set':
      return new Set((o.v as unknown[]).map(decodeExact));
    case 'escaped': {
      const inner = o.v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(inner)) out[k] = decodeExact(inner[k]);
      return out;
    }
    case undefined: {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(o)) out[k] = decodeExact(o[k]);
      return out;
    }
    default:
      return decodeValue(v);
  }
}

/**
 * A user value -> something plain msgpack carries without loss of type. `exact` (a flor.memo result,
 * handed back to the program on replay) also keeps what readers need not see: a `-0` anywhere
 * (msgpack writes it as the integer 0), and which byte class a value was (`as` on the typed tag).
 */
export function encodeValue(v: unknown, exact = false): unknown {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'number':
      return exact && Object.is(v, -0) ? { [TAG]: 'negzero' } : v;
    case 'string':
    case 'boolean':
      return v;
    case 'bigint':
      return { [TAG]: 'bigint', v: v.toString() };
    case 'function':
    case 'symbol':
      return { [TAG]: 'unsupported', v: String(v) };
  }
  if (isTyped(v)) {
    const out: Record<string, unknown> = { [TAG]: 'typed', dtype: dtypeOf(v), data: bytesOf(v) };
    if (exact && Buffer.isBuffer(v)) out.as = 'Buffer';
    return out;
  }
  if (exact && (v instanceof ArrayBuffer || v instanceof DataView)) {
    const bytes = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    return { [TAG]: 'typed', dtype: 'Uint8Array', data: bytes, as: v instanceof ArrayBuffer ? 'ArrayBuffer' : 'DataView' };
  }
  if (Array.isArray(v)) return v.map((x) => encodeValue(x, exact));
  if (v instanceof Unstorable) return { [TAG]: 'unstorable', v: v.error };
  if (v instanceof MemoRecord) return encodeMemo(v);
  if (v instanceof Date) return { [TAG]: 'date', v: v.toISOString() };
  if (v instanceof Map) return { [TAG]: 'map', v: [...v].map(([k, x]) => [encodeValue(k, exact), encodeValue(x, exact)]) };
  if (v instanceof Set) return { [TAG]: 'set', v: [...v].map((x) => encodeValue(x, exact)) };
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v as object)) out[k] = encodeValue((v as Record<string, unknown>)[k], exact);
  if (TAG in out) return { [TAG]: 'escaped', v: out }; // a user object that happens to use our tag key
  return out;
}

const damaged = new WeakMap<object, string[]>();

/**
 * The damaged values found while decoding `obj` (a run's metadata, a segment), as `where: why`
 * lines; empty when every value was sound. Kept beside the object so the types stay as they are.
 */
export function damageOf(obj: object): readonly string[] {
  return damaged.get(obj) ?? [];
}

export function noteDamage(obj: object, lines: string[]): void {
  if (lines.length) damaged.set(obj, lines);
}

/** Told about each tagged value that does not have its tag's shape (`why` says what is wrong). */
export type OnDamage = (why: string) => void;

/** What a damaged tagged value reads back as: the value is lost, the reason is shown in its place. */
export function damagedText(why: string): string {
  return `[damaged value: ${why}]`;
}

function isPlainMap(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
}

/** A tagged value's shape, checked: the reason it is damaged, or null when it is sound. */
function tagDamage(tag: string, o: Record<string, unknown>): string | null {
  switch (tag) {
    case 'bigint':
      return typeof o.v === 'string' && /^-?[0-9]+$/.test(o.v) ? null : `bigint with v ${short(o.v)} (not a decimal integer)`;
    case 'typed': {
      const Ctor = typeof o.dtype === 'string' && Object.hasOwn(CTORS, o.dtype) ? CTORS[o.dtype as DType] : null;
      if (!Ctor) return `typed array of unknown dtype ${short(o.dtype)}`;
      if (!(o.data instanceof Uint8Array)) return `typed array ${o.dtype} without bin data`;
      return o.data.byteLength % Ctor.BYTES_PER_ELEMENT ? `typed array ${o.dtype} with a partial element` : null;
    }
    case 'date':
    case 'unsupported':
      return typeof o.v === 'string' ? null : `${tag} with v ${short(o.v)} (not a string)`;
    case 'map':
      return Array.isArray(o.v) && o.v.every((e) => Array.isArray(e) && e.length === 2) ? null : `map with v ${short(o.v)} (not a list of [key, value] pairs)`;
    case 'set':
      return Array.isArray(o.v) ? null : `set with v ${short(o.v)} (not a list)`;
    case 'escaped':
      return isPlainMap(o.v) ? null : `escaped with v ${short(o.v)} (not a map)`;
  }
  return null;
}

function short(x: unknown): string {
  let s: string;
  try {
    s = x instanceof Uint8Array ? `<${x.byteLength} bytes>` : JSON.stringify(x) ?? String(x);
  } catch {
    s = String(x);
  }
  return s.length > 40 ? s.slice(0, 37) + '...' : s;
}

/**
 * Inverse of encodeValue. Values may come from another clone's ledger: a tagged map that does not
 * have its tag's shape reads back as damagedText(why), reported through `onDamage`, so one crafted
 * value never makes the rest of a run unreadable.
 */
export function decodeValue(v: unknown, onDamage?: OnDamage): Value {
  if (v === null || typeof v !== 'object') return v as Value;
  if (v instanceof Uint8Array) return new Uint8Array(v) as Value;
  if (Array.isArray(v)) return v.map((x) => decodeValue(x, onDamage));
  const o = v as Record<string, unknown>;
  const tag = o[TAG];
  if (typeof tag === 'string') {
    const why = tagDamage(tag, o);
    if (why) {
      onDamage?.(why);
      return damagedText(why);
    }
    switch (tag) {
      case 'negzero':
        return -0;
      case 'bigint':
        return BigInt(o.v as string);
      case 'typed':
        return unpackTyped({ dtype: o.dtype, data: o.data });
      case 'date':
        return o.v as string; // Dates are logged as their ISO text: a stable, comparable value
      case 'map':
        return Object.fromEntries((o.v as unknown[][]).map(([k, x]) => [String(decodeValue(k, onDamage)), decodeValue(x, onDamage)]));
      case 'set':
        return (o.v as unknown[]).map((x) => decodeValue(x, onDamage));
      case 'unsupported':
        return o.v as string;
      case 'unstorable':
        return { [TAG]: 'unstorable', error: String(o.v) };
      case 'memo': {
        // Readers see a memoised value as a logged one; a call that threw as its error.
        const err = o.error as { name?: unknown; message?: unknown } | undefined;
        if (err && typeof err === 'object') return { [TAG]: 'thrown', name: String(err.name), message: String(err.message) };
        return o.v === undefined ? null : decodeValue(o.v);
      }
      case 'escaped': {
        const inner = o.v as Record<string, unknown>;
        const out: Record<string, Value> = {};
        for (const k of Object.keys(inner)) out[k] = decodeValue(inner[k], onDamage);
        return out;
      }
    }
  }
  const out: Record<string, Value> = {};
  for (const k of Object.keys(o)) out[k] = decodeValue(o[k], onDamage);
  return out;
}

export function pack(obj: unknown): Buffer {
  return msgpack().packr.pack(obj);
}

/**
 * Where `buf` leaves standard msgpack (format.md: no extension types, never 0xc1), or null. msgpackr
 * would otherwise turn extension bytes from another clone into Dates, Sets, RegExps, Errors or
 * structured-clone references. One pass over the headers: str and bin payloads are skipped whole.
 */
export function nonStandardAt(buf: Uint8Array): string | null {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let i = 0;
  let items = 1; // values still to read at the current point
  const need = (n: number): boolean => i + n <= buf.length;
  while (items > 0) {
    if (!need(1)) return null; // truncated: msgpackr reports it
    const b = buf[i]!;
    items--;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) i += 1;
    else if (b >= 0x80 && b <= 0x8f) (i += 1), (items += 2 * (b & 0x0f));
    else if (b >= 0x90 && b <= 0x9f) (i += 1), (items += b & 0x0f);
    else if (b >= 0xa0 && b <= 0xbf) i += 1 + (b & 0x1f);
    else {
      switch (b) {
        case 0xc4: case 0xd9: if (!need(2)) return null; i += 2 + dv.getUint8(i + 1); break;
        case 0xc5: case 0xda: if (!need(3)) return null; i += 3 + dv.getUint16(i + 1); break;
        case 0xc6: case 0xdb: if (!need(5)) return null; i += 5 + dv.getUint32(i + 1); break;
        case 0xcc: case 0xd0: i += 2; break;
        case 0xcd: case 0xd1: i += 3; break;
        case 0xca: case 0xce: case 0xd2: i += 5; break;
        case 0xcb: case 0xcf: case 0xd3: i += 9; break;
        case 0xdc: if (!need(3)) return null; items += dv.getUint16(i + 1); i += 3; break;
        case 0xdd: if (!need(5)) return null; items += dv.getUint32(i + 1); i += 5; break;
        case 0xde: if (!need(3)) return null; items += 2 * dv.getUint16(i + 1); i += 3; break;
        case 0xdf: if (!need(5)) return null; items += 2 * dv.getUint32(i + 1); i += 5; break;
        case 0xc1: return `byte 0x${b.toString(16)} (never used in msgpack) at offset ${i}`;
        default: return `msgpack extension type (0x${b.toString(16)}) at offset ${i}`; // 0xc7-0xc9, 0xd4-0xd8
      }
    }
  }
  return null;
}

export function unpack(buf: Uint8Array, what = 'data'): unknown {
  const ext = nonStandardAt(buf);
  if (ext) throw new FlorError('CORRUPT_DATA', `cannot decode ${what}: ${ext}; flor data is standard msgpack without extensions`, { hint: 'run `git flor doctor`' });
  try {
    // The common commands over a small history then never load msgpackr.
    if (!codec && buf.byteLength < PLAIN_MAX_BYTES && (plainBytes += buf.byteLength) <= PLAIN_BUDGET) return unpackPlain(buf);
    return unpackrFor(buf.byteLength).unpack(buf);
  } catch (e) {
    throw new FlorError('CORRUPT_DATA', `cannot decode ${what}: ${(e as Error).message}`, { hint: 'run `git flor doctor`', cause: e });
  }
}
