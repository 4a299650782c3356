/**
 * The text of a cell: plain (csv, md, json's neighbours) and for a person at a terminal (short
 * numbers, no line breaks, long values cut), and which dictionary entries a table's rows use.
 * Shared by the string formatters (formats.ts) and the byte writer of the terminal table
 * (table-bytes.ts).
 */
import { safeText } from '../terminal-text.js';
import type { Value } from '../store/records.js';
import { toJson } from './json-rows.js';

/** Plain text of a cell for csv/md/table: null is empty, structured values are compact JSON. */
export function text(v: Value): string {
  if (v === null) return '';
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      return String(v);
    case 'boolean':
    case 'bigint':
      return String(v);
  }
  return JSON.stringify(toJson(v));
}

const MAX_WIDTH = 40;

/** A fixed-notation number text without trailing fraction zeros (`0.500000` -> `0.5`, `2.00` -> `2`). */
function stripZeros(t: string): string {
  if (t.indexOf('.') < 0) return t;
  let e = t.length;
  while (t.charCodeAt(e - 1) === 48) e--;
  if (t.charCodeAt(e - 1) === 46) e--;
  return t.slice(0, e);
}

/**
 * humanText of a number: its shortest text when that is at most 10 characters, else rounded to 6
 * significant digits. Never a control character nor past MAX_WIDTH, so no pass for either. In
 * [1e-6, 1e5) both `toPrecision` texts below are in fixed notation, and a number equal to its 6
 * (or 9) digit rounding has that rounding, zeros stripped, as its shortest text: this costs one
 * or two fixed-precision conversions instead of the shortest one and then the rounding (a
 * million-row `log` table spends most of its time here).
 */
export function numberText(v: number): string {
  if (Number.isInteger(v) || !Number.isFinite(v)) return String(v);
  const m = v < 0 ? -v : v;
  if (m < 1e-6 || m >= 1e5) {
    const s = String(v);
    return s.length > 10 ? String(Number(v.toPrecision(6))) : s;
  }
  const p6 = v.toPrecision(6);
  if (maybeShort(m, 6) && +p6 === v) return stripZeros(p6);
  if (maybeShort(m, 9)) {
    const p9 = v.toPrecision(9);
    if (+p9 === v) {
      const s = stripZeros(p9);
      return s.length <= 10 ? s : stripZeros(p6);
    }
  }
  return stripZeros(p6);
}

/**
 * numberText of `v` as a number code (see codeBytes), without making a string, for a number in
 * [1e-6, 1e5) that has at most 6 significant digits (its text is them) or is not short (neither of
 * numberText's maybeShort checks passes: its text is its 6-significant-digit rounding), the
 * fraction's zeros stripped. -1 when numberText must answer (other numbers, a number of 7 to 9
 * digits, and a rounding too near a tie to decide in floating point). A million-row table spent
 * most of its text time in toPrecision and the strings it makes.
 */
export function numberCode(v: number): number {
  ONE[0] = v;
  return numberCodeAt(ONE, 0);
}

const ONE = new Float64Array(1);

/**
 * numberCode of num[i]. The column and index are passed, not the number: a double passed to a
 * function that is not inlined (this one is too large to be) is boxed on the heap first, and a
 * million-row table made 13 MB of garbage doing so.
 */
