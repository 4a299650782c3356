/**
 * The names today's code memoises: `flor.memo('name', …)` calls with a literal name, found with
 * @babel/parser as propagation parses statements. An old version that made the same call without
 * flor.memo has no recorded values for that name, so its replay makes the call live (replay.ts
 * says so, and `--no-live-calls` refuses such runs before anything runs).
 */
import { parse } from '@babel/parser';
import type { Node } from '@babel/types';
import { parserOptions } from '../propagate/source.js';

function literalName(n: Node | undefined): string | null {
  if (!n) return null;
  if (n.type === 'StringLiteral') return n.value;
  if (n.type === 'TemplateLiteral' && n.expressions.length === 0) return n.quasis[0]?.value.cooked ?? null;
  return null;
}

function isFlorMemo(n: Node): boolean {
  if (n.type !== 'MemberExpression' && n.type !== 'OptionalMemberExpression') return false;
  const p = n.property;
  const prop = !n.computed && p.type === 'Identifier' ? p.name : p.type === 'StringLiteral' ? p.value : null;
  return prop === 'memo' && n.object.type === 'Identifier' && n.object.name === 'flor';
}

/** Literal names of the flor.memo calls in one file ([] when it does not parse). */
export function memoNamesIn(path: string, text: string): string[] {
  if (!text.includes('memo')) return [];
  let ast: Node;
  try {
    ast = parse(text, parserOptions(path)) as unknown as Node;
  } catch {
    return [];
  }
  const out = new Set<string>();
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) {
      for (const x of n) walk(x);
      return;
    }
    if (!n || typeof n !== 'object' || typeof (n as { type?: unknown }).type !== 'string') return;
    const node = n as Node;
    if ((node.type === 'CallExpression' || node.type === 'OptionalCallExpression') && isFlorMemo(node.callee as Node)) {
      const name = literalName(node.arguments[0] as Node | undefined);
      if (name !== null) out.add(name);
    }
    for (const k of Object.keys(node)) {
      if (k === 'loc' || k === 'start' || k === 'end' || k === 'extra') continue;
      walk((node as unknown as Record<string, unknown>)[k]);
    }
  };
  walk(ast);
  return [...out].sort();
}
