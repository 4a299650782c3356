/**
 * The cached run listing is JSON: every user value (args, each flor.arg call's value) must come
 * back as it went in, including what JSON has no spelling for.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeRepo, cleanup } from './helpers/repo.js';
import { requireRepoSync } from '../src/store/git.js';
import { readCachedHistory, settleCacheWrites, writeCachedListing } from '../src/store/derived-cache.js';
import { makeMeta } from './helpers/store-fixtures.js';
import type { Value } from '../src/store/records.js';

after(cleanup);

test('args and arg calls of every kind survive the JSON listing; another key is a miss', async () => {
  const repo = requireRepoSync(makeRepo({ flor: false }));
  const odd: Record<string, Value> = {
    nan: Number.NaN,
    inf: Number.NEGATIVE_INFINITY,
    negzero: -0,
    big: 12345678901234567890n,
    bytes: new Uint8Array([0, 1, 255]),
    floats: new Float32Array([1.5, -2]),
    marker: { '\u0000flor': 'o', v: [['a', 1]] },
    nested: { list: [1, 'two', null, true], text: 'line\nbreak \u0000 and "quotes"' },
    unicode: 'λ✓',
  };
  const meta = makeMeta({ args: odd, argCalls: { lr: [0.1, Number.NaN, new Float64Array([3])] } });
  const run = { id: meta.id, writer: 'w1', ledgers: ['refs/flor/ledgers/w1'], segments: [], codeTree: 'a'.repeat(40), ckpt: null, meta };
  const marks = [{ run: meta.id, op: 'tag' as const, value: 'base', time: '2026-12-05T00:00:00.000Z', writer: 'w1', ledger: 'refs/flor/ledgers/w1' }];
  writeCachedListing(repo, 'KEY', [run], marks);
  await settleCacheWrites();
  const back = readCachedHistory<typeof run>(repo, 'KEY');
  assert.ok(back, 'the listing was kept');
  assert.deepEqual(back.marks, marks);
  const m = back.runs[0]!.meta;
  assert.ok(Number.isNaN(m.args.nan));
  assert.equal(m.args.inf, Number.NEGATIVE_INFINITY);
  assert.ok(Object.is(m.args.negzero, -0));
  assert.equal(m.args.big, 12345678901234567890n);
  assert.deepEqual(m.args.bytes, new Uint8Array([0, 1, 255]));
  assert.deepEqual(m.args.floats, new Float32Array([1.5, -2]));
  assert.deepEqual(m.args.marker, { '\u0000flor': 'o', v: [['a', 1]] });
  assert.deepEqual(m.args.nested, odd.nested);
  assert.equal(m.args.unicode, 'λ✓');
  assert.deepEqual(m.argCalls, { lr: [0.1, Number.NaN, new Float64Array([3])] });
  assert.deepEqual({ ...back.runs[0]!, meta: null }, { ...run, meta: null });
  assert.equal(readCachedHistory(repo, 'OTHER KEY'), null);
});
