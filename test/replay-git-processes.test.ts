/**
 * What a replay costs in git processes (counted through a `git` wrapper first on PATH): each one
 * forks the replay's whole process. Two runs of two versions replayed by the CLI read their loose
 * objects from the files, move every ref (lock, two ledger appends, release) from the refs' files
 * (ref-write.ts), and write objects and check code out without a process. Real
 * scripts, real repos, the built CLI.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cleanup, flor, fsckClean, gitIn, makeRepo, runNode, tempDir, writeFiles } from './helpers/repo.js';

after(cleanup);

const script = (extra: string) => `import { flor } from 'git-flor';
import { scale } from './lib.mjs';
for (const e of flor.loop('epoch', [0, 1, 2])) {
  flor.log('v', scale(e));
  ${extra}
}
`;

test('a replay of two runs of two versions starts ls-files only, whatever the number of runs', () => {
  const dir = makeRepo({ files: { 'run.mjs': script(''), 'lib.mjs': 'export const scale = (e) => e * 2;\n' } });
  runNode(dir, 'run.mjs');
  writeFiles(dir, { 'lib.mjs': 'export const scale = (e) => e * 3;\n' });
  gitIn(dir, 'commit', '-qam', 'v2');
  runNode(dir, 'run.mjs');
  flor(dir, ['runs']); // the captures land before the replay is counted
  writeFiles(dir, { 'run.mjs': script("flor.log('sq', e * e);") });

  const shim = tempDir('flor-shim-');
  const log = join(shim, 'log');
  const realGit = spawnSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim();
  writeFileSync(join(shim, 'git'), `#!/bin/sh\necho "$1" >> "${log}"\nexec ${realGit} "$@"\n`);
  chmodSync(join(shim, 'git'), 0o755);
  writeFileSync(log, '');
  const r = flor(dir, ['replay', 'sq'], { env: { PATH: `${shim}:${process.env.PATH}` } });
  assert.match(r.stdout + r.stderr, /replayed sq/);
  const ran = readFileSync(log, 'utf8').split('\n').filter(Boolean).sort();
  // The config listing may come from the copy a capture kept on disk. Every object it reads is
  // loose, paths in trees included (objects.ts readPath): no cat-file.
  assert.deepEqual(ran.filter((c) => c !== 'config'), ['ls-files']);

  const csv = flor(dir, ['log', 'sq', 'v', '--format', 'csv']).stdout.trim().split('\n').slice(1);
  assert.deepEqual(csv.map((l) => l.split(',').slice(-4, -2).join(',')).sort(), ['0,0', '0,0', '1,2', '1,3', '4,4', '4,6'].sort());
  // The ledger's reflog has the appends, the lock is gone, and every object is sound.
  const writer = gitIn(dir, 'config', 'flor.writer');
  // (Refs move from their files, ref-write.ts, each append with its own message.)
  assert.equal(gitIn(dir, 'reflog', 'show', '--format=%gs', `refs/flor/ledgers/${writer}`).split('\n').filter((m) => /^segment replay-\S+ of run \w+$/.test(m)).length, 2);
  assert.equal(gitIn(dir, 'for-each-ref', 'refs/flor/locks'), '');
  fsckClean(dir);
});
