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

let passed = 0;
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
    passed++;
  });
}

test('corpus accuracy', { skip: cases.length === 0 }, () => {
  // Runs after the cases (node:test runs top-level tests in order); prints the figure for the report.
  console.log(`# propagate corpus: ${passed}/${cases.length} cases pass`);
  assert.ok(cases.length >= 20, `corpus has ${cases.length} cases, need at least 20`);
  assert.equal(passed, cases.length);
});
