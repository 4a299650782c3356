/**
 * CRC-32 (zlib's polynomial) of the derived cache's packs and files: each entry, index and cached
 * file carries one, and every read checks it (cache-pack.ts, derived-cache.ts). Most checks are of
 * a few KB in a short-lived CLI process, so how the CRC is reached matters more than its speed.
 */
import { legacyBinding, nodeZlib } from './builtins.js';

const CRC_TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c;
}

/**
 * Past this many bytes checked by this loop in a process, zlib's CRC-32 (~50x faster) is worth
 * loading zlib for; below, this loop is quicker than the load, which brings the streams with it.
 * Counted over the process, not per buffer: `git flor runs` over 35 runs checks a 37 KB listing
 * and ~70 entries of a few hundred bytes, and a first process checking 37 KB took 1.1 ms here
 * against 3.5-3.9 ms for loading zlib and checking it (in-process timer, 5 runs each); at 256 KB
 * 5 ms against 4.5 ms. A 32 KB limit per buffer loaded zlib for every command once a repository
 * had ~31 runs (its listing's size).
 */
const NATIVE_CRC_BYTES = 128 * 1024;
/** Bytes this loop checked in this process (see NATIVE_CRC_BYTES). */
let loopBytes = 0;
/**
 * Once zlib is loaded, its CRC-32 for all but the smallest buffers: a cold query's cache entries
 * are a segment's columns, most under 32 KiB, and this loop over them took ~50 ms of a 1.1 s cold
 * `log` (200 runs x 5,000 records; zlib does 60 MB in 11 ms here).
 */
const NATIVE_CRC_LOADED_BYTES = 256;
let nativeCrc: ((b: Uint8Array, crc: number) => number) | undefined;

/**
 * The loop's stretch per call. A short-lived process runs the loop cold, and one loop over a whole
 * buffer is optimised on the stack (OSR) while it runs: `git flor runs` spent 4-6 ms checking its
 * 20 KB cache listing so (timed in the process). In calls of 512 bytes, with the table and the
 * length in locals, a fresh process checked 24 KB in 12.5M instructions instead of 41M (callgrind;
 * the interpreter alone, --no-opt, 11M) and with ~120 page faults fewer; zlib's took 8M but loads
 * the streams for a CLI command that does not have them (~285 page faults more in `git flor runs`).
 */
const CRC_STRETCH = 512;

function crcStretch(b: Uint8Array, i: number, end: number, c: number): number {
  const table = CRC_TABLE;
  for (; i < end; i++) c = table[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return c;
}

/**
 * zlib's CRC-32 as its binding has it (Node 20.15 and later), where process.binding gives it
 * (store/builtins.ts legacyBinding): native, and it loads no module, where node:zlib brings the
 * streams. The loop below stays for a Node without it: every command checks its cache listing
 * (~20 KB at 20 runs) and each pack entry it reads, cold, in the interpreter: `git flor log loss`
 * on 20 runs spent ~12M instructions of callgrind's count in the loop.
 */
let bindingCrc: ((b: Uint8Array, crc: number) => number) | null | undefined;

function zlibBindingCrc(): ((b: Uint8Array, crc: number) => number) | null {
  if (bindingCrc === undefined) {
    const f = legacyBinding('zlib')?.crc32;
    bindingCrc = typeof f === 'function' ? (b, crc) => (f as (b: Uint8Array, crc: number) => number)(b, crc >>> 0) : null;
  }
  return bindingCrc;
}

/** CRC-32 (zlib's) of `b`, continuing from `crc`. */
export function crc32(b: Uint8Array, crc = 0): number {
  const native = zlibBindingCrc();
  if (native) return native(b, crc);
  const n = b.length;
  if (!nativeCrc && n >= NATIVE_CRC_LOADED_BYTES && (loopBytes += n) > NATIVE_CRC_BYTES) nativeCrc = nodeZlib().crc32;
  if (nativeCrc && n >= NATIVE_CRC_LOADED_BYTES) return nativeCrc(b, crc);
  let c = ~crc;
  for (let i = 0; i < n; i += CRC_STRETCH) c = crcStretch(b, i, Math.min(n, i + CRC_STRETCH), c);
  return ~c >>> 0;
}
