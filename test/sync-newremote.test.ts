/**
 * A remote added after `git flor init` gets flor's fetch refspecs the first time git flor touches
 * it (a plain `git push` through the pre-push hook, `git flor fetch`, `git flor push`), and
 * uninstall still takes every one of them out.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { makeRepo, gitIn, sh, cleanup, tempDir, testEnv, linkFlor, ROOT } from './helpers/repo.js';
import { cli } from './helpers/cli.js';
import { addRun, repoOf } from './helpers/sync.js';
import { readableRuns } from '../src/store/ledger.js';
import { closeReaders } from '../src/store/objects.js';

after(() => {
  closeReaders();
  cleanup();
});

const HEADS = (r: string): string => `+refs/heads/*:refs/remotes/${r}/*`;
const LEDGERS = (r: string): string => `+refs/flor/ledgers/*:refs/flor/remotes/${r}/ledgers/*`;

function bareRemote(): string {
  const d = join(tempDir('flor-newremote-'), 'r.git');
  gitIn(tempDir(), 'init', '-q', '--bare', '-b', 'main', d);
  return d;
}

function fetchSpecs(dir: string, remote: string): string[] {
  return sh('git', ['config', '--get-all', `remote.${remote}.fetch`], dir, { allowFail: true }).stdout.split('\n').filter(Boolean);
}

/** The pre-push stub run by hand with a node that always fails: a warning means it started node. */
function stubStartsNode(dir: string, remote: string, url: string): boolean {
  const r = sh('sh', [join(ROOT, 'hooks', 'pre-push'), remote, url], dir, { env: testEnv({ FLOR_NODE: '/bin/false' }), input: '' });
  assert.equal(r.status, 0, 'the stub never fails a push');
  if (r.stderr === '') return false;
  assert.match(r.stderr, /git flor: the pre-push hook failed .*your Git operation is not affected/);
  return true;
}

test('a remote added after init: a plain git push configures its refspecs (silently), then a plain git fetch brings another clone\'s ledger', async () => {
  const a = makeRepo({ files: { 'a.txt': 'a\n' } });
  const init = (await cli(a, ['init'])).stdout;
  assert.doesNotMatch(init, /remote /, 'no remote at init time');
  const wa = gitIn(a, 'config', 'flor.writer');
  const bare = bareRemote();
  gitIn(a, 'remote', 'add', 'origin', bare);
  assert.deepEqual(fetchSpecs(a, 'origin'), [HEADS('origin')]);

  // The stub decides in shell: a configured remote lacking the refspecs needs node, a URL never does.
  assert.equal(stubStartsNode(a, 'origin', bare), true);
  assert.equal(stubStartsNode(a, bare, bare), false);

  // A dry run changes nothing, config included.
  const dry = sh('git', ['push', '--dry-run', 'origin', 'main'], a);
  assert.doesNotMatch(dry.stderr, /git flor/);
  assert.deepEqual(fetchSpecs(a, 'origin'), [HEADS('origin')]);

  // No ledger yet in a: node starts only to configure the remote, and says nothing.
  const push = sh('git', ['push', 'origin', 'main'], a);
  assert.doesNotMatch(push.stderr, /git flor/);
  assert.deepEqual(fetchSpecs(a, 'origin'), [HEADS('origin'), LEDGERS('origin'), `^refs/flor/ledgers/${wa}`]);
  assert.equal(gitIn(bare, 'rev-parse', 'refs/heads/main'), gitIn(a, 'rev-parse', 'HEAD'));
  // Configured now: an idle push starts no node again.
  assert.equal(stubStartsNode(a, 'origin', bare), false);

  // b clones, records a run and pushes it with a plain git push.
  const b = join(tempDir('flor-newremote-b-'), 'w');
  gitIn(tempDir(), 'clone', '-q', bare, b);
  linkFlor(b);
  await cli(b, ['init']);
  const wb = gitIn(b, 'config', 'flor.writer');
  const runB = await addRun(b);
  writeFileSync(join(b, 'b.txt'), 'b\n');
  gitIn(b, 'add', 'b.txt');
  gitIn(b, 'commit', '-qm', 'b');
  assert.match(sh('git', ['push', 'origin', 'main'], b).stderr, /git flor: run history \(refs\/flor\/ledgers\/.*\) pushed to origin/);
  const tipB = gitIn(b, 'rev-parse', `refs/flor/ledgers/${wb}`);
  assert.equal(gitIn(bare, 'rev-parse', `refs/flor/ledgers/${wb}`), tipB);

  // A plain fetch in a brings b's ledger through the refspec the push configured.
  gitIn(a, 'fetch', '-q', 'origin');
  assert.equal(gitIn(a, 'for-each-ref', '--format=%(objectname) %(refname)', 'refs/flor/remotes/'), `${tipB} refs/flor/remotes/origin/ledgers/${wb}`);
  assert.deepEqual((await readableRuns(repoOf(a))).map((r) => r.id), [runB]);

  // a records a run and pushes: its own ledger goes to origin, and never lands in its remotes/ namespace.
  const runA = await addRun(a);
  writeFileSync(join(a, 'a.txt'), 'a2\n');
  gitIn(a, 'commit', '-qam', 'a2');
  gitIn(a, 'pull', '-q', '--no-rebase', '--no-edit', 'origin', 'main');
  assert.match(sh('git', ['push', 'origin', 'main'], a).stderr, /run history \(refs\/flor\/ledgers\/.*\) pushed to origin/);
  assert.equal(gitIn(bare, 'rev-parse', `refs/flor/ledgers/${wa}`), gitIn(a, 'rev-parse', `refs/flor/ledgers/${wa}`));
  assert.equal(gitIn(a, 'for-each-ref', '--format=%(refname)', 'refs/flor/remotes/'), `refs/flor/remotes/origin/ledgers/${wb}`);
  assert.deepEqual(fetchSpecs(a, 'origin'), [HEADS('origin'), LEDGERS('origin'), `^refs/flor/ledgers/${wa}`]);
  gitIn(b, 'fetch', '-q');
  assert.deepEqual((await readableRuns(repoOf(b))).map((r) => r.id).sort(), [runA, runB].sort());
});

