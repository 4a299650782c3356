/**
 * What replay needs to know about one version's code, read from its syntax tree (never guessed
 * from text): the `flor.loop` loops and their nesting, where each requested `flor.log` sits, and
 * which identifiers each loop body assigns and what reads them afterwards. Pure.
 *
 * Assignments are resolved to the binding they reach (assignmentSites: a `total += s` beside a
 * block that declares its own `total` still assigns the outer one; a `var` belongs to its
 * function). Reads are collected by name, which can only keep more loops running: everything
 * errs towards "runs", which is only slower.
 */
import { parse } from '@babel/parser';
import type { Node } from '@babel/types';
import { parserOptions, scopeBindings } from '../propagate/index.js';

interface AstNode {
  type: string;
  start?: number | null;
  loc?: { start: { line: number } } | null;
  [k: string]: unknown;
}

const SKIP_KEYS = new Set(['loc', 'start', 'end', 'range', 'extra', 'leadingComments', 'trailingComments', 'innerComments', 'comments', 'tokens', 'errors']);

function children(n: AstNode): AstNode[] {
  const out: AstNode[] = [];
  for (const k of Object.keys(n)) {
    if (SKIP_KEYS.has(k)) continue;
    const v = n[k];
    if (Array.isArray(v)) {
      for (const x of v) if (x && typeof x === 'object' && typeof (x as AstNode).type === 'string') out.push(x as AstNode);
    } else if (v && typeof v === 'object' && typeof (v as AstNode).type === 'string') out.push(v as AstNode);
  }
  return out;
}

function walk(n: AstNode, visit: (n: AstNode, parent: AstNode | null) => boolean | void, parent: AstNode | null = null): void {
  if (visit(n, parent) === false) return;
  for (const c of children(n)) walk(c, visit, n);
}

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression', 'ObjectMethod', 'ClassMethod', 'ClassPrivateMethod']);

/** A `for (… of flor.loop('name', …))` loop. */
export interface LoopSite {
  name: string | null; // null: the name is not a string literal
  file: string;
  line: number;
  isAwait: boolean;
  node: AstNode;
  /** Enclosing flor.loop, lexically, without crossing a function boundary. */
  parent: LoopSite | null;
  /** Innermost enclosing function (null: module top level). Code in another function than the
   * outer loop's runs wherever it is called from: its loop context is unknown. */
  fn: AstNode | null;
  /** Offset in the file. */
  pos: number;
}

/** A `flor.log('name', …)` call for a requested name. */
export interface LogSite {
  name: string;
  file: string;
  line: number;
  loop: LoopSite | null;
  fn: AstNode | null;
  pos: number;
}

export interface CodeShape {
  loops: LoopSite[];
  logs: LogSite[];
  /** Files that did not parse, with the parser's message. */
  unparsed: Array<{ file: string; error: string }>;
  /** Per file: its root node, for the assignment/read analysis. */
  roots: Map<string, AstNode>;
  /** flor.loop calls whose shape we do not understand (not the iterable of a for-of). */
  strayLoops: number;
  /** Names of what flor.checkpointing registers: its keys and the variables given as values. */
  checkpointed: Set<string>;
}

function parseFile(file: string, text: string): AstNode {
  // The same plugins propagation parses with (decorators, JSX in .js), so a file propagation can
  // read is never "unparsed" here; but no error recovery: the planner must not reason about a
  // half-understood tree.
  return parse(text, {
    ...parserOptions(file),
    sourceType: 'unambiguous',
    allowReturnOutsideFunction: true,
    allowImportExportEverywhere: true,
    errorRecovery: false,
  }) as unknown as AstNode;
}

