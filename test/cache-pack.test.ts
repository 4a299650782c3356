/**
 * Packs of the derived cache: entries come back byte for byte; a damaged or truncated pack is a
 * miss, never data; the newest entry of a key wins; many packs are merged; concurrent writers
 * (processes, each writing and merging) never leave a pack that reads wrong.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, makeRepo, sh, tempDir, ROOT } from './helpers/repo.js';
import { MAX_PACKS, PackDir } from '../src/store/cache-pack.js';
import { cacheDir, readCachedAggregates, readCachedSegment, settleCacheWrites, writeCachedAggregates } from '../src/store/derived-cache.js';
import { requireRepoSync } from '../src/store/git.js';
import { pack } from '../src/store/pack.js';

after(cleanup);

/** Entry bytes that say which key and version they are, of a size that varies with the key. */
function bytesOf(key: string, version: number): Buffer {
  const n = 10 + ((key.length * 7919 + version * 31) % 3000);
  const b = Buffer.alloc(n);
  b.write(`${key}#${version}|`);
  for (let i = key.length + 4; i < n; i++) b[i] = (i * 13 + version) & 0xff;
  return b;
}

function packsIn(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.pack'));
}

test('entries come back byte for byte from another reader; an entry in a newer pack wins', () => {
  const dir = join(tempDir(), 'packs');
  const w = new PackDir(dir);
  for (let i = 0; i < 50; i++) w.put(`k${i}`, [bytesOf(`k${i}`, 1).subarray(0, 5), bytesOf(`k${i}`, 1).subarray(5)]);
  w.flush();
  w.put('k7', [bytesOf('k7', 2)]);
  w.flush();
  assert.equal(packsIn(dir).length, 2);
  const r = new PackDir(dir);
  for (let i = 0; i < 50; i++) assert.deepEqual(r.get(`k${i}`), bytesOf(`k${i}`, i === 7 ? 2 : 1), `k${i}`);
  assert.equal(r.get('absent'), null);
  // Its own queued entry is what a writer reads back before the flush.
  w.put('k8', [bytesOf('k8', 3)]);
  assert.deepEqual(w.get('k8'), bytesOf('k8', 3));
  assert.deepEqual(r.get('k8'), bytesOf('k8', 1));
});

test('a pack written in the background: its entries read from memory until it is in place, then from it, byte for byte', async () => {
  const dir = join(tempDir(), 'packs');
  const w = new PackDir(dir);
  // More pieces than one writev takes, and pieces of a few bytes to a megabyte.
  for (let i = 0; i < 700; i++) w.put(`k${i}`, [bytesOf(`k${i}`, 1), Buffer.alloc(i === 3 ? 1 << 20 : 1, i)]);
  const want = (i: number) => Buffer.concat([bytesOf(`k${i}`, 1), Buffer.alloc(i === 3 ? 1 << 20 : 1, i)]);
  const writing = w.flushInBackground();
  w.put('k5', [bytesOf('k5', 2)]); // queued for the next pack meanwhile
  assert.deepEqual(packsIn(dir), [], 'not in place yet');
  assert.deepEqual(w.get('k3'), want(3), 'read from memory while it is written');
  assert.deepEqual(w.get('k5'), bytesOf('k5', 2), 'the queue before the pack being written');
  await writing;
  assert.equal(packsIn(dir).length, 1);
  const r = new PackDir(dir);
  for (let i = 0; i < 700; i++) assert.deepEqual(r.get(`k${i}`), want(i), `k${i}`);
  w.flush();
  assert.deepEqual(new PackDir(dir).get('k5'), bytesOf('k5', 2), 'the newer pack wins');
  assert.deepEqual(w.get('k6'), want(6), 'the writer reads its own pack once it is in place');
  await w.flushInBackground(); // nothing queued: no pack
  assert.equal(packsIn(dir).length, 2);
  assert.deepEqual(readdirSync(dir).filter((f) => !f.endsWith('.pack')), [], 'no temporary file left');
});

