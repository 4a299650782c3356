/**
 * Output formats: a map of formatter functions over the same Table (adding a format is adding a
 * function). Formatters yield chunks rather than one string, so a million-row result streams to
 * stdout without building a 100 MB string.
 */
import { FlorError } from '../errors.js';
import { safeText } from '../terminal-text.js';
import type { Value } from '../store/records.js';
import { cellAt, type Column, type Table } from './table.js';
import { CHUNK, jsonRows } from './json-rows.js';
import { cutTo, humanText, numberText, text, usedEntries } from './cell-text.js';
import { cellTexts, tableBytes } from './table-bytes.js';

export type Formatter = (t: Table) => Iterable<string | Uint8Array>;

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
    yield* tableBytes(
      t.length,
      buf,
      keep.map((c) => ({ cells: pooled![c]!, width: width[c]!, right: num[c]!, last: c === last })),
    );
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
  for (const chunk of formatter(name)(t))
    s += typeof chunk === 'string' ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString();
  return s;
}
