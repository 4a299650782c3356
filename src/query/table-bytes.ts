/**
 * The terminal table without colour, written as bytes: each column's cell texts kept once
 * (cellTexts), rows put straight into large buffers (tableBytes). A million-row table built as a
 * string per row, then encoded, cost about a second of CPU.
 */
import { codeBytes, codeLength, cutTo, humanText, numberCodeAt, numberText, textCode, usedEntries } from './cell-text.js';
import { CHUNK, takeChunk } from './json-rows.js';
import { cellAt, type Column } from './table.js';

/**
 * A column's cells as terminal text (humanText), kept for writing as bytes: repeated values
 * (dictionary entries, loop iterations) as a list of texts and an index per row; numbers as a
 * code per row (cell-text.ts numberCode: 4 bytes a cell, where their ASCII and its offsets took
 * 14, all of it fresh memory that cost a page fault per 4 KB), written out only as the row is.
 */
export interface CellTexts {
  width: number;
  /** Distinct texts, and per row the one it shows (-1 in `index`: texts[none]); null: per-row texts. */
  texts: string[] | null;
  index: Int32Array | null;
  none: number;
  /** Per-row texts: row i's number code (codeBytes), or -1 and its text in `str` (absent: empty). */
  codes: Int32Array | null;
  str: Map<number, string> | null;
}

export function cellTexts(col: Column, n: number): CellTexts {
  const base = { width: 0, texts: null, index: null, none: -1, codes: null, str: null };
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
      const codes = new Int32Array(n);
      const str = new Map<number, string>();
      const none = humanText(null);
      let width = 0;
      for (let i = 0; i < n; i++) {
        const k = col.kind[i];
        if (k === 1) {
          let code = numberCodeAt(col.num, i);
          if (code < 0) {
            const s = numberText(col.num[i]!);
            code = textCode(s);
            if (code < 0) {
              str.set(i, s);
              codes[i] = -1;
              if (s.length > width) width = s.length;
              continue;
            }
          }
          codes[i] = code;
          const len = codeLength(code);
          if (len > width) width = len;
        } else {
          const s = k === 2 ? humanText(col.other.get(i) ?? null) : none;
          codes[i] = -1;
          if (s.length) str.set(i, s);
          if (s.length > width) width = s.length;
        }
      }
      return { ...base, codes, str, width };
    }
    case 'values': {
      const str = new Map<number, string>();
      let width = 0;
      for (let i = 0; i < n; i++) {
        const s = humanText(cellAt(col, i));
        if (s.length) str.set(i, s);
        if (s.length > width) width = s.length;
      }
      return { ...base, str, width };
    }
  }
}

const SCRATCH = new Uint8Array(16);

/** The text of row i of a column (for the rare column that must be cut to fit). */
function cellText(c: CellTexts, i: number): string {
  if (c.texts) {
    const j = c.index![i]!;
    return c.texts[j < 0 ? c.none : j]!;
  }
  const code = c.codes ? c.codes[i]! : -1;
  return code >= 0 ? String.fromCharCode(...SCRATCH.subarray(0, codeBytes(code, SCRATCH, 0))) : (c.str!.get(i) ?? '');
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

/** A column as tableBytes writes it (neighbours of few texts through the same index are one part). */
interface Part {
  enc: Buffer[] | null;
  index: Int32Array | null;
  none: number;
  cells: CellTexts;
  width: number;
  right: boolean;
  last: boolean;
  sep: boolean;
}

/**
 * The rows of a table as bytes, exactly as `line` above would make them: each cell cut to its
 * column's width, padded (numbers on the left, text on the right, the last column not), two spaces
 * between cells, the line's trailing white space trimmed.
 */
export function* tableBytes(
  n: number,
  head: string,
  keep: Array<{ cells: CellTexts; width: number; right: boolean; last: boolean }>,
): Generator<Uint8Array> {
  // Columns of few distinct texts: each text's bytes with separator and padding, made once;
  // neighbours read through the same index (run, version, time, file) as one piece.
  const parts: Part[] = [];
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
      if (prev?.enc && prev.index === cells.index && prev.none < 0 && cells.none < 0)
        prev.enc = prev.enc.map((b, j) => Buffer.concat([b, enc[j]!]));
      else parts.push({ enc, index: cells.index, none: cells.none, cells, width: w, right, last, sep: k > 0 });
    } else if (cells.width > w) {
      // Cut to fit the terminal: every row's text through `shown`.
      const enc = Array.from({ length: n }, (_, i) => Buffer.from(shown(cellText(cells, i))));
      parts.push({ enc, index: null, none: -1, cells, width: w, right, last, sep: k > 0 });
    } else parts.push({ enc: null, index: null, none: -1, cells, width: w, right, last, sep: k > 0 });
  });
  const fresh = (room: number): Buffer => (room <= CHUNK ? takeChunk() : Buffer.allocUnsafe(room));
  let buf = fresh(maxRow + head.length * 3);
  const at = { i: 0, o: buf.write(head, 0) };
  for (;;) {
    putRows(buf, at, n, maxRow, parts);
    if (at.i >= n) break;
    yield buf.subarray(0, at.o);
    buf = fresh(maxRow);
    at.o = 0;
  }
  yield buf.subarray(0, at.o);
}

/**
 * Rows from `at.i` on into `buf` from `at.o`, while a whole row still fits; moves `at` past them.
 * A plain function, not part of the generator: its loop is optimized while it runs (on-stack
 * replacement), where the generator's ran unoptimized until its next resume.
 */
function putRows(buf: Buffer, at: { i: number; o: number }, n: number, maxRow: number, parts: Part[]): void {
  const P = parts.length;
  let o = at.o;
  let i = at.i;
  for (; i < n && o + maxRow <= buf.length; i++) {
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
      const code = c.codes ? c.codes[i]! : -1;
      const s = code >= 0 || c.str!.size === 0 ? undefined : c.str!.get(i);
      const pad = part.width - (code >= 0 ? codeLength(code) : s ? s.length : 0);
      if (part.sep) {
        buf[o++] = 32;
        buf[o++] = 32;
      }
      if (part.right) for (let q = 0; q < pad; q++) buf[o++] = 32;
      if (code >= 0) o = codeBytes(code, buf, o);
      else if (s) o = putText(buf, o, s);
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
  at.i = i;
  at.o = o;
}
