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
  const x = m * POW10[digits - Math.floor(Math.log10(m))]!;
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
