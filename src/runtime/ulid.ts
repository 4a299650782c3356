/**
 * ULIDs for run ids: 48-bit millisecond time + 80 random bits, Crockford base32, 26 chars.
 * Sorting ids sorts runs by start time; 80 random bits make ids from concurrent processes collide
 * with negligible probability. Within one process, ids in the same millisecond are made monotonic
 * by incrementing the random part.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { nodeCrypto } from '../store/builtins.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

let lastTime = -1;
let lastRandom: number[] = [];

/**
 * 16 random bytes from the kernel: read from /dev/urandom where there is one, which spares a run's
 * start loading node:crypto (several ms) for them; node:crypto elsewhere.
 */
function random16(): Uint8Array {
  const b = new Uint8Array(16);
  if (process.platform !== 'win32') {
    try {
      const fd = openSync('/dev/urandom', 'r');
      try {
        if (readSync(fd, b, 0, 16, null) === 16) return b;
      } finally {
        closeSync(fd);
      }
    } catch {
      // no /dev/urandom (a sandbox): node:crypto below
    }
  }
  return nodeCrypto().randomBytes(16);
}

function randomDigits(): number[] {
  const b = random16();
  const out: number[] = [];
  for (let i = 0; i < 16; i++) out.push(b[i]! & 31);
  return out;
}

function increment(d: number[]): number[] {
  const out = d.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 31) {
      out[i]!++;
      return out;
    }
    out[i] = 0;
  }
  return randomDigits(); // 2^80 ids in one millisecond cannot happen; wrap to fresh randomness
}

export function ulid(now: number = Date.now()): string {
  let digits: number[];
  if (now === lastTime) digits = increment(lastRandom);
  else {
    digits = randomDigits();
    lastTime = now;
  }
  lastRandom = digits;
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  return time + digits.map((x) => ALPHABET[x]).join('');
}

export function ulidTime(id: string): number {
  let t = 0;
  for (let i = 0; i < 10; i++) t = t * 32 + ALPHABET.indexOf(id[i]!.toUpperCase());
  return t;
}
