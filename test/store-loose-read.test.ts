/**
 * Loose objects read from their files (src/store/loose-read.ts): the same type and bytes as
 * `git cat-file --batch` for every kind of object, and cat-file's answer wherever the file is not
 * the whole story (packed, damaged, replaced, another object directory). A cold query of a
 * history whose objects are loose starts no cat-file.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cleanup, copyRepo, flor, gitIn, sh, tempDir } from './helpers/repo.js';
import { recordHistory, type History } from './helpers/history.js';
import { CatFile, requireRepoSync, type RepoInfo } from '../src/store/git.js';
import { largeReads, looseReader, parseLoose, type LooseRead } from '../src/store/loose-read.js';
import { nodeZlib } from '../src/store/builtins.js';
import { isFlorError } from '../src/errors.js';

let h: History;
let repo: RepoInfo;
const cats: CatFile[] = [];
before(async () => {
  h = await recordHistory();
  repo = requireRepoSync(h.dir);
});
after(async () => {
  await Promise.all(cats.map((c) => c.close()));
  cleanup();
});

/** Every object of the repository, as cat-file lists it: [oid, type]. */
function allObjects(dir: string): Array<[string, string]> {
  return gitIn(dir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname) %(objecttype)')
    .split('\n')
    .map((l) => l.split(' ') as [string, string]);
}

function catFile(dir: string, loose: LooseRead | null = null): CatFile {
  const c = new CatFile(dir, loose);
  cats.push(c);
  return c;
}

/** A blob of random bytes (they do not deflate): read on the thread pool. */
function bigBlob(dir: string, seed = 7, size = 100_000): string {
  let x = seed;
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
  const file = join(tempDir(), 'big');
  writeFileSync(file, bytes);
  return gitIn(dir, 'hash-object', '-w', file);
}

test('every loose object reads from its file as cat-file gives it: blobs, trees, commits, tags', async () => {
  gitIn(h.dir, 'tag', '-a', '-m', 'a tag', 'loose-read-tag', h.c1);
  const big = bigBlob(h.dir);
  const objects = allObjects(h.dir);
  const types = new Set(objects.map(([, t]) => t));
  assert.deepEqual([...types].sort(), ['blob', 'commit', 'tag', 'tree']);
  const loose = looseReader(repo)!;
  assert.ok(loose, 'a plain repository reads loose objects');
  const cat = catFile(h.dir);
  const pooled = loose(big);
  assert.ok(pooled instanceof Promise, 'a large object is inflated off the main thread');
  const got = (await pooled)!;
  // Its size and one byte: a decode in place keeps it, and output that filled it exactly made zlib allocate another as large.
  assert.equal(got.data.buffer.byteLength, got.data.byteOffset + got.data.length + 1, 'into memory of its size and a byte');
  for (const [oid, type] of objects) {
    const mine = await loose(oid);
    assert.ok(mine, `${oid} (${type}) is loose and read`);
    const git = await cat.read(oid);
    assert.equal(mine.type, git!.type, oid);
    assert.equal(mine.oid, oid);
    assert.ok(mine.data.equals(git!.data), `${oid} (${type}): the same bytes`);
  }
  assert.equal(loose('HEAD'), null, 'a rev spec is cat-file\'s');
  assert.equal(loose(`${h.c1}:train.mjs`), null);
  assert.equal(loose('0'.repeat(40)), null, 'a missing object is cat-file\'s (it says missing)');
});

test('a small object read again comes from memory, as a copy of its own each time', () => {
  const dir = tempDir();
  gitIn(dir, 'init', '-q');
  const text = 'read twice\n';
  const oid = sh('git', ['hash-object', '-w', '--stdin'], dir, { input: text }).stdout.trim();
  const loose = looseReader(requireRepoSync(dir))!;
  const first = loose(oid) as { type: string; data: Buffer };
  assert.equal(first.data.toString(), text);
  first.data.fill(0); // a reader that changes what it was given changes no later read
  // Gone from the object directory (packed and pruned, say): the object is still the same object.
  rmSync(join(dir, '.git', 'objects', oid.slice(0, 2), oid.slice(2)));
  const again = loose(oid) as { type: string; data: Buffer } | null;
  assert.ok(again, 'answered without the file');
  assert.equal(again.type, 'blob');
  assert.equal(again.data.toString(), text);
});

test('many large objects read at once share a few read buffers, and each comes back whole', async () => {
  const dir = copyRepo(h.dir);
  const oids = Array.from({ length: 48 }, (_, i) => bigBlob(dir, 100 + i, 20_000 + 5_000 * (i % 4)));
  const loose = looseReader(requireRepoSync(dir))!;
  const before = largeReads.buffers;
  const got = await Promise.all(oids.map((oid) => loose(oid)));
  const made = largeReads.buffers - before;
  assert.ok(made >= 1 && made <= 32, `${made} read buffers for ${oids.length} objects`);
  const cat = catFile(dir);
  for (const [i, oid] of oids.entries()) {
    const git = (await cat.read(oid))!;
    assert.equal(got[i]!.type, 'blob');
    assert.ok(got[i]!.data.equals(git.data), `${oid}: the same bytes as cat-file`);
  }
});

