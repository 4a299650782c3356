/**
 * The private index kept between runs is a stat cache: unchanged files are not hashed again, and it
 * never decides what the code is (a file newly ignored leaves, a deleted one goes, a pruned blob is
 * hashed again). In-process snapshots of a real repository.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepo, gitIn, cleanup, writeFiles, sh, testEnv } from './helpers/repo.js';
import { requireRepoSync } from '../src/store/git.js';
import { cacheIndexPath, snapshotCodeSync } from '../src/store/worktree.js';

after(() => cleanup());

const files = (dir: string, tree: string) => gitIn(dir, 'ls-tree', '-r', '--name-only', tree).split('\n').sort();

test('unchanged files are not hashed again; changed, new, ignored, deleted and pruned ones are handled exactly', () => {
  const untracked: Record<string, string> = {};
  for (let i = 0; i < 40; i++) untracked[`data/u${i}.txt`] = `u${i}\n`;
  const dir = makeRepo({ files: { 'a.txt': 'a\n', 'train.mjs': '// t\n' } });
  writeFiles(dir, untracked);
  const repo = requireRepoSync(dir);

  const first = snapshotCodeSync(repo);
  assert.ok(first.hashed >= 40, String(first.hashed));
  assert.ok(existsSync(cacheIndexPath(repo)));
  assert.equal(files(dir, first.tree).length, 43);

  const again = snapshotCodeSync(repo);
  assert.equal(again.hashed, 0, 'nothing changed: nothing hashed');
  assert.equal(again.tree, first.tree);
  assert.equal(again.reused, true, 'nothing changed: the cached tree, no write-tree');
  assert.equal(snapshotCodeSync(repo).reused, true);

  // An edit that keeps size and mtime (restored by hand) still changes ctime: never taken as unchanged.
  const u5 = join(dir, 'data', 'u5.txt');
  const st = statSync(u5, { bigint: true });
  sh('touch', ['-r', u5, join(dir, '.git', 'u5-time')], dir); // keeps the nanoseconds, as utimes from JS would not
  writeFileSync(u5, 'U5\n');
  sh('touch', ['-r', join(dir, '.git', 'u5-time'), u5], dir);
  assert.equal(statSync(u5, { bigint: true }).mtimeNs, st.mtimeNs);
  assert.equal(statSync(u5).size, Number(st.size));
  const same = snapshotCodeSync(repo);
  assert.equal(same.reused, false);
  assert.equal(same.hashed, 1);
  assert.equal(gitIn(dir, 'cat-file', 'blob', `${same.tree}:data/u5.txt`), 'U5');
  writeFileSync(u5, 'u5\n');
  const back = snapshotCodeSync(repo);
  assert.equal(back.tree, first.tree, 'the content is back: the same tree');
  assert.equal(snapshotCodeSync(repo).reused, true);
  // Packed by a gc (kept by a ref): found in the pack index, still reused.
  gitIn(dir, 'update-ref', 'refs/keep', back.tree);
  gitIn(dir, 'gc', '-q');
  assert.ok(!existsSync(join(dir, '.git', 'objects', back.tree.slice(0, 2), back.tree.slice(2))), 'the tree is packed');
  assert.ok(readdirSync(join(dir, '.git', 'objects', 'pack')).some((f) => f.endsWith('.idx')));
  assert.equal(snapshotCodeSync(repo).reused, true);
  gitIn(dir, 'update-ref', '-d', 'refs/keep');

  writeFiles(dir, { 'data/u7.txt': 'changed, longer\n' });
  const changed = snapshotCodeSync(repo);
  assert.equal(changed.hashed, 1);
  assert.equal(gitIn(dir, 'cat-file', 'blob', `${changed.tree}:data/u7.txt`), 'changed, longer');

  // The cache holds data/u3.txt, but the code is what Git lists today: ignored now, so gone.
  writeFiles(dir, { '.gitignore': 'node_modules/\ndata/u3.txt\n' });
  rmSync(join(dir, 'data', 'u4.txt'));
  const ignored = snapshotCodeSync(repo);
  assert.equal(ignored.hashed, 1, '.gitignore only');
  const names = files(dir, ignored.tree);
  assert.ok(!names.includes('data/u3.txt') && !names.includes('data/u4.txt'));
  assert.equal(names.length, 41);

  // Over the cap now: left out although cached.
  gitIn(dir, 'config', 'flor.captureMaxBytes', '4');
  const capped = snapshotCodeSync(repo);
  assert.ok(!files(dir, capped.tree).includes('data/u7.txt'));
  assert.deepEqual(capped.skipped.map((s) => s.path).includes('data/u7.txt'), true);
  gitIn(dir, 'config', '--unset', 'flor.captureMaxBytes');

  // Blobs only the cache named are pruned (their runs never reached a ledger): hashed again.
  const before = snapshotCodeSync(repo);
  gitIn(dir, 'gc', '-q', '--prune=now');
  const pruned = snapshotCodeSync(repo);
  assert.equal(pruned.tree, before.tree);
  assert.equal(pruned.reused, false, 'the cached tree was pruned: written again');
  assert.ok(pruned.hashed >= 38, String(pruned.hashed));
  gitIn(dir, 'fsck', '--no-progress');
  assert.equal(gitIn(dir, 'cat-file', '-t', pruned.tree), 'tree');
  assert.equal(snapshotCodeSync(repo).hashed, 0);
});

test('a modified tracked file is taken from the work tree, and the user index is never touched', () => {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  const repo = requireRepoSync(dir);
  const userIndex = gitIn(dir, 'ls-files', '-s');
  writeFileSync(join(dir, 'a.txt'), 'a2\n');
  const s1 = snapshotCodeSync(repo);
  assert.equal(gitIn(dir, 'cat-file', 'blob', `${s1.tree}:a.txt`), 'a2');
  writeFileSync(join(dir, 'a.txt'), 'a3 longer\n');
  const s2 = snapshotCodeSync(repo);
  assert.equal(gitIn(dir, 'cat-file', 'blob', `${s2.tree}:a.txt`), 'a3 longer');
  assert.equal(gitIn(dir, 'ls-files', '-s'), userIndex);
  assert.equal(gitIn(dir, 'status', '--porcelain'), 'M a.txt');
});

test('the index reader and writer round-trip what Git wrote: versions 2 to 4, extended flags, non-ASCII paths', async () => {
  const { parseIndex, writeIndex } = await import('../src/store/index-file.js');
  const { readFileSync } = await import('node:fs');
  const dir = makeRepo({ files: { 'a.txt': 'a\n', 'dir/sub/b.txt': 'b\n', 'ünï cödé.txt': 'u\n', 'dir/c-d.txt': 'c\n' } });
  writeFiles(dir, { 'new.txt': 'n\n' });
  gitIn(dir, 'add', '-N', 'new.txt'); // intent-to-add: an extended flag, so version 3
  const idx = join(dir, '.git', 'index');
  const out = join(dir, '.git', 'flor-roundtrip');
  for (const version of ['3', '4']) {
    gitIn(dir, 'update-index', '--index-version', version);
    const before = gitIn(dir, 'ls-files', '-s', '--debug');
    const entries = parseIndex(readFileSync(idx), 20);
    assert.ok(entries, `version ${version} parsed`);
    assert.equal(entries!.length, 6);
    writeFileSync(out, writeIndex(entries!, 20));
    assert.equal(sh('git', ['ls-files', '-s', '--debug'], dir, { env: testEnv({ GIT_INDEX_FILE: out }) }).stdout.trim(), before);
  }
  gitIn(dir, 'reset', '-q', 'new.txt');
  gitIn(dir, 'update-index', '--index-version', '2');
  assert.equal(parseIndex(readFileSync(idx), 20)!.length, 5);
  gitIn(dir, 'update-index', '--split-index');
  assert.equal(parseIndex(readFileSync(idx), 20), null, 'a split index is left to Git');
  writeFiles(dir, { 'a.txt': 'a2\n' });
  const snap = snapshotCodeSync(requireRepoSync(dir));
  assert.equal(gitIn(dir, 'cat-file', 'blob', `${snap.tree}:a.txt`), 'a2');
  assert.equal(files(dir, snap.tree).length, 6, 'five tracked files and the untracked new.txt');
});
