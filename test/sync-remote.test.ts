import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { existsSync, writeFileSync } from 'node:fs';
import { makeRepo, gitIn, sh, cleanup, tempDir, testEnv, fsckClean, fsckAfterGc, linkFlor, flor } from './helpers/repo.js';
import { cli } from './helpers/cli.js';

const TRAIN = `import { flor } from 'git-flor';
const lr = flor.arg('lr', 0.01);
for (const epoch of flor.loop('epoch', [0, 1])) flor.log('loss', lr / (epoch + 1));
`;
import { addRun, repoOf, serveHttp } from './helpers/sync.js';
import { readableRuns } from '../src/store/ledger.js';
import { closeReaders } from '../src/store/objects.js';

after(() => {
  closeReaders();
  cleanup();
});

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { cwd, env: testEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

function remoteRefs(cwd: string, url: string): string[] {
  return gitIn(cwd, 'ls-remote', url).split('\n').filter(Boolean).map((l) => l.split('\t')[1]!).filter((r) => r !== 'HEAD').sort();
}

async function runIds(dir: string): Promise<string[]> {
  return (await readableRuns(repoOf(dir))).map((r) => r.id).sort();
}

/**
 * The whole story on one remote URL: two clones record runs and push at the same moment (a plain
 * `git push`, the hook carries the ledgers), a fresh clone sees every run, each clone sees the
 * other's after a fetch, the remote is fsck-clean and holds nothing local-only. `gc`: a's fetched
 * ledgers also survive `git gc` (once is enough: gc does not care how they arrived).
 */
async function scenario(url: string, bareDir: string, gc: boolean): Promise<void> {
  const seed = makeRepo({ files: { 'train.mjs': TRAIN } });
  gitIn(seed, 'push', '-q', url, 'main');

  const clones: string[] = [];
  for (const n of ['a', 'b']) {
    const d = join(tempDir(`flor-clone-${n}-`), 'w');
    gitIn(tempDir(), 'clone', '-q', url, d);
    linkFlor(d);
    await cli(d, ['init']);
    clones.push(d);
  }
  const [a, b] = clones as [string, string];
  // Real runs of the user's script in both clones at once, plus one written directly.
  const scripts = await Promise.all([run(process.execPath, ['train.mjs', '--lr', '0.1'], a), run(process.execPath, ['train.mjs', '--lr', '0.2'], b)]);
  for (const p of scripts) assert.equal(p.code, 0, p.stderr);
  const aRuns = [...(await runIds(a)), await addRun(a, { loss: 1 })];
  const bRuns = await runIds(b);
  assert.equal(aRuns.length, 2);
  assert.equal(bRuns.length, 1);
  for (const [i, d] of clones.entries()) {
    writeFileSync(join(d, `c${i}.txt`), String(i));
    gitIn(d, 'add', '-A');
    gitIn(d, 'commit', '-qm', `clone ${i}`);
  }
  const pushes = await Promise.all([run('git', ['push', 'origin', 'HEAD:refs/heads/a'], a), run('git', ['push', 'origin', 'HEAD:refs/heads/b'], b)]);
  for (const p of pushes) assert.equal(p.code, 0, p.stderr);
  const wa = gitIn(a, 'config', 'flor.writer');
  const wb = gitIn(b, 'config', 'flor.writer');
  assert.notEqual(wa, wb);
  assert.deepEqual(remoteRefs(a, url), ['refs/flor/ledgers/' + wa, 'refs/flor/ledgers/' + wb, 'refs/heads/a', 'refs/heads/b', 'refs/heads/main'].sort());

  // A fresh clone: init, then a plain `git fetch` brings both ledgers (the refspec init added).
  const fresh = join(tempDir('flor-fresh-'), 'w');
  gitIn(tempDir(), 'clone', '-q', url, fresh);
  await cli(fresh, ['init']);
  assert.deepEqual(await runIds(fresh), []);
  gitIn(fresh, 'fetch', '-q');
  assert.deepEqual(await runIds(fresh), [...aRuns, ...bRuns].sort());
  // Git has no post-fetch hook: the next commit's hook notices the moved ledgers and indexes them.
  assert.doesNotMatch(gitIn(fresh, 'log', '-1'), /Notes \(flor\/notes\)/);
  writeFileSync(join(fresh, 'f.txt'), 'f');
  gitIn(fresh, 'add', '-A');
  gitIn(fresh, 'commit', '-qm', 'fresh');
  assert.match(gitIn(fresh, 'log', '-1', 'HEAD~1'), new RegExp(`Notes \\(flor/notes\\):[\\s\\S]*${aRuns[0]}`));
  assert.deepEqual(
    gitIn(fresh, 'for-each-ref', '--format=%(refname)', 'refs/flor/remotes/').split('\n').sort(),
    [`refs/flor/remotes/origin/ledgers/${wa}`, `refs/flor/remotes/origin/ledgers/${wb}`].sort(),
  );

  // Each clone sees the other's after `git flor fetch`; its own ledger is never fetched over.
  const ownBefore = gitIn(a, 'rev-parse', `refs/flor/ledgers/${wa}`);
  const f = JSON.parse((await cli(a, ['fetch', '--json'])).stdout) as Array<{ updated: Array<{ ref: string }> }>;
  assert.deepEqual(f[0]!.updated.map((u) => u.ref), [`refs/flor/remotes/origin/ledgers/${wb}`]);
  assert.equal(gitIn(a, 'rev-parse', `refs/flor/ledgers/${wa}`), ownBefore);
  assert.deepEqual(await runIds(a), [...aRuns, ...bRuns].sort());
  await cli(b, ['fetch']);
  assert.deepEqual(await runIds(b), [...aRuns, ...bRuns].sort());
  // The fetched run's records are there to query: a's script logged loss = lr / (epoch + 1).
  const rows = JSON.parse((await cli(b, ['log', 'loss', '--format', 'json'])).stdout) as Array<{ run: string; loss: number }>;
  assert.deepEqual(rows.filter((r) => r.run === aRuns[0]).map((r) => r.loss), [0.1, 0.05]);
  // `git log` in b shows a's run on the commit it ran on (notes rebuilt after the fetch).
  assert.match(gitIn(b, 'log', '-1', 'origin/main'), new RegExp(`Notes \\(flor/notes\\):[\\s\\S]*${aRuns[0]}`));

  // Nothing local-only reached the remote (no notes, no remotes/*, no checkpoints: they are files).
  assert.deepEqual(remoteRefs(a, url).filter((r) => r.startsWith('refs/flor/')), ['refs/flor/ledgers/' + wa, 'refs/flor/ledgers/' + wb].sort());
  sh('git', ['fsck', '--strict', '--no-progress'], bareDir);
  if (gc) fsckAfterGc(a);
  else fsckClean(a);
  fsckClean(fresh);
}

test('bare remote by path: concurrent pushes, fresh clone, fetch both ways, union, fsck and gc', async () => {
  const root = tempDir('flor-bare-');
  const bare = join(root, 'r.git');
  gitIn(root, 'init', '-q', '--bare', '-b', 'main', bare);
  await scenario(bare, bare, true);
});

test('smart-HTTP remote (git http-backend): the same, over http://', async () => {
  const root = tempDir('flor-http-root-');
  const bare = join(root, 'r.git');
  gitIn(root, 'init', '-q', '--bare', '-b', 'main', bare);
  gitIn(bare, 'config', 'http.receivepack', 'true');
  const server = await serveHttp(root);
  try {
    await scenario(server.url('r.git'), bare, false);
  } finally {
    server.stop();
  }
});

/** A clone `a` with two empty bare remotes, origin and backup. */
function twoRemotes(): { bares: string[]; a: string } {
  const roots = [tempDir(), tempDir()];
  const bares = roots.map((r) => join(r, 'r.git'));
  for (const [i, b] of bares.entries()) gitIn(roots[i]!, 'init', '-q', '--bare', b);
  const a = makeRepo({ files: { 'a.txt': 'a\n' } });
  gitIn(a, 'remote', 'add', 'origin', bares[0]!);
  gitIn(a, 'remote', 'add', 'backup', bares[1]!);
  return { bares, a };
}

test('the same run seen through two remotes counts once; git flor push/fetch name remotes and report', async () => {
  const { bares, a } = twoRemotes();
  assert.match((await cli(a, ['push', 'origin'])).stdout, /nothing to push/);
  const ids = [await addRun(a), await addRun(a)];
  assert.match((await cli(a, ['push', 'origin'])).stdout, /^pushed refs\/flor\/ledgers\/\S+ to origin/);
  assert.match((await cli(a, ['push', 'origin'])).stdout, /origin already has refs\/flor\/ledgers\//);
  await cli(a, ['push', 'backup']);

  const c = makeRepo({ files: { 'c.txt': 'c\n' } });
  gitIn(c, 'remote', 'add', 'origin', bares[0]!);
  gitIn(c, 'remote', 'add', 'backup', bares[1]!);
  const out = (await cli(c, ['fetch', '--all'])).stdout;
  assert.match(out, /origin: 1 ledger\(s\) updated/);
  assert.match(out, /backup: 1 ledger\(s\) updated/);
  assert.equal(gitIn(c, 'for-each-ref', '--format=%(refname)', 'refs/flor/remotes/').split('\n').length, 2);
  assert.deepEqual(await runIds(c), ids.sort(), 'two copies of one ledger: each run once');
  assert.match((await cli(c, ['fetch', 'origin'])).stdout, /origin: up to date/);

  // Someone else's history under a's writer id on backup (a copied .git): a's own ledger is never
  // fetched over, and pushing to it is refused with the way out in the hint.
  const wa = gitIn(a, 'config', 'flor.writer');
  gitIn(c, 'push', '-q', '--no-verify', '--force', 'backup', `HEAD:refs/flor/ledgers/${wa}`);
  const own = gitIn(a, 'rev-parse', `refs/flor/ledgers/${wa}`);
  gitIn(a, 'config', '--add', 'remote.backup.fetch', '+refs/flor/ledgers/*:refs/flor/remotes/backup/ledgers/*');
  gitIn(a, 'config', '--add', 'remote.backup.fetch', `^refs/flor/ledgers/${wa}`);
  gitIn(a, 'fetch', '-q', 'backup');
  await cli(a, ['fetch', 'backup']);
  assert.equal(gitIn(a, 'rev-parse', `refs/flor/ledgers/${wa}`), own);
  assert.equal(gitIn(a, 'for-each-ref', 'refs/flor/remotes/'), '');
  await addRun(a);
  const clash = await cli(a, ['push', 'backup'], true);
  assert.equal(clash.status, 2);
  assert.match(clash.stderr, /git flor: could not push refs\/flor\/ledgers\/\S+ to backup/);
  assert.match(clash.stderr, /hint: another clone pushed under this clone's writer id/);

  const bad = await cli(c, ['fetch', 'nowhere'], true);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /git flor: could not fetch run history from nowhere/);
});

test('a remote named after `--` is the one used (push and fetch), and two named remotes are refused', async () => {
  const { bares, a } = twoRemotes();
  await addRun(a);
  assert.match((await cli(a, ['push', '--', 'backup'])).stdout, /^pushed refs\/flor\/ledgers\/\S+ to backup/);
  assert.equal(remoteRefs(a, bares[0]!).length, 0, 'origin got nothing');
  assert.equal(remoteRefs(a, bares[1]!).filter((r) => r.startsWith('refs/flor/ledgers/')).length, 1);
  const twice = await cli(a, ['push', 'origin', '--', 'backup'], true);
  assert.equal(twice.status, 2);
  assert.match(twice.stderr, /name one remote, not 2 \(origin, backup\)/);
  assert.equal(remoteRefs(a, bares[0]!).length, 0);

  const c = makeRepo({ files: { 'c.txt': 'c\n' } });
  gitIn(c, 'remote', 'add', 'origin', bares[0]!);
  gitIn(c, 'remote', 'add', 'backup', bares[1]!);
  assert.match((await cli(c, ['fetch', '--', 'backup'])).stdout, /^backup: 1 ledger\(s\) updated/);
  assert.equal(gitIn(c, 'for-each-ref', '--format=%(refname)', 'refs/flor/remotes/').split('\n').filter((r) => r.startsWith('refs/flor/remotes/backup/')).length, 1);
  const all = await cli(c, ['fetch', '--all', '--', 'backup'], true);
  assert.equal(all.status, 2);
  assert.match(all.stderr, /--all fetches from every remote/);
});

test("a clone that fetched a run without its checkpoints replays it from the start; the replay travels back through the replayer's ledger", async () => {
  const root = tempDir('flor-replay-remote-');
  const bare = join(root, 'r.git');
  gitIn(root, 'init', '-q', '--bare', '-b', 'main', bare);
  const script = `import { flor } from 'git-flor';
const lr = flor.arg('lr', 0.01);
const state = { w: 1 };
flor.checkpointing({ state });
for (const epoch of flor.loop('epoch', [0, 1, 2])) {
  state.w = state.w * (1 - lr);
  flor.log('loss', state.w);
}
`;
  const a = makeRepo({ files: { 'train.mjs': script } });
  gitIn(a, 'remote', 'add', 'origin', bare);
  await cli(a, ['init']);
  sh(process.execPath, ['train.mjs', '--lr', '0.5'], a);
  assert.ok(existsSync(join(a, '.git', 'flor', 'ckpt')), 'the run took checkpoints locally');
  await cli(a, ['runs']); // the run is captured after its process exits: listing waits for it, a push would not
  sh('git', ['push', '-q', '-u', 'origin', 'main'], a);

  const b = join(tempDir('flor-replayer-'), 'w');
  gitIn(tempDir(), 'clone', '-q', bare, b);
  linkFlor(b);
  await cli(b, ['init']);
  await cli(b, ['fetch']);
  assert.equal(existsSync(join(b, '.git', 'flor', 'ckpt')), false, 'checkpoints never travel');
  writeFileSync(join(b, 'train.mjs'), script.replace("flor.log('loss', state.w);", "flor.log('loss', state.w);\n  flor.log('w2', state.w * 2);"));
  // Replaying a's run runs a's code: b consents to that writer first.
  assert.match((await cli(b, ['replay', 'w2'], true)).stdout, /refused: written by writer/); // refused before any child starts: in-process
  gitIn(b, 'config', 'flor.trustedWriters', gitIn(a, 'config', 'flor.writer'));
  flor(b, ['replay', 'w2']); // a process: the replay child must not get this process's loader flags
  const rows = async (dir: string): Promise<Array<[number, number | null]>> =>
    (JSON.parse((await cli(dir, ['log', 'loss', 'w2', '--format', 'json'])).stdout) as Array<{ loss: number; w2: number | null }>).map((r) => [r.loss, r.w2]);
  assert.deepEqual(await rows(b), [[0.5, 1], [0.25, 0.5], [0.125, 0.25]]);

  // The replay segment is in b's own ledger; a plain push and fetch bring it to a.
  gitIn(b, 'commit', '-qam', 'log w2');
  sh('git', ['push', '-q', 'origin', 'main'], b);
  await cli(a, ['fetch']);
  assert.deepEqual(await rows(a), [[0.5, 1], [0.25, 0.5], [0.125, 0.25]]);
});