/** `<x>.loop(...)` / `<x>.log(...)` with a string-literal first argument. */
function florCall(n: AstNode, method: string): { name: string | null } | null {
  if (n.type !== 'CallExpression') return null;
  const callee = n.callee as AstNode;
  if (callee.type !== 'MemberExpression' && callee.type !== 'OptionalMemberExpression') return null;
  const prop = callee.property as AstNode;
  if (callee.computed || prop.type !== 'Identifier' || prop.name !== method) return null;
  const obj = callee.object as AstNode;
  if (obj.type !== 'Identifier' || obj.name !== 'flor') return null;
  const first = (n.arguments as AstNode[])[0];
  if (first && first.type === 'StringLiteral') return { name: first.value as string };
  if (first && first.type === 'TemplateLiteral' && (first.expressions as unknown[]).length === 0) {
    return { name: ((first.quasis as AstNode[])[0]!.value as { cooked: string }).cooked };
  }
  return { name: null };
}

function lineOf(n: AstNode): number {
  return n.loc?.start.line ?? 0;
}

export function readCodeShape(files: Record<string, string>, names: string[]): CodeShape {
  const wanted = new Set(names);
  const shape: CodeShape = { loops: [], logs: [], unparsed: [], roots: new Map(), strayLoops: 0, checkpointed: new Set() };
  for (const [file, text] of Object.entries(files)) {
    let root: AstNode;
    try {
      root = parseFile(file, text);
    } catch (e) {
      shape.unparsed.push({ file, error: (e as Error).message.split('\n')[0]! });
      continue;
    }
    shape.roots.set(file, root);
    const loopCalls = new Set<AstNode>();
    const visit = (n: AstNode, loop: LoopSite | null, fn: AstNode | null): void => {
      if (n.type === 'ForOfStatement') {
        const call = florCall(n.right as AstNode, 'loop');
        if (call) {
          loopCalls.add(n.right as AstNode);
          const site: LoopSite = { name: call.name, file, line: lineOf(n), isAwait: n.await === true, node: n, parent: loop, fn, pos: n.start ?? 0 };
          shape.loops.push(site);
          visit(n.left as AstNode, loop, fn);
          visit(n.right as AstNode, loop, fn);
          visit(n.body as AstNode, site, fn);
          return;
        }
      }
      if (FUNCTION_TYPES.has(n.type)) {
        for (const c of children(n)) visit(c, null, n);
        return;
      }
      const log = florCall(n, 'log');
      if (log && log.name !== null && wanted.has(log.name)) {
        shape.logs.push({ name: log.name, file, line: lineOf(n), loop, fn, pos: n.start ?? 0 });
      }
      if (florCall(n, 'loop') && !loopCalls.has(n)) shape.strayLoops++;
      if (florCall(n, 'checkpointing')) {
        const arg = (n.arguments as AstNode[])[0];
        for (const prop of arg && arg.type === 'ObjectExpression' ? (arg.properties as AstNode[]) : []) {
          const key = prop.key as AstNode | undefined;
          if (key && key.type === 'Identifier') shape.checkpointed.add(key.name as string);
          const value = prop.value as AstNode | undefined;
          if (value && value.type === 'Identifier') shape.checkpointed.add(value.name as string);
        }
      }
      for (const c of children(n)) visit(c, loop, fn);
    };
    visit(root, null, null);
  }
  return shape;
}

// ---- assignments and reads -------------------------------------------------------------

function patternNames(p: AstNode | null | undefined, out: Set<string>): void {
  if (!p) return;
  switch (p.type) {
    case 'Identifier':
      out.add(p.name as string);
      break;
    case 'ObjectPattern':
      for (const prop of p.properties as AstNode[]) patternNames(prop.type === 'RestElement' ? (prop.argument as AstNode) : (prop.value as AstNode), out);
      break;
    case 'ArrayPattern':
      for (const el of p.elements as Array<AstNode | null>) patternNames(el, out);
      break;
    case 'RestElement':
      patternNames(p.argument as AstNode, out);
      break;
    case 'AssignmentPattern':
      patternNames(p.left as AstNode, out);
      break;
    case 'TSParameterProperty':
      patternNames(p.parameter as AstNode, out);
      break;
  }
}

/**
 * Identifier reads inside `nodes`, not descending into `exclude`. Declaration ids, property keys
 * and member names are not reads; an assignment target is counted (conservative).
 */
