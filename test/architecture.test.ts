/**
 * The shape the design promises, checked on the source: parts depend only on the parts below
 * them, never in a circle, and only the store runs Git.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LEDGERS, REMOTES, NOTES_REF } from '../src/store/refs.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');

/** What each part may import. Top-level modules of src/ (errors.ts, …) are shared by every part. */
const ALLOWED: Record<string, string[]> = {
  store: [],
  runtime: ['store'],
  propagate: [],
  replay: ['propagate', 'store', 'runtime'],
  query: ['store'],
  sync: ['store'],
  ui: ['query', 'replay', 'store'],
  cli: ['query', 'replay', 'sync', 'propagate', 'store', 'runtime', 'ui'],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Relative specifiers of static imports, re-exports and dynamic imports. */
function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+'(\.[^']+)'/g)) found.push(m[1]!);
  for (const m of text.matchAll(/import\(\s*'(\.[^']+)'\s*\)/g)) found.push(m[1]!);
  return found;
}

const partOf = (file: string): string | null => {
  const rel = relative(SRC, file).split('/');
  return rel.length > 1 ? rel[0]! : null;
};

const files = sources(SRC);

test('every part imports only the parts below it', () => {
  const bad: string[] = [];
  for (const f of files) {
    const from = partOf(f);
    if (!from) continue;
    for (const spec of importsOf(readFileSync(f, 'utf8'))) {
      const to = partOf(resolve(dirname(f), spec));
      if (!to || to === from) continue;
      if (!ALLOWED[from]?.includes(to)) bad.push(`${relative(ROOT, f)} imports ${spec} (${from} -> ${to})`);
    }
  }
  assert.deepEqual(bad, []);
});

test('the runtime is reached from replay only through the replay spec (types, the env names and its validator)', () => {
  const bad = files
    .filter((f) => partOf(f) === 'replay')
    .flatMap((f) => importsOf(readFileSync(f, 'utf8')).map((s) => ({ f, target: resolve(dirname(f), s) })))
    .filter(({ target }) => partOf(target) === 'runtime' && relative(SRC, target) !== 'runtime/replay-spec.js')
    .map(({ f, target }) => `${relative(ROOT, f)} -> ${relative(SRC, target)}`);
  assert.deepEqual(bad, []);
});

test('the allowed dependencies between parts have no circle', () => {
  const seen = new Set<string>();
  const stack = new Set<string>();
  const visit = (p: string, path: string[]): void => {
    assert.ok(!stack.has(p), `circle: ${[...path, p].join(' -> ')}`);
    if (seen.has(p)) return;
    stack.add(p);
    for (const q of ALLOWED[p] ?? []) visit(q, [...path, p]);
    stack.delete(p);
    seen.add(p);
  };
  for (const p of Object.keys(ALLOWED)) visit(p, []);
  assert.deepEqual(new Set(readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)), new Set(Object.keys(ALLOWED)));
});

test('no command module imports another: what two commands share lives in a cli module', () => {
  const dir = join(SRC, 'cli', 'commands');
  const isCommand = (f: string) => /^export const command\b/m.test(readFileSync(f, 'utf8'));
  const bad: string[] = [];
  for (const f of files.filter((x) => dirname(x) === dir)) {
    for (const spec of importsOf(readFileSync(f, 'utf8'))) {
      const target = resolve(dirname(f), spec.replace(/\.js$/, '.ts'));
      if (target !== f && dirname(target) === dir && isCommand(target)) bad.push(`${relative(ROOT, f)} imports ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('only the store runs Git', () => {
  const runners = /\b(git|gitSync|gitText|gitRepo|gitRepoSync|gitEnv)\b/;
  const bad: string[] = [];
  for (const f of files) {
    if (partOf(f) === 'store') continue;
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'([^']*\/git\.js)'/g)) {
      const names = m[1]!.split(',').map((n) => n.trim().replace(/^type\s+/, ''));
      if (names.some((n) => runners.test(n) && !/^type\s/.test(n))) bad.push(`${relative(ROOT, f)} imports ${m[1]!.trim()} from ${m[2]}`);
    }
    if (/\b(spawn|spawnSync|execFile|execFileSync|exec|execSync)\(\s*'git'/.test(text)) bad.push(`${relative(ROOT, f)} starts git itself`);
  }
  assert.deepEqual(bad, []);
});

test("the hooks' shell restates the ref prefixes the store names", () => {
  const lib = readFileSync(join(ROOT, 'hooks', 'lib.sh'), 'utf8') + readFileSync(join(ROOT, 'hooks', 'pre-push'), 'utf8') + readFileSync(join(ROOT, 'hooks', 'post-rewrite'), 'utf8');
  const named = new Set([...lib.matchAll(/refs\/flor\/[a-z]+\/?/g)].map((m) => m[0]));
  assert.deepEqual([...named].sort(), [LEDGERS, NOTES_REF, REMOTES].sort());
});

test('docs/internals.md maps every file of src/, and names no file that is gone', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'internals.md'), 'utf8');
  const start = doc.indexOf('## Map of src/');
  assert.ok(start >= 0, 'docs/internals.md has a "Map of src/" section');
  const end = doc.indexOf('\n## ', start + 1);
  const map = doc.slice(start, end < 0 ? undefined : end);
  const listed = new Set<string>();
  let part = '';
  for (const line of map.split('\n')) {
    const h = /^### src\/(.*)$/.exec(line);
    if (h) part = h[1]!;
    const f = /^- `([^`]+)`:/.exec(line);
    if (f) listed.add(`src/${part}${f[1]}`);
  }
  const actual = new Set(files.map((f) => relative(ROOT, f)));
  assert.deepEqual([...actual].filter((f) => !listed.has(f)).sort(), [], 'files missing from the map');
  assert.deepEqual([...listed].filter((f) => !actual.has(f)).sort(), [], 'files the map names that do not exist');
});
