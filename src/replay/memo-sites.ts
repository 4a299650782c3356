/**
 * The names today's code memoises: `flor.memo('name', …)` calls with a literal name, found with
 * @babel/parser as propagation parses statements. An old version that made the same call without
 * flor.memo has no recorded values for that name, so its replay makes the call live (replay.ts
 * says so, and `--no-live-calls` refuses such runs before anything runs).
 */
import { parse } from '../propagate/packages.js';
import type { Node } from '@babel/types';
import { parserOptions } from '../propagate/source.js';
import { florCall, walk } from '../propagate/ast.js';

/** Literal names of the flor.memo calls in one file ([] when it does not parse). */
export function memoNamesIn(path: string, text: string): string[] {
  if (!text.includes('memo')) return [];
  let ast: Node;
  try {
    ast = parse(text, parserOptions(path)).program;
  } catch {
    return [];
  }
  const out = new Set<string>();
  walk(ast, (n) => {
    const name = florCall(n, 'memo')?.name;
    if (name != null) out.add(name);
  });
  return [...out].sort();
}
