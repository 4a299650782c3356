/**
 * Line alignment between today's file and an old version: for each line of today's file, the old
 * line it corresponds to (its "image"), if any.
 *
 * diff-match-patch in line mode does the diff, with the pitfalls docs/design.md records handled:
 * - Diff_Timeout = 0: with a timeout the diff silently degrades to a coarse one.
 * - no diff_cleanupSemantic: it merges line-chars as if they were letters.
 * - the unique-line limit: dmp's own diff_linesToChars_ gives up after 40,000 distinct lines of the
 *   first text and lumps the rest into one "line", silently. We encode lines ourselves, and only
 *   lines present in BOTH versions need distinct characters (a line in one version only can never
 *   match, so all of those share one character per side). Past 63,487 shared distinct lines (the
 *   UTF-16 code units outside the surrogate range) we stop with a clear error.
 * - replace hunks: a run of deletions then insertions is a set of *changed* lines; we pair them in
 *   order so a statement after a changed line anchors after that line's old image, not before it
 *   (see pairInOrder for how added lines in the same hunk are kept from shifting the pairs).
 * Lines are compared with surrounding whitespace trimmed, so re-indented code (wrapped in a new
 * block) still aligns; placement checks blocks separately, so a brace matched across depths cannot
 * move a statement into the wrong block.
 */
import { newDiffMatchPatch } from './packages.js';
import { FlorError } from '../errors.js';

export type ImageKind = 'equal' | 'moved' | 'changed';

export interface Alignment {
  /** image[newLine] = old line (1-based), 0 when the line has no counterpart. */
  image: Int32Array;
  kind: Array<ImageKind | undefined>;
}

const MAX_CODES = 0xd7ff + (0xffff - 0xe000 + 1);

function codeChar(i: number): string {
  // i >= 1; skip the surrogate range so every line is one whole UTF-16 unit.
  return String.fromCharCode(i <= 0xd7ff ? i : i - 0xd7ff - 1 + 0xe000);
}

function key(line: string): string {
  return line.trim();
}

/** Lines that carry real content: a unique match of these is a moved line, not a coincidence. */
function distinctive(k: string): boolean {
  return k.length >= 8 && /[\w$]{3}/.test(k);
}

/**
 * @param newLines, oldLines 1-based line arrays (index 0 unused)
 * @param exclude lines (per side) never paired or moved: the log statements themselves
 */