export function numberCodeAt(num: Float64Array, i: number): number {
  const v = num[i]!;
  const m = v < 0 ? -v : v;
  if (!(m >= 1e-6 && m < 1e5)) return -1;
  // floor(log10(m)) by comparisons, for both short checks and the digits: Math.log10 was most
  // of this function's time.
  let e = m >= 1 ? (m >= 100 ? (m >= 1e4 ? 4 : m >= 1e3 ? 3 : 2) : m >= 10 ? 1 : 0) : m >= 1e-3 ? (m >= 0.1 ? -1 : m >= 0.01 ? -2 : -3) : m >= 1e-4 ? -4 : m >= 1e-5 ? -5 : -6;
  let x = m * POW10[5 - e]!;
  // Below 1, the powers of ten are not exact doubles: e may be one off next to one.
  if (x < 1e5) x = m * POW10[5 - --e]!;
  else if (x >= 1e6) x = m * POW10[5 - ++e]!;
  if (!(x >= 1e5 && x < 1e6) || e < -6 || e > 4) return -1;
  if (Number.isInteger(m) || maybeShortAt(m, 6, e)) {
    // At most 6 significant digits, if m is the double nearest n * 10^(e-5): then its shortest
    // text is those digits. n / 10^(5-e) is that double (both exact, the division rounded once).
    const n = Math.round(x);
    if (n < 1e6 && n / POW10[5 - e]! === m) return codeOf(n | 0, e, v < 0);
  }
  // 7 to 9 digits (m is the double nearest them, as above): numberText decides on their length.
  if (maybeShortAt(m, 9, e) && Math.round(m * POW10[8 - e]!) / POW10[8 - e]! === m) return -1;
  // Not short: the text is the 6-digit rounding.
  // x is within one ulp (~1.2e-10) of m * 10^(5-e): away from a tie, rounding it rounds the exact value.
  const whole = Math.floor(x);
  const frac = x - whole;
  if (Math.abs(frac - 0.5) < 1e-6) return -1;
  const n = frac > 0.5 ? whole + 1 : whole;
  if (n >= 1e6) return -1;
  return codeOf(n | 0, e, v < 0);
}

/**
 * A number's terminal text as one int32 (a column of a million of them is 4 MB where their texts
 * were 11): the 6-digit rounding n (100000..999999, or 0 for "0"), its decimal exponent e
 * (-6..4), the sign, and the text's length once the fraction's trailing zeros are stripped.
 * Bits: length << 25 | (e + 6) << 21 | sign << 20 | n. Always >= 0.
 */
function codeOf(n: number, e: number, negative: boolean): number {
  let len: number;
  if (n === 0) len = 1;
  else {
    // The fraction's trailing zeros are not written: the last digit kept is n's last non-zero one,
    // but never inside the integer part.
    const intDigits = e >= 0 ? e + 1 : 0;
    let last = 5;
    let d = n;
    while (last >= intDigits && d % 10 === 0) {
      d = (d / 10) | 0;
      last--;
    }
    len = e >= 0 ? intDigits + (last >= intDigits ? 1 + last - e : 0) : 2 - e + last;
  }
  return (len + (negative ? 1 : 0)) * 2 ** 25 + (e + 6) * 2 ** 21 + (negative ? 2 ** 20 : 0) + n;
}

/** The length of a number code's text. */
export function codeLength(code: number): number {
  return code >>> 25;
}

/** Writes the text of a number code (numberCode, textCode) at out[o...]; returns the end (at most 14 bytes). */
export function codeBytes(code: number, out: Uint8Array, o: number): number {
  const end = o + (code >>> 25);
  const n = code & 0xfffff;
  if ((code >>> 20) & 1) out[o++] = 45; // -
  if (n === 0) {
    out[o] = 48;
    return end;
  }
  const e = ((code >>> 21) & 15) - 6;
  // The 6 digits, by integer arithmetic (n < 1e6), not floating-point remainder and division.
  const digits = DIGITS;
  let d = n;
  for (let j = 5; j >= 0; j--) {
    const q = (d / 10) | 0;
    digits[j] = 48 + d - q * 10;
    d = q;
  }
  let j = 0;
  if (e >= 0) {
    for (; j <= e; j++) out[o++] = digits[j]!;
    if (o < end) out[o++] = 46; // .
  } else {
    out[o++] = 48; // 0
    out[o++] = 46; // .
    for (let z = -1; z > e; z--) out[o++] = 48;
  }
  while (o < end) out[o++] = digits[j++]!;
  return end;
}

/**
 * The number code whose text is `s` (numberText of some number), or -1 when no code writes it:
 * short decimals and whole numbers below 1e5, which numberCode leaves to numberText, then join the
 * column's codes instead of a text each.
 */
