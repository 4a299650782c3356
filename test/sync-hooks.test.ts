import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepo, gitIn, sh, cleanup, tempDir, testEnv, ROOT } from './helpers/repo.js';
import { cli } from './helpers/cli.js';
import { caAtExit, SOME_CA } from './helpers/ca-env.js';
import { addRun, repoOf, runMeta } from './helpers/sync.js';
import { openJournal } from '../src/store/journal.js';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { rmSync } from 'node:fs';
import { BEGIN } from '../src/sync/hooks.js';
import { readableRuns } from '../src/store/ledger.js';
import { refreshNotes } from '../src/sync/transport.js';
import { closeReaders } from '../src/store/objects.js';

after(() => {
  closeReaders();
  cleanup();
});

const HOOKS = ['post-commit', 'post-merge', 'post-rewrite', 'pre-push'];

/** name -> [mode, bytes] of every file in a directory (recursively one level for .husky/_). */
function snapshot(dir: string): Map<string, [number, string]> {
  const m = new Map<string, [number, string]>();
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    const st = statSync(p);
    if (st.isFile()) m.set(f, [st.mode & 0o777, readFileSync(p, 'latin1')]);
  }
  return m;
}

function bareRemote(): string {
  const d = join(tempDir('flor-remote-'), 'r.git');
  gitIn(tempDir(), 'init', '-q', '--bare', d);
  return d;
}

function lsRemote(dir: string, remote: string): string[] {
  return gitIn(dir, 'ls-remote', remote).split('\n').filter(Boolean).map((l) => l.split('\t')[1]!);
}

test('init sets up hooks and config idempotently, without changing what a plain git push sends; uninstall restores config and hooks byte for byte', async () => {
  const dir = makeRepo({ files: { 'train.js': 'console.log(1)\n' } });
  const remote = bareRemote();
  gitIn(dir, 'remote', 'add', 'origin', remote);
  gitIn(dir, 'config', '--add', 'notes.displayRef', 'refs/notes/review');
  gitIn(dir, 'push', '-q', '-u', 'origin', 'main');
  await addRun(dir); // a ledger exists: a plain push must still not send it by itself
  writeFileSync(join(dir, 'train.js'), 'console.log(2)\n');
  gitIn(dir, 'commit', '-qam', 'two');
  const config0 = readFileSync(join(dir, '.git', 'config'), 'latin1');
  const hooks0 = snapshot(join(dir, '.git', 'hooks'));
  const dryRun = (): string[] =>
    ['simple', 'matching', 'current'].map((d) => sh('git', ['-c', `push.default=${d}`, 'push', '--dry-run', '--porcelain', '--no-verify', 'origin'], dir).stdout);
  const pushBefore = dryRun();
  assert.match(pushBefore[1]!, /refs\/heads\/main:refs\/heads\/main/);

  await cli(dir, ['init']);
  const writer = gitIn(dir, 'config', 'flor.writer');
  for (const h of HOOKS) {
    const p = join(dir, '.git', 'hooks', h);
    assert.ok(readFileSync(p, 'utf8').includes(BEGIN), `${h} has flor's block`);
    assert.equal(statSync(p).mode & 0o111, 0o111, `${h} is executable`);
  }
  assert.deepEqual(gitIn(dir, 'config', '--get-all', 'notes.displayRef').split('\n'), ['refs/notes/review', 'refs/flor/notes']);
  assert.deepEqual(gitIn(dir, 'config', '--get-all', 'remote.origin.fetch').split('\n'), [
    '+refs/heads/*:refs/remotes/origin/*',
    '+refs/flor/ledgers/*:refs/flor/remotes/origin/ledgers/*',
    `^refs/flor/ledgers/${writer}`,
  ]);
  assert.equal(sh('git', ['config', '--get-all', 'remote.origin.push'], dir, { allowFail: true }).stdout, '');
  // What Git itself would push is unchanged (the hook adds the ledger in a push of its own).
  assert.deepEqual(dryRun(), pushBefore);

  const config1 = readFileSync(join(dir, '.git', 'config'), 'latin1');
  const hooks1 = snapshot(join(dir, '.git', 'hooks'));
  const again = (await cli(dir, ['init'])).stdout;
  assert.match(again, /hook post-commit: up to date/);
  assert.equal(readFileSync(join(dir, '.git', 'config'), 'latin1'), config1);
  assert.deepEqual(snapshot(join(dir, '.git', 'hooks')), hooks1);

  await cli(dir, ['uninstall']);
  assert.equal(readFileSync(join(dir, '.git', 'config'), 'latin1'), config0);
  assert.deepEqual(snapshot(join(dir, '.git', 'hooks')), hooks0);
});