export function readsIn(nodes: AstNode[], exclude: AstNode | null = null): Set<string> {
  const out = new Set<string>();
  for (const n of nodes) {
    walk(n, (x, parent) => {
      if (x === exclude) return false;
      if (x.type === 'VariableDeclarator') {
        if (x.init) for (const r of readsIn([x.init as AstNode], exclude)) out.add(r);
        return false;
      }
      if (x.type !== 'Identifier') return;
      if (parent && (parent.type === 'MemberExpression' || parent.type === 'OptionalMemberExpression') && parent.property === x && !parent.computed) return;
      if (parent && (parent.type === 'ObjectProperty' || parent.type === 'ObjectMethod' || parent.type === 'ClassMethod' || parent.type === 'ClassProperty') && parent.key === x && !parent.computed) {
        if (!(parent.type === 'ObjectProperty' && parent.shorthand)) return;
      }
      if (parent && (parent.type === 'FunctionDeclaration' || parent.type === 'ClassDeclaration') && parent.id === x) return;
      out.add(x.name as string);
    });
  }
  return out;
}

export function referencedIn(n: AstNode): Set<string> {
  return readsIn([n]);
}

/** Root identifier of a member chain (`a.b[c].d` -> a). */
function memberRoot(n: AstNode): string | null {
  let x = n;
  while (x.type === 'MemberExpression' || x.type === 'OptionalMemberExpression') x = x.object as AstNode;
  return x.type === 'Identifier' ? (x.name as string) : null;
}

/**
 * Names among `watched` that `nodes` may mutate in place: member assignments/updates rooted at
 * them, and method calls on them (`opt.step()`), not descending into `exclude`.
 */
export function mutatedIn(nodes: AstNode[], watched: Set<string>, exclude: AstNode | null = null): Set<string> {
  const out = new Set<string>();
  for (const n of nodes) {
    walk(n, (x) => {
      if (x === exclude) return false;
      let target: AstNode | null = null;
      if (x.type === 'AssignmentExpression') target = x.left as AstNode;
      else if (x.type === 'UpdateExpression') target = x.argument as AstNode;
      else if (x.type === 'UnaryExpression' && x.operator === 'delete') target = x.argument as AstNode;
      else if ((x.type === 'CallExpression' || x.type === 'OptionalCallExpression') && /MemberExpression$/.test((x.callee as AstNode).type)) target = x.callee as AstNode;
      if (target && /MemberExpression$/.test(target.type)) {
        const r = memberRoot(target);
        if (r && watched.has(r)) out.add(r);
      }
    });
  }
  return out;
}

/** Names of identifiers called directly (`f(…)`, `new F(…)`) inside `n`. */
export function calledIn(n: AstNode, exclude: AstNode | null = null): Set<string> {
  const out = new Set<string>();
  walk(n, (x) => {
    if (x === exclude) return false;
    if ((x.type === 'CallExpression' || x.type === 'NewExpression') && (x.callee as AstNode).type === 'Identifier') out.add((x.callee as AstNode).name as string);
  });
  return out;
}

/**
 * A write to a variable's value and the binding it reaches: an assignment (`=`, `op=`, `++`/`--`,
 * a declarator's initialiser, a for-in/of head), or an in-place change of the object it holds (a
 * member write or delete, a method call: `hist.push(x)`, `stats.n += 1`, `rng.next()`). Only
 * changes to objects this file declares count: calls on globals (`Math`, `console`) and imports
 * are another module's business.
 */
export interface AssignSite {
  name: string;
  /** Offset of the target in the file. */
  pos: number;
  /** The node whose scope declares that binding (program, function, block, loop head, catch); null: nothing in the file does (a global). */
  scope: AstNode | null;
  /** In place (through a member or a method call) rather than an assignment of the variable itself. */
  inPlace: boolean;
}

/** Whether `inner` lies within `outer` (or is it). */
export function contains(outer: AstNode, inner: AstNode): boolean {
  return (inner.start ?? -1) >= (outer.start ?? 0) && (inner.end as number) <= (outer.end as number);
}

function within(n: AstNode, pos: number): boolean {
  return pos >= (n.start ?? 0) && pos < (n.end as number);
}

