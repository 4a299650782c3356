/**
 * `log NAME --replay --where`: run-level conditions choose the runs to replay, value conditions
 * filter the view afterwards; a name nothing logged yet is an error without --replay only.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeRepo, runNode, gitIn, cleanup, writeFiles, flor } from './helpers/repo.js';
import { florIn } from './helpers/cli.js';

const SCRIPT = (extra: string) => `import { flor } from 'git-flor';
const lr = flor.arg('lr', 0.5);
let w = 1;
for (const epoch of flor.loop('epoch', [0, 1])) {
  w = w * (1 - lr);
${extra}  flor.log('acc', 1 - w);
}
`;

let dir = '';
let ids: string[] = [];

before(async () => {
  dir = makeRepo({ files: { 'train.mjs': SCRIPT('') } });
  runNode(dir, 'train.mjs', ['--lr', '0.1']);
  runNode(dir, 'train.mjs', ['--lr', '0.5']);
  // Today's code logs w; the two runs never did.
  writeFiles(dir, { 'train.mjs': SCRIPT("  flor.log('w', w);\n") });
  gitIn(dir, 'commit', '-qam', 'log w');
  const r = await florIn(dir, ['runs', '--col', 'lr', '--format', 'json']);
  ids = (JSON.parse(r.stdout) as Array<{ run: string }>).map((x) => x.run);
});

after(() => cleanup());

test('a name nothing logged yet: exit 2 without --replay; with it, only the runs --where chooses are replayed', async () => {
  const typo = await florIn(dir, ['log', 'w']);
  assert.equal(typo.status, 2);
  assert.match(typo.stderr, /^git flor: no run logged 'w'\n/);

  // Replays run child processes of the built CLI: this one goes through bin/git-flor (build first).
  const r = flor(dir, ['log', 'w', '--replay', '--where', 'lr < 0.2 and w > 0.85', '--workers', '1', '--format', 'json'], { allowFail: true });
  assert.equal(r.status, 0, r.stderr);
  // Replayed: the lr 0.1 run only; the value condition then keeps epoch 0 (w 0.9, then 0.81).
  assert.deepEqual((JSON.parse(r.stdout) as Array<Record<string, unknown>>).map((x) => [x.run, x.epoch, x.w, x.replayed]), [[ids[0], 0, 0.9, ['w']]]);
  const all = await florIn(dir, ['log', 'w', '--format', 'json']);
  assert.deepEqual(
    (JSON.parse(all.stdout) as Array<Record<string, unknown>>).map((x) => [x.run, x.epoch, x.w]),
    [[ids[0], 0, 0.9], [ids[0], 1, 0.9 * 0.9]],
  );
  // The other run was left alone: it still lacks w.
  const other = await florIn(dir, ['runs', '--col', 'count(w)', '--format', 'json']);
  assert.deepEqual((JSON.parse(other.stdout) as Array<Record<string, unknown>>).map((x) => x['count(w)']), [2, 0]);
  // A condition no run meets replays nothing.
  const none = flor(dir, ['log', 'w', '--replay', '--where', "status = 'failed'", '--format', 'json'], { allowFail: true });
  assert.equal(none.status, 0);
  assert.equal(none.stdout, '[]\n');
  assert.match(none.stderr, /no run matches --where: nothing to replay/);
});