test("the user's own hooks (shell, other interpreter, not executable) keep running and come back byte for byte", async () => {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  const remote = bareRemote();
  gitIn(dir, 'remote', 'add', 'origin', remote);
  const hooks = join(dir, '.git', 'hooks');
  const userPostCommit = '#!/bin/sh\nset -e\necho "user post-commit $(git rev-parse HEAD)" >> user.log\n';
  const userPrePush = '#!/bin/bash\n# reads what is pushed\ncat > pushed-stdin.txt\nexit 0\n';
  const userPostRewrite = `#!${process.execPath}\nrequire('fs').appendFileSync('rewrite.log', process.argv[2] + ':' + require('fs').readFileSync(0, 'utf8'));\n`;
  const userPostMerge = '#!/bin/sh\necho should-not-run > merge.log\n';
  writeFileSync(join(hooks, 'post-commit'), userPostCommit, { mode: 0o755 });
  writeFileSync(join(hooks, 'pre-push'), userPrePush, { mode: 0o755 });
  writeFileSync(join(hooks, 'post-rewrite'), userPostRewrite, { mode: 0o750 });
  writeFileSync(join(hooks, 'post-merge'), userPostMerge, { mode: 0o644 }); // Git ignores it: must stay ignored
  chmodSync(join(hooks, 'post-merge'), 0o644);
  const before = snapshot(hooks);

  const report = JSON.parse((await cli(dir, ['init', '--json'])).stdout) as { hooks: Array<{ name: string; action: string }> };
  assert.deepEqual(Object.fromEntries(report.hooks.map((h) => [h.name, h.action])), {
    'post-commit': 'block',
    'post-merge': 'wrapped',
    'post-rewrite': 'wrapped',
    'pre-push': 'block',
  });

  writeFileSync(join(dir, 'a.txt'), 'b\n');
  gitIn(dir, 'commit', '-qam', 'second');
  const head = gitIn(dir, 'rev-parse', 'HEAD');
  assert.equal(readFileSync(join(dir, 'user.log'), 'utf8'), `user post-commit ${head}\n`);
  gitIn(dir, 'commit', '-q', '--amend', '-m', 'second, amended');
  const amended = gitIn(dir, 'rev-parse', 'HEAD');
  assert.equal(readFileSync(join(dir, 'rewrite.log'), 'utf8'), `amend:${head} ${amended}\n`);
  const pushed = sh('git', ['push', '-q', 'origin', 'main'], dir);
  assert.equal(pushed.status, 0);
  // flor's block read stdin first and gave it back: the user's hook saw the whole of it.
  assert.equal(readFileSync(join(dir, 'pushed-stdin.txt'), 'utf8'), `refs/heads/main ${amended} refs/heads/main ${'0'.repeat(40)}\n`);
  gitIn(dir, 'checkout', '-q', '-b', 'side', 'HEAD~1');
  writeFileSync(join(dir, 'side.txt'), 's\n');
  gitIn(dir, 'add', 'side.txt');
  gitIn(dir, 'commit', '-qm', 'side');
  gitIn(dir, 'checkout', '-q', 'main');
  gitIn(dir, 'merge', '-q', '--no-edit', 'side'); // a real merge: Git runs post-merge (flor's stub)
  assert.equal(existsSync(join(dir, 'merge.log')), false, 'a non-executable hook stays ignored');

  await cli(dir, ['uninstall']);
  assert.deepEqual(snapshot(hooks), before);
});

