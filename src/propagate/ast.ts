/**
 * The one toolkit for syntax trees, typed with @babel/types, that propagation and replay's code
 * analysis both use: the walk, functions and binding patterns, and the recognition of `flor.*`
 * calls. Parse options are source.ts's `parserOptions`.
 */
import type { Node } from '@babel/types';

/** Keys that hold positions, comments or parser bookkeeping, never child nodes. */
export const SKIP_KEYS: ReadonlySet<string> = new Set(['loc', 'start', 'end', 'extra', 'range', 'leadingComments', 'trailingComments', 'innerComments', 'comments', 'tokens', 'errors']);

export function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string';
}

export function forEachChild(node: Node, fn: (child: Node, key: string) => void): void {
  const rec = node as unknown as Record<string, unknown>;
  for (const key in rec) {
    if (SKIP_KEYS.has(key)) continue;
    const v = rec[key];
    if (Array.isArray(v)) {
      for (const x of v) if (isNode(x)) fn(x, key);
    } else if (isNode(v)) fn(v, key);
  }
}

export function children(node: Node): Node[] {
  const out: Node[] = [];
  forEachChild(node, (c) => out.push(c));
  return out;
}

/** Depth first; `visit` returning false skips the node's children. */
export function walk(n: Node, visit: (n: Node, parent: Node | null) => boolean | undefined | void, parent: Node | null = null): void {
  if (visit(n, parent) === false) return;
  forEachChild(n, (c) => walk(c, visit, n));
}

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression', 'ObjectMethod', 'ClassMethod', 'ClassPrivateMethod']);

export function isFunction(n: Node): boolean {
  return FUNCTION_TYPES.has(n.type);
}

/** The names a binding pattern (`{ a, b: [c, ...d] = x }`) declares or assigns. */
export function patternNames(p: Node | null | undefined, out: string[] = []): string[] {
  if (!p) return out;
  switch (p.type) {
    case 'Identifier':
      out.push(p.name);
      break;
    case 'ObjectPattern':
      for (const prop of p.properties) patternNames(prop.type === 'RestElement' ? prop.argument : (prop.value as Node), out);
      break;
    case 'ArrayPattern':
      for (const el of p.elements) patternNames(el, out);
      break;
    case 'AssignmentPattern':
      patternNames(p.left, out);
      break;
    case 'RestElement':
      patternNames(p.argument, out);
      break;
    case 'TSParameterProperty':
      patternNames(p.parameter, out);
      break;
    default:
      break;
  }
  return out;
}

/** `await x`, `x as T`, `x!`, `x satisfies T` and `(x)` seen through. */
export function unwrap(e: Node | null | undefined): Node | null | undefined {
  while (e && (e.type === 'AwaitExpression' || e.type === 'TSAsExpression' || e.type === 'TSNonNullExpression' || e.type === 'TSSatisfiesExpression' || e.type === 'ParenthesizedExpression')) {
    e = (e as { expression?: Node; argument?: Node }).expression ?? (e as { argument?: Node }).argument;
  }
  return e;
}

/** The text of a string literal or of a template literal without expressions; null otherwise. */
export function literalText(n: Node | null | undefined): string | null {
  if (!n) return null;
  if (n.type === 'StringLiteral') return n.value;
  if (n.type === 'TemplateLiteral' && n.expressions.length === 0) return n.quasis[0]?.value.cooked ?? null;
  return null;
}

/**
 * A call `flor.METHOD(…)` (plain or optional member, not computed): its first argument's literal
 * text as `name` (null when it is not a literal). Null when `n` is no such call.
 */
export function florCall(n: Node | null | undefined, method: string): { name: string | null; call: Node & { arguments: Node[] } } | null {
  if (!n || (n.type !== 'CallExpression' && n.type !== 'OptionalCallExpression')) return null;
  const callee = n.callee;
  if (callee.type !== 'MemberExpression' && callee.type !== 'OptionalMemberExpression') return null;
  if (callee.computed || callee.property.type !== 'Identifier' || callee.property.name !== method) return null;
  if (callee.object.type !== 'Identifier' || callee.object.name !== 'flor') return null;
  return { name: literalText(n.arguments[0] as Node | undefined), call: n as Node & { arguments: Node[] } };
}