export function textCode(s: string): number {
  const negative = s.charCodeAt(0) === 45;
  const dot = s.indexOf('.');
  const intEnd = dot < 0 ? s.length : dot;
  const start = negative ? 1 : 0;
  if (s.length - start > 13 || intEnd === start) return -1;
  let n = 0;
  let digits = 0;
  let e: number;
  let i = start;
  if (s.charCodeAt(i) === 48 && intEnd === i + 1) {
    // 0.000ddd or 0
    if (dot < 0) return negative ? -1 : codeOf(0, 0, false);
    i = dot + 1;
    e = -1;
    while (i < s.length && s.charCodeAt(i) === 48) {
      i++;
      e--;
    }
  } else e = intEnd - start - 1;
  for (; i < s.length; i++) {
    if (i === dot) continue;
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9 || ++digits > 6) return -1;
    n = n * 10 + c;
  }
  if (digits === 0 || e < -6 || e > 4) return -1;
  for (; digits < 6; digits++) n *= 10;
  if (n < 100000) return -1; // a leading zero
  const code = codeOf(n, e, negative);
  // Whatever the parse missed (a leading zero, a trailing dot or zero, an exponent), the bytes say.
  const end = codeBytes(code, CHECK, 0);
  if (end !== s.length) return -1;
  for (let k = 0; k < end; k++) if (CHECK[k] !== s.charCodeAt(k)) return -1;
  return code;
}

const CHECK = new Uint8Array(16);

/** numberText of `v` written as ASCII at pool[o...] for numberCode's case; the end, else -1. */
export function numberBytes(v: number, pool: Uint8Array, o: number): number {
  const code = numberCode(v);
  return code < 0 ? -1 : codeBytes(code, pool, o);
}

const DIGITS = new Uint8Array(6);

/** 10^k, exact for k = 0..22. */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/**
 * False when m (in [1e-6, 1e5)) is certainly not a number of `digits` significant digits, so its
 * text of that precision cannot read back as m; most logged floats are not, and this spares a
 * conversion and a parse. If m is the double nearest such a number, m times 10^(digits - the
 * exponent log10 gives) makes that number whole (log10 may be one off, so the power is one or two
 * more than needed, and the product below 1e11) and lies within 1e-4 of a whole number: the
 * rounding errors of m and of the product are below that.
 */
function maybeShort(m: number, digits: number): boolean {
  return maybeShortAt(m, digits, Math.floor(Math.log10(m)));
}

/** maybeShort with `e`, floor(log10(m)) as Math.log10 gives it, already known. */
function maybeShortAt(m: number, digits: number, e: number): boolean {
  const x = m * POW10[digits - e]!;
  return !(Math.abs(x - Math.round(x)) > 1e-3);
}

/** For a person at a terminal: short numbers, no line breaks, long values cut. */
export function humanText(v: Value): string {
  if (typeof v === 'number') return numberText(v);
  let s: string;
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && !x.includes(','))) {
    s = v.join(','); // lists of names (the `replayed` column) read better bare
  } else s = text(v);
  s = safeText(s.replace(/[\r\n\t]+/g, ' '));
  return s.length > MAX_WIDTH ? s.slice(0, MAX_WIDTH - 1) + '…' : s;
}

/** Which dictionary entries some row uses (a filtered table keeps its whole dictionary). */
export function usedEntries(col: { dict: Value[]; index: Int32Array }, n: number): Uint8Array {
  // Key columns share one index (run, version, time, file): a million rows are scanned once.
  const seen = usedByIndex.get(col.index);
  if (seen && seen.n === n && seen.used.length === col.dict.length) return seen.used;
  const used = new Uint8Array(col.dict.length);
  for (let i = 0; i < n; i++) used[col.index[i]!] = 1;
  usedByIndex.set(col.index, { n, used });
  return used;
}

const usedByIndex = new WeakMap<Int32Array, { n: number; used: Uint8Array }>();

export function cutTo(s: string, w: number): string {
  return s.length > w ? s.slice(0, w - 1) + '…' : s;
}