export function alignLines(newLines: string[], oldLines: string[], exclude: { new: Set<number>; old: Set<number> }): Alignment {
  const nNew = newLines.length - 1;
  const nOld = oldLines.length - 1;
  const countNew = new Map<string, number>();
  const countOld = new Map<string, number>();
  for (let i = 1; i <= nNew; i++) countNew.set(key(newLines[i]!), (countNew.get(key(newLines[i]!)) ?? 0) + 1);
  for (let j = 1; j <= nOld; j++) countOld.set(key(oldLines[j]!), (countOld.get(key(oldLines[j]!)) ?? 0) + 1);

  const codes = new Map<string, string>();
  let next = 3; // 1: old-only lines, 2: new-only lines
  for (const k of countNew.keys()) {
    if (!countOld.has(k)) continue;
    if (next > MAX_CODES) {
      throw new FlorError('FILE_TOO_LARGE', `too many distinct lines to align (more than ${MAX_CODES} shared between the versions)`, {
        hint: 'split the file; propagation aligns files of up to ~60,000 distinct lines',
      });
    }
    codes.set(k, codeChar(next++));
  }
  const oldOnly = codeChar(1);
  const newOnly = codeChar(2);
  let oldChars = '';
  let newChars = '';
  for (let j = 1; j <= nOld; j++) oldChars += codes.get(key(oldLines[j]!)) ?? oldOnly;
  for (let i = 1; i <= nNew; i++) newChars += codes.get(key(newLines[i]!)) ?? newOnly;

  const dmp = newDiffMatchPatch();
  dmp.Diff_Timeout = 0;
  const diffs = dmp.diff_main(oldChars, newChars, false);

  const image = new Int32Array(nNew + 2);
  const kind: Array<ImageKind | undefined> = new Array(nNew + 2);
  const oldTaken = new Uint8Array(nOld + 2);
  const hunks: Array<{ dels: number[]; ins: number[] }> = [];
  let i = 1;
  let j = 1;
  let hunk: { dels: number[]; ins: number[] } | null = null;
  for (const [op, chars] of diffs) {
    const n = chars.length;
    if (op === 0) {
      if (hunk) hunks.push(hunk);
      hunk = null;
      for (let t = 0; t < n; t++, i++, j++) {
        image[i] = j;
        kind[i] = 'equal';
        oldTaken[j] = 1;
      }
    } else {
      hunk ??= { dels: [], ins: [] };
      if (op === -1) for (let t = 0; t < n; t++) hunk.dels.push(j++);
      else for (let t = 0; t < n; t++) hunk.ins.push(i++);
    }
  }
  if (hunk) hunks.push(hunk);

  // Moved lines: a distinctive line that occurs exactly once in each version is the same line.
  const uniqueOld = new Map<string, number>();
  for (let jj = 1; jj <= nOld; jj++) {
    const k = key(oldLines[jj]!);
    if (!oldTaken[jj] && !exclude.old.has(jj) && countOld.get(k) === 1 && countNew.get(k) === 1 && distinctive(k)) uniqueOld.set(k, jj);
  }
  for (let ii = 1; ii <= nNew; ii++) {
    if (image[ii] || exclude.new.has(ii)) continue;
    const jj = uniqueOld.get(key(newLines[ii]!));
    if (jj !== undefined && !oldTaken[jj]) {
      image[ii] = jj;
      kind[ii] = 'moved';
      oldTaken[jj] = 1;
    }
  }

  for (const h of hunks) {
    const dels = h.dels.filter((jj) => !oldTaken[jj] && !exclude.old.has(jj) && oldLines[jj]!.trim() !== '');
    const ins = h.ins.filter((ii) => !image[ii] && !exclude.new.has(ii) && newLines[ii]!.trim() !== '');
    for (const [t, u] of pairInOrder(ins.map((ii) => newLines[ii]!), dels.map((jj) => oldLines[jj]!))) {
      image[ins[t]!] = dels[u]!;
      kind[ins[t]!] = 'changed';
      oldTaken[dels[u]!] = 1;
    }
  }
  return { image, kind };
}

function tokens(line: string): string[] {
  return line.match(/[A-Za-z_$][\w$]*|\d+(?:\.\d+)?/g) ?? [];
}

/** Dice coefficient of the lines' identifier/number tokens (as multisets). */
function similarity(a: string, b: string): number {
  const ta = tokens(a);
  const tb = tokens(b);
  if (ta.length === 0 || tb.length === 0) return a.trim() === b.trim() ? 1 : 0;
  const counts = new Map<string, number>();
  for (const t of ta) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of tb) {
    const c = counts.get(t);
    if (c) {
      common++;
      counts.set(t, c - 1);
    }
  }
  return (2 * common) / (ta.length + tb.length);
}

/** Past this many cells the hunk is paired purely by position (the matching below is quadratic). */
const MAX_PAIRING_CELLS = 40_000;

/**
 * Pairs the changed lines of one hunk, keeping their order (docs/design.md: pair in order before
 * anchoring). Every pair is worth something, so as many lines as possible are paired, but similar
 * lines are preferred: when today's hunk adds a line before a changed one, the changed line still
 * pairs with its old self rather than with the newcomer. Returns [insIndex, delIndex] pairs.
 */
function pairInOrder(ins: string[], dels: string[]): Array<[number, number]> {
  const n = ins.length;
  const m = dels.length;
  if (n === 0 || m === 0) return [];
  if (n * m > MAX_PAIRING_CELLS) return Array.from({ length: Math.min(n, m) }, (_, t) => [t, t] as [number, number]);
  // Monotone maximum-weight matching (a weighted LCS), weight 0.1 + similarity.
  const w = m + 1;
  const best = new Float64Array((n + 1) * w);
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= m; j++) {
      const diag = best[(i - 1) * w + j - 1]! + 0.1 + similarity(ins[i - 1]!, dels[j - 1]!);
      best[i * w + j] = Math.max(diag, best[(i - 1) * w + j]!, best[i * w + j - 1]!);
    }
  }
  const pairs: Array<[number, number]> = [];
  for (let i = n, j = m; i > 0 && j > 0; ) {
    const here = best[i * w + j]!;
    if (here === best[(i - 1) * w + j]) i--;
    else if (here === best[i * w + j - 1]) j--;
    else {
      pairs.push([i - 1, j - 1]);
      i--;
      j--;
    }
  }
  return pairs.reverse();
}