/** The files husky v9 generates in .husky/_ (its `h` runner, and one two-line stub per hook). */
function fakeHuskyV9(dir: string): void {
  const h = `#!/usr/bin/env sh
[ "$HUSKY" = "2" ] && set -x
n=$(basename "$0")
s=$(dirname "$(dirname "$0")")/$n

[ ! -f "$s" ] && exit 0

[ "\${HUSKY-}" = "0" ] && exit 0

export PATH="node_modules/.bin:$PATH"
sh -e "$s" "$@"
c=$?

[ $c != 0 ] && echo "husky - $n script failed (code $c)"
[ $c = 127 ] && echo "husky - command not found in PATH=$PATH"
exit $c
`;
  mkdirSync(join(dir, '.husky', '_'), { recursive: true });
  writeFileSync(join(dir, '.husky', '_', 'h'), h, { mode: 0o755 });
  for (const n of ['pre-commit', 'post-commit', 'post-merge', 'post-rewrite', 'pre-push']) {
    writeFileSync(join(dir, '.husky', '_', n), '#!/usr/bin/env sh\n. "$(dirname "$0")/h"', { mode: 0o755 });
  }
  writeFileSync(join(dir, '.husky', '_', '.gitignore'), '*');
}

test('husky v9 (core.hooksPath=.husky/_): the flor block lives in .husky/<hook>, survives husky regenerating .husky/_, and goes away cleanly', async () => {
  const dir = makeRepo({ files: { 'a.txt': 'a\n', '.husky/post-commit': 'echo husky-user >> husky.log\n' } });
  fakeHuskyV9(dir);
  gitIn(dir, 'config', 'core.hooksPath', '.husky/_');
  const remote = bareRemote();
  gitIn(dir, 'remote', 'add', 'origin', remote);
  const generated = snapshot(join(dir, '.husky', '_'));
  const userHook = readFileSync(join(dir, '.husky', 'post-commit'), 'latin1');

  const out = (await cli(dir, ['init'])).stdout;
  assert.match(out, /husky detected/);
  assert.deepEqual(snapshot(join(dir, '.husky', '_')), generated, 'husky-generated files untouched');
  assert.ok(readFileSync(join(dir, '.husky', 'post-commit'), 'utf8').startsWith(BEGIN), 'block at the top of the shebang-less husky file');
  assert.ok(existsSync(join(dir, '.husky', 'pre-push')));

  fakeHuskyV9(dir); // `npx husky` on the next npm install rewrites .husky/_
  writeFileSync(join(dir, 'a.txt'), 'b\n');
  gitIn(dir, 'commit', '-qam', 'second');
  assert.equal(readFileSync(join(dir, 'husky.log'), 'utf8'), 'husky-user\n', "the user's husky hook still runs");

  // flor's pre-push runs through husky: a plain push carries the ledger.
  await addRun(dir);
  const writer = gitIn(dir, 'config', 'flor.writer');
  sh('git', ['push', '-q', 'origin', 'main'], dir);
  assert.deepEqual(lsRemote(dir, remote).sort(), [`refs/flor/ledgers/${writer}`, 'refs/heads/main']);

  await cli(dir, ['uninstall']);
  assert.equal(readFileSync(join(dir, '.husky', 'post-commit'), 'latin1'), userHook);
  assert.equal(existsSync(join(dir, '.husky', 'pre-push')), false);
});

