/**
 * Which runs and which files a replay works on: only the runs whose entry script loads a file that
 * logs the name, links treated as links on both sides, a file that cannot take a statement not
 * failing the files that can, and which versions had the statement carried into them. One shared
 * repository with real runs; needs the built dist/.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { replayMissing, type ReplayReport, type RunOutcome } from '../src/replay/replay.js';
import { describeReport } from '../src/replay/describe.js';
import { treeFiles, workTreeFiles, reachedFiles, entryRoots } from '../src/replay/reach.js';
import { requireRepoSync } from '../src/store/git.js';
import { reader } from '../src/store/objects.js';
import { readableRuns } from '../src/store/ledger.js';
import { makeRepo, runNode, writeFiles, gitIn, fsckClean, cleanup } from './helpers/repo.js';
import { cli } from './helpers/cli.js';

after(cleanup);

const step = (extra: string) => `${extra ? "import { flor } from 'git-flor';\n" : ''}export function step(w, e) {
${extra}  return w + e;
}
`;
const train = (debug: string) => `import { flor } from 'git-flor';
import { step } from './step.mjs';
let w = 0;
for (const e of flor.loop('epoch', [0, 1, 2])) {
  w = step(w, e);
  flor.log('v', w);
  if (process.env.FLOR_TEST_DEBUG) {
    console.log('debug', w);${debug}
  }
}
`;
const W2 = "\n    flor.log('w2', w * 2);";
const evalScript = `import { flor } from 'git-flor';
for (const e of flor.loop('epoch', [0, 1])) flor.log('acc', e / 2);
`;

let dir = '';
let runs: Array<{ id: string; script: string; commit: string | null }> = [];
let report: ReplayReport;

function outcome(id: string): RunOutcome {
  const o = report.outcomes.find((x) => x.run === id);
  assert.ok(o, `an outcome for ${id}`);
  return o;
}

before(async () => {
  // v1: the training script is started through a tracked link (run.mjs -> lib/train.mjs); eval.mjs
  // is another script in the same tree. v2 has the statement in a branch its run did not take.
  dir = makeRepo({ files: { 'lib/train.mjs': train(''), 'lib/step.mjs': step(''), 'eval.mjs': evalScript } });
  symlinkSync('lib/train.mjs', join(dir, 'run.mjs'));
  gitIn(dir, 'add', '-A');
  gitIn(dir, 'commit', '-qm', 'link');
  const env = { env: { FLOR_CKPT_SHARE: '1' } };
  runNode(dir, 'run.mjs', [], env);
  runNode(dir, 'eval.mjs', [], env);
  writeFiles(dir, { 'lib/train.mjs': train(W2) });
  gitIn(dir, 'commit', '-qam', 'v2');
  runNode(dir, 'run.mjs', [], env);
  // Today: the statement in train.mjs, and one in step.mjs whose block no old version has.
  writeFiles(dir, { 'lib/step.mjs': step("  if (e > 100) {\n    flor.log('w2', -1);\n  }\n") });
  const all = await readableRuns(requireRepoSync(dir));
  runs = all.map((r) => ({ id: r.id, script: r.meta.script, commit: r.meta.commit }));
  assert.deepEqual(runs.map((r) => r.script), ['lib/train.mjs', 'eval.mjs', 'lib/train.mjs']);
  report = await replayMissing(requireRepoSync(dir), ['w2'], { workers: 1, env: { FLOR_TEST_DEBUG: '1' } });
});

test('a tracked link to the script: both versions replayed, the link not read as code on either side', () => {
  const [v1, , v2] = runs;
  assert.deepEqual([outcome(v1!.id).status, outcome(v2!.id).status], ['replayed', 'replayed']);
  for (const r of [v1!, v2!]) {
    const o = outcome(r.id);
    assert.equal(o.status === 'replayed' && o.records, 3, 'one w2 per epoch');
  }
});

test('a file that cannot take a statement is reported, and the name still replayed from the files that can', () => {
  const o = outcome(runs[0]!.id);
  assert.equal(o.status, 'replayed');
  assert.equal(o.status === 'replayed' && o.partial.length, 1);
  assert.match(o.status === 'replayed' ? o.partial[0]! : '', /^w2: lib\/step\.mjs:4: its block .* does not exist in the old version/);
  assert.ok(describeReport(report).some((l) => /^ {2}not carried: w2: lib\/step\.mjs:4:/.test(l)));
});

test('runs of a script that never loads the statement files are not replayed, and not counted as having the name', async () => {
  const evalRun = runs[1]!.id;
  assert.equal(report.outcomes.find((o) => o.run === evalRun), undefined);
  assert.deepEqual(report.unreached, [{ run: evalRun, script: 'eval.mjs', names: ['w2'] }]);
  assert.deepEqual(report.complete, []);
  const again = await replayMissing(requireRepoSync(dir), ['w2'], { workers: 1 });
  assert.deepEqual(again.outcomes, []);
  assert.deepEqual(again.complete, [runs[0]!.id, runs[2]!.id], 'only the two training runs have w2');
  assert.deepEqual(describeReport(again), ['1 run(s) of eval.mjs never load the code that logs w2: not replayed for it', '2 run(s) already have w2']);
  const [ev] = (await readableRuns(requireRepoSync(dir))).filter((r) => r.id === evalRun);
  assert.deepEqual(ev!.segments.map((s) => s.name), ['forward'], 'nothing written to the eval run');
});

test('the summary and the log tell a statement carried into old code from one the version already had', async () => {
  const [v1, , v2] = runs;
  const o1 = outcome(v1!.id);
  const o2 = outcome(v2!.id);
  assert.deepEqual([o1.status === 'replayed' && o1.carried, o2.status === 'replayed' && o2.carried], [['w2'], []]);
  const text = describeReport(report);
  const at = (id: string) => text[text.findIndex((l) => l.startsWith(`run ${id}: replayed w2`)) + 1];
  assert.equal(at(v1!.id), '  statement carried into this version: w2');
  assert.equal(at(v2!.id), '  statement already in this version: w2');

  const rows = JSON.parse((await cli(dir, ['log', 'v', 'w2', '--format', 'json'])).stdout) as Array<Record<string, unknown>>;
  const shown = rows.map((r) => [r.run === v1!.id ? 'v1' : 'v2', r.epoch, r.w2, r.replayed, r.carried ?? null]);
  assert.deepEqual(shown, [
    ['v1', 0, 0, ['w2'], ['w2']],
    ['v1', 1, 2, ['w2'], ['w2']],
    ['v1', 2, 6, ['w2'], ['w2']],
    ['v2', 0, 0, ['w2'], null],
    ['v2', 1, 2, ['w2'], null],
    ['v2', 2, 6, ['w2'], null],
  ]);
  const shown1 = (await cli(dir, ['show', v1!.id])).stdout;
  assert.match(shown1, /\(replay\) {2}3 records: w2 {2}replayed \S+ for w2 \(carried into this version: w2\)\n/);
  assert.match((await cli(dir, ['show', v2!.id])).stdout, /\(replay\) {2}3 records: w2 {2}replayed \S+ for w2 \(already in it: w2\)\n/);
  fsckClean(dir);
});

test('a link in a run\'s code tree is followed inside the tree, and imports are followed from the entry script', async () => {
  const repo = requireRepoSync(dir);
  const [run] = await readableRuns(repo);
  const files = treeFiles(reader(repo), run!.codeTree);
  const viaLink = await files.resolve('run.mjs');
  assert.equal(viaLink?.path, 'lib/train.mjs');
  assert.match(viaLink!.text, /^import \{ flor \} from 'git-flor';/);
  assert.equal(await files.resolve('../run.mjs'), null, 'nothing above the tree');
  const reach = await reachedFiles(files, entryRoots(run!.meta), new Set(['lib/step.mjs', 'eval.mjs']));
  assert.deepEqual([...reach.reached], ['lib/step.mjs']);
  assert.equal(reach.open, false);
  // A script that is not a file of the tree (`node -e`): nothing can be ruled out.
  assert.equal((await reachedFiles(files, [''], new Set(['lib/step.mjs']))).open, true);
});

test('imports: relative ones followed (TS names, index files), packages not, a path alias or computed import leaves the reach open', async () => {
  const d = makeRepo({
    files: {
      'src/main.ts': "import { a } from './a.js';\nimport 'git-flor';\nimport { readFileSync } from 'node:fs';\nexport * from './lib';\n",
      'src/a.ts': 'export const a = 1;\n',
      'src/lib/index.ts': "const m = require('../b.cjs');\n",
      'src/b.cjs': 'module.exports = 1;\n',
      'src/alias.ts': "import { m } from '@/model';\n",
      'src/computed.mjs': "await import(process.env.X);\n",
      'src/other.ts': 'export {};\n',
    },
    commit: false,
  });
  const files = workTreeFiles(d);
  const isPackage = (n: string) => n === 'git-flor';
  const wanted = new Set(['src/a.ts', 'src/lib/index.ts', 'src/b.cjs', 'src/other.ts']);
  const r = await reachedFiles(files, ['src/main.ts'], wanted, isPackage);
  assert.deepEqual([...r.reached].sort(), ['src/a.ts', 'src/b.cjs', 'src/lib/index.ts']);
  assert.equal(r.open, false);
  assert.equal((await reachedFiles(files, ['src/alias.ts'], new Set(['src/other.ts']), isPackage)).open, true);
  assert.equal((await reachedFiles(files, ['src/computed.mjs'], new Set(['src/other.ts']), isPackage)).open, true);
});
