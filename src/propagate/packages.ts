/**
 * The CommonJS packages propagation and replay parse and align with, required at first use.
 * Imported from ESM, Node first scans a CommonJS module's whole source for its export names
 * (cjs-module-lexer): for @babel/parser's 1.8 MB that scan cost a replay's start more than its
 * parsing (measured on this 2-core machine: importing @babel/parser, diff-match-patch and the worker pool
 * replay had then, 0.8–1.3 s under load against 0.4–0.9 s required). `require` skips the scan, and loading at first
 * use keeps them off the commands and replays that never parse.
 */
import { requireCached } from '../code-cache.js';
import type * as BabelParser from '@babel/parser';
import type DiffMatchPatch from 'diff-match-patch';

let babel: typeof BabelParser | undefined;

/**
 * Trees parsed lately, by options and text: a replay parses the same file several times (today's
 * statements, the imports an entry script follows, propagation, the planner) and every version's
 * unchanged files again. The trees are only read, never changed, by those who share them.
 */
const parsed = new Map<string, { ast: ReturnType<typeof BabelParser.parse>; size: number }>();
/** Texts kept, in characters: a tree is tens of times its text, and a long-lived process (the UI) keeps this. */
const PARSED_BUDGET = 512 * 1024;
let parsedSize = 0;

/**
 * Loads @babel/parser now, for a caller that is about to wait on Git for the files to parse: the
 * load then takes the time of the wait, not its own after it.
 */
export function loadParser(): void {
  // Through the V8 code cache (code-cache.ts): its load and first parses took ~40 ms of each
  // replay's start on the 2-core machine, ~25 ms with the bytecode the last process left.
  babel ??= requireCached(import.meta.url, '@babel/parser', 'babel-parser') as typeof BabelParser;
}

/** @babel/parser's `parse`. */
export const parse: typeof BabelParser.parse = (input, options) => {
  const key = `${JSON.stringify(options ?? null)}\0${input}`;
  const hit = parsed.get(key);
  if (hit) return hit.ast;
  loadParser();
  const ast = babel!.parse(input, options);
  if (input.length <= PARSED_BUDGET / 4) {
    for (const [k, v] of parsed) {
      if (parsedSize + input.length <= PARSED_BUDGET) break;
      parsed.delete(k);
      parsedSize -= v.size;
    }
    parsed.set(key, { ast, size: input.length });
    parsedSize += input.length;
  }
  return ast;
};

let Dmp: typeof DiffMatchPatch | undefined;

export function newDiffMatchPatch(): DiffMatchPatch {
  // Through the code cache too: V8's function events put its parse at ~7 ms of a replay command's
  // start (78 KB, compiled afresh by every command that aligns versions).
  return new (Dmp ??= requireCached(import.meta.url, 'diff-match-patch', 'diff-match-patch') as typeof DiffMatchPatch)();
}
