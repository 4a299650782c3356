/**
 * Random training-script shapes for the view's property tests: nested flor.loop calls (same-named
 * nesting included) with flor.log calls placed anywhere, run in memory to the records the runtime
 * would make, or written out as a script that makes them.
 */
import type { Rec } from './segments.js';

export type Stmt = { t: 'log'; name: string } | { t: 'loop'; name: string; n: number; body: Stmt[] };

/** mulberry32: a small seeded generator, so a failing shape can be named by its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const LOG_NAMES = ['a', 'b', 'c'];
const LOOP_NAMES = ['x', 'y', 'z'];

export function randomProgram(rand: () => number, depth = 0): Stmt[] {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const body: Stmt[] = [];
  const len = Math.floor(rand() * 4) + (depth === 0 ? 1 : 0);
  for (let i = 0; i < len; i++) {
    if (depth < 3 && rand() < 0.4) body.push({ t: 'loop', name: pick(LOOP_NAMES), n: Math.floor(rand() * 4), body: randomProgram(rand, depth + 1) });
    else body.push({ t: 'log', name: pick(LOG_NAMES) });
  }
  return body;
}

/** The records a run of the program makes: values count up from 1 in execution order, so each is unique. */
export function execute(prog: Stmt[]): Rec[] {
  const recs: Rec[] = [];
  let v = 0;
  const run = (body: Stmt[], ctx: Array<[string, number]>): void => {
    for (const s of body) {
      if (s.t === 'log') recs.push([ctx, s.name, ++v]);
      else for (let i = 0; i < s.n; i++) run(s.body, [...ctx, [s.name, i]]);
    }
  };
  run(prog, []);
  return recs;
}

/** The program as an ES module that records the same values as `execute`. */
export function script(prog: Stmt[]): string {
  let id = 0;
  const lines = ["import { flor } from 'git-flor';", 'let v = 0;'];
  const emit = (body: Stmt[], indent: string): void => {
    for (const s of body) {
      if (s.t === 'log') lines.push(`${indent}flor.log(${JSON.stringify(s.name)}, ++v);`);
      else {
        lines.push(`${indent}for (const i${id++} of flor.loop(${JSON.stringify(s.name)}, Array.from({ length: ${s.n} }, (_, i) => i))) {`);
        emit(s.body, indent + '  ');
        lines.push(`${indent}}`);
      }
    }
  };
  emit(prog, '');
  return lines.join('\n') + '\n';
}

/** A loop context as view columns: a loop inside a loop of the same name is `name.1`, deeper `name.2`. */
export function columnsOf(ctx: Array<[string, number]>): Record<string, number> {
  const out: Record<string, number> = {};
  const seen = new Map<string, number>();
  for (const [loop, iter] of ctx) {
    const occ = seen.get(loop) ?? 0;
    seen.set(loop, occ + 1);
    out[occ === 0 ? loop : `${loop}.${occ}`] = iter;
  }
  return out;
}

type Row = Record<string, unknown>;

/**
 * The view's rule, checked for the names `names` on rows of one run (as `git flor log` gives them).
 * Returns the broken promises, empty when the rule holds:
 * - every record of those names appears on a row at its own loop position or below it;
 * - every value on a row was logged at that row's position or above it;
 * - no row has every value column null.
 */
export function viewViolations(recs: Rec[], rows: Row[], names: string[], loopColumns: string[]): string[] {
  const bad: string[] = [];
  const pos = (row: Row): Record<string, number> => {
    const p: Record<string, number> = {};
    for (const l of loopColumns) if (row[l] !== null && row[l] !== undefined) p[l] = row[l] as number;
    return p;
  };
  const within = (a: Record<string, number>, p: Record<string, number>) => Object.entries(a).every(([k, i]) => p[k] === i);
  const logged = recs.filter(([, n]) => names.includes(n));
  const byValue = new Map(logged.map(([ctx, n, v]) => [`${n}=${String(v)}`, columnsOf(ctx)] as const));
  for (const [ctx, n, v] of logged) {
    const at = columnsOf(ctx);
    if (!rows.some((r) => r[n] === v && within(at, pos(r)))) bad.push(`${n}=${String(v)} logged at ${JSON.stringify(at)} is on no row there`);
  }
  for (const r of rows) {
    const p = pos(r);
    if (names.every((n) => r[n] === null || r[n] === undefined)) bad.push(`all-null row at ${JSON.stringify(p)}`);
    for (const n of names) {
      if (r[n] === null || r[n] === undefined) continue;
      const at = byValue.get(`${n}=${String(r[n])}`);
      if (!at) bad.push(`${n}=${String(r[n])} at ${JSON.stringify(p)} was never logged`);
      else if (!within(at, p)) bad.push(`${n}=${String(r[n])} at ${JSON.stringify(p)} was logged at ${JSON.stringify(at)}`);
    }
  }
  return bad;
}
