import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepo, gitIn, cleanup } from './helpers/repo.js';
import { requireRepoSync } from '../src/store/git.js';
import { casRef } from '../src/store/objects.js';
import { casRefFiles, deleteRefFiles } from '../src/store/ref-write.js';
import { unpinCode } from '../src/store/code-ref.js';

test.after(cleanup);

const REF = 'refs/flor/ledgers/0123456789abcdef';

/** Two commits to move refs between. */
function repoWithCommits(): { dir: string; a: string; b: string } {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' }, flor: false });
  const a = gitIn(dir, 'rev-parse', 'HEAD');
  writeFileSync(join(dir, 'a.txt'), 'b\n');
  gitIn(dir, 'commit', '-qam', 'b');
  return { dir, a, b: gitIn(dir, 'rev-parse', 'HEAD') };
}

test('a ref moved from files is what Git reads: its value, its reflog (created for a ledger), and fsck agrees', () => {
  const { dir, a, b } = repoWithCommits();
  const repo = requireRepoSync(dir);
  assert.equal(casRefFiles(repo, REF, a, null, 'run 1 ok', true), true);
  assert.equal(casRefFiles(repo, REF, b, a, 'run 2 ok', true), true);
  assert.equal(gitIn(dir, 'rev-parse', REF), b);
  assert.deepEqual(gitIn(dir, 'reflog', 'show', '--format=%H %gs', REF).split('\n'), [`${b} run 2 ok`, `${a} run 1 ok`]);
  assert.equal(existsSync(join(repo.commonDir, `${REF}.lock`)), false);
  gitIn(dir, 'fsck', '--no-progress');
  // A ref that is not a ledger gets no reflog unless Git would write one.
  assert.equal(casRefFiles(repo, 'refs/flor/notes', a, null, 'notes', false), true);
  assert.equal(existsSync(join(repo.commonDir, 'logs', 'refs', 'flor', 'notes')), false);
  gitIn(dir, 'config', 'core.logAllRefUpdates', 'always');
  assert.equal(casRefFiles(repo, 'refs/flor/notes', b, a, 'notes again', false), true);
  assert.deepEqual(gitIn(dir, 'reflog', 'show', '--format=%H %gs', 'refs/flor/notes').split('\n'), [`${b} notes again`]);
});

test('compare-and-swap: a stale old value or a held lock is a lost race, and nothing changes', () => {
  const { dir, a, b } = repoWithCommits();
  const repo = requireRepoSync(dir);
  assert.equal(casRefFiles(repo, REF, a, null, 'first', true), true);
  assert.equal(casRefFiles(repo, REF, b, null, 'as if new', true), false);
  assert.equal(casRefFiles(repo, REF, a, b, 'from the wrong tip', true), false);
  writeFileSync(join(repo.commonDir, `${REF}.lock`), '');
  assert.equal(casRefFiles(repo, REF, b, a, 'locked', true), false);
  assert.equal(gitIn(dir, 'rev-parse', REF), a);
  assert.equal(readFileSync(join(repo.commonDir, 'logs', REF), 'utf8').split('\n').filter(Boolean).length, 1);
});

test('a packed ref: moved from its packed value, and deleted by Git (packed-refs is Git\'s to rewrite)', async () => {
  const { dir, a, b } = repoWithCommits();
  const repo = requireRepoSync(dir);
  gitIn(dir, 'update-ref', 'refs/flor/tmp/run1', a);
  gitIn(dir, 'update-ref', 'refs/flor/notes', a);
  gitIn(dir, 'pack-refs', '--all');
  assert.equal(existsSync(join(repo.commonDir, 'refs', 'flor', 'notes')), false);
  assert.equal(casRefFiles(repo, 'refs/flor/notes', b, a, 'moved', false), true);
  assert.equal(gitIn(dir, 'rev-parse', 'refs/flor/notes'), b);
  assert.equal(deleteRefFiles(repo, 'refs/flor/tmp/run1'), null);
  await unpinCode(repo, 'run1');
  assert.equal(gitIn(dir, 'for-each-ref', 'refs/flor/tmp/'), '');
  // A loose pin is deleted from its file, with its reflog.
  gitIn(dir, 'update-ref', '--create-reflog', 'refs/flor/tmp/run2', a);
  assert.equal(deleteRefFiles(repo, 'refs/flor/tmp/run2', b), false, 'not the value named: kept');
  assert.equal(gitIn(dir, 'rev-parse', 'refs/flor/tmp/run2'), a);
  assert.equal(deleteRefFiles(repo, 'refs/flor/tmp/run2', a), true);
  assert.equal(existsSync(join(repo.commonDir, 'logs', 'refs', 'flor', 'tmp', 'run2')), false);
  assert.equal(gitIn(dir, 'for-each-ref', 'refs/flor/tmp/'), '');
});

test('where Git would do more (a reference-transaction hook, core.hooksPath), Git moves the ref', async () => {
  const { dir, a, b } = repoWithCommits();
  const repo = requireRepoSync(dir);
  const hook = join(repo.commonDir, 'hooks', 'reference-transaction');
  writeFileSync(hook, `#!/bin/sh\n[ "$1" = committed ] && cat >> '${join(dir, 'seen-by-hook')}'\nexit 0\n`);
  chmodSync(hook, 0o755);
  assert.equal(casRefFiles(repo, REF, a, null, 'x', true), null);
  assert.equal(await casRef(repo, REF, a, null, 'through git'), true);
  assert.match(readFileSync(join(dir, 'seen-by-hook'), 'utf8'), new RegExp(`${a} ${REF}`));
  gitIn(dir, 'config', 'core.hooksPath', 'elsewhere');
  assert.equal(casRefFiles(repo, REF, b, a, 'x', true), null);
  assert.equal(deleteRefFiles(repo, REF), null);
});
