/**
 * What replay needs to know about one version's code, read from its syntax tree (never guessed
 * from text): the `flor.loop` loops and their nesting, where each requested `flor.log` sits, and
 * what `flor.checkpointing` registers. Pure. What each loop body assigns and what reads it
 * afterwards is dataflow.ts.
 */
import { parse } from '../propagate/packages.js';
import type { Node } from '@babel/types';
import { parserOptions } from '../propagate/index.js';
import { children, florCall, isFunction } from '../propagate/ast.js';

/** A `for (… of flor.loop('name', …))` loop. */
export interface LoopSite {
  name: string | null; // null: the name is not a string literal
  file: string;
  line: number;
  isAwait: boolean;
  node: Node & { type: 'ForOfStatement' };
  /** Enclosing flor.loop, lexically, without crossing a function boundary. */
  parent: LoopSite | null;
  /** Innermost enclosing function (null: module top level). Code in another function than the
   * outer loop's runs wherever it is called from: its loop context is unknown. */
  fn: Node | null;
  /** Offset in the file. */
  pos: number;
}

/** A `flor.log('name', …)` call for a requested name. */
export interface LogSite {
  name: string;
  file: string;
  line: number;
  loop: LoopSite | null;
  fn: Node | null;
  pos: number;
}

export interface CodeShape {
  loops: LoopSite[];
  logs: LogSite[];
  /** Files that did not parse, with the parser's message. */
  unparsed: Array<{ file: string; error: string }>;
  /** Per file: its root node, for the assignment/read analysis. */
  roots: Map<string, Node>;
  /** flor.loop calls whose shape we do not understand (not the iterable of a for-of). */
  strayLoops: number;
  /** Names of what flor.checkpointing registers: its keys and the variables given as values. */
  checkpointed: Set<string>;
}

function parseFile(file: string, text: string): Node {
  // The same plugins propagation parses with (decorators, JSX in .js), so a file propagation can
  // read is never "unparsed" here; but no error recovery: the planner must not reason about a
  // half-understood tree.
  return parse(text, {
    ...parserOptions(file),
    sourceType: 'unambiguous',
    allowReturnOutsideFunction: true,
    allowImportExportEverywhere: true,
    errorRecovery: false,
  });
}

function lineOf(n: Node): number {
  return n.loc?.start.line ?? 0;
}

export function readCodeShape(files: Record<string, string>, names: string[]): CodeShape {
  const wanted = new Set(names);
  const shape: CodeShape = { loops: [], logs: [], unparsed: [], roots: new Map(), strayLoops: 0, checkpointed: new Set() };
  for (const [file, text] of Object.entries(files)) {
    let root: Node;
    try {
      root = parseFile(file, text);
    } catch (e) {
      shape.unparsed.push({ file, error: (e as Error).message.split('\n')[0]! });
      continue;
    }
    shape.roots.set(file, root);
    const loopCalls = new Set<Node>();
    const visit = (n: Node, loop: LoopSite | null, fn: Node | null): void => {
      if (n.type === 'ForOfStatement') {
        const call = florCall(n.right, 'loop');
        if (call) {
          loopCalls.add(n.right);
          const site: LoopSite = { name: call.name, file, line: lineOf(n), isAwait: n.await === true, node: n, parent: loop, fn, pos: n.start ?? 0 };
          shape.loops.push(site);
          visit(n.left, loop, fn);
          visit(n.right, loop, fn);
          visit(n.body, site, fn);
          return;
        }
      }
      if (isFunction(n)) {
        for (const c of children(n)) visit(c, null, n);
        return;
      }
      const log = florCall(n, 'log');
      if (log && log.name !== null && wanted.has(log.name)) {
        shape.logs.push({ name: log.name, file, line: lineOf(n), loop, fn, pos: n.start ?? 0 });
      }
      if (florCall(n, 'loop') && !loopCalls.has(n)) shape.strayLoops++;
      const ckpt = florCall(n, 'checkpointing');
      if (ckpt) {
        const arg = ckpt.call.arguments[0];
        for (const prop of arg && arg.type === 'ObjectExpression' ? arg.properties : []) {
          if (prop.type !== 'ObjectProperty' && prop.type !== 'ObjectMethod') continue;
          if (prop.key.type === 'Identifier') shape.checkpointed.add(prop.key.name);
          if (prop.type === 'ObjectProperty' && prop.value.type === 'Identifier') shape.checkpointed.add(prop.value.name);
        }
      }
      for (const c of children(n)) visit(c, loop, fn);
    };
    visit(root, null, null);
  }
  return shape;
}
