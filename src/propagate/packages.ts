/**
 * The CommonJS packages propagation and replay parse and align with, required at first use.
 * Imported from ESM, Node first scans a CommonJS module's whole source for its export names
 * (cjs-module-lexer): for @babel/parser's 1.8 MB that scan cost a replay's start more than its
 * parsing (measured on this 2-core machine: importing @babel/parser, piscina and diff-match-patch
 * 0.8–1.3 s under load against 0.4–0.9 s required). `require` skips the scan, and loading at first
 * use keeps them off the commands and replays that never parse.
 */
import { createRequire } from 'node:module';
import type * as BabelParser from '@babel/parser';
import type DiffMatchPatch from 'diff-match-patch';

const requirePackage = createRequire(import.meta.url);

let babel: typeof BabelParser | undefined;

/** @babel/parser's `parse`. */
export const parse: typeof BabelParser.parse = (input, options) => (babel ??= requirePackage('@babel/parser') as typeof BabelParser).parse(input, options);

let Dmp: typeof DiffMatchPatch | undefined;

export function newDiffMatchPatch(): DiffMatchPatch {
  return new (Dmp ??= requirePackage('diff-match-patch') as typeof DiffMatchPatch)();
}