test('a file that is not a whole, well-formed object is left to cat-file', async () => {
  const deflate = (s: string | Buffer) => nodeZlib().deflateSync(Buffer.isBuffer(s) ? s : Buffer.from(s, 'latin1'));
  const oid = 'ab'.repeat(20);
  assert.deepEqual(parseLoose(oid, deflate('blob 3\0abc')), { oid, type: 'blob', data: Buffer.from('abc') });
  assert.deepEqual(parseLoose(oid, deflate('blob 0\0')), { oid, type: 'blob', data: Buffer.alloc(0) });
  assert.equal(parseLoose(oid, deflate('blob 4\0abc')), null, 'shorter than its header says');
  assert.equal(parseLoose(oid, deflate('blob 2\0abc')), null, 'longer than its header says');
  assert.equal(parseLoose(oid, deflate('blob 03\0abc')), null, 'a size Git does not write');
  assert.equal(parseLoose(oid, deflate('blub 3\0abc')), null, 'no such type');
  assert.equal(parseLoose(oid, deflate('blob3\0abc')), null);
  assert.equal(parseLoose(oid, deflate('blob 3 abc')), null, 'no end of header');
  // Larger than four times the deflated size: inflated in pieces, joined.
  const big = Buffer.alloc(1 << 20, 7);
  const got = parseLoose(oid, deflate(Buffer.concat([Buffer.from(`blob ${big.length}\0`), big])))!;
  assert.ok(got.data.equals(big));
  assert.throws(() => parseLoose(oid, deflate('blob 3\0abc').subarray(0, 8)), 'a cut stream does not inflate (looseReader then asks cat-file)');

  // Damaged on disk: the reader leaves it, and reading it through the store fails as cat-file fails.
  const dir = copyRepo(h.dir);
  const r = requireRepoSync(dir);
  const [small] = allObjects(dir).find(([, t]) => t === 'blob')!;
  for (const victim of [small, bigBlob(dir)]) {
    const file = join(r.commonDir, 'objects', victim.slice(0, 2), victim.slice(2));
    chmodSync(file, 0o644);
    const raw = readFileSync(file);
    writeFileSync(file, raw.subarray(0, raw.length - 4));
    assert.equal(await looseReader(r)!(victim), null, 'a cut file is not read');
    await assert.rejects(catFile(dir, looseReader(r)).read(victim), (e: unknown) => isFlorError(e, 'OBJECT_UNREADABLE'), 'cat-file says why');
  }
});

test('packed objects, replace refs and another object directory go to cat-file', async () => {
  const dir = copyRepo(h.dir);
  const r = requireRepoSync(dir);
  const objects = allObjects(dir);
  sh('git', ['gc', '-q', '--prune=now'], dir);
  const loose = looseReader(r)!;
  assert.ok(objects.every(([oid]) => loose(oid) === null), 'packed: none is read from a file');

  const [a, b] = objects.filter(([, t]) => t === 'blob').map(([oid]) => oid);
  gitIn(dir, 'replace', a!, b!);
  assert.equal(looseReader(r), null, 'with a replace ref cat-file shows the replacement');
  const cat = catFile(dir);
  assert.ok((await cat.read(a!))!.data.equals((await cat.read(b!))!.data), 'as cat-file does');

  const old = process.env.GIT_OBJECT_DIRECTORY;
  process.env.GIT_OBJECT_DIRECTORY = tempDir();
  try {
    assert.equal(looseReader(repo), null);
  } finally {
    if (old === undefined) delete process.env.GIT_OBJECT_DIRECTORY;
    else process.env.GIT_OBJECT_DIRECTORY = old;
  }
});

test('a cold log over loose objects starts no cat-file; packed, the same answer through cat-file', () => {
  const dir = copyRepo(h.dir);
  // `git` on PATH records the commands started and what is asked of `cat-file --batch`.
  const bin = tempDir('flor-gitwrap-');
  const asked = join(bin, 'asked');
  const started = join(bin, 'started');
  writeFileSync(asked, '');
  writeFileSync(started, '');
  const real = spawnSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim();
  writeFileSync(join(bin, 'git'), `#!/bin/sh\necho "$1" >> "${started}"\nif [ "$1" = cat-file ]; then tee -a "${asked}" | "${real}" "$@"; else exec "${real}" "$@"; fi\n`);
  chmodSync(join(bin, 'git'), 0o755);
  const env = { PATH: `${bin}:${process.env.PATH}` };
  const cold = () => {
    sh('rm', ['-rf', join(dir, '.git', 'flor', 'cache')], dir);
    return flor(dir, ['log', 'loss', 'acc', '--where', 'lr > 0.1', '--format', 'json'], { env }).stdout;
  };
  const loose = cold();
  assert.equal(JSON.parse(loose).length, 12, 'three runs of lr > 0.1, four rows each');
  assert.equal(readFileSync(asked, 'utf8'), '', 'every object came from its file');
  assert.ok(!readFileSync(started, 'utf8').includes('cat-file'), 'and no cat-file was started');
  sh('git', ['gc', '-q', '--prune=now'], dir);
  assert.equal(cold(), loose);
  assert.ok(readFileSync(asked, 'utf8').split('\n').filter(Boolean).length > 10, 'packed objects are read through cat-file');
});
