/**
 * Propagation of one file: today's log statements into an old version of the same file.
 * Pure: text in, text and a report out.
 *
 * Placement rule: a statement goes right after the old image of the nearest preceding
 * line both versions share, inside the block that corresponds to its block today; indentation
 * follows the old code there. When no preceding line of its block is shared, the nearest following
 * shared line of the block is used (insert before it). Safety rule: every name the statement uses
 * that today's code declares in scope must be declared in scope at the insertion point of the old
 * code, or the statement is not inserted.
 */
import type { Statement } from '@babel/types';
import { FlorError } from '../errors.js';
import { alignLines } from './align.js';
import {
  ancestorUp,
  firstCodeOffset,
  indexAst,
  isAncestorOrSelf,
  levelAt,
  lineOfOffset,
  openersOn,
  stmtOf,
  type AstIndex,
  type Container,
} from './blocks.js';
import { ownScopeNames, statementNames, visibleAt } from './scope.js';
import { normalise, parseSource, type Source } from './source.js';
import { assemble, florImport, indentAt, type Placement, type Stmt } from './splice.js';
import { findLogStatements, type LogStatement } from './statements.js';

export type { Stmt } from './splice.js';

export type FailureCode = 'UNDECLARED' | 'REDECLARED' | 'NO_ANCHOR' | 'NO_BLOCK' | 'NOT_IN_BLOCK' | 'SHARED_LINE' | 'OLD_PARSE' | 'FLOR_UNAVAILABLE';

export interface Failure {
  statement: string;
  name: string | null;
  line: number;
  code: FailureCode;
  reason: string;
  /** The identifier that made it unsafe, for UNDECLARED / REDECLARED / FLOR_UNAVAILABLE. */
  identifier?: string;
}

export interface PropagateResult {
  /** The old version with the statements inserted (byte-identical to oldText when nothing was). */
  text: string;
  inserted: Stmt[];
  existing: Stmt[];
  failed: Failure[];
  /** An import of `flor` had to be added for the inserted statements. */
  importAdded: boolean;
}

export interface PropagateInput {
  /** Today's version of the file. */
  newText: string;
  /** The old version. */
  oldText: string;
  /** Today's path: picks the parser (JS, TS, JSX). */
  path: string;
  /** The old version's path when the file was renamed (defaults to path). */
  oldPath?: string;
  /** Only statements logging one of these names (first argument). All log statements when omitted. */
  names?: readonly string[] | undefined;
}


type Placed = Placement | { fail: FailureCode; reason: string };