test('a flipped byte misses that entry only; a damaged index or a truncated pack misses them all; the next writer merges the damage away', () => {
  const dir = join(tempDir(), 'packs');
  const w = new PackDir(dir);
  for (let i = 0; i < 20; i++) w.put(`k${i}`, [bytesOf(`k${i}`, 1)]);
  w.flush();
  const [name] = packsIn(dir);
  const file = join(dir, name!);
  const good = readFileSync(file);

  const flipped = Buffer.from(good);
  flipped[8 + 3]! ^= 0x01; // inside the first entry (k0)
  writeFileSync(file, flipped);
  let r = new PackDir(dir);
  assert.equal(r.get('k0'), null);
  assert.deepEqual(r.get('k1'), bytesOf('k1', 1));

  const badIndex = Buffer.from(good);
  badIndex[good.length - 16 - 5]! ^= 0x01; // inside the index
  writeFileSync(file, badIndex);
  r = new PackDir(dir);
  for (let i = 0; i < 20; i++) assert.equal(r.get(`k${i}`), null);

  for (const cut of [1, 16, good.length >> 1]) {
    writeFileSync(file, good.subarray(0, good.length - cut));
    r = new PackDir(dir);
    for (let i = 0; i < 20; i++) assert.equal(r.get(`k${i}`), null, `cut ${cut}: k${i}`);
  }

  // The reader met damage: its next flush rewrites the good entries of every pack and drops the damaged one.
  writeFileSync(file, flipped);
  r = new PackDir(dir);
  assert.equal(r.get('k0'), null);
  r.put('k0', [bytesOf('k0', 1)]);
  r.flush();
  const left = packsIn(dir);
  assert.equal(left.length, 1);
  assert.notEqual(left[0], name);
  const fresh = new PackDir(dir);
  for (let i = 0; i < 20; i++) assert.deepEqual(fresh.get(`k${i}`), bytesOf(`k${i}`, 1), `k${i}`);
});

test(`past ${MAX_PACKS} packs the writer merges the newest ones (size-tiered), keeping the newest entry of each key`, () => {
  const dir = join(tempDir(), 'packs');
  const w = new PackDir(dir);
  // One large old pack, then small ones: merges take the small ones and leave the large one alone.
  for (let i = 0; i < 200; i++) w.put(`big${i}`, [bytesOf(`big${i}`, 0)]);
  w.put('shared', [bytesOf('shared', 100)]);
  w.flush();
  const big = packsIn(dir)[0]!;
  for (let round = 0; round < 5 * MAX_PACKS; round++) {
    w.put(`p${round}`, [bytesOf(`p${round}`, round)]);
    w.put('shared', [bytesOf('shared', round)]);
    w.flush();
    assert.ok(packsIn(dir).length <= MAX_PACKS, `round ${round}: ${packsIn(dir).length} packs`);
  }
  assert.ok(packsIn(dir).includes(big), 'the large old pack was never rewritten');
  const r = new PackDir(dir);
  for (let round = 0; round < 5 * MAX_PACKS; round++) assert.deepEqual(r.get(`p${round}`), bytesOf(`p${round}`, round));
  for (let i = 0; i < 200; i++) assert.deepEqual(r.get(`big${i}`), bytesOf(`big${i}`, 0));
  assert.deepEqual(r.get('shared'), bytesOf('shared', 5 * MAX_PACKS - 1));
});

/** Sets `dir`'s mtime back to what `stat` saw, to the nanosecond: a change within one timestamp tick. */
function sameTick(dir: string, seen: bigint): void {
  sh('touch', ['-m', '-d', `@${seen / 1_000_000_000n}.${String(seen % 1_000_000_000n).padStart(9, '0')}`, dir], dir);
  assert.equal(statSync(dir, { bigint: true }).mtimeNs, seen);
}

test("a pack merged away since the reader's listing, in the same mtime tick, is found in the pack that replaced it", () => {
  const dir = join(tempDir(), 'packs');
  mkdirSync(dir, { recursive: true });
  const other = new PackDir(dir);
  other.put('k', [bytesOf('k', 1)]);
  other.flush();
  const [old] = packsIn(dir);
  other.put('k2', [bytesOf('k2', 1)]);
  other.flush();
  const reader = new PackDir(dir);
  assert.ok(reader.get('k2'), 'read from the newest pack: the older one is listed, not opened');
  const seen = statSync(dir, { bigint: true }).mtimeNs;
  // Another process merges: its pack in place first, then the merged one removed.
  const merger = new PackDir(dir);
  merger.put('k', [bytesOf('k', 2)]);
  merger.flush();
  rmSync(join(dir, old!));
  sameTick(dir, seen);
  assert.deepEqual(reader.get('k'), bytesOf('k', 2));
});

