/**
 * Output formats: a map of formatter functions over the same Table (adding a format is adding a
 * function). Formatters yield chunks rather than one string, so a million-row result streams to
 * stdout without building a 100 MB string.
 */
import { FlorError } from '../errors.js';
import { safeText } from '../terminal-text.js';
import type { Value } from '../store/records.js';
import { cellAt, type Column, type Table } from './table.js';
import { CHUNK, jsonRows, toJson } from './json-rows.js';

export type Formatter = (t: Table) => Iterable<string | Uint8Array>;

/** Plain text of a cell for csv/md/table: null is empty, structured values are compact JSON. */
function text(v: Value): string {
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

function csvField(s: string): string {
  return /[",\r\n]/.test(s) || s !== s.trim() ? '"' + s.replace(/"/g, '""') + '"' : s;
}

function* csv(t: Table): Generator<string> {
  let buf = t.columns.map(csvField).join(',') + '\n';
  for (let i = 0; i < t.length; i++) {
    let line = '';
    for (let c = 0; c < t.columns.length; c++) line += (c ? ',' : '') + csvField(text(cellAt(t.cols[c]!, i)));
    buf += line + '\n';
    if (buf.length > CHUNK) {
      yield buf;
      buf = '';
    }
  }
  yield buf;
}

/** A column is right-aligned when every non-null cell in it is a number. */
/** Which dictionary entries some row uses (a filtered table keeps its whole dictionary). */
function usedEntries(col: { dict: Value[]; index: Int32Array }, n: number): Uint8Array {
  // Key columns share one index (run, version, time, file): a million rows are scanned once.
  const seen = usedByIndex.get(col.index);
  if (seen && seen.n === n && seen.used.length === col.dict.length) return seen.used;
  const used = new Uint8Array(col.dict.length);
  for (let i = 0; i < n; i++) used[col.index[i]!] = 1;
  usedByIndex.set(col.index, { n, used });
  return used;
}

const usedByIndex = new WeakMap<Int32Array, { n: number; used: Uint8Array }>();

function isNumber(v: Value): boolean {
  return typeof v === 'number' || typeof v === 'bigint';
}

/** Columns of numbers only (nulls aside, at least one number): right-aligned in a table. */
function numericColumns(t: Table): boolean[] {
  return t.cols.map((col) => {
    switch (col.type) {
      case 'int':
        return true;
      case 'dict': {
        const used = usedEntries(col, t.length);
        let any = false;
        for (let j = 0; j < col.dict.length; j++) {
          const v = col.dict[j]!;
          if (!used[j] || v === null) continue;
          if (!isNumber(v)) return false;
          any = true;
        }
        return any;
      }
      case 'num': {
        let any = false;
        for (let i = 0; i < t.length; i++) {
          const k = col.kind[i];
          if (k === 1) any = true;
          else if (k === 2) {
            const v = col.other.get(i) ?? null;
            if (v === null) continue;
            if (!isNumber(v)) return false;
            any = true;
          }
        }
        return any;
      }
      case 'values': {
        let any = false;
        for (let i = 0; i < t.length; i++) {
          const v = cellAt(col, i);
          if (v === null) continue;
          if (!isNumber(v)) return false;
          any = true;
        }
        return any;
      }
    }
  });
}

function mdCell(s: string): string {
  return safeText(s.replace(/\r?\n/g, ' ')).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function* md(t: Table): Generator<string> {
  const num = numericColumns(t);
  let buf = '| ' + t.columns.map(mdCell).join(' | ') + ' |\n';
  buf += '|' + num.map((n) => (n ? ' ---: ' : ' --- ')).join('|') + '|\n';
  for (let i = 0; i < t.length; i++) {
    const cells: string[] = [];
    for (let c = 0; c < t.columns.length; c++) cells.push(mdCell(text(cellAt(t.cols[c]!, i))));
    buf += '| ' + cells.join(' | ') + ' |\n';
    if (buf.length > CHUNK) {
      yield buf;
      buf = '';
    }
  }
  yield buf;
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
function numberText(v: number): string {
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
function humanText(v: Value): string {
  if (typeof v === 'number') return numberText(v);
  let s: string;
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && !x.includes(','))) {
    s = v.join(','); // lists of names (the `replayed` column) read better bare
  } else s = text(v);
  s = safeText(s.replace(/[\r\n\t]+/g, ' '));
  return s.length > MAX_WIDTH ? s.slice(0, MAX_WIDTH - 1) + '…' : s;
}

/**
 * A column's cells as terminal text, and its widest: repeated values (dictionary entries, loop
 * iterations) are formatted once, numbers without the text passes, so a million-row table
 * costs a string per distinct value rather than several per cell.
 */
function textColumn(col: Column, n: number): { at: (i: number) => string; width: number } {
  switch (col.type) {
    case 'dict': {
      const used = usedEntries(col, n);
      const texts = col.dict.map((v, j) => (used[j] ? humanText(v) : ''));
      const index = col.index;
      return { at: (i) => texts[index[i]!]!, width: texts.reduce((w, s) => Math.max(w, s.length), 0) };
    }
    case 'int': {
      const ints = col.ints;
      let max = -1;
      for (let i = 0; i < n; i++) if (ints[i]! > max) max = ints[i]!;
      const texts = Array.from({ length: max + 1 }, (_, k) => String(k));
      const none = humanText(null);
      const width = Math.max(max < 0 ? 0 : texts[max]!.length, none.length);
      return { at: (i) => (ints[i]! < 0 ? none : texts[ints[i]!]!), width };
    }
    case 'num': {
      const out = new Array<string>(n);
      const none = humanText(null);
      let width = 0;
      for (let i = 0; i < n; i++) {
        const k = col.kind[i];
        const s = k === 1 ? numberText(col.num[i]!) : k === 2 ? humanText(col.other.get(i) ?? null) : none;
        out[i] = s;
        if (s.length > width) width = s.length;
      }
      return { at: (i) => out[i]!, width };
    }
    case 'values': {
      const out = new Array<string>(n);
      let width = 0;
      for (let i = 0; i < n; i++) {
        const s = humanText(cellAt(col, i));
        out[i] = s;
        if (s.length > width) width = s.length;
      }
      return { at: (i) => out[i]!, width };
    }
  }
}

/** How a terminal table is laid out beyond plain text (cli/ decides from the terminal). */
export interface TableStyle {
  /** Columns the table may take; null or absent: as wide as its cells. */
  width?: number | null;
  /**
   * Columns left out, first one first, while the table is wider than `width`. What still does
   * not fit is then cut: the widest text columns lose characters (down to MIN_CUT each), values
   * ending in `…`.
   */
  drop?: readonly string[];
  /** Wraps a header, already padded; escape codes do not count towards the width. */
  header?: (text: string) => string;
  /** Wraps a cell's text (not its padding). */
  cell?: (column: string, value: Value, text: string) => string;
}

/** A text column is cut no narrower than this when a table does not fit its width. */
const MIN_CUT = 8;

/** Which columns stay, and each one's width, for a table that must fit `style.width`. */
function fit(headers: string[], width: number[], num: boolean[], style: TableStyle): { keep: number[]; width: number[] } {
  let keep = headers.map((_, c) => c);
  const max = style.width;
  if (!max) return { keep, width };
  const total = () => keep.reduce((sum, c) => sum + width[c]!, 0) + 2 * (keep.length - 1);
  for (const name of style.drop ?? []) {
    if (total() <= max) break;
    const c = headers.indexOf(name);
    if (c >= 0 && keep.length > 1) keep = keep.filter((k) => k !== c);
  }
  const w = [...width];
  let excess = total() - max;
  while (excess > 0) {
    let widest = -1;
    for (const c of keep) if (!num[c] && w[c]! > MIN_CUT && (widest < 0 || w[c]! > w[widest]!)) widest = c;
    if (widest < 0) break;
    const cut = Math.min(excess, w[widest]! - Math.max(MIN_CUT, headers[widest]!.length));
    if (cut <= 0) break;
    w[widest]! -= cut;
    excess -= cut;
  }
  return { keep, width: w };
}

function cutTo(s: string, w: number): string {
  return s.length > w ? s.slice(0, w - 1) + '…' : s;
}

function* table(t: Table, style: TableStyle = {}): Generator<string | Uint8Array> {
  if (t.length === 0) return; // a bare header says nothing to a person; stderr explains why
  const num = numericColumns(t);
  // Without colour, rows go straight into byte buffers (tableBytes): a million-row table built as
  // strings spent about as long turning them into bytes as making them.
  const cols = style.cell ? t.cols.map((col) => textColumn(col, t.length)) : null;
  const pooled = cols ? null : t.cols.map((col) => cellTexts(col, t.length));
  const headers = t.columns.map(safeText);
  const natural = headers.map((h, c) => Math.max(h.length, (cols ? cols[c]! : pooled![c]!).width));
  const { keep, width } = fit(t.columns, natural, num, style);
  const last = keep[keep.length - 1];
  const paintCell = style.cell;
  const spaces = ' '.repeat(Math.max(0, ...width));
  const line = (text: (c: number) => string, paint: ((c: number, v: string) => string) | null): string => {
    let s = '';
    for (let k = 0; k < keep.length; k++) {
      const c = keep[k]!;
      const w = width[c]!;
      const raw = text(c);
      const v = raw.length > w ? cutTo(raw, w) : raw;
      const pad = spaces.slice(0, w - v.length);
      const shown = paint ? paint(c, v) : v;
      s += (k ? '  ' : '') + (num[c] ? pad + shown : c === last ? shown : shown + pad);
    }
    return s.trimEnd() + '\n';
  };
  const header = style.header;
  let buf = line((c) => headers[c]!, header ? (_c, v) => header(v) : null);
  if (!cols) {
    yield* tableBytes(t.length, buf, keep.map((c) => ({ cells: pooled![c]!, width: width[c]!, right: num[c]!, last: c === last })));
    return;
  }
  let row = 0;
  const cell = (c: number) => cols[c]!.at(row);
  const painted = paintCell ? (c: number, v: string) => paintCell(t.columns[c]!, cellAt(t.cols[c]!, row), v) : null;
  for (; row < t.length; row++) {
    buf += line(cell, painted);
    if (buf.length > CHUNK) {
      yield buf;
      buf = '';
    }
  }
  yield buf;
}

/**
 * A column's cells as terminal text (humanText), kept for writing as bytes: repeated values
 * (dictionary entries, loop iterations) as a list of texts and an index per row; numbers as ASCII
 * in one pool (a string per cell would live until the table is written, and GC copies it).
 */
interface CellTexts {
  width: number;
  /** Distinct texts, and per row the one it shows (-1 in `index`: texts[none]); null: per-row texts. */
  texts: string[] | null;
  index: Int32Array | null;
  none: number;
  /** Per-row texts: ASCII bytes of row i at pool[off[i]..off[i+1]), else (other values) in `str`. */
  pool: Uint8Array | null;
  off: Int32Array | null;
  str: Map<number, string> | null;
}

function cellTexts(col: Column, n: number): CellTexts {
  const base = { width: 0, texts: null, index: null, none: -1, pool: null, off: null, str: null };
  switch (col.type) {
    case 'dict': {
      const used = usedEntries(col, n);
      const texts = col.dict.map((v, j) => (used[j] ? humanText(v) : ''));
      return { ...base, texts, index: col.index, width: texts.reduce((w, s) => Math.max(w, s.length), 0) };
    }
    case 'int': {
      const ints = col.ints;
      let max = -1;
      for (let i = 0; i < n; i++) if (ints[i]! > max) max = ints[i]!;
      const texts = Array.from({ length: max + 2 }, (_, k) => (k <= max ? String(k) : humanText(null)));
      const width = Math.max(max < 0 ? 0 : texts[max]!.length, texts[max + 1]!.length);
      return { ...base, texts, index: ints, none: max + 1, width };
    }
    case 'num': {
      let pool = new Uint8Array(Math.max(64, n * 10));
      const off = new Int32Array(n + 1);
      const str = new Map<number, string>();
      const none = humanText(null);
      let width = 0;
      let o = 0;
      for (let i = 0; i < n; i++) {
        const k = col.kind[i];
        if (k === 1) {
          const s = numberText(col.num[i]!);
          if (o + s.length > pool.length) {
            const bigger = new Uint8Array(pool.length * 2 + s.length);
            bigger.set(pool.subarray(0, o));
            pool = bigger;
          }
          for (let j = 0; j < s.length; j++) pool[o++] = s.charCodeAt(j);
          if (s.length > width) width = s.length;
        } else {
          const s = k === 2 ? humanText(col.other.get(i) ?? null) : none;
          if (s.length) str.set(i, s);
          if (s.length > width) width = s.length;
        }
        off[i + 1] = o;
      }
      return { ...base, pool, off, str, width };
    }
    case 'values': {
      const str = new Map<number, string>();
      let width = 0;
      for (let i = 0; i < n; i++) {
        const s = humanText(cellAt(col, i));
        if (s.length) str.set(i, s);
        if (s.length > width) width = s.length;
      }
      return { ...base, off: new Int32Array(n + 1), pool: new Uint8Array(0), str, width };
    }
  }
}

/** The text of row i of a column (for the rare column that must be cut to fit). */
function cellText(c: CellTexts, i: number): string {
  if (c.texts) {
    const j = c.index![i]!;
    return c.texts[j < 0 ? c.none : j]!;
  }
  const a = c.off![i]!;
  const b = c.off![i + 1]!;
  return a < b ? String.fromCharCode(...c.pool!.subarray(a, b)) : (c.str!.get(i) ?? '');
}

/** Writes `s` at o as UTF-8 (ASCII by hand); returns the new end. */
function putText(buf: Buffer, o: number, s: string): number {
  for (let j = 0; j < s.length; j++) {
    const ch = s.charCodeAt(j);
    if (ch >= 128) return o - j + buf.write(s, o - j, 'utf8');
    buf[o++] = ch;
  }
  return o;
}

/**
 * The rows of a table as bytes, exactly as `line` above would make them: each cell cut to its
 * column's width, padded (numbers on the left, text on the right, the last column not), two spaces
 * between cells, the line's trailing white space trimmed.
 */
function* tableBytes(n: number, head: string, keep: Array<{ cells: CellTexts; width: number; right: boolean; last: boolean }>): Generator<Uint8Array> {
  // Columns of few distinct texts: each text's bytes with separator and padding, made once;
  // neighbours read through the same index (run, version, time, file) as one piece.
  const parts: Array<{ enc: Buffer[] | null; index: Int32Array | null; none: number; cells: CellTexts; width: number; right: boolean; last: boolean; sep: boolean }> = [];
  let maxRow = 1;
  keep.forEach(({ cells, width: w, right, last }, k) => {
    maxRow += 2 + 3 * w;
    const shown = (raw: string): string => {
      const v = raw.length > w ? cutTo(raw, w) : raw;
      const pad = ' '.repeat(w - v.length);
      return (k ? '  ' : '') + (right ? pad + v : last ? v : v + pad);
    };
    const prev = parts[parts.length - 1];
    if (cells.texts && cells.index) {
      const enc = cells.texts.map((s) => Buffer.from(shown(s)));
      if (prev?.enc && prev.index === cells.index && prev.none < 0 && cells.none < 0) prev.enc = prev.enc.map((b, j) => Buffer.concat([b, enc[j]!]));
      else parts.push({ enc, index: cells.index, none: cells.none, cells, width: w, right, last, sep: k > 0 });
    } else if (cells.width > w) {
      // Cut to fit the terminal: every row's text through `shown`.
      const enc = Array.from({ length: n }, (_, i) => Buffer.from(shown(cellText(cells, i))));
      parts.push({ enc, index: null, none: -1, cells, width: w, right, last, sep: k > 0 });
    } else parts.push({ enc: null, index: null, none: -1, cells, width: w, right, last, sep: k > 0 });
  });
  const P = parts.length;
  let buf = Buffer.allocUnsafe(Math.max(CHUNK, maxRow + head.length * 3));
  let o = buf.write(head, 0);
  for (let i = 0; i < n; i++) {
    if (o + maxRow > buf.length) {
      yield buf.subarray(0, o);
      buf = Buffer.allocUnsafe(Math.max(CHUNK, maxRow));
      o = 0;
    }
    const start = o;
    for (let p = 0; p < P; p++) {
      const part = parts[p]!;
      const enc = part.enc;
      if (enc) {
        const index = part.index;
        let j = index ? index[i]! : i;
        if (j < 0) j = part.none;
        const b = enc[j]!;
        if (b.length > 16) {
          buf.set(b, o);
          o += b.length;
        } else for (let q = 0; q < b.length; q++) buf[o++] = b[q]!;
        continue;
      }
      const c = part.cells;
      const a = c.off![i]!;
      const z = c.off![i + 1]!;
      const s = a < z ? undefined : c.str!.size ? c.str!.get(i) : undefined;
      const pad = part.width - (s ? s.length : z - a);
      if (part.sep) {
        buf[o++] = 32;
        buf[o++] = 32;
      }
      if (part.right) for (let q = 0; q < pad; q++) buf[o++] = 32;
      if (s) o = putText(buf, o, s);
      else {
        const pool = c.pool!;
        for (let q = a; q < z; q++) buf[o++] = pool[q]!;
      }
      if (!part.right && !part.last) for (let q = 0; q < pad; q++) buf[o++] = 32;
    }
    // trimEnd: ASCII white space here; a line ending in other characters is trimmed as text.
    while (o > start && (buf[o - 1] === 32 || (buf[o - 1]! >= 9 && buf[o - 1]! <= 13))) o--;
    if (o > start && buf[o - 1]! >= 128) {
      const text = buf.toString('utf8', start, o);
      const trimmed = text.trimEnd();
      if (trimmed.length !== text.length) o = start + buf.write(trimmed, start);
    }
    buf[o++] = 10;
  }
  yield buf.subarray(0, o);
}

/** The terminal table with a style (width, columns to drop, colour). */
export function styledTable(style: TableStyle): Formatter {
  return (t) => table(t, style);
}

export const formats: Record<string, Formatter> = {
  table: (t) => table(t),
  csv,
  md,
  json: (t) => jsonRows(t, '[\n', ',\n', '\n]\n', '[]\n'),
  ndjson: (t) => jsonRows(t, '', '\n', '\n', ''),
};

export function formatter(name: string, allowed: readonly string[] = Object.keys(formats)): Formatter {
  const f = formats[name];
  if (!f || !allowed.includes(name)) {
    throw new FlorError('BAD_FORMAT', `unknown format '${name}'`, { hint: `use one of: ${allowed.join(', ')}` });
  }
  return f;
}

/** The whole output as one string (tests, small results). */
export function render(name: string, t: Table): string {
  let s = '';
  for (const chunk of formatter(name)(t)) s += typeof chunk === 'string' ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString();
  return s;
}
