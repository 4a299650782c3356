/**
 * A standard msgpack decoder for small buffers (pack.ts unpack), so a CLI command that reads a few
 * small segments and run records (`git flor runs`, `show`, `log` over the derived cache) does not
 * load msgpackr: requiring it costs ~10 ms, more than decoding hundreds of kilobytes here. It gives
 * what msgpackr's unpacker gives with pack.ts's options (a test compares them, on random bytes
 * too): maps as plain objects (keys as strings, `__proto__` as `__proto_`), bin as a view of the
 * input, 64-bit integers as numbers, strings decoded as TextDecoder does (U+FFFD for bad UTF-8).
 * Extension types are never reached: unpack() refuses them first (format.md: standard msgpack).
 */

const utf8 = new TextDecoder();
const keyCache: Array<{ bytes: Uint8Array; text: string } | undefined> = new Array(4096);

function end(): Error {
  return new Error('Unexpected end of MessagePack data');
}

class Reader {
  pos = 0;
  readonly view: DataView;

  constructor(readonly src: Uint8Array) {
    this.view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  }

  /** Moves past `n` bytes and returns where they start; throws when the input has fewer. */
  take(n: number): number {
    const at = this.pos;
    if (n > this.src.length - at) throw end();
    this.pos = at + n;
    return at;
  }

  string(n: number): string {
    const at = this.take(n);
    const s = this.src;
    if (n < 32) {
      let ascii = true;
      for (let i = at; i < at + n; i++) if (s[i]! >= 0x80) ascii = false;
      if (ascii) return String.fromCharCode.apply(null, s.subarray(at, at + n) as unknown as number[]);
    }
    return utf8.decode(s.subarray(at, at + n));
  }

  array(n: number): unknown[] {
    if (n > this.src.length - this.pos) throw end(); // every element takes a byte
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = this.value();
    return out;
  }

  map(n: number): Record<string, unknown> {
    if (n > (this.src.length - this.pos) / 2) throw end();
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      let key = this.key();
      if (key === '__proto__') key = '__proto_';
      out[key] = this.value();
    }
    return out;
  }

  /** A map key as msgpackr makes it a property name: strings as such, numbers, booleans and nil as text. */
  key(): string {
    const t = this.src[this.pos];
    if (t !== undefined && t >= 0xa0 && t < 0xc0) return this.cachedKey(t - 0xa0);
    const k = this.value();
    if (typeof k === 'string') return k;
    if (typeof k === 'number' || typeof k === 'boolean') return k.toString();
    if (k === null) return 'null';
    throw new Error(`Invalid property type for record: ${typeof k}. A MessagePack map with non-string keys can be decoded as a Map with mapsAsObjects: false`);
  }

  /**
   * A short string key, decoded once per process: the same keys repeat in every map of a segment or
   * cache (as msgpackr's key cache does), which saves decoding and allocating each again.
   */
  cachedKey(n: number): string {
    const at = this.take(n + 1) + 1;
    const s = this.src;
    const slot = ((n << 5) ^ (n > 1 ? (s[at]! << 8) | s[at + 1]! : n > 0 ? s[at]! : 0)) & 0xfff;
    const hit = keyCache[slot];
    if (hit && hit.bytes.length === n) {
      let same = true;
      for (let i = 0; i < n; i++) if (hit.bytes[i] !== s[at + i]) (same = false), (i = n);
      if (same) return hit.text;
    }
    this.pos = at;
    const text = this.string(n);
    keyCache[slot] = { bytes: s.slice(at, at + n), text };
    return text;
  }

  value(): unknown {
    const t = this.src[this.take(1)]!;
    if (t < 0x80) return t;
    if (t < 0x90) return this.map(t - 0x80);
    if (t < 0xa0) return this.array(t - 0x90);
    if (t < 0xc0) return this.string(t - 0xa0);
    if (t >= 0xe0) return t - 0x100;
    const v = this.view;
    switch (t) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.bin(this.src[this.take(1)]!);
      case 0xc5:
        return this.bin(v.getUint16(this.take(2)));
      case 0xc6:
        return this.bin(v.getUint32(this.take(4)));
      case 0xca:
        return v.getFloat32(this.take(4));
      case 0xcb:
        return v.getFloat64(this.take(8));
      case 0xcc:
        return this.src[this.take(1)];
      case 0xcd:
        return v.getUint16(this.take(2));
      case 0xce:
        return v.getUint32(this.take(4));
      case 0xcf: {
        const at = this.take(8);
        return v.getUint32(at) * 0x100000000 + v.getUint32(at + 4);
      }
      case 0xd0:
        return v.getInt8(this.take(1));
      case 0xd1:
        return v.getInt16(this.take(2));
      case 0xd2:
        return v.getInt32(this.take(4));
      case 0xd3: {
        const at = this.take(8);
        return v.getInt32(at) * 0x100000000 + v.getUint32(at + 4);
      }
      case 0xd9:
        return this.string(this.src[this.take(1)]!);
      case 0xda:
        return this.string(v.getUint16(this.take(2)));
      case 0xdb:
        return this.string(v.getUint32(this.take(4)));
      case 0xdc:
        return this.array(v.getUint16(this.take(2)));
      case 0xdd:
        return this.array(v.getUint32(this.take(4)));
      case 0xde:
        return this.map(v.getUint16(this.take(2)));
      case 0xdf:
        return this.map(v.getUint32(this.take(4)));
    }
    throw new Error(`Unknown MessagePack token ${t}`); // 0xc1 and the extension types
  }

  bin(n: number): Uint8Array {
    const at = this.take(n);
    return this.src.subarray(at, at + n);
  }
}

/** The one value `buf` holds; throws when it is cut short or followed by more bytes. */
export function unpackPlain(buf: Uint8Array): unknown {
  const r = new Reader(buf);
  const v = r.value();
  if (r.pos !== buf.length) throw new Error('Data read, but end of buffer not reached');
  return v;
}