test('git flor fetch / push configure a remote added after init (configured remotes only, not URLs, not mirrors, not where init never ran); uninstall removes it all', async () => {
  const bare = bareRemote();
  // c has no `git flor init`: pushing from it must leave its config alone.
  const c = makeRepo({ files: { 'c.txt': 'c\n' } });
  gitIn(c, 'remote', 'add', 'origin', bare);
  const runC = await addRun(c);
  const wc = gitIn(c, 'config', 'flor.writer');
  const pushedC = await cli(c, ['push', 'origin']);
  assert.match(pushedC.stdout, /^pushed refs\/flor\/ledgers\/\S+ to origin/);
  assert.equal(pushedC.stderr, '');
  await cli(c, ['fetch', 'origin']);
  assert.deepEqual(fetchSpecs(c, 'origin'), [HEADS('origin')]);

  const a = makeRepo({ files: { 'a.txt': 'a\n' } });
  const config0 = readFileSync(join(a, '.git', 'config'), 'utf8');
  await cli(a, ['init']);
  const wa = gitIn(a, 'config', 'flor.writer');
  gitIn(a, 'remote', 'add', 'origin', bare);

  const f = await cli(a, ['fetch', 'origin']);
  assert.match(f.stdout, /^origin: 1 ledger\(s\) updated in refs\/flor\/remotes\/origin\/ledgers\/\n/);
  assert.equal(
    f.stderr,
    `git flor: remote origin: added fetch refspecs ${LEDGERS('origin')} ^refs/flor/ledgers/${wa} so a plain \`git fetch origin\` brings other clones' run history\n`,
  );
  assert.deepEqual(fetchSpecs(a, 'origin'), [HEADS('origin'), LEDGERS('origin'), `^refs/flor/ledgers/${wa}`]);
  assert.ok(gitIn(a, 'rev-parse', '-q', '--verify', `refs/flor/remotes/origin/ledgers/${wc}`));
  assert.deepEqual((await readableRuns(repoOf(a))).map((r) => r.id), [runC]);
  const again = await cli(a, ['fetch', 'origin']);
  assert.equal(again.stderr, '');
  assert.equal(again.stdout, 'origin: up to date\n');

  // A path given on the command line is no configured remote: nothing gets written for it.
  const other = bareRemote();
  await cli(a, ['fetch', other]);
  await cli(a, ['push', other]);
  assert.deepEqual(
    gitIn(a, 'config', '--get-regexp', '^remote\\.').split('\n'),
    [`remote.origin.url ${bare}`, `remote.origin.fetch ${HEADS('origin')}`, `remote.origin.fetch ${LEDGERS('origin')}`, `remote.origin.fetch ^refs/flor/ledgers/${wa}`],
  );

  // `git flor push` to another remote added later, with the JSON saying what was configured.
  gitIn(a, 'remote', 'add', 'backup', bareRemote());
  const p = await cli(a, ['push', 'backup', '--json']);
  assert.deepEqual(JSON.parse(p.stdout), { remote: 'backup', ref: null, status: 'nothing', tip: null, remoteConfig: { added: [LEDGERS('backup'), `^refs/flor/ledgers/${wa}`] } });
  assert.match(p.stderr, /^git flor: remote backup: added fetch refspecs /);
  assert.deepEqual(fetchSpecs(a, 'backup'), [HEADS('backup'), LEDGERS('backup'), `^refs/flor/ledgers/${wa}`]);

  // A mirror remote gets nothing (a plain fetch from it could overwrite this clone's ledger).
  gitIn(a, 'remote', 'add', '--mirror=fetch', 'mirror', bare);
  const m = await cli(a, ['fetch', 'mirror']);
  assert.equal(m.stderr, '');
  assert.deepEqual(fetchSpecs(a, 'mirror'), ['+refs/*:refs/*']);

  gitIn(a, 'remote', 'remove', 'mirror');
  const u = (await cli(a, ['uninstall'])).stdout;
  assert.match(u, new RegExp(`config removed: remote\\.backup\\.fetch \\^refs/flor/ledgers/${wa}`));
  assert.deepEqual(fetchSpecs(a, 'origin'), [HEADS('origin')]);
  assert.deepEqual(fetchSpecs(a, 'backup'), [HEADS('backup')]);
  // Config is as before init, plus the two remotes exactly as `git remote add` wrote them.
  const remotesOnly = readFileSync(join(a, '.git', 'config'), 'utf8').replace(config0, '');
  assert.equal(readFileSync(join(a, '.git', 'config'), 'utf8'), config0 + remotesOnly);
  assert.deepEqual(remotesOnly.split('\n').filter((l) => l.startsWith('[')), ['[remote "origin"]', '[remote "backup"]']);
  assert.deepEqual(
    gitIn(a, 'config', '--get-regexp', '^remote\\.').split('\n').map((l) => l.split(' ')[0]),
    ['remote.origin.url', 'remote.origin.fetch', 'remote.backup.url', 'remote.backup.fetch'],
  );

  // After uninstall git flor no longer writes config on its own.
  gitIn(a, 'remote', 'add', 'late', bareRemote());
  assert.equal((await cli(a, ['fetch', 'late'])).stderr, '');
  assert.deepEqual(fetchSpecs(a, 'late'), [HEADS('late')]);
});
