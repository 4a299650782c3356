/**
 * flor.arg called twice for one name with different defaults: warned at record time, each call's
 * value recorded, and a hindsight replay of such a run gives each call its own value again.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { replayMissing } from '../src/replay/replay.js';
import { readableRuns } from '../src/store/ledger.js';
import { requireRepoSync } from '../src/store/git.js';
import { logView } from '../src/query/runs.js';
import { rowObjects } from '../src/query/table.js';
import { cleanup, makeRepo, runNode, writeFiles } from './helpers/repo.js';
import { cli } from './helpers/cli.js';

after(cleanup);

const train = (extra: string) => `import { flor } from 'git-flor';
const lr = flor.arg('lr', 0.01);
let w = 1;
for (const e of flor.loop('epoch', [0, 1, 2])) {
  w -= lr * w;
  flor.log('w', w);${extra}
}
const lr2 = flor.arg('lr', 0.5);
flor.log('final', w * lr2);
`;

test('two flor.arg calls of one name with different values: a warning, each value recorded, and an exact replay', async () => {
  const dir = makeRepo({ files: { 'train.mjs': train('') } });
  const r = runNode(dir, 'train.mjs', [], { env: { FLOR_CKPT_SHARE: '1' } });
  assert.match(r.stderr, /git flor: flor\.arg\('lr', …\) is called more than once with different values \(0\.01, then 0\.5\)/);
  const repo = requireRepoSync(dir);
  const [run] = await readableRuns(repo);
  assert.deepEqual(run!.meta.args, { lr: 0.01 });
  assert.deepEqual(run!.meta.argCalls, { lr: [0.01, 0.5] });
  assert.match((await cli(dir, ['show', run!.id])).stdout, /^args\s+lr=0\.01, then 0\.5$/m);

  // Hindsight: a statement added today, replayed into the recorded run. The replay re-executes `w`
  // and `final` too, and its fidelity check compares them with the recorded values.
  writeFiles(dir, { 'train.mjs': train("\n  flor.log('half', w / 2);") });
  const report = await replayMissing(repo, ['half'], { workers: 1 });
  assert.deepEqual(report.mismatches, []);
  assert.deepEqual(report.outcomes.map((o) => o.status), ['replayed']);
  const { table } = await logView(repo, { names: ['w', 'half', 'final', 'lr'] });
  const rows = rowObjects(table);
  const w: number[] = [];
  for (let i = 0, x = 1; i < 3; i++) w.push((x -= 0.01 * x)); // what the script computes with lr = 0.01
  assert.deepEqual(rows.map((x) => x.half), w.map((v) => v / 2));
  assert.deepEqual(rows.map((x) => x.final), w.map(() => w[2]! * 0.5));
  assert.deepEqual(rows.map((x) => x.lr), [0.01, 0.01, 0.01]);
});
