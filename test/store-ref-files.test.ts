import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepo, gitIn, sh, tempDir, cleanup } from './helpers/repo.js';
import { findRepoFromFiles, refFromFiles, refListingFromFiles } from '../src/store/ref-files.js';
import type { RepoInfo } from '../src/store/git.js';

test.after(cleanup);

/** What the CLI asked Git before: the repository as rev-parse gives it. */
function revParse(cwd: string): RepoInfo {
  const [top, gitDir, commonDir] = gitIn(cwd, 'rev-parse', '--path-format=absolute', '--show-toplevel', '--git-dir', '--git-common-dir').split('\n');
  return { top: top!, gitDir: gitDir!, commonDir: commonDir! };
}

const OID_A = 'a'.repeat(40);

test('the repository found from files is the one rev-parse names: top, subdirectory, linked worktree', () => {
  const dir = makeRepo({ files: { 'src/a.txt': 'a\n' }, flor: false });
  assert.deepEqual(findRepoFromFiles(dir), revParse(dir));
  assert.deepEqual(findRepoFromFiles(join(dir, 'src')), revParse(join(dir, 'src')));
  const wt = join(tempDir(), 'wt');
  gitIn(dir, 'worktree', 'add', '-q', wt);
  const found = findRepoFromFiles(join(wt, 'src'));
  assert.deepEqual(found, revParse(join(wt, 'src')));
  assert.notEqual(found!.gitDir, found!.commonDir);
  // Inside the git dir, or with the repository chosen by the environment, Git decides.
  assert.equal(findRepoFromFiles(join(dir, '.git')), null);
  process.env.GIT_DIR = join(dir, '.git');
  try {
    assert.equal(findRepoFromFiles(dir), null);
  } finally {
    delete process.env.GIT_DIR;
  }
  assert.equal(findRepoFromFiles(tempDir()), null);
});

test('refs read from files list as for-each-ref lists them: loose, packed, both, and a symbolic one hands over to Git', () => {
  const dir = makeRepo({ flor: false });
  const head = gitIn(dir, 'rev-parse', 'HEAD');
  const repo = revParse(dir);
  const listing = () => gitIn(dir, 'for-each-ref', '--format=%(objectname) %(refname)', 'refs/flor/');
  assert.equal(refListingFromFiles(repo, 'refs/flor/'), '');
  gitIn(dir, 'update-ref', 'refs/flor/ledgers/w1', head);
  gitIn(dir, 'update-ref', 'refs/flor/remotes/origin/ledgers/w2', head);
  gitIn(dir, 'pack-refs', '--all');
  const tree = gitIn(dir, 'rev-parse', 'HEAD^{tree}');
  gitIn(dir, 'update-ref', 'refs/flor/ledgers/w1', tree); // loose, overriding its packed value
  gitIn(dir, 'update-ref', 'refs/flor/ledgers/w0', head);
  gitIn(dir, 'update-ref', 'refs/flor/notes', head);
  gitIn(dir, 'update-ref', 'refs/other/x', head);
  const got = refListingFromFiles(repo, 'refs/flor/');
  assert.equal(got, listing());
  assert.equal(got!.split('\n').length, 4);
  assert.match(got!, new RegExp(`^${tree} refs/flor/ledgers/w1$`, 'm'));
  // A lock file is an update in progress: the ref keeps the value Git still reports.
  writeFileSync(join(dir, '.git', 'refs', 'flor', 'ledgers', 'w0.lock'), `${OID_A}\n`);
  assert.equal(refListingFromFiles(repo, 'refs/flor/'), listing());
  mkdirSync(join(dir, '.git', 'refs', 'flor', 'sym'), { recursive: true });
  writeFileSync(join(dir, '.git', 'refs', 'flor', 'sym', 'x'), 'ref: refs/heads/main\n');
  assert.equal(refListingFromFiles(repo, 'refs/flor/'), null);
});

test('one ref read from files is what rev-parse --verify gives: loose, packed, loose over packed, absent; a symbolic or directory name hands over to Git', () => {
  const dir = makeRepo({ flor: false });
  const repo = revParse(dir);
  const head = gitIn(dir, 'rev-parse', 'HEAD');
  const tree = gitIn(dir, 'rev-parse', 'HEAD^{tree}');
  const verify = (ref: string) => sh('git', ['rev-parse', '--verify', '-q', ref], dir, { allowFail: true }).stdout.trim() || null;
  assert.equal(refFromFiles(repo, 'refs/flor/notes'), null);
  gitIn(dir, 'update-ref', 'refs/flor/packed', head);
  gitIn(dir, 'update-ref', 'refs/flor/ledgers/w1', head);
  gitIn(dir, 'pack-refs', '--all');
  gitIn(dir, 'update-ref', 'refs/flor/ledgers/w1', tree); // loose, over its packed value
  gitIn(dir, 'update-ref', 'refs/flor/notes', head);
  for (const ref of ['refs/flor/packed', 'refs/flor/ledgers/w1', 'refs/flor/notes', 'refs/flor/ledgers/w2', 'refs/flor/pack']) {
    assert.equal(refFromFiles(repo, ref), verify(ref), ref);
  }
  assert.deepEqual([refFromFiles(repo, 'refs/flor/packed'), refFromFiles(repo, 'refs/flor/ledgers/w1'), refFromFiles(repo, 'refs/flor/ledgers/w2')], [head, tree, null]);
  writeFileSync(join(dir, '.git', 'refs', 'flor', 'sym'), 'ref: refs/heads/main\n');
  assert.equal(refFromFiles(repo, 'refs/flor/sym'), undefined);
  assert.equal(refFromFiles(repo, 'refs/flor/ledgers'), undefined, 'a directory of refs is not a ref');
  assert.equal(refFromFiles(repo, 'HEAD'), undefined, 'only full refs/ names');
});