test('concurrent writers, each writing packs and merging them, never leave an entry that reads wrong', async () => {
  const dir = join(tempDir(), 'packs');
  mkdirSync(dir, { recursive: true });
  const WRITERS = 4;
  const ROUNDS = 12;
  // Plain node on the built module (a tsx start per process would cost more than the test).
  // Each writer flushes a pack per round (so merges happen while others write and read), then
  // checks every key it can read: whichever writer's bytes it finds must be whole.
  const script = `
    import { PackDir } from ${JSON.stringify(join(ROOT, 'dist/store/cache-pack.js'))};
    const [dir, w, rounds] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
    const d = new PackDir(dir);
    const bytesOf = ${bytesOf.toString()};
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < 30; i++) d.put('w' + w + 'r' + r + 'i' + i, [bytesOf('w' + w + 'r' + r + 'i' + i, w)]);
      for (let i = 0; i < 5; i++) d.put('shared' + i, [bytesOf('shared' + i, w)]);
      d.flush();
      if (!d.get('w' + w + 'r' + r + 'i0')) throw new Error('own entry not found');
      for (let i = 0; i < 5; i++) {
        const b = d.get('shared' + i);
        if (b && !(Buffer.from(b).equals(bytesOf('shared' + i, Number(b.toString('latin1').split('#')[1].split('|')[0]))))) throw new Error('torn entry');
      }
    }
  `;
  const codes = await Promise.all(
    Array.from({ length: WRITERS }, (_, w) => new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir, String(w), String(ROUNDS)], { stdio: ['ignore', 'ignore', 'inherit'], cwd: ROOT });
      child.on('exit', (code) => resolve(code ?? -1));
    })),
  );
  assert.deepEqual(codes, new Array(WRITERS).fill(0));
  assert.deepEqual(readdirSync(dir).filter((f) => !f.endsWith('.pack')), [], 'no temporary file left');
  const r = new PackDir(dir);
  let found = 0;
  for (let w = 0; w < WRITERS; w++) {
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < 30; i++) {
        const key = `w${w}r${round}i${i}`;
        const b = r.get(key);
        // A merge that ran while another writer's pack appeared may leave that pack's entries to
        // the next merge, never lose them: each key is somewhere, whole.
        assert.deepEqual(b, bytesOf(key, w), key);
        found++;
      }
    }
  }
  assert.equal(found, WRITERS * ROUNDS * 30);
  for (let i = 0; i < 5; i++) {
    const b = r.get(`shared${i}`)!;
    const v = Number(b.toString('latin1').split('#')[1]!.split('|')[0]);
    assert.deepEqual(b, bytesOf(`shared${i}`, v));
  }
});

test('name depths are kept in the run\'s entry beside its aggregates, any name; depths that are not a name -> depth list read as not kept', async () => {
  const repo = requireRepoSync(makeRepo({ flor: false }));
  const key = ['01J00000000000000000000001', 'w1', 'a'.repeat(40)].join('\0');
  const depths = new Map([['loss', 1], ['acc', 0], ['__proto__', 2]]);
  writeCachedAggregates(repo, key, { names: new Map([['loss', { max: 2 }]]), depths });
  await settleCacheWrites();
  assert.deepEqual(readCachedAggregates(repo, key), { names: new Map([['loss', { max: 2 }]]), depths });
  // Written by hand as a damaged or foreign writer might: the aggregates stay, the depths do not.
  for (const bad of [[['loss', -1]], [['loss', 1.5]], [['loss', 1], ['loss', 2]], [[3, 1]], { loss: 1 }, 'x']) {
    const other = `${key}\0${JSON.stringify(bad)}`;
    const d = new PackDir(join(cacheDir(repo), 'packs'));
    d.put(`a ${other}`, [pack({ key: other, names: { loss: { max: 2 } }, depths: bad })]);
    d.flush();
    assert.deepEqual(readCachedAggregates(repo, other), { names: new Map([['loss', { max: 2 }]]), depths: null }, JSON.stringify(bad));
  }
});