export function propagate(input: PropagateInput): PropagateResult {
  const oldPath = input.oldPath ?? input.path;
  const nNew = normalise(input.newText);
  const nOld = normalise(input.oldText);
  const newSrc = parseToday(input.path, nNew.text);
  const newIx = indexAst(newSrc);
  const newLogs = findLogStatements(newIx);
  const wanted = input.names ? new Set(input.names) : null;
  const requested = newLogs.filter((l) => !wanted || (l.name !== null && wanted.has(l.name)));
  const unchanged = (failed: Failure[], existing: Stmt[] = []): PropagateResult => ({ text: input.oldText, inserted: [], existing, failed, importAdded: false });
  if (requested.length === 0) return unchanged([]);

  let oldSrc: Source;
  try {
    oldSrc = parseSource(oldPath, nOld.text);
  } catch (e) {
    const reason = e instanceof FlorError ? e.message : String(e);
    return unchanged(requested.map((l) => failure(l, 'OLD_PARSE', `the old version does not parse: ${reason}`)));
  }
  const oldIx = indexAst(oldSrc);
  const oldLogs = findLogStatements(oldIx);

  const align = alignLines(newSrc.lines, oldSrc.lines, { new: ownedLines(newLogs), old: ownedLines(oldLogs) });
  const { image } = align;

  // "Already there": in place (every line an unchanged line, the same statement at its image) first,
  // then anywhere else in the old version (moved or reformatted), counting duplicates.
  const oldByNorm = new Map<string, LogStatement[]>();
  for (const o of oldLogs) oldByNorm.set(o.norm, [...(oldByNorm.get(o.norm) ?? []), o]);
  const existingAt = new Map<LogStatement, number>();
  const claim = (l: LogStatement, pick: (o: LogStatement) => boolean): boolean => {
    const list = oldByNorm.get(l.norm);
    const idx = list?.findIndex(pick) ?? -1;
    if (!list || idx < 0) return false;
    const twin = list[idx]!;
    existingAt.set(l, twin.startLine);
    list.splice(idx, 1);
    // A reformatted or moved twin still marks the place: statements after it anchor to it.
    for (let ln = l.startLine; ln <= l.endLine; ln++) {
      if (image[ln]) continue;
      image[ln] = Math.min(twin.startLine + (ln - l.startLine), twin.endLine);
      align.kind[ln] = 'moved';
    }
    return true;
  };
  for (const l of newLogs) {
    let inPlace = image[l.startLine]! > 0;
    for (let ln = l.startLine; ln <= l.endLine && inPlace; ln++) inPlace = align.kind[ln] === 'equal' && image[ln] === image[l.startLine]! + (ln - l.startLine);
    if (inPlace) claim(l, (o) => o.startLine === image[l.startLine]);
  }
  for (const l of newLogs) if (!existingAt.has(l)) claim(l, () => true);

  // Lines of statements that are not in the old version are what we insert, never anchors.
  for (const l of newLogs) {
    if (existingAt.has(l)) continue;
    for (const ln of linesOwned(l)) image[ln] = 0;
  }

  const inserted: Array<{ log: LogStatement; placement: Placement }> = [];
  const existing: Stmt[] = [];
  const failed: Failure[] = [];
  let florImportPiece: { after: number; text: string } | null = null;
  const oldProgramNames = visibleAt(oldIx, oldIx.program, oldSrc.text.length + 1);

  for (const l of requested) {
    const at = existingAt.get(l);
    if (at !== undefined) {
      existing.push({ name: l.name, text: l.text, line: l.startLine, at });
      continue;
    }
    if (!l.container) {
      failed.push(failure(l, 'NOT_IN_BLOCK', 'it is not a statement of its own in a block (the body of a brace-less if/loop, or part of an export); put it in a { } block on its own'));
      continue;
    }
    const placed = place(l, l.container, newIx, oldIx, image);
    if ('fail' in placed) {
      failed.push(failure(l, placed.fail, placed.reason));
      continue;
    }
    const insertPos = oldSrc.lineStart[placed.after + 1] ?? oldSrc.text.length;
    const { uses, declares } = statementNames(l.node);
    const newVisible = visibleAt(newIx, l.container, l.start);
    const oldVisible = visibleAt(oldIx, placed.target, insertPos);
    let problem: Failure | null = null;
    let needsImport: { after: number; text: string } | null = null;
    for (const name of uses) {
      const today = newVisible.get(name);
      if (!today || oldVisible.has(name)) continue;
      if (name === 'flor' && !oldProgramNames.has('flor')) {
        needsImport = florImportPiece ?? florImport(today, newSrc, oldIx);
        if (needsImport) continue;
        problem = failure(l, 'FLOR_UNAVAILABLE', 'the old version does not import `flor`, and today\'s import of it cannot be copied', 'flor');
        break;
      }
      problem = failure(l, 'UNDECLARED', `\`${name}\` is not declared at the insertion point in the old version (after its line ${placed.after})`, name);
      break;
    }
    if (!problem && declares.length) {
      const taken = ownScopeNames(oldIx, placed.target);
      const clash = declares.find((d) => taken.has(d));
      if (clash) problem = failure(l, 'REDECLARED', `\`${clash}\` is already declared in that block of the old version`, clash);
    }
    if (problem) {
      failed.push(problem);
      continue;
    }
    if (needsImport) florImportPiece = needsImport;
    inserted.push({ log: l, placement: placed });
  }

  if (inserted.length === 0) return unchanged(failed, existing);
  const built = assemble(oldSrc, newSrc, inserted, florImportPiece, nOld);
  return { text: built.text, inserted: built.inserted, existing, failed, importAdded: florImportPiece !== null };
}

// Replay propagates the same files of today into every old version: parse each of them once.
// (Sources are never mutated after parsing, so sharing them is safe.) A few entries suffice: the
// callers go file by file.
const todayCache = new Map<string, Source>();
const TODAY_CACHE_SIZE = 8;

/**
 * The names today's `text` logs with statements propagation can carry (a `flor.log` that is a
 * statement of its own, or assigned). Replay asks this, not a looser search, so a name it accepts
 * is one `propagate` will place. Throws PARSE_FAILED like propagate. Parsed once: propagate reuses it.
 */
export function carriedNames(path: string, text: string): string[] {
  const names: string[] = [];
  for (const l of findLogStatements(indexAst(parseToday(path, normalise(text).text)))) if (l.name !== null) names.push(l.name);
  return names;
}

function parseToday(path: string, text: string): Source {
  const key = path + '\0' + text;
  const hit = todayCache.get(key);
  if (hit) {
    todayCache.delete(key);
    todayCache.set(key, hit);
    return hit;
  }
  const src = parseSource(path, text);
  todayCache.set(key, src);
  if (todayCache.size > TODAY_CACHE_SIZE) todayCache.delete(todayCache.keys().next().value!);
  return src;
}

function failure(l: LogStatement, code: FailureCode, reason: string, identifier?: string): Failure {
  return { statement: l.text, name: l.name, line: l.startLine, code, reason, ...(identifier ? { identifier } : {}) };
}

function linesOwned(l: LogStatement): number[] {
  const out: number[] = [];
  for (let ln = l.ownsFirstLine ? l.startLine : l.startLine + 1; ln <= (l.ownsLastLine ? l.endLine : l.endLine - 1); ln++) out.push(ln);
  return out;
}

