/**
 * Propagation of 5 statements between two 2,000-line versions of a training script (
 * target <= 20 ms). Baseline in the same run: parsing both versions alone, the floor any
 * parser-based propagation pays.
 */
import { parse } from '@babel/parser';
import { propagate } from '../src/propagate/index.js';

const LINES = 2000;
const TARGET_MS = 20;

/** Deterministic pseudo-random numbers (mulberry32), so every run measures the same files. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One "layer" function of a model: ~20 lines with an inner loop. */
function block(i: number, variant: 'old' | 'new', rand: () => number): string[] {
  // Draw the same numbers for both versions, so only the deliberate edits below differ.
  const k = Math.floor(rand() * 7) + 2;
  const s1 = (rand() * 2).toFixed(3);
  const s2 = (rand() * 2).toFixed(3);
  const lines = [
    `export function layer${i}(input, weights, opts = {}) {`,
    `  const scale = opts.scale ?? ${s1};`,
    `  let acc${i} = 0;`,
    `  const out = new Float32Array(input.length);`,
    `  for (let j = 0; j < input.length; j++) {`,
    `    const w = weights[(j * ${k}) % weights.length];`,
    `    const v = input[j] * w * scale;`,
    `    out[j] = v > 0 ? v : 0.01 * v;`,
    `    acc${i} += out[j];`,
    `  }`,
    `  if (opts.normalize) {`,
    `    const norm = Math.sqrt(out.reduce((s, x) => s + x * x, 0)) || 1;`,
    `    for (let j = 0; j < out.length; j++) out[j] /= norm;`,
    `  }`,
    `  return { out, acc: acc${i} };`,
    `}`,
    ``,
  ];
  // Today's code drifted: some lines edited, some added, some removed.
  if (variant === 'new' && i % 7 === 3) lines[1] = `  const scale = (opts.scale ?? 1) * ${s2};`;
  if (variant === 'new' && i % 11 === 5) lines.splice(3, 0, `  const eps${i} = 1e-6;`);
  if (variant === 'new' && i % 13 === 8) lines.splice(10, 4);
  return lines;
}

function makeFile(variant: 'old' | 'new'): string {
  const rand = rng(42);
  const lines = [`import { flor } from 'git-flor';`, `import { dataset } from './data.js';`, ''];
  let i = 0;
  while (lines.length < LINES - 9) lines.push(...block(i++, variant, rand));
  lines.push(
    `const epochs = flor.arg('epochs', 10);`,
    `for (const epoch of flor.loop('epoch', Array.from({ length: epochs }, (_, e) => e))) {`,
    `  let total = 0;`,
    `  for (const batch of flor.loop('step', dataset(epoch))) {`,
    `    const { out, acc } = layer0(batch.x, batch.w, { normalize: true });`,
    `    total += acc;`,
    `  }`,
    `  console.log(epoch, total);`,
    `}`,
  );
  return lines.join('\n') + '\n';
}

function addStatements(text: string): string {
  const lines = text.split('\n');
  const at = (pred: (l: string) => boolean, from = 0): number => lines.findIndex((l, idx) => idx >= from && pred(l));
  const insert = (idx: number, stmt: string): void => void lines.splice(idx + 1, 0, stmt);
  // Five statements spread over the file: inner loops of layers, and the training loop.
  insert(at((l) => l.includes('acc10 += out[j];')), `    flor.log('act10', out[j]);`);
  insert(at((l) => l.includes('acc40 += out[j];')), `    flor.log('act40', { v: out[j], j });`);
  insert(at((l) => l.includes('let acc70 = 0;')), `  flor.log('scale70', scale);`);
  insert(at((l) => l.includes('total += acc;')), `    flor.log('acc', acc);`);
  insert(at((l) => l.includes('console.log(epoch, total);')), `  flor.log('total', total);`);
  return lines.join('\n');
}

/** Medians of two timed functions, run alternately so machine load weighs on both alike. */
function medians(a: () => void, b: () => void, reps: number): [number, number] {
  // Babel's parser needs a few dozen calls before V8 has optimised it; replay propagates into
  // every old version in one process, so the steady state is the figure that matters.
  for (let i = 0; i < 30; i++) {
    a();
    b();
  }
  const ta: number[] = [];
  const tb: number[] = [];
  const time = (fn: () => void, into: number[]): void => {
    const t0 = process.hrtime.bigint();
    fn();
    into.push(Number(process.hrtime.bigint() - t0) / 1e6);
  };
  for (let i = 0; i < reps; i++) {
    time(a, ta);
    time(b, tb);
  }
  const median = (xs: number[]): number => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  return [median(ta), median(tb)];
}

export async function run(): Promise<void> {
  const oldText = makeFile('old');
  const newText = addStatements(makeFile('new'));
  const check = propagate({ newText, oldText, path: 'model.js' });
  if (check.inserted.length !== 5 || check.failed.length !== 0) {
    throw new Error(`bench setup: expected 5 inserted, got ${check.inserted.length} (failed: ${JSON.stringify(check.failed)})`);
  }
  const lines = oldText.split('\n').length - 1;
  const opts = { sourceType: 'module' as const, plugins: ['jsx' as const], errorRecovery: true, attachComment: false };
  let fresh = 0;
  const [base, t] = medians(
    () => {
      parse(newText, opts);
      parse(oldText, opts);
    },
    // A fresh text each time: propagate caches the parse of today's file (replay reuses it across
    // versions), and this figure is for a cold call.
    () => propagate({ newText: newText + `// ${fresh++}\n`, oldText, path: 'model.js' }),
    30,
  );
  const verdict = t <= TARGET_MS ? 'PASS' : 'FAIL';
  console.log(`BENCH propagate-5-statements-${lines}-lines: ${t.toFixed(1)} ms (${(t / base).toFixed(2)}x vs parsing both versions ${base.toFixed(1)} ms, target <= ${TARGET_MS} ms) ${verdict}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
