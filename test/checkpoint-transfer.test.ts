/**
 * `git flor checkpoints push|fetch DIR`: content-addressed copies between clones' stores and a
 * shared directory. The CLI runs in-process (test/helpers/cli.ts).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { putCheckpoint, getCheckpoint, checkpointPath, listCheckpoints } from '../src/store/checkpoints.js';
import { pushCheckpoints } from '../src/store/checkpoint-transfer.js';
import { requireRepoSync } from '../src/store/git.js';
import { florIn } from './helpers/cli.js';
import { cleanup, makeRepo, tempDir } from './helpers/repo.js';

after(cleanup);

const common = (dir: string): string => requireRepoSync(dir).commonDir;
const put = (dir: string, n: number): string[] => Array.from({ length: n }, () => putCheckpoint(common(dir), randomBytes(2048)));

/** Every file under a store directory, tmp files included. */
function filesIn(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root).flatMap((fan) => readdirSync(join(root, fan)).map((f) => `${fan}/${f}`)).sort();
}

test('push copies what the directory lacks, under the same content-addressed names; again copies nothing', async () => {
  const a = makeRepo();
  const keys = put(a, 3);
  const shared = join(tempDir('flor-ckpt-shared-'), 'store');
  const r = await florIn(a, ['checkpoints', 'push', shared]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^pushed 3 checkpoint\(s\) \(0\.0 MiB\) to .*; 0 already there$/m);
  assert.deepEqual(filesIn(shared), keys.map((k) => `${k.slice(0, 2)}/${k.slice(2)}`).sort());
  for (const k of keys) assert.deepEqual(readFileSync(join(shared, k.slice(0, 2), k.slice(2))), readFileSync(checkpointPath(common(a), k)));
  const again = await florIn(a, ['checkpoints', 'push', pathToFileURL(shared).href, '--json']);
  assert.deepEqual({ ...JSON.parse(again.stdout), dir: '' }, { dir: '', copied: 0, present: 3, missing: [], damaged: [], bytes: 0 });
});

test('two clones pushing into one directory at once, then a third fetching: the union, verified, nothing half-written', async () => {
  const a = makeRepo();
  const b = makeRepo();
  const shared = tempDir('flor-ckpt-shared-');
  const both = randomBytes(4096);
  const ka = [...put(a, 20), putCheckpoint(common(a), both)];
  const kb = [...put(b, 20), putCheckpoint(common(b), both)];
  const [ra, rb] = await Promise.all([pushCheckpoints(common(a), shared), pushCheckpoints(common(b), shared)]);
  assert.equal(ra.copied + ra.present, 21);
  assert.equal(rb.copied + rb.present, 21);
  const all = [...new Set([...ka, ...kb])].sort();
  assert.equal(all.length, 41);
  assert.deepEqual(filesIn(shared), all.map((k) => `${k.slice(0, 2)}/${k.slice(2)}`));

  const c = makeRepo();
  const f = await florIn(c, ['checkpoints', 'fetch', shared]);
  assert.equal(f.status, 0, f.stderr);
  assert.match(f.stdout, /^fetched 41 checkpoint\(s\)/);
  assert.deepEqual(listCheckpoints(common(c)), all);
  for (const k of all) assert.ok(getCheckpoint(common(c), k), k);
});

test('a file in the directory whose content does not match its name is not fetched (exit 1); other URLs are refused', async () => {
  const shared = tempDir('flor-ckpt-shared-');
  const good = makeRepo();
  const [key] = put(good, 1);
  await pushCheckpoints(common(good), shared);
  // Another snapshot's bytes under this name: a damaged or tampered store.
  const bad = 'ab'.repeat(32);
  mkdirSync(join(shared, 'ab'), { recursive: true });
  writeFileSync(join(shared, 'ab', bad.slice(2)), deflateSync(randomBytes(100)));
  const c = makeRepo();
  const r = await florIn(c, ['checkpoints', 'fetch', shared]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /1 checkpoint\(s\) in .* do not match their names and were not fetched: abababababab/);
  assert.deepEqual(listCheckpoints(common(c)), [key]);
  const s3 = await florIn(c, ['checkpoints', 'push', 's3://bucket/flor']);
  assert.equal(s3.status, 2);
  assert.match(s3.stderr, /checkpoints are copied to and from directories, not s3:\/\/ URLs/);
  const none = await florIn(c, ['checkpoints', 'fetch', join(shared, 'nowhere')]);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /no checkpoint directory at/);
});