function ownedLines(logs: LogStatement[]): Set<number> {
  const s = new Set<number>();
  for (const l of logs) for (const ln of linesOwned(l)) s.add(ln);
  return s;
}

/** The old container matching today's `c`: found through the image of its opening line. */
function correspond(c: Container, newIx: AstIndex, oldIx: AstIndex, image: Int32Array): Container | null {
  if (c === newIx.program) return oldIx.program;
  const o = image[c.openerLine]!;
  if (!o) return null;
  const candidates = openersOn(oldIx, o).filter((x) => x.node.type === c.node.type || (x.node.type !== 'SwitchCase' && c.node.type !== 'SwitchCase'));
  if (candidates.length === 0) return null;
  const mine = openersOn(newIx, c.openerLine);
  const idx = mine.indexOf(c);
  return mine.length === candidates.length && idx >= 0 ? candidates[idx]! : candidates[candidates.length - 1]!;
}

function closerLine(c: Container, ix: AstIndex): number {
  return c === ix.program ? ix.src.lines.length : lineOfOffset(ix.src, c.interiorEnd);
}

function place(l: LogStatement, c: Container, newIx: AstIndex, oldIx: AstIndex, image: Int32Array): Placed {
  const newSrc = newIx.src;
  const oldSrc = oldIx.src;
  const expected = correspond(c, newIx, oldIx, image);
  const isProgram = c === newIx.program;

  // Where the anchor line `a` (today) with image `o` (old) puts a statement of block `c`, or null
  // when the image lies outside the corresponding block.
  const targetFor = (a: number, o: number): { target: Container; stmt: Statement | null } | null => {
    const pos = firstCodeOffset(newSrc, a);
    const oPos = firstCodeOffset(oldSrc, o);
    if (pos === null || oPos === null) return null;
    const lvNew = levelAt(newIx, pos);
    if (!isAncestorOrSelf(c, lvNew.container)) return null;
    const lvOld = levelAt(oldIx, oPos);
    let target: Container | null;
    if (expected) target = isAncestorOrSelf(expected, lvOld.container) ? expected : null;
    else target = ancestorUp(lvOld.container, lvNew.container.depth - c.depth);
    if (!target) return null;
    return { target, stmt: target === lvOld.container ? lvOld.stmt : stmtOf(target, oPos) };
  };

  const lower = isProgram ? 1 : c.openerLine;
  for (let a = l.ownsFirstLine ? l.startLine - 1 : l.startLine; a >= lower; a--) {
    const o = image[a]!;
    if (!o || newSrc.lines[a]!.trim() === '') continue;
    if (!isProgram && a === c.openerLine) {
      if (!expected) break;
      return atBlockStart(expected, oldIx);
    }
    const t = targetFor(a, o);
    if (!t) continue;
    const after = t.stmt ? t.stmt.loc!.end.line : o;
    return { after, target: t.target, indent: indentAt(t.target, after, oldIx) };
  }

  const upper = closerLine(c, newIx);
  for (let a = l.ownsLastLine ? l.endLine + 1 : l.endLine; a <= upper; a++) {
    const o = image[a]!;
    if (!o || newSrc.lines[a]!.trim() === '') continue;
    // A closing brace of its own block: the statement is the block's last. (A switch case has none.)
    if (!isProgram && c.node.type !== 'SwitchCase' && a === upper) {
      if (!expected) break;
      return atBlockEnd(expected, oldIx);
    }
    const t = targetFor(a, o);
    if (!t) continue;
    const after = (t.stmt ? t.stmt.loc!.start.line : o) - 1;
    return { after, target: t.target, indent: indentAt(t.target, after, oldIx) };
  }

  if (!expected) {
    const opener = newSrc.lines[c.openerLine]!.trim();
    return { fail: 'NO_BLOCK', reason: `its block (\`${opener}\`, line ${c.openerLine}) does not exist in the old version` };
  }
  return { fail: 'NO_ANCHOR', reason: 'no line near it exists in the old version' };
}

function atBlockStart(t: Container, oldIx: AstIndex): Placed {
  const first = t.list[0];
  if (first && first.loc!.start.line === t.openerLine) {
    return { fail: 'SHARED_LINE', reason: `in the old version its block opens on the same line as code (line ${t.openerLine})` };
  }
  return { after: t.openerLine, target: t, indent: indentAt(t, t.openerLine, oldIx) };
}

function atBlockEnd(t: Container, oldIx: AstIndex): Placed {
  const last = t.list[t.list.length - 1];
  const after = last ? last.loc!.end.line : t.openerLine;
  if (closerLine(t, oldIx) <= after) {
    return { fail: 'SHARED_LINE', reason: `in the old version its block closes on the same line as code (line ${after})` };
  }
  return { after, target: t, indent: indentAt(t, after, oldIx) };
}
