/**
 * The dataflow questions replay's planner asks of one file's syntax tree (code-shape.ts finds the
 * loops): which bindings a loop body assigns or changes in place, what reads them afterwards, what
 * local functions do to their arguments. Pure.
 *
 * Assignments are resolved to the binding they reach (assignmentSites: a `total += s` beside a
 * block that declares its own `total` still assigns the outer one; a `var` belongs to its
 * function). Reads are collected by name, which can only keep more loops running: everything
 * errs towards "runs", which is only slower.
 */
import type { Node } from '@babel/types';
import { scopeBindings } from '../propagate/index.js';
import { children, isFunction, patternNames, walk } from '../propagate/ast.js';

const isMember = (n: Node): n is Node & { type: 'MemberExpression' | 'OptionalMemberExpression' } => n.type === 'MemberExpression' || n.type === 'OptionalMemberExpression';

/**
 * Identifier reads inside `nodes`, not descending into `exclude`. Declaration ids, property keys
 * and member names are not reads; an assignment target is counted (conservative).
 */
export function readsIn(nodes: Node[], exclude: Node | null = null): Set<string> {
  const out = new Set<string>();
  for (const n of nodes) {
    walk(n, (x, parent) => {
      if (x === exclude) return false;
      if (x.type === 'VariableDeclarator') {
        if (x.init) for (const r of readsIn([x.init], exclude)) out.add(r);
        return false;
      }
      if (x.type !== 'Identifier') return;
      if (parent && isMember(parent) && parent.property === x && !parent.computed) return;
      if (parent && (parent.type === 'ObjectProperty' || parent.type === 'ObjectMethod' || parent.type === 'ClassMethod' || parent.type === 'ClassProperty') && parent.key === x && !parent.computed) {
        if (!(parent.type === 'ObjectProperty' && parent.shorthand)) return;
      }
      if (parent && (parent.type === 'FunctionDeclaration' || parent.type === 'ClassDeclaration') && parent.id === x) return;
      out.add(x.name);
    });
  }
  return out;
}

export function referencedIn(n: Node): Set<string> {
  return readsIn([n]);
}

/** Root identifier of a member chain (`a.b[c].d` -> a). */
function memberRoot(n: Node): string | null {
  let x = n;
  while (isMember(x)) x = x.object;
  return x.type === 'Identifier' ? x.name : null;
}

/** The member expression `n` writes into, deletes from or calls a method of, if any. */
function inPlaceTarget(n: Node): Node | null {
  let t: Node | null = null;
  if (n.type === 'AssignmentExpression') t = n.left;
  else if (n.type === 'UpdateExpression') t = n.argument;
  else if (n.type === 'UnaryExpression' && n.operator === 'delete') t = n.argument;
  else if (n.type === 'CallExpression' || n.type === 'OptionalCallExpression') t = n.callee;
  return t && isMember(t) ? t : null;
}

/**
 * Names among `watched` that `nodes` may mutate in place: member assignments/updates rooted at
 * them, and method calls on them (`opt.step()`), not descending into `exclude`.
 */
export function mutatedIn(nodes: Node[], watched: Set<string>, exclude: Node | null = null): Set<string> {
  const out = new Set<string>();
  for (const n of nodes) {
    walk(n, (x) => {
      if (x === exclude) return false;
      const target = inPlaceTarget(x);
      if (target) {
        const r = memberRoot(target);
        if (r && watched.has(r)) out.add(r);
      }
    });
  }
  return out;
}

