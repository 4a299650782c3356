/**
 * Log statements: the statements propagation carries. A statement is one when it calls
 * `flor.log(...)` directly — as an expression statement, or as the initialiser/right-hand side of a
 * declaration or assignment (`const g = flor.log('g', norm(w))`), so a value logged and then used
 * moves together with its binding.
 */
import type { Node, Statement } from '@babel/types';
import { listOf, nodesAt, type AstIndex, type Container } from './blocks.js';
import { normaliseStatement } from './source.js';
import { florCall, literalText, unwrap } from './ast.js';

export interface LogStatement {
  node: Statement;
  /** First argument when it is a string literal; null otherwise. */
  name: string | null;
  /** The list holding it; null when it is the body of a brace-less if/loop. */
  container: Container | null;
  start: number;
  end: number;
  startLine: number;
  endLine: number;
  /** Source of the statement, plus a comment that follows it on its last line. */
  text: string;
  norm: string;
  /** Nothing but whitespace precedes it on its first line / follows it (bar a comment) on its last. */
  ownsFirstLine: boolean;
  ownsLastLine: boolean;
}

export function isFlorLogCall(e: Node | null | undefined): boolean {
  return florCall(unwrap(e), 'log') !== null;
}

function logCallOf(s: Node): Node | null {
  if (s.type === 'ExpressionStatement') {
    if (isFlorLogCall(s.expression)) return unwrap(s.expression)!;
    if (s.expression.type === 'AssignmentExpression' && isFlorLogCall(s.expression.right)) return unwrap(s.expression.right)!;
    return null;
  }
  if (s.type === 'VariableDeclaration') {
    for (const d of s.declarations) if (isFlorLogCall(d.init)) return unwrap(d.init)!;
  }
  return null;
}

function nameOf(call: Node): string | null {
  return literalText((call as { arguments?: Node[] }).arguments?.[0]);
}

function isStatementNode(n: Node): boolean {
  return n.type.endsWith('Statement') || n.type.endsWith('Declaration');
}

/**
 * Every log statement of the file, in source order. Found from the text (`flor.log` occurrences)
 * downwards, not by walking the whole AST: on a 2,000-line file the full walk cost more than all
 * the rest of propagation.
 */
export function findLogStatements(ix: AstIndex): LogStatement[] {
  const out: LogStatement[] = [];
  const seen = new Set<Node>();
  const re = /\bflor\s*\??\.\s*log\b/g;
  for (let m = re.exec(ix.src.text); m; m = re.exec(ix.src.text)) {
    const path = nodesAt(ix, m.index);
    let stmt: Node | undefined;
    for (let i = path.length - 1; i >= 0 && !stmt; i--) if (isStatementNode(path[i]!)) stmt = path[i];
    if (!stmt || seen.has(stmt)) continue;
    seen.add(stmt);
    const call = logCallOf(stmt);
    if (call) out.push(describe(ix, stmt as Statement, nameOf(call)));
  }
  return out.sort((a, b) => a.start - b.start);
}

function describe(ix: AstIndex, node: Statement, name: string | null): LogStatement {
  const { src } = ix;
  const start = node.start!;
  const end = node.end!;
  const startLine = node.loc!.start.line;
  const endLine = node.loc!.end.line;
  const before = src.text.slice(src.lineStart[startLine]!, start);
  const lastLine = src.lines[endLine]!;
  const after = lastLine.slice(end - src.lineStart[endLine]!);
  const trailingComment = /^\s*(\/\/.*|\/\*.*\*\/\s*)$/.test(after);
  const text = src.text.slice(start, end) + (trailingComment ? after.replace(/\s+$/, '') : '');
  return {
    node,
    name,
    container: listOf(ix, node),
    start,
    end,
    startLine,
    endLine,
    text,
    norm: normaliseStatement(src.text.slice(start, end)),
    ownsFirstLine: /^\s*$/.test(before),
    ownsLastLine: trailingComment || /^\s*$/.test(after),
  };
}
