/**
 * The statement lists of a file ("containers": the program, every `{ … }` block, every switch
 * case) and how they nest. Placement reasons in these terms: a statement belongs to one container,
 * and an insertion point is a gap between two statements of one container.
 */
import { isNode, SKIP_KEYS } from './ast.js';
import type { Node, Statement } from '@babel/types';
import type { Source } from './source.js';

export interface Container {
  node: Node;
  list: Statement[];
  parent: Container | null;
  depth: number;
  /** Line of the `{` (or of `case …:`); 0 for the program. */
  openerLine: number;
  /** Offsets strictly inside the braces: a position p is in the interior when start <= p < end. */
  interiorStart: number;
  interiorEnd: number;
}

export interface AstIndex {
  src: Source;
  program: Container;
  /**
   * Containers met so far. They are made lazily, on the way down from the program towards a
   * position: a full walk of a 2,000-line AST cost more than all the rest of propagation.
   */
  byNode: Map<Node, Container>;
}

/** The child of `node` whose source range holds `pos` (siblings never overlap), or null. */
export function childAt(node: Node, pos: number): Node | null {
  const rec = node as unknown as Record<string, unknown>;
  for (const key in rec) {
    if (SKIP_KEYS.has(key)) continue;
    const v = rec[key];
    if (Array.isArray(v)) {
      for (const x of v) {
        if (!isNode(x)) continue;
        if (x.start! > pos) break;
        if (pos < x.end!) return x;
      }
    } else if (isNode(v) && v.start! <= pos && pos < v.end!) return v;
  }
  return null;
}

function listOfNode(node: Node): Statement[] | null {
  switch (node.type) {
    case 'Program':
    case 'BlockStatement':
    case 'StaticBlock':
    case 'TSModuleBlock':
      return node.body as Statement[];
    case 'SwitchCase':
      return node.consequent;
    default:
      return null;
  }
}

export function indexAst(src: Source): AstIndex {
  const program = src.ast.program;
  const root: Container = {
    node: program,
    list: program.body,
    parent: null,
    depth: 0,
    openerLine: 0,
    interiorStart: 0,
    interiorEnd: src.text.length + 1,
  };
  return { src, program: root, byNode: new Map([[program as Node, root]]) };
}

function containerFor(ix: AstIndex, node: Node, parent: Container): Container | null {
  const known = ix.byNode.get(node);
  if (known) return known;
  const list = listOfNode(node);
  if (!list) return null;
  const { src } = ix;
  let interiorStart: number;
  if (node.type === 'SwitchCase') interiorStart = node.test ? node.test.end! : node.start! + 'default'.length;
  else interiorStart = src.text.indexOf('{', node.start!) + 1;
  const c: Container = {
    node,
    list,
    parent,
    depth: parent.depth + 1,
    openerLine: node.type === 'SwitchCase' ? node.loc!.start.line : lineOfOffset(src, interiorStart - 1),
    interiorStart,
    interiorEnd: node.type === 'SwitchCase' ? node.end! : node.end! - 1,
  };
  ix.byNode.set(node, c);
  return c;
}

/**
 * Walks down from the program towards `pos`, calling `visit` with every node whose range holds it
 * and the innermost container holding it at statement level so far. Stops when `visit` returns true.
 */
function descend(ix: AstIndex, pos: number, visit?: (node: Node, c: Container) => boolean | void): Container {
  let c = ix.program;
  let node: Node = c.node;
  for (;;) {
    const child = childAt(node, pos);
    if (!child) return c;
    const inner = containerFor(ix, child, c);
    if (inner && inner.interiorStart <= pos && pos < inner.interiorEnd) c = inner;
    if (visit?.(child, c)) return c;
    node = child;
  }
}

/** Nodes from the program down to `target` (inclusive). */
export function pathTo(ix: AstIndex, target: Node): Node[] {
  const path: Node[] = [ix.program.node];
  if (target === ix.program.node) return path;
  descend(ix, target.start!, (n) => {
    path.push(n);
    return n === target;
  });
  return path;
}

/** Every node whose range holds `pos`, outermost first. */
export function nodesAt(ix: AstIndex, pos: number): Node[] {
  const path: Node[] = [];
  descend(ix, pos, (n) => void path.push(n));
  return path;
}

/** The container whose list holds statement `stmt`; null when it is a brace-less body. */
export function listOf(ix: AstIndex, stmt: Node): Container | null {
  const lv = levelAt(ix, stmt.start!);
  return lv.stmt === stmt ? lv.container : null;
}

export function lineOfOffset(src: Source, offset: number): number {
  // lineStart is sorted: binary search for the last line starting at or before offset.
  let lo = 1;
  let hi = src.lines.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (src.lineStart[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Offset of the first non-blank character of a line, or null for a blank line. */
export function firstCodeOffset(src: Source, line: number): number | null {
  const text = src.lines[line];
  if (text === undefined) return null;
  const m = /\S/.exec(text);
  return m ? src.lineStart[line]! + m.index : null;
}

export interface Level {
  container: Container;
  /** The statement of `container` spanning the position; null in a gap (comment line, blank). */
  stmt: Statement | null;
}

/** The innermost container that holds `pos` at statement level. */
export function levelAt(ix: AstIndex, pos: number): Level {
  const c = descend(ix, pos);
  return { container: c, stmt: stmtOf(c, pos) };
}

/** The statement of `c`'s list that spans `pos` (at any depth below it), or null. */
export function stmtOf(c: Container, pos: number): Statement | null {
  let lo = 0;
  let hi = c.list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = c.list[mid]!;
    if (pos < s.start!) hi = mid - 1;
    else if (pos >= s.end!) lo = mid + 1;
    else return s;
  }
  return null;
}

export function isAncestorOrSelf(a: Container, b: Container): boolean {
  for (let x: Container | null = b; x; x = x.parent) if (x === a) return true;
  return false;
}

export function ancestorUp(c: Container, k: number): Container | null {
  let x: Container | null = c;
  for (let i = 0; i < k && x; i++) x = x.parent;
  return x;
}

/** Containers whose opener (`{`, or `case`/`default`) is on `line`, in source order. */
export function openersOn(ix: AstIndex, line: number): Container[] {
  const { src } = ix;
  const text = src.lines[line] ?? '';
  const out: Container[] = [];
  const re = /\{|\bcase\b|\bdefault\b/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const q = src.lineStart[line]! + m.index;
    const isBrace = m[0] === '{';
    descend(ix, q, (n) => {
      const k = ix.byNode.get(n);
      if (k && (isBrace ? k.interiorStart === q + 1 : n.type === 'SwitchCase' && n.start === q)) {
        out.push(k);
        return true;
      }
      return false;
    });
  }
  return out;
}
