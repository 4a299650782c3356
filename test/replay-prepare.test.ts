/**
 * Preparing a replay's runs (prepare.ts): one run at a time from its propagation to its checkout,
 * so the first run's tasks can start while the next version is still propagated. Real repository,
 * real runs of two versions; needs the built dist/.
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
import { requireRepoSync, type RepoInfo } from '../src/store/git.js';
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