test('aggregates are kept by content key (another key misses), and a cache of the old layout (a file per entry) is a miss', async () => {
  const repo = requireRepoSync(makeRepo({ flor: false }));
  const key = ['01J00000000000000000000000', 'w1', 'a'.repeat(40)].join('\0');
  writeCachedAggregates(repo, key, { names: new Map([['loss', { max: 2, min: 1 }]]), depths: null });
  await settleCacheWrites();
  assert.deepEqual(readCachedAggregates(repo, key), { names: new Map([['loss', { max: 2, min: 1 }]]), depths: null });
  assert.deepEqual(readCachedAggregates(repo, `${key}\0${'b'.repeat(40)}`), { names: new Map(), depths: null });
  const old = join(cacheDir(repo), 'segments');
  mkdirSync(old, { recursive: true });
  writeFileSync(join(old, 'c'.repeat(40)), 'FLORC1\nwhatever it held');
  assert.equal(readCachedSegment(repo, 'c'.repeat(40)), null);
});

test("crc32 is zlib's CRC-32 on each of its paths (zlib's binding; without it, its loop in stretches, then node:zlib's once the loop checked 128 KiB), across stretch ends", () => {
  // Bit by bit, as the CRC-32 of zlib (and of the pack format) is defined.
  const reference = (b: Uint8Array, crc = 0): number => {
    let c = ~crc >>> 0;
    for (const x of b) {
      c ^= x;
      for (let k = 0; k < 8; k++) c = c & 1 ? (0xedb88320 ^ (c >>> 1)) >>> 0 : c >>> 1;
    }
    return ~c >>> 0;
  };
  // In a process of its own: which path a call takes depends on what the process loaded before.
  const script = `
    import { crc32 } from ${JSON.stringify(join(ROOT, 'src', 'store', 'crc32.ts'))};
    const bytes = (n, seed) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 5)) & 0xff);
    const out = [];
    for (const n of [0, 1, 255, 511, 512, 513, 1024, 1500, 20568, 40000, 60000]) out.push(crc32(bytes(n, n)) >>> 0);
    // 124,884 bytes of 256 or more so far (a repository's listing of 35 runs is 37 KB, which loaded zlib at 32 KB).
    const before = process.moduleLoadList.includes('NativeModule zlib');
    out.push(crc32(bytes(7000, 7000)) >>> 0);
    const after = process.moduleLoadList.includes('NativeModule zlib');
    for (const n of [255, 256, 5000]) out.push(crc32(bytes(n, n)) >>> 0);
    out.push(crc32(bytes(300, 1), crc32(bytes(5000, 2))) >>> 0);
    out.push(crc32(bytes(700, 3), crc32(bytes(100, 4))) >>> 0);
    console.log(JSON.stringify({ out, before, after }));
  `;
  // --pending-deprecation: process.binding would warn, so crc32 does without zlib's binding.
  const run = (flags: string[]) => JSON.parse(sh(process.execPath, [...flags, '--import', 'tsx', '--input-type=module', '-e', script], ROOT).stdout) as { out: number[]; before: boolean; after: boolean };
  const got = run(['--pending-deprecation']);
  const bound = run([]);
  const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 5)) & 0xff);
  const want = [0, 1, 255, 511, 512, 513, 1024, 1500, 20568, 40000, 60000, 7000, 255, 256, 5000].map((n) => reference(bytes(n, n)));
  want.push(reference(bytes(300, 1), reference(bytes(5000, 2))));
  want.push(reference(bytes(700, 3), reference(bytes(100, 4))));
  assert.deepEqual(got.out, want);
  assert.equal(got.before, false, 'up to 128 KiB checked, the loop, without loading zlib');
  assert.equal(got.after, true, "past 128 KiB, zlib's");
  assert.deepEqual(bound.out, want);
  assert.deepEqual([bound.before, bound.after], [false, false], "zlib's binding: node:zlib, and the streams with it, never loaded");
});
