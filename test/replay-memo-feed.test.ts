/**
 * The memo feed a replay writes for its children (memo-feed.ts): written without loading msgpackr
 * (its load held up each run's first task), in the bytes msgpackr wrote, read back by the runtime
 * as recorded. Runs the built dist/ in a fresh process, where nothing loaded msgpackr before.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, tempDir, cleanup } from './helpers/repo.js';

after(cleanup);

test('the memo feed is written without msgpackr, in the bytes msgpackr wrote, and the runtime reads it back as recorded', () => {
  const dir = tempDir('flor-memo-feed-');
  const probe = `
import { createRequire } from 'node:module';
const dist = process.argv[1];
const out = process.argv[2];
const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('msgpackr'));
const { writeMemoFeed } = await import(dist + '/replay/memo-feed.js');
const { readMemoFeed } = await import(dist + '/runtime/memo.js');
const { encodeValue, MemoRecord } = await import(dist + '/store/pack.js');
const { unpackPlain } = await import(dist + '/store/msgpack-read.js');
const { packPlain } = await import(dist + '/store/msgpack-write.js');
const { readFileSync } = await import('node:fs');
const values = [1.5, -0, 'x'.repeat(40), 'é'.repeat(300), { a: [1, null, true], b: { c: 'd' } }, new Float32Array([1, 2.5]),
  Buffer.from('bytes'), new Date(0), new Map([[1, 'one']]), new Set(['s']), 12n, null, 2 ** 40, -7, 0.1];
const records = values.map((v, i) => new MemoRecord(v, null, i % 2 ? 'k' + i : i, i, i % 3 === 0, false));
records.push(new MemoRecord(undefined, { name: 'TypeError', message: 'no' }, 'e', 0, true, false));
// Tags as a run's segment holds them once decoded: encoded by the runtime, read back from msgpack.
const tags = records.map((r) => unpackPlain(packPlain(encodeValue(r, true))));
const entries = tags.map((tag, i) => ({ i, name: 'reply', ctx: 'p=' + i, tag, id: '' }));
writeMemoFeed(out, entries);
const before = loaded();
const feed = readMemoFeed(out);
const { pack } = await import(dist + '/store/pack.js');
const same = Buffer.compare(readFileSync(out), pack({ format: 'flor-memo-feed', entries: entries.map((e) => [e.name, e.ctx, e.tag]) })) === 0;
const back = [...feed.values()];
console.log(JSON.stringify({ before, after: loaded(), same, n: feed.size, equal: JSON.stringify(back, (k, v) => (v instanceof Uint8Array ? [...v] : v)) === JSON.stringify(tags, (k, v) => (v instanceof Uint8Array ? [...v] : v)) }));
`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe, join(ROOT, 'dist'), join(dir, 'memo.msgpack')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout.trim()) as { before: boolean; after: boolean; same: boolean; n: number; equal: boolean };
  assert.equal(got.before, false, 'writing (and reading back) the feed loads no msgpackr');
  assert.equal(got.after, true, 'the comparison below loaded it: the probe sees a load');
  assert.equal(got.same, true, 'the bytes are those msgpackr writes for the same feed');
  assert.equal(got.n, 16);
  assert.equal(got.equal, true, 'the runtime reads every tag back as recorded');
});
