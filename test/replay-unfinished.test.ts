/**
 * A run that did not finish (killed mid-loop, recovered as crashed) is replayed only as far as it
 * went: up to its last record, so the fidelity check passes and the new name covers exactly the
 * iterations the run reached. Real repository, real runs and replay children; needs the built dist/.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { replayMissing } from '../src/replay/replay.js';
import { keyed } from './helpers/segments.js';
import { requireRepoSync } from '../src/store/git.js';
import { readableRuns, readSegment } from '../src/store/ledger.js';
import { makeRepo, runNode, writeFiles, fsckClean, cleanup } from './helpers/repo.js';
import { cli } from './helpers/cli.js';

after(cleanup);

// Each step busy-waits so that records are flushed to the journal before the kill; the recording
// (and only it: replay children do not get the variable) kills itself in epoch 2, as a Ctrl-C or
// an OOM kill would, without an end frame.
const script = (today: string) => `import { flor } from 'git-flor';
const spin = (ms) => { const t = Date.now(); while (Date.now() - t < ms); };
let w = 1;
for (const e of flor.loop('epoch', [0, 1, 2, 3])) {
  for (const s of flor.loop('step', [0, 1, 2, 3])) {
    spin(30);
    if (process.env.FLOR_TEST_KILL && e === 2 && s === 2) process.kill(process.pid, 'SIGKILL');
    w = (w * 7 + s) % 101;${today}
    flor.log('loss', w);
  }
  flor.log('acc', w / 101);
}
flor.log('final', w);
`;

let dir = '';
let run = '';

before(async () => {
  dir = makeRepo({ files: { 'train.mjs': script('') } });
  const r = runNode(dir, 'train.mjs', [], { env: { FLOR_CKPT_SHARE: '1', FLOR_TEST_KILL: '1' }, allowFail: true });
  assert.equal(r.signal, 'SIGKILL');
  await cli(dir, ['doctor'], true); // recovers the journal as a crashed run
  const runs = await readableRuns(requireRepoSync(dir));
  assert.equal(runs.length, 1);
  assert.equal(runs[0]!.meta.status, 'crashed');
  run = runs[0]!.id;
  writeFiles(dir, { 'train.mjs': script("\n    flor.log('l2', w * 2);") });
});

async function positions(name: string, source: 'forward' | 'replay'): Promise<string[]> {
  const [r] = await readableRuns(requireRepoSync(dir));
  const out: string[] = [];
  for (const s of r!.segments) {
    const seg = await readSegment(requireRepoSync(dir), s.oid);
    if (seg.source === source) for (const k of keyed(seg, (n) => n === name)) out.push(k.ctx);
  }
  return out;
}

test('a crashed run: the plan covers the iterations it reached and says where its records end', async () => {
  const loss = await positions('loss', 'forward');
  assert.ok(loss.length > 0, 'some records were flushed before the kill');
  const lastEpoch = Number(/^epoch=(\d+)/.exec(loss.at(-1)!)![1]);
  const dry = await cli(dir, ['replay', 'l2', '--dry-run']);
  assert.match(dry.stdout, new RegExp(`^run ${run}: ${lastEpoch + 1} iteration\\(s\\) of 'epoch'`, 'm'));
  // The journal ends where the last flush was: inside a step, or right after an epoch's acc.
  assert.match(dry.stdout, /note: the run did not finish \(crashed\): replayed up to its last record \((loss at epoch=\d\/step=\d|acc at epoch=\d)\)/);
  assert.match(dry.stdout, /^ {2}segments: \[0\.\.\d\)$/m, 'no segment runs to the end of the script (+)');
});

test('a crashed run is replayed as far as it went: the fidelity check passes, the new name stops where the run stopped', async () => {
  // Segments cut at checkpoints: the stop applies in the last one.
  const r = await replayMissing(requireRepoSync(dir), ['l2'], { workers: 2, startupMs: 0 });
  assert.deepEqual(r.mismatches, []);
  assert.deepEqual(r.outcomes.map((o) => o.status), ['replayed']);
  const loss = await positions('loss', 'forward');
  // l2 is logged right before loss in each step: it covers exactly the steps whose loss was recorded.
  assert.deepEqual(await positions('l2', 'replay'), loss);
  assert.deepEqual(await positions('final', 'forward'), []);
  fsckClean(dir);
});
