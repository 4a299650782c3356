/**
 * Just enough scope analysis to keep propagation safe: which names are declared in scope at a point
 * of a file, and which names a statement reads or declares. Scopes: the module/program, functions
 * (params, their own name, hoisted `var`s), blocks and switch bodies (let/const/class/function),
 * for-loop heads, catch clauses, class names; imports; destructuring patterns.
 * Type positions are ignored: tsx/ts-node strip types without checking them, so a type name can
 * never make a propagated statement fail at run time.
 */
import type { Node, Statement } from '@babel/types';
import { pathTo, type AstIndex, type Container } from './blocks.js';
import { forEachChild, isFunction, patternNames } from './ast.js';

export type BindingKind = 'var' | 'let' | 'const' | 'using' | 'function' | 'class' | 'param' | 'import' | 'catch' | 'other';

export interface Binding {
  name: string;
  kind: BindingKind;
  /** Offset of the declaring node: a let/const/class is unusable before it (temporal dead zone). */
  start: number;
  node: Node;
}

const LEXICAL: ReadonlySet<BindingKind> = new Set(['let', 'const', 'using', 'class']);

function declKind(kind: string): BindingKind {
  return kind === 'var' || kind === 'let' || kind === 'const' ? kind : kind.includes('using') ? 'using' : 'other';
}

/** Declarations a statement list makes in its own scope. */
function listDeclarations(list: Node[], out: Binding[]): void {
  for (const s of list) declarationsOf(s, out);
}

function declarationsOf(s: Node, out: Binding[]): void {
  switch (s.type) {
    case 'VariableDeclaration':
      for (const d of s.declarations) for (const name of patternNames(d.id)) out.push({ name, kind: declKind(s.kind), start: s.start!, node: s });
      break;
    case 'FunctionDeclaration':
    case 'TSDeclareFunction':
      if (s.id) out.push({ name: s.id.name, kind: 'function', start: s.start!, node: s });
      break;
    case 'ClassDeclaration':
      if (s.id) out.push({ name: s.id.name, kind: 'class', start: s.start!, node: s });
      break;
    case 'ImportDeclaration':
      if (s.importKind === 'type') break;
      for (const sp of s.specifiers) {
        if (sp.type === 'ImportSpecifier' && sp.importKind === 'type') continue;
        out.push({ name: sp.local.name, kind: 'import', start: s.start!, node: s });
      }
      break;
    case 'TSImportEqualsDeclaration':
      out.push({ name: s.id.name, kind: 'import', start: s.start!, node: s });
      break;
    case 'TSEnumDeclaration':
      out.push({ name: s.id.name, kind: 'other', start: s.start!, node: s });
      break;
    case 'TSModuleDeclaration':
      if (s.id.type === 'Identifier') out.push({ name: s.id.name, kind: 'other', start: s.start!, node: s });
      break;
    case 'ExportNamedDeclaration':
      if (s.declaration) declarationsOf(s.declaration, out);
      break;
    case 'ExportDefaultDeclaration':
      if ((s.declaration.type === 'FunctionDeclaration' || s.declaration.type === 'ClassDeclaration') && s.declaration.id) declarationsOf(s.declaration, out);
      break;
    default:
      break;
  }
}

/** `var`s anywhere under `root` that are not inside a nested function: they belong to root's scope. */
function hoistedVars(root: Node, out: Binding[]): void {
  const walk = (n: Node): void => {
    forEachChild(n, (c) => {
      if (isFunction(c)) return;
      if (c.type === 'VariableDeclaration' && c.kind === 'var') {
        for (const d of c.declarations) for (const name of patternNames(d.id)) out.push({ name, kind: 'var', start: c.start!, node: c });
      }
      walk(c);
    });
  };
  walk(root);
}

/** What one scope-making node declares for code inside it. */
function scopeDeclarations(n: Node): Binding[] {
  const out: Binding[] = [];
  switch (n.type) {
    case 'Program':
      listDeclarations(n.body, out);
      hoistedVars(n, out);
      break;
    case 'BlockStatement':
    case 'StaticBlock':
    case 'TSModuleBlock':
      listDeclarations(n.body as Node[], out);
      break;
    case 'SwitchStatement':
      for (const c of n.cases) listDeclarations(c.consequent, out);
      break;
    case 'ForStatement':
      if (n.init?.type === 'VariableDeclaration') declarationsOf(n.init, out);
      break;
    case 'ForInStatement':
    case 'ForOfStatement':
      if (n.left.type === 'VariableDeclaration') declarationsOf(n.left, out);
      break;
    case 'CatchClause':
      for (const name of patternNames(n.param)) out.push({ name, kind: 'catch', start: n.start!, node: n });
      break;
    case 'ClassDeclaration':
    case 'ClassExpression':
      if (n.id) out.push({ name: n.id.name, kind: 'class', start: n.start!, node: n });
      break;
    default:
      if (isFunction(n)) {
        const f = n as Node & { params: Node[]; id?: { name: string } | null; body: Node };
        for (const p of f.params) for (const name of patternNames(p)) out.push({ name, kind: 'param', start: n.start!, node: n });
        if (n.type === 'FunctionExpression' && f.id) out.push({ name: f.id.name, kind: 'function', start: n.start!, node: n });
        hoistedVars(f.body, out);
      }
  }
  return out;
}

