/**
 * Objects and checkouts without a git process each. Loose objects (src/store/loose.ts): the same
 * ids and bytes as `hash-object`, `mktree` and `commit-tree`, in Git's tree order, passing `git fsck
 * --strict`, and no writer where Git would write differently. Code trees checked out through the
 * object reader (src/store/checkout.ts): the same files, modes and links as checkout-index.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepo, gitIn, fsckClean, cleanup, sh, testEnv, tempDir } from './helpers/repo.js';
import { findRepoSync } from '../src/store/git.js';
import { looseWriter } from '../src/store/loose.js';
import { forgetConfig } from '../src/store/git-config.js';
import { checkoutTree } from '../src/store/checkout.js';

after(cleanup);

test('blobs, trees and commits come out as Git writes them', () => {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  const repo = findRepoSync(dir)!;
  const w = looseWriter(repo)!;
  assert.ok(w?.commit, 'a plain repository gets the writer, commits included');

  const text = 'héllo\nworld\n';
  const blob = w.blob(Buffer.from(text));
  assert.equal(blob, sh('git', ['hash-object', '--stdin'], dir, { input: text }).stdout.trim());
  assert.equal(gitIn(dir, 'cat-file', '-p', blob) + '\n', text);

  const empty = w.blob(Buffer.alloc(0));
  const sub = w.tree([{ mode: '100644', type: 'blob', oid: empty, name: 'x' }]);
  // Names that sort differently as bytes and with a tree's implied '/': 'a.b' < 'a/' but 'a' (a file) < 'a.b'.
  const entries = [
    { mode: '040000', type: 'tree' as const, oid: sub, name: 'a' },
    { mode: '100644', type: 'blob' as const, oid: blob, name: 'a.b' },
    { mode: '100755', type: 'blob' as const, oid: blob, name: 'a-c' },
    { mode: '120000', type: 'blob' as const, oid: blob, name: 'link' },
    { mode: '100644', type: 'blob' as const, oid: empty, name: 'Z' },
    { mode: '100644', type: 'blob' as const, oid: empty, name: 'é' },
  ];
  const tree = w.tree(entries);
  const mktree = sh('git', ['mktree'], dir, { input: entries.map((e) => `${e.mode} ${e.type} ${e.oid}\t${e.name}\n`).join('') }).stdout.trim();
  assert.equal(tree, mktree);
  assert.deepEqual(gitIn(dir, 'ls-tree', '--name-only', tree).split('\n'), ['Z', 'a-c', 'a.b', 'a', 'link', '"\\303\\251"']);

  const head = gitIn(dir, 'rev-parse', 'HEAD');
  const commit = w.commit!(tree, [head], 'segment s of run r');
  const body = gitIn(dir, 'cat-file', 'commit', commit);
  const when = /^author git flor <flor@localhost> (\d+ [+-]\d{4})$/m.exec(body)?.[1];
  assert.ok(when, body);
  assert.ok(Math.abs(Number(when.split(' ')[0]) - Date.now() / 1000) < 60);
  const date = `@${when}`;
  const byGit = sh('git', ['commit-tree', tree, '-p', head], dir, {
    input: 'segment s of run r\n',
    env: testEnv({ GIT_AUTHOR_NAME: 'git flor', GIT_AUTHOR_EMAIL: 'flor@localhost', GIT_COMMITTER_NAME: 'git flor', GIT_COMMITTER_EMAIL: 'flor@localhost', GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date }),
  }).stdout.trim();
  assert.equal(commit, byGit);
  // A second write of the same object leaves the first in place.
  assert.equal(w.tree(entries), tree);
  gitIn(dir, 'update-ref', 'refs/flor/loose-test', commit);
  fsckClean(dir);
});

test('no loose writer where Git would write otherwise; no commits where Git signs or dates them', () => {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  const repo = findRepoSync(dir)!;
  gitIn(dir, 'config', 'core.sharedRepository', 'group');
  forgetConfig(repo);
  assert.equal(looseWriter(repo), null);
  gitIn(dir, 'config', '--unset', 'core.sharedRepository');
  gitIn(dir, 'config', 'commit.gpgSign', 'true');
  forgetConfig(repo);
  const w = looseWriter(repo);
  assert.ok(w);
  assert.equal(w.commit, null);
  const sha256 = tempDir();
  gitIn(sha256, 'init', '-q', '--object-format=sha256');
  assert.equal(gitIn(sha256, 'rev-parse', '--show-object-format'), 'sha256');
  assert.equal(looseWriter(findRepoSync(sha256)!), null);
});

/** Every path under `dir`: its kind, mode bits, link target or content. */
function describeDir(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel)).sort().flatMap((n) => {
    const p = rel ? `${rel}/${n}` : n;
    const st = lstatSync(join(dir, p));
    if (st.isSymbolicLink()) return [`${p} -> ${readlinkSync(join(dir, p))}`];
    if (st.isDirectory()) return [`${p}/`, ...describeDir(dir, p)];
    return [`${p} ${(st.mode & 0o777).toString(8)} ${JSON.stringify(readFileSync(join(dir, p), 'utf8'))}`];
  });
}

test('a code tree is checked out through the object reader as checkout-index writes it; where attributes apply, by Git', async () => {
  const dir = makeRepo({ files: { 'run.sh': '#!/bin/sh\necho hi\n', 'd/e/f.txt': 'one\ntwo\n', 'g.txt': 'g\n' }, flor: false });
  chmodSync(join(dir, 'run.sh'), 0o755);
  symlinkSync('d/e/f.txt', join(dir, 'link'));
  gitIn(dir, 'add', '-A');
  gitIn(dir, 'commit', '-qm', 'modes and a link');
  const repo = findRepoSync(dir)!;
  const byGit = (tree: string): string => {
    const out = tempDir();
    sh('git', ['read-tree', tree], dir, { env: testEnv({ GIT_INDEX_FILE: join(out, '.idx') }) });
    sh('git', [`--work-tree=${out}`, 'checkout-index', '-a', '-f', `--prefix=${out}/`], dir, { env: testEnv({ GIT_INDEX_FILE: join(out, '.idx') }) });
    rmSync(join(out, '.idx'));
    return out;
  };
  const tree = gitIn(dir, 'rev-parse', 'HEAD^{tree}');
  const mine = tempDir();
  await checkoutTree(repo, tree, mine);
  assert.deepEqual(describeDir(mine), describeDir(byGit(tree)));
  assert.ok(describeDir(mine).includes('link -> d/e/f.txt'));
  assert.ok(describeDir(mine).includes('run.sh 755 "#!/bin/sh\\necho hi\\n"'));

  // An attribute that converts line ends: the files must come out converted, as Git writes them.
  writeFileSync(join(dir, '.gitattributes'), '*.txt text eol=crlf\n');
  gitIn(dir, 'add', '-A');
  gitIn(dir, 'commit', '-qm', 'crlf');
  const converted = gitIn(dir, 'rev-parse', 'HEAD^{tree}');
  const mine2 = tempDir();
  await checkoutTree(repo, converted, mine2);
  assert.equal(readFileSync(join(mine2, 'd', 'e', 'f.txt'), 'utf8'), 'one\r\ntwo\r\n');
  assert.deepEqual(describeDir(mine2), describeDir(byGit(converted)));
});