test('husky 4-8 (core.hooksPath=.husky): the files there are the hooks; the block goes after their shebang', async () => {
  const userHook = '#!/usr/bin/env sh\n. "$(dirname -- "$0")/_/husky.sh"\n\necho v8 >> v8.log\n';
  const dir = makeRepo({ files: { 'a.txt': 'a\n', '.husky/_/husky.sh': '#!/usr/bin/env sh\n', '.husky/post-commit': userHook } });
  chmodSync(join(dir, '.husky', 'post-commit'), 0o755);
  gitIn(dir, 'config', 'core.hooksPath', '.husky');
  assert.match((await cli(dir, ['init'])).stdout, /husky detected/);
  const text = readFileSync(join(dir, '.husky', 'post-commit'), 'utf8');
  assert.ok(text.startsWith('#!/usr/bin/env sh\n' + BEGIN));
  writeFileSync(join(dir, 'a.txt'), 'b\n');
  gitIn(dir, 'commit', '-qam', 'second');
  assert.equal(readFileSync(join(dir, 'v8.log'), 'utf8'), 'v8\n');
  await cli(dir, ['uninstall']);
  assert.equal(readFileSync(join(dir, '.husky', 'post-commit'), 'utf8'), userHook);
  assert.deepEqual(readdirSync(join(dir, '.husky')).sort(), ['_', 'post-commit']);
});

test('a relative core.hooksPath is honoured', async () => {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  gitIn(dir, 'config', 'core.hooksPath', '.githooks');
  const config0 = readFileSync(join(dir, '.git', 'config'), 'latin1');
  await cli(dir, ['init']);
  assert.match(gitIn(dir, 'config', 'flor.writer'), /^[A-Za-z0-9_-]+$/);
  for (const h of HOOKS) assert.ok(readFileSync(join(dir, '.githooks', h), 'utf8').includes(BEGIN));
  assert.equal(existsSync(join(dir, '.git', 'hooks', 'post-commit')), false);
  await cli(dir, ['uninstall']);
  assert.deepEqual(readdirSync(join(dir, '.githooks')), []);
  // init made the writer id and no run used it: it goes too, and config is byte for byte as before.
  assert.equal(readFileSync(join(dir, '.git', 'config'), 'latin1'), config0);
});