/** Every write under `root` (a file's program), each resolved through the scopes around it. */
export function assignmentSites(root: AstNode): AssignSite[] {
  const out: AssignSite[] = [];
  const stack: Array<{ node: AstNode; names: Map<string, string> }> = [];
  const resolve = (name: string): { scope: AstNode; kind: string } | null => {
    for (let i = stack.length - 1; i >= 0; i--) {
      const kind = stack[i]!.names.get(name);
      if (kind !== undefined) return { scope: stack[i]!.node, kind };
    }
    return null;
  };
  const visit = (n: AstNode): void => {
    // Propagation's scopes list a block's `var`s in the block too (visible there); a var's binding
    // is its function's or the program's, which list it as well (hoisted).
    const hoists = n.type === 'Program' || FUNCTION_TYPES.has(n.type);
    const bound = scopeBindings(n as unknown as Node).filter((b) => hoists || b.kind !== 'var');
    if (bound.length) stack.push({ node: n, names: new Map(bound.map((b) => [b.name, b.kind])) });
    let target: AstNode | null = null;
    if (n.type === 'AssignmentExpression') target = n.left as AstNode;
    else if (n.type === 'UpdateExpression') target = n.argument as AstNode;
    else if (n.type === 'ForOfStatement' || n.type === 'ForInStatement') {
      const left = n.left as AstNode;
      // A head that declares with let/const binds inside the loop; one with `var` assigns the function's.
      target = left.type !== 'VariableDeclaration' ? left : left.kind === 'var' ? ((left.declarations as AstNode[])[0]?.id as AstNode) : null;
    } else if (n.type === 'VariableDeclarator' && n.init) target = n.id as AstNode; // `var x = …` in a loop assigns the function's x
    if (target) {
      const names = new Set<string>();
      patternNames(target, names);
      for (const name of names) out.push({ name, pos: target.start ?? 0, scope: resolve(name)?.scope ?? null, inPlace: false });
    }
    const changed = inPlaceTarget(n);
    if (changed) {
      const r = memberRoot(changed);
      const b = r === null ? null : resolve(r);
      if (r !== null && b && b.kind !== 'import') out.push({ name: r, pos: changed.start ?? 0, scope: b.scope, inPlace: true });
    }
    for (const c of children(n)) visit(c);
    if (bound.length) stack.pop();
  };
  visit(root);
  return out;
}

/** The member expression `n` writes into or calls a method of, if any. */
function inPlaceTarget(n: AstNode): AstNode | null {
  let t: AstNode | null = null;
  if (n.type === 'AssignmentExpression') t = n.left as AstNode;
  else if (n.type === 'UpdateExpression') t = n.argument as AstNode;
  else if (n.type === 'UnaryExpression' && n.operator === 'delete') t = n.argument as AstNode;
  else if (n.type === 'CallExpression' || n.type === 'OptionalCallExpression') t = n.callee as AstNode;
  return t && /MemberExpression$/.test(t.type) ? t : null;
}

/** The sites under `n` that write a binding declared outside `n`. */
export function escapingAssigns(sites: AssignSite[], n: AstNode): AssignSite[] {
  return sites.filter((a) => within(n, a.pos) && !(a.scope && contains(n, a.scope)));
}

/**
 * For each named function of a file (declarations and `const f = () => …`): the assignments it
 * makes to bindings outside itself, and the names it reads (by name: over-counting only keeps
 * loops running), closed over the local functions it calls, so a call in a loop body counts as
 * the assignments that call makes.
 */
