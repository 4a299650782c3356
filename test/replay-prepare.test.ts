/**
 * Preparing a replay's runs (prepare.ts): one run at a time from its propagation to its checkout,
 * so the first run's tasks can start while the next version is still propagated; and the paths in
 * a run's trees read through the loose files (objects.ts readPath). Real repositories, real runs
 * of two versions; needs the built dist/.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { prepareRuns, type Prepared } from '../src/replay/prepare.js';
import { readTodayFiles } from '../src/replay/propagation.js';
import { selectRuns } from '../src/replay/select-runs.js';
import { replayRoot } from '../src/replay/snapshot.js';
import { limiter } from '../src/replay/dispatch.js';
import { Findings } from '../src/replay/findings.js';
import { CatFile, requireRepoSync, type RepoInfo } from '../src/store/git.js';
import { looseReader } from '../src/store/loose-read.js';
import { readPath } from '../src/store/objects.js';
import { cleanup, gitIn, makeRepo, runNode, writeFiles } from './helpers/repo.js';

after(cleanup);

const script = (extra: string) => `import { flor } from 'git-flor';
import { scale } from './lib.mjs';
for (const e of flor.loop('epoch', [0, 1, 2])) {
  flor.log('v', scale(e));
  ${extra}
}
`;

/** Runs whose snapshot is complete (its marker written last, after the checkout). */
function checkedOut(repo: RepoInfo): string[] {
  const root = replayRoot(repo);
  if (!existsSync(root)) return [];
  return readdirSync(root).filter((d) => existsSync(join(root, d, '.flor-snapshot'))).map((d) => d.split('-')[0]!).sort();
}

test('a run is checked out before the next version is propagated, and each run is handed on as soon as it is', async () => {
  const dir = makeRepo({ files: { 'run.mjs': script(''), 'lib.mjs': 'export const scale = (e) => e * 2;\n' } });
  runNode(dir, 'run.mjs');
  writeFiles(dir, { 'lib.mjs': 'export const scale = (e) => e * 3;\n' });
  gitIn(dir, 'commit', '-qam', 'v2');
  runNode(dir, 'run.mjs');
  writeFiles(dir, { 'run.mjs': script("flor.log('sq', e * e);") });

  const repo = requireRepoSync(dir);
  const names = ['sq'];
  const entries = await selectRuns(repo, undefined);
  assert.equal(entries.length, 2);
  const seen: Array<{ run: string; checkedOut: string[] }> = [];
  const prepared = await prepareRuns({
    repo, names, today: await readTodayFiles(repo, names), opts: {}, found: new Findings(), gitSlots: limiter(4),
    start: () => undefined,
    onPrepared: (p: Prepared) => {
      seen.push({ run: p.entry.id, checkedOut: checkedOut(repo) });
      return true; // as a run that starts its tasks at once
    },
  }, entries);
  await Promise.all(prepared.map((p) => p.snap));
  const [a, b] = seen;
  assert.deepEqual(seen.map((s) => s.run).sort(), entries.map((e) => e.id).sort(), 'each run is handed on once');
  // The first run is handed on before the second is checked out, and the second only once the first is.
  assert.ok(!a!.checkedOut.includes(b!.run), `the second run is not checked out before the first is handed on: ${JSON.stringify(seen)}`);
  assert.ok(b!.checkedOut.includes(a!.run), `the first run is checked out before the second is handed on: ${JSON.stringify(seen)}`);
  assert.deepEqual(checkedOut(repo), entries.map((e) => e.id).sort());
});

test('readPath reads <tree>:<path> tree by tree as cat-file does, from loose files without starting it', async () => {
  const dir = makeRepo({ files: { 'a/b/c.mjs': 'export const c = 1;\n', 'a/d.mjs': 'export const d = 2;\n', 'top.mjs': '1;\n' } });
  const repo = requireRepoSync(dir);
  const commit = gitIn(dir, 'rev-parse', 'HEAD');
  const tree = gitIn(dir, 'rev-parse', 'HEAD^{tree}');
  const loose = new CatFile(dir, looseReader(repo));
  const git = new CatFile(dir);
  try {
    for (const root of [tree, commit]) {
      for (const p of ['a/b/c.mjs', 'a/d.mjs', 'top.mjs', 'a/b', 'a', 'nope', 'a/nope.mjs', 'a/d.mjs/x', 'a//d.mjs', './top.mjs']) {
        const mine = await readPath(loose, root, p);
        const theirs = await git.read(`${root}:${p}`);
        assert.deepEqual(mine && { oid: mine.oid, type: mine.type, data: mine.data.toString('hex') }, theirs && { oid: theirs.oid, type: theirs.type, data: theirs.data.toString('hex') }, `${root.slice(0, 7)}:${p}`);
      }
    }
    // Only the paths Git reads otherwise ('a//d.mjs', './top.mjs') went to a cat-file process.
    const spawned = (c: CatFile): boolean => (c as unknown as { child: unknown }).child !== null;
    const fresh = new CatFile(dir, looseReader(repo));
    for (const p of ['a/b/c.mjs', 'a/d.mjs', 'a', 'nope', 'a/d.mjs/x']) await readPath(fresh, tree, p);
    assert.equal(spawned(fresh), false, 'no cat-file for loose objects');
    await fresh.close();
  } finally {
    await Promise.all([loose.close(), git.close()]);
  }
});
