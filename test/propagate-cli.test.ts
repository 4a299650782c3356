/**
 * `git flor propagate REV -- PATH` on real repositories, through the built CLI: commit-ish and run-id
 * revisions, renames, --names, --report json, and the errors a user can meet.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeRepo, cleanup, writeFiles, gitIn } from './helpers/repo.js';
import { cli } from './helpers/cli.js';
import { requireRepoSync } from '../src/store/git.js';
import { snapshotWorkTree } from '../src/store/worktree.js';
import { appendRun } from '../src/store/ledger.js';
import { makeMeta } from './helpers/store-fixtures.js';

after(cleanup);

const V1 = `import { flor } from 'git-flor';
import { makeModel, batches } from './model.js';

const model = makeModel(flor.arg('seed', 7));
for (const epoch of flor.loop('epoch', [0, 1, 2])) {
  for (const batch of flor.loop('step', batches(32))) {
    const loss = model.step(batch);
  }
}
`;
const V2 = V1.replace('    const loss = model.step(batch);\n', '    const loss = model.step(batch);\n    model.clip(1.0);\n');
const TODAY = `import { flor } from 'git-flor';
import { makeModel, batches } from './model.js';

const model = makeModel(flor.arg('seed', 7));
for (const epoch of flor.loop('epoch', [0, 1, 2])) {
  for (const batch of flor.loop('step', batches(64))) {
    const loss = model.step(batch);
    const clipped = model.clip(1.0);
    flor.log('loss', loss);
    flor.log('clipped', clipped);
  }
  flor.log('epoch_done', epoch);
}
`;
const V1_PROPAGATED = `import { flor } from 'git-flor';
import { makeModel, batches } from './model.js';

const model = makeModel(flor.arg('seed', 7));
for (const epoch of flor.loop('epoch', [0, 1, 2])) {
  for (const batch of flor.loop('step', batches(32))) {
    const loss = model.step(batch);
    flor.log('loss', loss);
  }
  flor.log('epoch_done', epoch);
}
`;

function repoWithHistory(): string {
  const dir = makeRepo({ files: { 'train.js': V1 }, commits: [{ files: { 'train.js': V2 } }] });
  writeFiles(dir, { 'train.js': TODAY });
  return dir;
}

test('commit-ish REV: prints the old file with today\'s statements; the unpropagatable one on stderr', async () => {
  const dir = repoWithHistory();
  const r = await cli(dir, ['propagate', 'HEAD~1', '--', 'train.js']);
  assert.equal(r.status, 0);
  assert.equal(r.stdout, V1_PROPAGATED);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /cannot propagate flor\.log\('clipped'\) \(train\.js:10\) into HEAD~1: `clipped` is not declared/);
});

test('--names restricts; --report json gives the per-statement report', async () => {
  const dir = repoWithHistory();
  const r = await cli(dir, ['propagate', 'main~1', 'train.js', '--names', 'epoch_done', '--report', 'json']);
  assert.equal(r.status, 0);
  assert.equal(r.stdout, V1_PROPAGATED.replace("    flor.log('loss', loss);\n", ''));
  const report = JSON.parse(r.stderr);
  assert.deepEqual(report.inserted.map((s: { name: string; at: number }) => [s.name, s.at]), [['epoch_done', 9]]);
  assert.deepEqual(report.failed, []);
  assert.equal(report.path, 'train.js');
});

test('follows a rename: PATH is today\'s name; run from a subdirectory', async () => {
  // Git calls it a rename when the contents are mostly the same (>= 50% similar).
  const helpers = Array.from({ length: 12 }, (_, i) => `export function schedule${i}(epoch) {\n  return 0.1 * ${i} ** epoch;\n}\n`).join('');
  const dir = makeRepo({ files: { 'train.js': V1 + helpers, 'src/.keep': '' } });
  gitIn(dir, 'mv', 'train.js', 'src/train.js');
  writeFiles(dir, { 'src/train.js': TODAY.replace('./model.js', '../model.js') + helpers, 'src/notes.txt': 'x\n' });
  const r = await cli(`${dir}/src`, ['propagate', 'HEAD', '--names', 'loss', '--', 'train.js']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, V1.replace('    const loss = model.step(batch);\n', "    const loss = model.step(batch);\n    flor.log('loss', loss);\n") + helpers);
  assert.equal(r.stderr, '');
});

test('run id REV (full and prefix): the run\'s captured code is the old version', async () => {
  const dir = makeRepo({ files: { 'train.js': V1 } });
  writeFiles(dir, { 'train.js': V2 }); // uncommitted: only the run's code tree has it
  const repo = requireRepoSync(dir);
  const codeTree = await snapshotWorkTree(repo);
  const meta = makeMeta({ status: 'ok', end: new Date().toISOString(), commit: gitIn(dir, 'rev-parse', 'HEAD'), dirty: true });
  await appendRun(repo, { meta, codeTree, segments: {} });
  writeFiles(dir, { 'train.js': TODAY });
  const expected = V2.replace('    model.clip(1.0);\n', "    model.clip(1.0);\n    flor.log('loss', loss);\n").replace('  }\n}\n', "  }\n  flor.log('epoch_done', epoch);\n}\n");
  for (const rev of [meta.id, meta.id.slice(0, 12).toLowerCase()]) {
    const r = await cli(dir, ['propagate', rev, '--', 'train.js']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, expected);
    assert.match(r.stderr, /cannot propagate flor\.log\('clipped'\).*into run /);
  }
});

test('errors: bad REV, PATH missing today or in REV, no PATH, not a source, today\'s file broken — exit 2 with message and hint', async () => {
  const dir = repoWithHistory();
  writeFiles(dir, { 'new.js': "import { flor } from 'git-flor';\nflor.log('a', 1);\n" });
  const cases: Array<[string[], RegExp]> = [
    [['propagate', 'no-such-rev', '--', 'train.js'], /git flor: no-such-rev is neither a commit nor a run id\nhint: /],
    [['propagate', 'HEAD', '--', 'missing.js'], /git flor: missing\.js does not exist in the work tree\nhint: /],
    [['propagate', 'HEAD~1', '--', 'new.js'], /git flor: new\.js does not exist in HEAD~1 \(not even under another name\)\nhint: /],
    [['propagate', 'HEAD'], /git flor: name the file to propagate: git flor propagate REV -- PATH\nhint: /],
    [['propagate', 'HEAD', '--', '.gitignore'], /git flor: \.gitignore is not a JavaScript\/TypeScript source\nhint: /],
  ];
  for (const [args, message] of cases) {
    const r = await cli(dir, args, true);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, message);
  }
  writeFiles(dir, { 'train.js': TODAY.replace("flor.log('loss', loss);", "flor.log('loss', loss;") });
  const r = await cli(dir, ['propagate', 'HEAD', '--', 'train.js'], true);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^git flor: train\.js does not parse: .* \(line 9\)\nhint: /);
});