/** Names of identifiers called directly (`f(…)`, `new F(…)`) inside `n`. */
export function calledIn(n: Node, exclude: Node | null = null): Set<string> {
  const out = new Set<string>();
  walk(n, (x) => {
    if (x === exclude) return false;
    if ((x.type === 'CallExpression' || x.type === 'NewExpression') && x.callee.type === 'Identifier') out.add(x.callee.name);
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
  scope: Node | null;
  /** In place (through a member or a method call) rather than an assignment of the variable itself. */
  inPlace: boolean;
}

/** Whether `inner` lies within `outer` (or is it). */
export function contains(outer: Node, inner: Node): boolean {
  return (inner.start ?? -1) >= (outer.start ?? 0) && (inner.end ?? 0) <= (outer.end ?? 0);
}

function within(n: Node, pos: number): boolean {
  return pos >= (n.start ?? 0) && pos < (n.end ?? 0);
}

/** Every write under `root` (a file's program), each resolved through the scopes around it. */
export function assignmentSites(root: Node): AssignSite[] {
  const out: AssignSite[] = [];
  const stack: Array<{ node: Node; names: Map<string, string> }> = [];
  const resolve = (name: string): { scope: Node; kind: string } | null => {
    for (let i = stack.length - 1; i >= 0; i--) {
      const kind = stack[i]!.names.get(name);
      if (kind !== undefined) return { scope: stack[i]!.node, kind };
    }
    return null;
  };
  const visit = (n: Node): void => {
    // Propagation's scopes list a block's `var`s in the block too (visible there); a var's binding
    // is its function's or the program's, which list it as well (hoisted).
    const hoists = n.type === 'Program' || isFunction(n);
    const bound = scopeBindings(n).filter((b) => hoists || b.kind !== 'var');
    if (bound.length) stack.push({ node: n, names: new Map(bound.map((b) => [b.name, b.kind])) });
    let target: Node | null | undefined = null;
    if (n.type === 'AssignmentExpression') target = n.left;
    else if (n.type === 'UpdateExpression') target = n.argument;
    else if (n.type === 'ForOfStatement' || n.type === 'ForInStatement') {
      const left = n.left;
      // A head that declares with let/const binds inside the loop; one with `var` assigns the function's.
      target = left.type !== 'VariableDeclaration' ? left : left.kind === 'var' ? left.declarations[0]?.id : null;
    } else if (n.type === 'VariableDeclarator' && n.init) target = n.id; // `var x = …` in a loop assigns the function's x
    if (target) {
      for (const name of new Set(patternNames(target))) out.push({ name, pos: target.start ?? 0, scope: resolve(name)?.scope ?? null, inPlace: false });
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

/** The sites under `n` that write a binding declared outside `n`. */
export function escapingAssigns(sites: AssignSite[], n: Node): AssignSite[] {
  return sites.filter((a) => within(n, a.pos) && !(a.scope && contains(n, a.scope)));
}

/** A named function of a file: a declaration, or `const f = (…) => …` / `function …` expression. */
function namedFunction(x: Node): { name: string; fn: Node } | null {
  if (x.type === 'FunctionDeclaration' && x.id) return { name: x.id.name, fn: x };
  if (x.type === 'VariableDeclarator' && x.id.type === 'Identifier' && x.init && isFunction(x.init)) return { name: x.id.name, fn: x.init };
  return null;
}

/**
 * For each named function of a file (declarations and `const f = () => …`): the assignments it
 * makes to bindings outside itself, and the names it reads (by name: over-counting only keeps
 * loops running), closed over the local functions it calls, so a call in a loop body counts as
 * the assignments that call makes.
 */
export function functionEffects(root: Node, sites: AssignSite[] = assignmentSites(root)): Map<string, { assigns: AssignSite[]; reads: Set<string> }> {
  const fns = new Map<string, { node: Node; assigns: Set<AssignSite>; reads: Set<string>; calls: Set<string> }>();
  walk(root, (x) => {
    const f = namedFunction(x);
    if (f) fns.set(f.name, { node: f.fn, assigns: new Set(escapingAssigns(sites, f.fn)), reads: referencedIn(f.fn), calls: calledIn(f.fn) });
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
export function localFunctions(root: Node): Map<string, Node> {
  const out = new Map<string, Node>();
  walk(root, (x) => {
    const f = namedFunction(x);
    if (f) out.set(f.name, f.fn);
  });
  return out;
}

/**
 * Checkpointed objects that `nodes` pass to a local function which modifies that parameter in
 * place (`function decay(opt) { opt.lr *= 0.9 }` … `decay(opt)`). Functions from other modules
 * are taken to leave their arguments alone: the syntax cannot see into them.
 */
export function mutatedThroughCalls(nodes: Node[], watched: Set<string>, fns: Map<string, Node>, exclude: Node | null = null): Set<string> {
  const out = new Set<string>();
  for (const n of nodes) {
    walk(n, (x) => {
      if (x === exclude) return false;
      if (x.type !== 'CallExpression' || x.callee.type !== 'Identifier') return;
      const fn = fns.get(x.callee.name);
      if (!fn || !('params' in fn) || !('body' in fn)) return;
      x.arguments.forEach((arg, i) => {
        if (arg.type !== 'Identifier' || !watched.has(arg.name)) return;
        const param = fn.params[i];
        if (param && param.type === 'Identifier' && mutatedIn([fn.body], new Set([param.name])).size) out.add(arg.name);
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
export function codeAfter(outer: Node & { body: Node }, inner: Node): Node[] {
  const path: Node[] = [];
  const find = (n: Node): boolean => {
    if (n === inner) return true;
    for (const c of children(n)) {
      if (find(c)) {
        path.push(n);
        return true;
      }
    }
    return false;
  };
  find(outer.body);
  // path: innermost ancestor first, ending with outer.body
  const out: Node[] = [];
  let child: Node = inner;
  for (const anc of path) {
    if (anc.type === 'BlockStatement' || anc.type === 'Program' || anc.type === 'SwitchCase') {
      const list: Node[] = anc.type === 'SwitchCase' ? anc.consequent : anc.body;
      const i = list.indexOf(child);
      if (i >= 0) out.push(...list.slice(i + 1));
    } else if (/^(For|ForIn|ForOf|While|DoWhile)Statement$/.test(anc.type)) {
      out.push(anc);
    }
    child = anc;
  }
  return out;
}