test('pre-push: a plain git push carries the ledger (and nothing else of refs/flor); --mirror is refused; a failing flor never blocks the push', async () => {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  const remote = bareRemote();
  gitIn(dir, 'remote', 'add', 'origin', remote);
  await cli(dir, ['init']);
  const writer = gitIn(dir, 'config', 'flor.writer');
  await addRun(dir);
  await refreshNotes(repoOf(dir)); // refs/flor/notes exists locally: it must not travel
  assert.ok(gitIn(dir, 'rev-parse', '-q', '--verify', 'refs/flor/notes'));
  const r = sh('git', ['push', 'origin', 'main'], dir);
  assert.match(r.stderr, /run history \(refs\/flor\/ledgers\/.*\) pushed to origin/);
  assert.deepEqual(lsRemote(dir, remote).sort(), [`refs/flor/ledgers/${writer}`, 'refs/heads/main']);
  assert.equal(gitIn(remote, 'rev-parse', `refs/flor/ledgers/${writer}`), gitIn(dir, 'rev-parse', `refs/flor/ledgers/${writer}`));

  // `git push --dry-run` runs pre-push too: flor must not really push then.
  const tipBefore = gitIn(remote, 'rev-parse', `refs/flor/ledgers/${writer}`);
  await addRun(dir);
  const dry = sh('git', ['push', '--dry-run', 'origin', 'main'], dir);
  assert.doesNotMatch(dry.stderr, /git flor/);
  assert.equal(gitIn(remote, 'rev-parse', `refs/flor/ledgers/${writer}`), tipBefore);
  await cli(dir, ['push']);

  // Nothing new: the stub decides in shell and node never starts (no "pushed" line).
  writeFileSync(join(dir, 'a.txt'), 'b\n');
  gitIn(dir, 'commit', '-qam', 'second');
  const quiet = sh('git', ['push', 'origin', 'main'], dir);
  assert.doesNotMatch(quiet.stderr, /git flor/);
  // That silence could also be node finding nothing to do: with a node that always fails, a stub
  // that started it would warn.
  const stub = sh('sh', [join(ROOT, 'hooks', 'pre-push'), 'origin', remote], dir, { env: testEnv({ FLOR_NODE: '/bin/false' }), input: '' });
  assert.equal(stub.status, 0);
  assert.equal(stub.stderr, '', 'the idle stub did not start node');

  const mirror = sh('git', ['push', '--mirror', remote], dir, { allowFail: true });
  assert.notEqual(mirror.status, 0);
  assert.match(mirror.stderr, /git flor: refusing `git push --mirror`: it would copy refs\/flor\/\* that are local to this clone/);
  assert.match(mirror.stderr, /hint: push branches and tags as usual/);
  assert.deepEqual(lsRemote(dir, remote).sort(), [`refs/flor/ledgers/${writer}`, 'refs/heads/main']);
  const backup = bareRemote();
  gitIn(dir, 'remote', 'add', '--mirror=push', 'backup', backup);
  const toMirror = sh('git', ['push', 'backup'], dir, { allowFail: true });
  assert.notEqual(toMirror.status, 0);
  assert.match(toMirror.stderr, /git flor: refusing to push to a mirror remote/);
  assert.deepEqual(lsRemote(dir, backup), []);

  // The remote refuses refs/flor/*: flor warns, the user's push still goes through.
  writeFileSync(join(remote, 'hooks', 'pre-receive'), '#!/bin/sh\nif grep -q refs/flor/; then echo "no flor here" >&2; exit 1; fi\n', { mode: 0o755 });
  await addRun(dir);
  writeFileSync(join(dir, 'a.txt'), 'c\n');
  gitIn(dir, 'commit', '-qam', 'third');
  const blocked = sh('git', ['push', 'origin', 'main'], dir, { allowFail: true });
  assert.equal(blocked.status, 0, blocked.stderr);
  assert.match(blocked.stderr, /git flor: pre-push hook: could not push refs\/flor\/ledgers\//);
  assert.equal(gitIn(remote, 'rev-parse', 'refs/heads/main'), gitIn(dir, 'rev-parse', 'HEAD'));
});

test('pre-push: a plain git push after saving a replay plan carries the plan and the ledger that vouches for it', async () => {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  const remote = bareRemote();
  gitIn(dir, 'remote', 'add', 'origin', remote);
  await cli(dir, ['init']);
  await addRun(dir);
  sh('git', ['push', 'origin', 'main'], dir);
  const writer = gitIn(dir, 'config', 'flor.writer');
  const { savePlan } = await import('../src/store/plans.js');
  const plan = await savePlan(repoOf(dir), {
    format: 'flor-plan', version: 1, writer, time: '2026-01-01T00:00:00.000Z', names: ['acc'], from: gitIn(dir, 'rev-parse', 'HEAD'),
    tips: {}, shards: 2, runs: [], tasks: [],
  });
  writeFileSync(join(dir, 'a.txt'), 'b\n');
  gitIn(dir, 'commit', '-qam', 'second');
  const r = sh('git', ['push', 'origin', 'main'], dir);
  assert.match(r.stderr, new RegExp(`git flor: replay plan ${plan.id} pushed to origin`));
  assert.deepEqual(lsRemote(dir, remote).sort(), [`refs/flor/ledgers/${writer}`, `refs/flor/plans/${plan.id}`, 'refs/heads/main']);
  assert.equal(gitIn(remote, 'rev-parse', `refs/flor/plans/${plan.id}`), plan.commit);
  assert.equal(gitIn(remote, 'rev-parse', `refs/flor/ledgers/${writer}`), gitIn(dir, 'rev-parse', `refs/flor/ledgers/${writer}`));
  assert.ok(gitIn(remote, 'cat-file', '-t', `refs/flor/ledgers/${writer}:plans/${plan.id}.msgpack`).startsWith('blob'));
});

test('post-rewrite: runs stay keyed by their commit, and the notes index follows amend and rebase (also after a rebuild); git log shows them', async () => {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  await cli(dir, ['init']);
  const c1 = gitIn(dir, 'rev-parse', 'HEAD');
  const run1 = await addRun(dir);
  await refreshNotes(repoOf(dir));
  assert.match(gitIn(dir, 'log', '-1'), new RegExp(`Notes \\(flor/notes\\):[\\s\\S]*${run1}`));

  gitIn(dir, 'commit', '-q', '--amend', '-m', 'initial, amended');
  const c1b = gitIn(dir, 'rev-parse', 'HEAD');
  assert.notEqual(c1b, c1);
  assert.match(gitIn(dir, 'log', '-1'), new RegExp(run1));
  const runs = await readableRuns(repoOf(dir));
  assert.equal(runs.find((r) => r.id === run1)!.meta.commit, c1, 'the ledger keeps the original commit');

  // Two commits on a branch, each with a run, rebased onto a new main commit.
  gitIn(dir, 'checkout', '-q', '-b', 'topic');
  const ids: string[] = [];
  for (const n of ['x', 'y']) {
    writeFileSync(join(dir, `${n}.txt`), n);
    gitIn(dir, 'add', '-A');
    gitIn(dir, 'commit', '-qm', n);
    ids.push(await addRun(dir));
  }
  await refreshNotes(repoOf(dir));
  gitIn(dir, 'checkout', '-q', 'main');
  writeFileSync(join(dir, 'm.txt'), 'm');
  gitIn(dir, 'add', '-A');
  gitIn(dir, 'commit', '-qm', 'main moves');
  gitIn(dir, 'checkout', '-q', 'topic');
  sh('git', ['rebase', '-q', 'main'], dir);
  const logAfter = (): string => gitIn(dir, 'log', '-2', '--format=%H %N');
  const check = (): void => {
    const lines = logAfter();
    assert.match(lines, new RegExp(ids[1]!));
    assert.match(lines, new RegExp(ids[0]!));
  };
  check();
  // A rebuild from the ledgers (as after a fetch) knows nothing of rewrites; flor re-applies them.
  await refreshNotes(repoOf(dir));
  check();
  assert.match(gitIn(dir, 'log', '-1', 'main~1'), new RegExp(run1));
  // So does `git flor doctor` when it rebuilds an index it cannot read.
  const blob = sh('git', ['hash-object', '-w', '--stdin'], dir, { input: 'not a notes tree\n' }).stdout.trim();
  gitIn(dir, 'update-ref', 'refs/flor/notes', blob);
  const doc = await cli(dir, ['doctor']);
  assert.match(doc.stdout, /^repaired: notes index: rebuilt refs\/flor\/notes from the ledgers/m);
  check();
});

test('post-commit recovers an orphaned journal; the idle stub does not start node, and a broken node never fails the hook', async () => {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  await cli(dir, ['init']);
  const stub = join(ROOT, 'hooks', 'post-commit');
  const env = testEnv({ FLOR_NODE: '/bin/false' });
  // Nothing to do: node (here /bin/false, which would "fail") is never started.
  const idle = sh('sh', [stub], dir, { env });
  assert.equal(idle.status, 0);
  assert.equal(idle.stderr, '');
  // A journal appears: node is needed, fails, the hook warns and still exits 0.
  mkdirSync(join(dir, '.git', 'flor', 'journal'), { recursive: true });
  writeFileSync(join(dir, '.git', 'flor', 'journal', 'x.jrnl'), '');
  const broken = sh('sh', [stub], dir, { env });
  assert.equal(broken.status, 0);
  assert.match(broken.stderr, /git flor: the post-commit hook failed .*your Git operation is not affected/);
  rmSync(join(dir, '.git', 'flor', 'journal', 'x.jrnl'));

  // A run whose process died before capturing: the next commit's hook captures it as crashed.
  const { meta, codeTree } = await runMeta(dir);
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  const j = openJournal(repoOf(dir).commonDir, meta.id);
  j.append({ t: 'start', meta: { ...meta, status: 'running', end: null, exitCode: null, records: 0 }, codeTree, pid: dead, host: hostname() });
  j.close();
  const ran = meta.commit!;
  writeFileSync(join(dir, 'a.txt'), 'b\n');
  const c = sh('git', ['commit', '-qam', 'second'], dir);
  assert.equal(c.stderr, '');
  const runs = await readableRuns(repoOf(dir));
  assert.deepEqual(runs.map((r) => [r.id, r.meta.status]), [[meta.id, 'crashed']]);
  assert.deepEqual(readdirSync(join(dir, '.git', 'flor', 'journal')).filter((f) => f.endsWith('.jrnl')), []);
  assert.match(gitIn(dir, 'log', '-1', ran), new RegExp(meta.id));
});

test("re-running init after the writer id changed drops the old id's negative fetch refspec", async () => {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  gitIn(dir, 'remote', 'add', 'origin', bareRemote());
  await cli(dir, ['init']);
  const old = gitIn(dir, 'config', 'flor.writer');
  gitIn(dir, 'config', 'flor.writer', 'fresh-writer');
  await cli(dir, ['init']);
  const specs = gitIn(dir, 'config', '--get-all', 'remote.origin.fetch').split('\n');
  assert.deepEqual(specs, ['+refs/heads/*:refs/remotes/origin/*', '+refs/flor/ledgers/*:refs/flor/remotes/origin/ledgers/*', '^refs/flor/ledgers/fresh-writer']);
  assert.ok(!specs.includes(`^refs/flor/ledgers/${old}`));
});

test('post-rewrite in a repository where flor never ran (a global core.hooksPath) keeps nothing', () => {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  const head = gitIn(dir, 'rev-parse', 'HEAD');
  const r = sh('sh', [join(ROOT, 'hooks', 'post-rewrite'), 'amend'], dir, { env: testEnv({ FLOR_NODE: '/bin/false' }), input: `${head} ${head}\n` });
  assert.equal(r.status, 0);
  assert.equal(r.stderr, '');
  assert.equal(existsSync(join(dir, '.git', 'flor')), false, 'no .git/flor in a repository flor never touched');
});

test('a hook starts node without NODE_EXTRA_CA_CERTS, and hook-main hands it back to what it starts', () => {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  mkdirSync(join(dir, '.git', 'flor', 'journal'), { recursive: true });
  writeFileSync(join(dir, '.git', 'flor', 'journal', 'x.jrnl'), ''); // something to do: the stub starts node
  // A "node" that records what it was started with, in place of node.
  const fake = join(tempDir('flor-fake-node-'), 'node');
  writeFileSync(fake, '#!/bin/sh\nprintf \'%s\\n\' "$@" >"$OUT.args"\nenv >"$OUT.env"\n');
  chmodSync(fake, 0o755);
  for (const set of [true, false]) {
    const out = join(tempDir('flor-hook-out-'), 'o');
    const env = testEnv({ FLOR_NODE: fake, OUT: out, FLOR_TEST_KEPT: 'kept' });
    if (set) env.NODE_EXTRA_CA_CERTS = SOME_CA;
    else delete env.NODE_EXTRA_CA_CERTS;
    const r = sh('sh', [join(ROOT, 'hooks', 'post-commit')], dir, { env });
    assert.equal(r.stderr, '');
    assert.deepEqual(readFileSync(`${out}.args`, 'utf8').split('\n').slice(0, -1), [join(ROOT, 'dist', 'sync', 'hook-main.js'), 'post-commit']);
    const started = readFileSync(`${out}.env`, 'utf8').split('\n');
    assert.ok(!started.some((l) => l.startsWith('NODE_EXTRA_CA_CERTS=')));
    assert.deepEqual(started.filter((l) => l.startsWith('FLOR_NODE_EXTRA_CA_CERTS=')), set ? [`FLOR_NODE_EXTRA_CA_CERTS=${SOME_CA}`] : []);
    assert.ok(started.includes('FLOR_TEST_KEPT=kept'));
  }
  rmSync(join(dir, '.git', 'flor', 'journal', 'x.jrnl'));
  // The real entry hands it back to what it starts.
  assert.deepEqual(caAtExit(join(ROOT, 'dist', 'sync', 'hook-main.js'), ['post-commit'], dir), { moved: JSON.stringify([SOME_CA, null]), unset: JSON.stringify([null, null]) });
});
