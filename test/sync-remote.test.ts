import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { makeRepo, flor, gitIn, sh, cleanup, tempDir, testEnv, fsckClean } from './helpers/repo.js';
import { addRun, repoOf, serveHttp } from './sync-support.js';
import { listRuns } from '../src/store/ledger.js';
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
  return (await listRuns(repoOf(dir))).map((r) => r.id).sort();
}

/**
 * The whole story on one remote URL: two clones record runs and push at the same moment (a plain
 * `git push`, the hook carries the ledgers), a fresh clone sees every run, each clone sees the
 * other's after a fetch, the remote is fsck-clean and holds nothing local-only.
 */
async function scenario(url: string, bareDir: string): Promise<void> {
  const seed = makeRepo({ files: { 'train.js': 'console.log("train")\n' } });
  gitIn(seed, 'push', '-q', url, 'main');

  const clones = ['a', 'b'].map((n) => {
    const d = join(tempDir(`flor-clone-${n}-`), 'w');
    gitIn(tempDir(), 'clone', '-q', url, d);
    flor(d, ['init']);
    return d;
  });
  const [a, b] = clones as [string, string];
  const aRuns = [await addRun(a, { loss: 1 }), await addRun(a, { loss: 2 })];
  const bRuns = [await addRun(b, { loss: 3 })];
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
  flor(fresh, ['init']);
  assert.deepEqual(await runIds(fresh), []);
  gitIn(fresh, 'fetch', '-q');
  assert.deepEqual(await runIds(fresh), [...aRuns, ...bRuns].sort());
  assert.deepEqual(
    gitIn(fresh, 'for-each-ref', '--format=%(refname)', 'refs/flor/remotes/').split('\n').sort(),
    [`refs/flor/remotes/origin/ledgers/${wa}`, `refs/flor/remotes/origin/ledgers/${wb}`].sort(),
  );

  // Each clone sees the other's after `git flor fetch`; its own ledger is never fetched over.
  const ownBefore = gitIn(a, 'rev-parse', `refs/flor/ledgers/${wa}`);
  const f = JSON.parse(flor(a, ['fetch', '--json']).stdout) as Array<{ updated: Array<{ ref: string }> }>;
  assert.deepEqual(f[0]!.updated.map((u) => u.ref), [`refs/flor/remotes/origin/ledgers/${wb}`]);
  assert.equal(gitIn(a, 'rev-parse', `refs/flor/ledgers/${wa}`), ownBefore);
  assert.deepEqual(await runIds(a), [...aRuns, ...bRuns].sort());
  flor(b, ['fetch']);
  assert.deepEqual(await runIds(b), [...aRuns, ...bRuns].sort());
  // `git log` in b shows a's run on the commit it ran on (notes rebuilt after the fetch).
  assert.match(gitIn(b, 'log', '-1', 'origin/main'), new RegExp(`Notes \\(flor/notes\\):[\\s\\S]*${aRuns[0]}`));

  // Nothing local-only reached the remote (no notes, no remotes/*, no checkpoints: they are files).
  assert.deepEqual(remoteRefs(a, url).filter((r) => r.startsWith('refs/flor/')), ['refs/flor/ledgers/' + wa, 'refs/flor/ledgers/' + wb].sort());
  sh('git', ['fsck', '--strict', '--no-progress'], bareDir);
  fsckClean(a);
  fsckClean(fresh);
}

test('bare remote by path: concurrent pushes, fresh clone, fetch both ways, union, fsck', async () => {
  const root = tempDir('flor-bare-');
  const bare = join(root, 'r.git');
  gitIn(root, 'init', '-q', '--bare', '-b', 'main', bare);
  await scenario(bare, bare);
});

test('smart-HTTP remote (git http-backend): the same, over http://', async () => {
  const root = tempDir('flor-http-root-');
  const bare = join(root, 'r.git');
  gitIn(root, 'init', '-q', '--bare', '-b', 'main', bare);
  gitIn(bare, 'config', 'http.receivepack', 'true');
  const server = await serveHttp(root);
  try {
    await scenario(server.url('r.git'), bare);
  } finally {
    server.stop();
  }
});

test('the same run seen through two remotes counts once; git flor push/fetch name remotes and report', async () => {
  const roots = [tempDir(), tempDir()];
  const bares = roots.map((r) => join(r, 'r.git'));
  for (const [i, b] of bares.entries()) gitIn(roots[i]!, 'init', '-q', '--bare', b);
  const a = makeRepo({ files: { 'a.txt': 'a\n' } });
  gitIn(a, 'remote', 'add', 'origin', bares[0]!);
  gitIn(a, 'remote', 'add', 'backup', bares[1]!);
  assert.match(flor(a, ['push', 'origin']).stdout, /nothing to push/);
  const ids = [await addRun(a), await addRun(a)];
  assert.match(flor(a, ['push', 'origin']).stdout, /^pushed refs\/flor\/ledgers\/\S+ to origin/);
  assert.match(flor(a, ['push', 'origin']).stdout, /origin already has refs\/flor\/ledgers\//);
  flor(a, ['push', 'backup']);

  const c = makeRepo({ files: { 'c.txt': 'c\n' } });
  gitIn(c, 'remote', 'add', 'origin', bares[0]!);
  gitIn(c, 'remote', 'add', 'backup', bares[1]!);
  const out = flor(c, ['fetch', '--all']).stdout;
  assert.match(out, /origin: 1 ledger\(s\) updated/);
  assert.match(out, /backup: 1 ledger\(s\) updated/);
  assert.equal(gitIn(c, 'for-each-ref', '--format=%(refname)', 'refs/flor/remotes/').split('\n').length, 2);
  assert.deepEqual(await runIds(c), ids.sort(), 'two copies of one ledger: each run once');
  assert.match(flor(c, ['fetch', 'origin']).stdout, /origin: up to date/);

  const bad = flor(c, ['fetch', 'nowhere'], { allowFail: true });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /git flor: could not fetch run history from nowhere/);
});
