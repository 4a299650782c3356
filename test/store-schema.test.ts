import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from './helpers/repo.js';
import { validatorSource, VALIDATORS_FILE } from '../scripts/gen-schemas.js';
import { validateRunMeta, validateCheckpointManifest, check } from '../src/store/schema.js';
import { isFlorError } from '../src/errors.js';
import { makeMeta } from './helpers/store-fixtures.js';

test('the precompiled validators match the schemas (regenerate with `npm run gen:schemas`)', () => {
  assert.equal(readFileSync(VALIDATORS_FILE, 'utf8'), validatorSource());
});

test('run metadata: valid passes, each kind of damage fails naming the run and the field', () => {
  const meta = makeMeta({ commit: 'a'.repeat(40), status: 'ok' });
  assert.equal(validateRunMeta(meta, 'run X'), meta);
  const bad: Array<[string, unknown, RegExp]> = [
    ['version', { ...meta, version: 2 }, /\/version/],
    ['status', { ...meta, status: 'exploded' }, /\/status/],
    ['id', { ...meta, id: 'not-a-ulid' }, /\/id/],
    ['commit', { ...meta, commit: 'HEAD' }, /\/commit/],
    ['records', { ...meta, records: -1 }, /\/records/],
    ['missing', { ...meta, argv: undefined }, /argv/],
    ['loops', { ...meta, loops: [{ name: 'e', parent: 3, iterations: 1 }] }, /\/loops\/0\/parent/],
  ];
  for (const [label, x, field] of bad) {
    assert.throws(() => validateRunMeta(x, `run ${meta.id}`), (e: unknown) => isFlorError(e, 'CORRUPT_RUN') && e.message.startsWith(`run ${meta.id}:`) && field.test(e.message), label);
  }
  // Fields a later minor version may add are accepted.
  validateRunMeta({ ...meta, gpu: 'A100' }, 'run X');
});

test('checkpoint manifest and journal frames', () => {
  const m = { format: 'flor-ckpt', version: 1, loop: 'epoch', iters: [0, 2], keys: ['a'.repeat(64), 'b'.repeat(64)], bytes: [1, 2] };
  assert.deepEqual(validateCheckpointManifest(m, 'm'), m);
  assert.throws(() => validateCheckpointManifest({ ...m, bytes: [1] }, 'run Y checkpoint manifest'), /run Y checkpoint manifest: .*differ in length/);
  assert.throws(() => validateCheckpointManifest({ ...m, keys: ['short', 'b'.repeat(64)] }, 'm'), /\/keys\/0/);
  const end = { t: 'end', status: 'ok', exitCode: 0, error: null, end: 'x', loops: [], outerMs: [], checkpointing: [] };
  check('endFrame', end, 'e');
  assert.throws(() => check('endFrame', { ...end, status: 'running?' }, 'journal J end frame', 'CORRUPT_JOURNAL'), (e: unknown) => isFlorError(e, 'CORRUPT_JOURNAL'));
  assert.throws(() => check('startFrame', { t: 'start', meta: { id: 'x' }, codeTree: 'a'.repeat(40), pid: 1, host: 'h' }, 's'), /\/meta\/id/);
});

/** Every module a built entry imports (static and dynamic), following relative paths. */
function importGraph(entry: string): Set<string> {
  const seen = new Set<string>();
  const walk = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) walk(join(dirname(file), spec));
      else seen.add(spec);
    }
  };
  walk(entry);
  return seen;
}

test('neither a capture at exit nor a listing loads ajv (precompiled validators only)', () => {
  for (const entry of ['capture-main.js', 'ledger.js', 'doctor.js']) {
    const graph = importGraph(join(ROOT, 'dist', 'store', entry));
    assert.ok(graph.has(join(ROOT, 'dist', 'store', 'schema-validators.js')), `${entry} validates`);
    assert.ok(![...graph].some((m) => m === 'ajv' || m.startsWith('ajv/')), `${entry} must not import ajv: ${[...graph].filter((m) => !m.startsWith('/')).join(', ')}`);
  }
});
