/**
 * A standard msgpack encoder for plain data, for the journal frames a run writes (journal.ts), so
 * a recorded script never loads msgpackr: requiring it costs a run's start ~12 ms and a young-
 * generation collection, more than the rest of the runtime together. Readers (the capturer, the
 * CLI) still decode with msgpackr. It writes the bytes msgpackr's packer writes with pack.ts's
 * options (a test compares them) for what journal frames hold once their values are encoded
 * (pack.ts encodeValue): null and undefined (nil), booleans, numbers, strings, byte arrays (bin),
 * arrays, and objects as maps of their own enumerable properties. Anything else (a bigint, a typed
 * array other than bytes) was to be encoded first (pack.ts) and throws.
 */

class Writer {
  buf = Buffer.allocUnsafe(1024);
  pos = 0;

  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  /** A header byte, then `n` as an unsigned big-endian integer of `size` bytes. */
  head(b: number, n: number, size: 1 | 2 | 4): void {
    this.room(1 + size);
    this.buf[this.pos++] = b;
    if (size === 1) this.buf[this.pos] = n;
    else if (size === 2) this.buf.writeUInt16BE(n, this.pos);
    else this.buf.writeUInt32BE(n, this.pos);
    this.pos += size;
  }

  /** A length-prefixed container or payload: the short form `fix | n` below `fixMax`, else the 8-, 16- or 32-bit form. */
  sized(n: number, fix: number, fixMax: number, h8: number, h16: number, h32: number): void {
    if (n < fixMax) this.byte(fix | n);
    else if (h8 && n < 0x100) this.head(h8, n, 1);
    else if (n < 0x10000) this.head(h16, n, 2);
    else this.head(h32, n, 4);
  }

  number(v: number): void {
    if (v >>> 0 === v) {
      if (v < 0x80) this.byte(v);
      else if (v < 0x100) this.head(0xcc, v, 1);
      else if (v < 0x10000) this.head(0xcd, v, 2);
      else this.head(0xce, v, 4);
    } else if (v >> 0 === v) {
      this.room(5);
      if (v >= -0x20) this.buf[this.pos++] = 0x100 + v;
      else if (v >= -0x80) (this.buf[this.pos++] = 0xd0), (this.buf[this.pos++] = v + 0x100);
      else if (v >= -0x8000) (this.buf[this.pos++] = 0xd1), (this.pos = this.buf.writeInt16BE(v, this.pos));
      else (this.buf[this.pos++] = 0xd2), (this.pos = this.buf.writeInt32BE(v, this.pos));
    } else {
      this.room(9);
      this.buf[this.pos++] = 0xcb;
      this.pos = this.buf.writeDoubleBE(v, this.pos);
    }
  }

  string(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.sized(n, 0xa0, 0x20, 0xd9, 0xda, 0xdb);
    this.room(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  value(v: unknown): void {
    if (v === null || v === undefined) {
      this.byte(0xc0);
      return;
    }
    switch (typeof v) {
      case 'boolean':
        this.byte(v ? 0xc3 : 0xc2);
        return;
      case 'number':
        this.number(v);
        return;
      case 'string':
        this.string(v);
        return;
    }
    if (v instanceof Uint8Array) {
      this.sized(v.byteLength, 0, 0, 0xc4, 0xc5, 0xc6);
      this.room(v.byteLength);
      this.buf.set(v, this.pos);
      this.pos += v.byteLength;
      return;
    }
    if (Array.isArray(v)) {
      this.sized(v.length, 0x90, 0x10, 0, 0xdc, 0xdd);
      for (const x of v) this.value(x);
      return;
    }
    if (typeof v === 'object' && !ArrayBuffer.isView(v)) {
      const keys = Object.keys(v);
      this.sized(keys.length, 0x80, 0x10, 0, 0xde, 0xdf);
      for (const k of keys) {
        this.string(k);
        this.value((v as Record<string, unknown>)[k]);
      }
      return;
    }
    throw new TypeError(`msgpack-write: cannot encode ${Object.prototype.toString.call(v)}`);
  }
}

/** `v` as standard msgpack. */
export function packPlain(v: unknown): Buffer {
  const w = new Writer();
  w.value(v);
  return w.buf.subarray(0, w.pos);
}