export function functionEffects(root: AstNode, sites: AssignSite[] = assignmentSites(root)): Map<string, { assigns: AssignSite[]; reads: Set<string> }> {
  const fns = new Map<string, { node: AstNode; assigns: Set<AssignSite>; reads: Set<string>; calls: Set<string> }>();
  walk(root, (x) => {
    let name: string | null = null;
    let fn: AstNode | null = null;
    if (x.type === 'FunctionDeclaration' && x.id) {
      name = (x.id as AstNode).name as string;
      fn = x;
    } else if (x.type === 'VariableDeclarator' && (x.id as AstNode).type === 'Identifier' && x.init && FUNCTION_TYPES.has((x.init as AstNode).type)) {
      name = (x.id as AstNode).name as string;
      fn = x.init as AstNode;
    }
    if (name && fn) fns.set(name, { node: fn, assigns: new Set(escapingAssigns(sites, fn)), reads: referencedIn(fn), calls: calledIn(fn) });
  });
  for (let changed = true; changed; ) {
    changed = false;
    for (const f of fns.values()) {
      for (const c of f.calls) {
        const g = fns.get(c);
        if (!g || g === f) continue;
        for (const v of g.assigns) if (!f.assigns.has(v)) (f.assigns.add(v), (changed = true));
        for (const v of g.reads) if (!f.reads.has(v)) (f.reads.add(v), (changed = true));
      }
    }
  }
  const out = new Map<string, { assigns: AssignSite[]; reads: Set<string> }>();
  for (const [k, v] of fns) out.set(k, { assigns: [...v.assigns], reads: v.reads });
  return out;
}

/** Named functions of a file: declarations and `const f = (…) => …`. */
export function localFunctions(root: AstNode): Map<string, AstNode> {
  const out = new Map<string, AstNode>();
  walk(root, (x) => {
    if (x.type === 'FunctionDeclaration' && x.id) out.set((x.id as AstNode).name as string, x);
    else if (x.type === 'VariableDeclarator' && (x.id as AstNode).type === 'Identifier' && x.init && FUNCTION_TYPES.has((x.init as AstNode).type)) {
      out.set((x.id as AstNode).name as string, x.init as AstNode);
    }
  });
  return out;
}

/**
 * Checkpointed objects that `nodes` pass to a local function which modifies that parameter in
 * place (`function decay(opt) { opt.lr *= 0.9 }` … `decay(opt)`). Functions from other modules
 * are taken to leave their arguments alone: the syntax cannot see into them.
 */
export function mutatedThroughCalls(nodes: AstNode[], watched: Set<string>, fns: Map<string, AstNode>, exclude: AstNode | null = null): Set<string> {
  const out = new Set<string>();
  for (const n of nodes) {
    walk(n, (x) => {
      if (x === exclude) return false;
      if (x.type !== 'CallExpression' || (x.callee as AstNode).type !== 'Identifier') return;
      const fn = fns.get((x.callee as AstNode).name as string);
      if (!fn) return;
      (x.arguments as AstNode[]).forEach((arg, i) => {
        if (arg.type !== 'Identifier' || !watched.has(arg.name as string)) return;
        const param = (fn.params as AstNode[])[i];
        if (param && param.type === 'Identifier' && mutatedIn([fn.body as AstNode], new Set([param.name as string])).size) out.add(arg.name as string);
      });
    });
  }
  return out;
}

/**
 * The code that may run after `inner` within the same pass of `outer`'s body: the later siblings of
 * `inner` and of each statement enclosing it, up to the outer body. Code before the inner loop in
 * an enclosing loop (a plain `for`/`while` between the two) runs again after it, so such a loop
 * counts whole.
 */
export function codeAfter(outer: AstNode, inner: AstNode): AstNode[] {
  const path: AstNode[] = [];
  const find = (n: AstNode): boolean => {
    if (n === inner) return true;
    for (const c of children(n)) {
      if (find(c)) {
        path.push(n);
        return true;
      }
    }
    return false;
  };
  find(outer.body as AstNode);
  // path: innermost ancestor first, ending with outer.body
  const out: AstNode[] = [];
  let child: AstNode = inner;
  for (const anc of path) {
    if (anc.type === 'BlockStatement' || anc.type === 'Program' || anc.type === 'SwitchCase') {
      const list = (anc.type === 'SwitchCase' ? anc.consequent : anc.body) as AstNode[];
      const i = list.indexOf(child);
      if (i >= 0) out.push(...list.slice(i + 1));
    } else if (/^(For|ForIn|ForOf|While|DoWhile)Statement$/.test(anc.type)) {
      out.push(anc);
    }
    child = anc;
  }
  return out;
}

export type { AstNode };
