/**
 * Which names a replay takes on: only those today's code logs with statements propagation can
 * carry, and a name replayed once is done even when it logged nothing there. Real repositories and
 * replay children; needs the built dist/.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { replayMissing } from '../src/replay/replay.js';
import { isFlorError } from '../src/errors.js';
import { requireRepoSync } from '../src/store/git.js';
import { readableRuns } from '../src/store/ledger.js';
import { makeRepo, runNode, writeFiles, flor, fsckClean, cleanup } from './helpers/repo.js';

after(cleanup);

const script = (today: string) => `import { flor } from 'git-flor';
for (const e of flor.loop('epoch', [0, 1, 2])) {
  flor.log('v', e * 2);
  ${today}
}
`;

test('a name logged only inside an expression is not in today\'s code for replay: REPLAY_NOT_IN_CODE, nothing written', async () => {
  const dir = makeRepo({ files: { 'run.mjs': script('') } });
  runNode(dir, 'run.mjs', [], { env: { FLOR_CKPT_SHARE: '1' } });
  writeFiles(dir, { 'run.mjs': script("e > 1000 && flor.log('never', 1);") });
  await assert.rejects(replayMissing(requireRepoSync(dir), ['never'], { workers: 1 }), (e: unknown) => isFlorError(e, 'REPLAY_NOT_IN_CODE'));
  const cli = flor(dir, ['replay', 'never'], { allowFail: true });
  assert.equal(cli.status, 2);
  assert.match(cli.stderr, /^git flor: today's code does not log 'never'\nhint: /);
  const [run] = await readableRuns(requireRepoSync(dir));
  assert.deepEqual(run!.segments.map((s) => s.name), ['forward']);
});

test('a statement that logs nothing in an old run is replayed once: its empty segment says so, and a second replay does nothing', async () => {
  // A branch the old runs never took; today's statement goes into it.
  const dir = makeRepo({ files: { 'run.mjs': script("if (e > 1000) {\n    console.log('big');\n  }") } });
  runNode(dir, 'run.mjs', [], { env: { FLOR_CKPT_SHARE: '1' } });
  writeFiles(dir, { 'run.mjs': script("if (e > 1000) {\n    console.log('big');\n    flor.log('never', 1);\n  }") });
  const first = await replayMissing(requireRepoSync(dir), ['never'], { workers: 1 });
  assert.deepEqual(first.outcomes.map((o) => [o.status, o.status === 'replayed' ? o.records : -1]), [['replayed', 0]]);
  const second = await replayMissing(requireRepoSync(dir), ['never'], { workers: 1 });
  assert.deepEqual(second.outcomes, []);
  const [run] = await readableRuns(requireRepoSync(dir));
  assert.deepEqual(second.complete, [run!.id]);
  assert.equal(run!.segments.length, 2, 'forward and one replay segment, not one per replay');
  fsckClean(dir);
});
