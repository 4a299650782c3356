/**
 * The propagation corpus: every fixtures/propagate/<case> is checked exactly — the resulting text
 * byte for byte, and the statements that could not be propagated (name, code, identifier).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers/repo.js';
import { propagate } from '../src/propagate/index.js';
import { parseSource, normalise } from '../src/propagate/source.js';

interface Expected {
  names?: string[];
  failed?: Array<{ name: string | null; code: string; identifier?: string }>;
  existing?: string[];
}

const FIXTURES = join(ROOT, 'fixtures', 'propagate');
const cases = readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d))).sort();

function file(dir: string, base: string): string {
  const f = readdirSync(dir).find((x) => x.startsWith(base + '.'));
  if (!f) throw new Error(`${dir}: no ${base}.*`);
  return f;
}

test('the corpus holds at least 20 cases', () => {
  assert.ok(cases.length >= 20, `corpus has ${cases.length} cases, need at least 20`);
});

for (const name of cases) {
  test(`corpus: ${name}`, () => {
    const dir = join(FIXTURES, name);
    const newFile = file(dir, 'new');
    const oldFile = file(dir, 'old');
    const expected = readFileSync(join(dir, file(dir, 'expected')), 'utf8');
    const rp = join(dir, 'report.json');
    const want: Expected = existsSync(rp) ? JSON.parse(readFileSync(rp, 'utf8')) : {};
    const r = propagate({
      newText: readFileSync(join(dir, newFile), 'utf8'),
      oldText: readFileSync(join(dir, oldFile), 'utf8'),
      path: newFile,
      oldPath: oldFile,
      names: want.names,
    });
    assert.equal(r.text, expected);
    const failed = r.failed.map((f) => ({ name: f.name, code: f.code, ...(f.identifier ? { identifier: f.identifier } : {}) }));
    assert.deepEqual(failed, want.failed ?? []);
    if (want.existing) assert.deepEqual(r.existing.map((s) => s.name), want.existing);
  });
}

function load(name: string) {
  const dir = join(FIXTURES, name);
  const read = (base: string) => {
    const f = file(dir, base);
    return { path: f, text: readFileSync(join(dir, f), 'utf8') };
  };
  const rp = join(dir, 'report.json');
  const want: Expected = existsSync(rp) ? JSON.parse(readFileSync(rp, 'utf8')) : {};
  return { new: read('new'), old: read('old'), expected: read('expected'), names: want.names };
}

test('propagating again into a result changes nothing', () => {
  for (const name of cases) {
    const c = load(name);
    const r = propagate({ newText: c.new.text, oldText: c.expected.text, path: c.new.path, oldPath: c.expected.path, names: c.names });
    assert.equal(r.text, c.expected.text, name);
    assert.deepEqual(r.inserted, [], name);
  }
});

test('into unrelated old versions: never throws, and whatever it inserts still parses', () => {
  // Every case's statements into every third case's old file: the placement and safety rules must
  // hold up on code that has nothing in common with today's.
  let inserted = 0;
  for (const a of cases) {
    const c = load(a);
    for (const b of cases.filter((_, i) => i % 3 === 0)) {
      const o = load(b).old;
      const r = propagate({ newText: c.new.text, oldText: o.text, path: c.new.path, oldPath: o.path });
      if (r.inserted.length === 0) continue;
      inserted += r.inserted.length;
      const errors = (t: string) => (parseSource(o.path, normalise(t).text).ast as { errors?: unknown[] }).errors?.length ?? 0;
      assert.equal(errors(r.text), errors(o.text), `${a} into ${b}`);
    }
  }
  assert.ok(inserted > 50, `only ${inserted} statements were inserted across the pairs`);
});
