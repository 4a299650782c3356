/**
 * The derived cache under .git/flor/cache: a second query reads it instead of decoding; a moved
 * ref tip or a damaged file never yields a wrong answer.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, runNode } from './helpers/repo.js';
import { recordHistory, florIn, type History } from './helpers/history.js';
import { requireRepoSync, type RepoInfo } from '../src/store/git.js';
import { closeReaders } from '../src/store/objects.js';
import { listRunsChecked, readSegment } from '../src/store/ledger.js';
import { cacheDir, readCachedAggregates, readCachedListing, readCachedSegment, refsKey, runContentKey, settleCacheWrites, writeCachedAggregates, writeCachedSegment } from '../src/store/derived-cache.js';
import { nameDepths } from '../src/query/series.js';

let h: History;
let repo: RepoInfo;
before(async () => {
  h = await recordHistory();
  repo = requireRepoSync(h.dir);
});
after(() => {
  closeReaders();
  cleanup();
});

async function logJson(...names: string[]): Promise<Array<Record<string, unknown>>> {
  const r = await florIn(h.dir, ['log', ...names, '--format', 'json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Array<Record<string, unknown>>;
}

test('a query leaves the listing and every segment it decoded in the cache, equal to what Git holds', async () => {
  rmSync(cacheDir(repo), { recursive: true, force: true });
  const cold = await logJson('loss', 'grad_norm');
  const { runs } = await listRunsChecked(repo);
  const cached = readCachedListing<(typeof runs)[number]>(repo, await refsKey(repo));
  assert.deepEqual(cached, runs);
  let segs = 0;
  for (const r of runs) {
    for (const s of r.segments) {
      assert.deepEqual(readCachedSegment(repo, s.oid), await readSegment(repo, s.oid), `${r.id} ${s.name}`);
      segs++;
    }
  }
  assert.equal(segs, 5); // four forward segments and one replay
  // Segments are not a file each: one pack for what the query decoded, beside the listing.
  assert.deepEqual(readdirSync(cacheDir(repo)).sort(), ['listing', 'packs']);
  assert.equal(readdirSync(join(cacheDir(repo), 'packs')).length, 1);
  assert.deepEqual(await logJson('loss', 'grad_norm'), cold);
});

test('the second query reads the cached segment, not the blob (content-addressed: it cannot go stale)', async () => {
  await logJson('acc');
  const { runs } = await listRunsChecked(repo);
  const oid = runs[1]!.segments[0]!.oid;
  const seg = readCachedSegment(repo, oid)!;
  const accIx = seg.names.indexOf('acc');
  const doctored = { ...seg, num: Float64Array.from(seg.num, (v, r) => (seg.name[r] === accIx ? v + 100 : v)) };
  writeCachedSegment(repo, oid, doctored);
  await settleCacheWrites(); // cache files are written in the background
  const rows = await logJson('acc');
  assert.deepEqual(rows.filter((r) => r.run === runs[1]!.id).map((r) => r.acc), [100.25, 101]);
  writeCachedSegment(repo, oid, seg);
  await settleCacheWrites();
  assert.deepEqual(rows.filter((r) => r.run === runs[0]!.id).map((r) => r.acc), [0.25, 0.6]);
});

test('the default runs summary keeps each run\'s name depths in the cache and reads them there, not from the segments', async () => {
  rmSync(cacheDir(repo), { recursive: true, force: true });
  const runsJson = async (): Promise<Array<Record<string, unknown>>> => {
    const r = await florIn(h.dir, ['runs', '--format', 'json']);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  };
  const cold = await runsJson();
  assert.ok('last(acc)' in cold[0]!);
  const { runs } = await listRunsChecked(repo);
  for (const r of runs) {
    const expected = new Map<string, number>();
    for (const s of r.segments) nameDepths(await readSegment(repo, s.oid), expected);
    assert.deepEqual(readCachedAggregates(repo, runContentKey(r)).depths, expected, r.id);
  }
  // acc made an inner-loop name in every run's entry: the summary, reading the entries, leaves it out.
  for (const r of runs) {
    const e = readCachedAggregates(repo, runContentKey(r));
    writeCachedAggregates(repo, runContentKey(r), { ...e, depths: new Map([...e.depths!, ['acc', 2]]) });
  }
  await settleCacheWrites();
  const doctored = await runsJson();
  assert.ok(!('last(acc)' in doctored[0]!));
  assert.deepEqual(doctored, cold.map(({ 'last(acc)': _, ...rest }) => rest));
  // An entry without depths (an older writer's): read from the segments and kept again.
  for (const r of runs) writeCachedAggregates(repo, runContentKey(r), { ...readCachedAggregates(repo, runContentKey(r)), depths: null });
  await settleCacheWrites();
  assert.deepEqual(await runsJson(), cold);
  assert.ok(runs.every((r) => readCachedAggregates(repo, runContentKey(r)).depths?.get('acc') === 1));
});

test('a damaged cache file is ignored and rewritten; a moved tip (a new run) is never served stale', async () => {
  await logJson('loss');
  const dir = cacheDir(repo);
  const listing = join(dir, 'listing');
  const before = readFileSync(listing);
  writeFileSync(listing, before.subarray(0, before.length - 9)); // truncated
  const packs = join(dir, 'packs');
  const [pack] = readdirSync(packs);
  assert.ok(pack, 'the segments are in a pack');
  const packFile = join(packs, pack);
  const bytes = readFileSync(packFile);
  bytes[100]! ^= 0xff; // one flipped byte inside the first entry
  writeFileSync(packFile, bytes);
  const rows = await logJson('loss');
  assert.equal(rows.length, 16);
  assert.deepEqual(readFileSync(listing), before); // rebuilt, byte for byte
  // The damaged pack was merged away: one pack again, every segment in it whole.
  const after = readdirSync(packs);
  assert.equal(after.length, 1);
  assert.notEqual(after[0], pack);
  for (const r of (await listRunsChecked(repo)).runs) for (const s of r.segments) assert.deepEqual(readCachedSegment(repo, s.oid), await readSegment(repo, s.oid));

  runNode(h.dir, 'train.mjs', ['--lr', '0.3']);
  const runs = JSON.parse((await florIn(h.dir, ['runs', '--format', 'json'])).stdout) as Array<{ run: string; args: { lr: number } }>;
  assert.equal(runs.length, 5);
  assert.equal(runs[4]!.args.lr, 0.3);
  assert.equal((await logJson('loss')).length, 20);
  assert.ok(existsSync(listing));
});
