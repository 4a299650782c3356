/**
 * Writing placed statements into the old text: the indentation the old code uses where each goes,
 * the import of `flor` copied from today's file when the old one lacks it, and the old file's lines
 * with the statements between them (its line endings and final newline kept). Pure.
 */
import type { Statement } from '@babel/types';
import { firstCodeOffset, type AstIndex, type Container } from './blocks.js';
import type { Binding } from './scope.js';
import { extensionOf, leadingWhitespace, type Source } from './source.js';
import type { LogStatement } from './statements.js';

export interface Stmt {
  name: string | null;
  /** The statement as written today. */
  text: string;
  /** Its first line in today's file. */
  line: number;
  /** Its first line in the result (inserted) or in the old version (existing); 0 when unknown. */
  at: number;
}

export interface Placement {
  /** Insert after this old line (0 = at the top of the file). */
  after: number;
  target: Container;
  indent: string;
}

/** Indentation of the statements around the insertion point, or one step deeper than the opener. */
export function indentAt(t: Container, after: number, oldIx: AstIndex): string {
  const src = oldIx.src;
  const startsLine = (s: Statement): boolean => firstCodeOffset(src, s.loc!.start.line) === s.start;
  let before: Statement | undefined;
  let next: Statement | undefined;
  for (const s of t.list) {
    if (s.loc!.end.line <= after) before = s;
    else if (!next && s.loc!.start.line > after) next = s;
  }
  for (const s of [before, next]) if (s && startsLine(s)) return leadingWhitespace(src.lines[s.loc!.start.line]!);
  if (t === oldIx.program) return '';
  return leadingWhitespace(src.lines[t.openerLine]!) + indentUnit(src);
}

/** The old file's indentation step: the most common increase between consecutive code lines. */
function indentUnit(src: Source): string {
  const counts = new Map<string, number>();
  let prev: string | null = null;
  for (let i = 1; i < src.lines.length; i++) {
    const line = src.lines[i]!;
    if (line.trim() === '') continue;
    const ind = leadingWhitespace(line);
    if (prev !== null && ind.length > prev.length && ind.startsWith(prev)) {
      const step = ind.slice(prev.length);
      counts.set(step, (counts.get(step) ?? 0) + 1);
    }
    prev = ind;
  }
  let best = '  ';
  let n = 0;
  for (const [step, c] of counts) if (c > n) [best, n] = [step, c];
  return best;
}

/** An import of `flor` for the old file, copied from today's binding; null when it is not an import. */
export function florImport(b: Binding, newSrc: Source, oldIx: AstIndex): { after: number; text: string } | null {
  const oldSrc = oldIx.src;
  const body = oldIx.program.list;
  let after = 0;
  for (const s of body) if (s.type === 'ImportDeclaration') after = s.loc!.end.line;
  if (after === 0) {
    const directives = (oldIx.program.node as { directives?: Array<{ loc?: { end: { line: number } } | null }> }).directives ?? [];
    const lastDirective = directives[directives.length - 1];
    if (lastDirective?.loc) after = lastDirective.loc.end.line;
    else if (oldSrc.lines[1]?.startsWith('#!')) after = 1;
  }
  const script = ['.cjs', '.cts'].includes(extensionOf(oldSrc.path));
  const n = b.node;
  if (n.type === 'ImportDeclaration') {
    const from = newSrc.text.slice(n.source.start!, n.source.end!);
    const sp = n.specifiers.find((x) => x.local.name === 'flor');
    if (!sp) return null;
    if (sp.type === 'ImportSpecifier') {
      const imported = sp.imported.type === 'Identifier' ? sp.imported.name : sp.imported.value;
      if (script) return imported === 'flor' ? { after, text: `const { flor } = require(${from});` } : null;
      return { after, text: imported === 'flor' ? `import { flor } from ${from};` : `import { ${imported} as flor } from ${from};` };
    }
    if (script) return null;
    return { after, text: sp.type === 'ImportDefaultSpecifier' ? `import flor from ${from};` : `import * as flor from ${from};` };
  }
  if (n.type === 'VariableDeclaration' && n.declarations.length === 1) {
    const init = n.declarations[0]!.init;
    const isRequire = init?.type === 'CallExpression' && init.callee.type === 'Identifier' && init.callee.name === 'require';
    if (isRequire && newSrc.ast.program.body.includes(n)) return { after, text: newSrc.text.slice(n.start!, n.end!) };
  }
  return null;
}

export function assemble(
  oldSrc: Source,
  newSrc: Source,
  items: Array<{ log: LogStatement; placement: Placement }>,
  imp: { after: number; text: string } | null,
  fmt: { eol: string; finalNewline: boolean },
): { text: string; inserted: Stmt[] } {
  type Piece = { after: number; order: number; lines: string[]; log: LogStatement | null };
  const pieces: Piece[] = [];
  if (imp) pieces.push({ after: imp.after, order: -1, lines: [imp.text], log: null });
  for (const { log, placement } of items) pieces.push({ after: placement.after, order: log.start, lines: reindent(log, newSrc, placement.indent), log });
  pieces.sort((a, b) => a.after - b.after || a.order - b.order);

  const out: string[] = [];
  const inserted: Stmt[] = [];
  let p = 0;
  const flush = (after: number): void => {
    while (p < pieces.length && pieces[p]!.after === after) {
      const piece = pieces[p++]!;
      if (piece.log) inserted.push({ name: piece.log.name, text: piece.log.text, line: piece.log.startLine, at: out.length + 1 });
      out.push(...piece.lines);
    }
  };
  flush(0);
  const n = oldSrc.lines.length - 1;
  for (let i = 1; i <= n; i++) {
    out.push(oldSrc.lines[i]!);
    flush(i);
  }
  let text = out.join(fmt.eol);
  if (fmt.finalNewline) text += fmt.eol;
  inserted.sort((a, b) => a.line - b.line);
  return { text, inserted };
}

/** The statement's lines with its first-line indentation replaced by the old code's. */
function reindent(l: LogStatement, newSrc: Source, indent: string): string[] {
  const lines = l.text.split('\n');
  const base = leadingWhitespace(newSrc.lines[l.startLine]!);
  // A template literal spanning lines carries its line starts in its value: leave those alone.
  const multilineString = /`[^`]*\n[^`]*`/.test(l.text);
  return lines.map((line, i) => {
    if (i === 0) return indent + line;
    if (multilineString || line.trim() === '') return line;
    return line.startsWith(base) ? indent + line.slice(base.length) : line;
  });
}
