/**
 * Typed arrays carved out of large shared buffers. A typed array of its own gets a backing store
 * of its own, which cost about 80 µs for a 20 KB one here (measured: 4,000 of them 320 ms, as
 * views on one buffer 4 ms); a pivot of 200 runs made about 20 per run and spent more time
 * allocating than computing.
 */
/** The first buffer's size. */
const FIRST = 1 << 14;

export class Arena {
  private buf = new ArrayBuffer(0);
  private at = 0;
  /** Bytes handed out since the last reset, over every buffer. */
  private taken = 0;
  /** The buffer held arrays before a reset: a new array on it is zeroed first. */
  private reused = false;
  /**
   * The size of the next buffer: small at first, doubled up to `chunk` with each one. A pivot of
   * a few values made a 1 MB buffer of zeroes per arena all the same, which was most of the time
   * of thousands of small pivots (a test's: 8 of its 9 s of CPU).
   */
  private next = FIRST;

  constructor(private chunk: number = 1 << 22) {}

  private take(bytes: number): number {
    const need = Math.ceil(bytes / 8) * 8;
    this.taken += need;
    if (this.at + need > this.buf.byteLength) {
      this.buf = new ArrayBuffer(Math.max(this.next, need));
      this.next = Math.max(this.next, Math.min(this.chunk, this.next * 2));
      this.at = 0;
      this.reused = false;
    }
    const at = this.at;
    this.at += need;
    return at;
  }

  i32(n: number): Int32Array {
    return this.make(Int32Array, n);
  }

  u8(n: number): Uint8Array {
    return this.make(Uint8Array, n);
  }

  f64(n: number): Float64Array {
    return this.make(Float64Array, n);
  }

  private make<T extends Int32Array | Uint8Array | Float64Array>(Ctor: { new (b: ArrayBuffer, at: number, n: number): T; BYTES_PER_ELEMENT: number }, n: number): T {
    const at = this.take(n * Ctor.BYTES_PER_ELEMENT); // first: it may replace the buffer
    const a = new Ctor(this.buf, at, n);
    if (this.reused) a.fill(0);
    return a;
  }

  /**
   * Forgets every array made so far, which must no longer be used: their memory serves the next
   * ones (temporaries of one call). The next round gets one buffer as large as this one needed.
   */
  reset(): void {
    if (this.taken > this.buf.byteLength) {
      this.next = Math.max(this.next, this.taken);
      this.buf = new ArrayBuffer(0);
    }
    this.at = 0;
    this.taken = 0;
    this.reused = true;
  }
}