const scopeCache = new WeakMap<Node, Binding[]>();

/** What `n` declares for the code inside it, when it makes a scope (program, function, block, loop head, catch, class); [] otherwise. */
export function scopeBindings(n: Node): Binding[] {
  return cachedScope(n);
}

function cachedScope(n: Node): Binding[] {
  let b = scopeCache.get(n);
  if (!b) scopeCache.set(n, (b = scopeDeclarations(n)));
  return b;
}

/**
 * Names usable at offset `pos`, which lies at statement level in `container`. Innermost binding
 * wins. A let/const/class declared at or after `pos` in a scope not separated from `pos` by a
 * function boundary is left out: using it there throws (temporal dead zone).
 */
export function visibleAt(ix: AstIndex, container: Container, pos: number): Map<string, Binding> {
  const seen = new Map<string, Binding>();
  let crossedFunction = false;
  const path = pathTo(ix, container.node);
  for (let i = path.length - 1; i >= 0; i--) {
    const n = path[i]!;
    for (const b of cachedScope(n)) {
      if (seen.has(b.name)) continue;
      if (!crossedFunction && LEXICAL.has(b.kind) && b.start >= pos) continue;
      seen.set(b.name, b);
    }
    if (isFunction(n)) crossedFunction = true;
  }
  return seen;
}

/** Names declared in `container`'s own scope (where a new `const x` would collide). */
export function ownScopeNames(ix: AstIndex, container: Container): Set<string> {
  const names = new Set<string>();
  const path = pathTo(ix, container.node);
  // a switch case shares the scope of its switch; a function body shares its function's params
  let i = path.length - 1;
  if (container.node.type === 'SwitchCase') i--;
  const node = path[i]!;
  for (const b of cachedScope(node)) names.add(b.name);
  const parent = path[i - 1];
  if (parent && isFunction(parent)) for (const b of cachedScope(parent)) names.add(b.name);
  return names;
}

const TYPE_KEYS = new Set(['typeAnnotation', 'typeParameters', 'typeArguments', 'returnType', 'superTypeParameters', 'implements', 'predicate']);
const TS_EXPRESSIONS = new Set(['TSAsExpression', 'TSSatisfiesExpression', 'TSNonNullExpression', 'TSTypeAssertion', 'TSInstantiationExpression']);

function isReference(parent: Node, key: string): boolean {
  switch (parent.type) {
    case 'MemberExpression':
    case 'OptionalMemberExpression':
      return key !== 'property' || parent.computed;
    case 'ObjectProperty':
    case 'ObjectMethod':
    case 'ClassProperty':
    case 'ClassMethod':
    case 'ClassPrivateProperty':
    case 'ClassAccessorProperty':
      return key !== 'key' || (parent as { computed?: boolean }).computed === true;
    case 'LabeledStatement':
    case 'BreakStatement':
    case 'ContinueStatement':
      return key !== 'label';
    case 'MetaProperty':
      return false;
    case 'FunctionExpression':
    case 'FunctionDeclaration':
    case 'ClassExpression':
    case 'ClassDeclaration':
      return key !== 'id';
    default:
      return true;
  }
}

/** Every name declared anywhere under a function (over-approximates its inner scopes: harmless here). */
function allDeclaredUnder(fn: Node): string[] {
  const out: Binding[] = [...scopeDeclarations(fn)];
  const walk = (n: Node): void => {
    forEachChild(n, (c) => {
      if (c.type === 'VariableDeclaration' || c.type === 'FunctionDeclaration' || c.type === 'ClassDeclaration') declarationsOf(c, out);
      if (isFunction(c) || c.type === 'CatchClause') out.push(...scopeDeclarations(c));
      walk(c);
    });
  };
  walk(fn);
  return out.map((b) => b.name);
}

/** Names a statement reads or assigns from outside itself, and the names it declares. */
export function statementNames(stmt: Statement): { uses: Set<string>; declares: string[] } {
  const uses = new Set<string>();
  const declares: string[] = [];
  const walk = (n: Node, bound: ReadonlySet<string>): void => {
    forEachChild(n, (c, key) => {
      if (TYPE_KEYS.has(key)) return;
      if (c.type.startsWith('TS') && !TS_EXPRESSIONS.has(c.type)) return;
      if (c.type === 'Identifier') {
        if (isReference(n, key) && !bound.has(c.name)) uses.add(c.name);
        return;
      }
      if (isFunction(c)) {
        const inner = new Set(bound);
        for (const name of allDeclaredUnder(c)) inner.add(name);
        walkHeld((c as Node & { body: Node }).body, inner);
        return;
      }
      if (c.type === 'CatchClause') {
        const inner = new Set(bound);
        for (const name of patternNames(c.param)) inner.add(name);
        walk(c.body, inner);
        return;
      }
      walk(c, bound);
    });
  };
  // walk() looks at children; holding a node in a dummy parent makes the node itself be looked at
  const walkHeld = (n: Node, bound: ReadonlySet<string>): void => walk({ type: 'ExpressionStatement', expression: n } as unknown as Node, bound);
  if (stmt.type === 'VariableDeclaration') {
    for (const d of stmt.declarations) {
      declares.push(...patternNames(d.id));
      if (d.init) walkHeld(d.init, new Set());
    }
  } else walk(stmt, new Set());
  return { uses, declares };
}
