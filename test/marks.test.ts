/**
 * Tags, notes and removals: records at the root of the writer's own ledger, shown in every view,
 * carried by push and fetch, and counting only when their writer wrote the run or is trusted.
 * Two real clones of one bare remote, real runs.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, gitIn, linkFlor, makeRepo, runNode, tempDir } from './helpers/repo.js';
import { cli, florIn } from './helpers/cli.js';
import { checkpointPath } from '../src/store/checkpoints.js';
import { readCheckpointManifest } from '../src/store/ledger.js';
import { requireRepoSync } from '../src/store/git.js';
import { closeReaders } from '../src/store/objects.js';

after(async () => {
  await closeReaders();
  cleanup();
});

const TRAIN = `import { flor } from 'git-flor';
const lr = flor.arg('lr', 0.1);
const state = { w: 0 };
flor.checkpointing({ state });
for (const epoch of flor.loop('epoch', [0, 1])) {
  state.w += lr;
  flor.log('loss', 1 / (1 + state.w));
}
`;

let a = '';
let b = '';
let ids: string[] = [];

type Row = { run: string; tags?: string[] | null; note?: string | null; removed?: boolean | null };
async function rows(dir: string, args: string[] = []): Promise<Row[]> {
  const r = await florIn(dir, ['runs', '--format', 'json', ...args]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Row[];
}

before(async () => {
  const remote = tempDir();
  gitIn(remote, 'init', '-q', '--bare');
  a = makeRepo({ files: { 'train.mjs': TRAIN, '.gitignore': 'node_modules/\n' } });
  gitIn(a, 'remote', 'add', 'origin', remote);
  gitIn(a, 'push', '-q', 'origin', 'main');
  for (const lr of ['0.1', '0.2', '0.3']) runNode(a, 'train.mjs', ['--lr', lr]);
  ids = (await rows(a)).map((r) => r.run);
  await cli(a, ['push', 'origin']);
  b = join(tempDir(), 'b');
  gitIn(tempDir(), 'clone', '-q', remote, b);
  linkFlor(b);
  await cli(b, ['fetch']);
});

test('tag, untag and note show in runs, show and json, and --where "tag = \'x\'" picks a run by any of its tags', async () => {
  assert.equal((await florIn(a, ['tag', ids[0]!.slice(0, 10), 'baseline', 'lr-sweep'])).stdout, `run ${ids[0]} tagged baseline, lr-sweep\n`);
  await florIn(a, ['tag', ids[1]!, 'lr-sweep']);
  await florIn(a, ['note', ids[1]!, 'diverged after epoch 1']);
  const all = await rows(a);
  assert.deepEqual(all.map((r) => [r.tags ?? null, r.note ?? null]), [[['baseline', 'lr-sweep'], null], [['lr-sweep'], 'diverged after epoch 1'], [null, null]]);
  assert.deepEqual((await rows(a, ['--where', "tag = 'lr-sweep'"])).map((r) => r.run), ids.slice(0, 2));
  assert.deepEqual((await rows(a, ['--where', "tag = 'baseline'"])).map((r) => r.run), [ids[0]]);
  assert.deepEqual((await rows(a, ['--where', "tag in ('nope', 'baseline')"])).map((r) => r.run), [ids[0]]);
  const log = await florIn(a, ['log', 'loss', '--where', "tag = 'baseline'", '--format', 'json']);
  assert.deepEqual([...new Set((JSON.parse(log.stdout) as Row[]).map((r) => r.run))], [ids[0]]);
  const table = (await florIn(a, ['runs'])).stdout.split('\n');
  assert.match(table[0]!, /^run +version +time +status +tags +note +lr +last\(loss\)$/);
  assert.match(table[1]!, / ok +baseline,lr-sweep +0\.1 /);
  const shown = (await florIn(a, ['show', ids[1]!])).stdout;
  assert.match(shown, /^tags +lr-sweep$/m);
  assert.match(shown, /^note +diverged after epoch 1$/m);
  await florIn(a, ['untag', ids[0]!, 'lr-sweep']);
  await florIn(a, ['note', ids[1]!, '']);
  assert.deepEqual((await rows(a)).map((r) => [r.tags ?? null, r.note ?? null]), [[['baseline'], null], [['lr-sweep'], null], [null, null]]);
  const bad = await florIn(a, ['tag', ids[0]!, 'two words']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /tag "two words" is not one word/);
});

test('rm hides a run from every view, --all shows it, rm --undo restores it; doctor sees no damage', async () => {
  const rm = await florIn(a, ['rm', ids[2]!]);
  assert.equal(rm.status, 0, rm.stderr);
  assert.deepEqual((await rows(a)).map((r) => r.run), ids.slice(0, 2));
  const log = JSON.parse((await florIn(a, ['log', 'loss', '--format', 'json'])).stdout) as Row[];
  assert.ok(!log.some((r) => r.run === ids[2]));
  const names = JSON.parse((await florIn(a, ['names', '--format', 'json'])).stdout) as Array<{ name: string; runs: number }>;
  assert.equal(names.find((n) => n.name === 'loss')!.runs, 2);
  const every = await rows(a, ['--all']);
  assert.deepEqual(every.map((r) => [r.run, r.removed]), [[ids[0], null], [ids[1], null], [ids[2], true]]);
  assert.match((await florIn(a, ['show', ids[2]!])).stdout, /^removed +yes: hidden from every view but --all/m);
  const doctor = await florIn(a, ['doctor']);
  assert.equal(doctor.status, 0, doctor.stdout + doctor.stderr);
  assert.doesNotMatch(doctor.stdout, /damage/);
  await florIn(a, ['rm', '--undo', ids[2]!]);
  assert.deepEqual((await rows(a)).map((r) => r.run), ids);
});

test('marks travel with push and fetch; a stranger\'s removal hides nothing until its writer is trusted', async () => {
  // A's own removal of its own run counts in B: its writer wrote the run.
  await florIn(a, ['rm', ids[0]!]);
  await cli(a, ['push', 'origin']);
  await cli(b, ['fetch']);
  assert.deepEqual((await rows(b)).map((r) => r.run), ids.slice(1));
  assert.deepEqual((await rows(b, ['--where', "tag = 'lr-sweep'"])).map((r) => r.run), [ids[1]]);
  // B removes A's run: it counts in B (B trusts itself), never by rewriting A's ledger.
  const tipA = gitIn(b, 'rev-parse', `refs/flor/remotes/origin/ledgers/${gitIn(a, 'config', 'flor.writer')}`);
  const rm = await florIn(b, ['rm', ids[1]!]);
  assert.match(rm.stderr, /was recorded by writer \w+: this clone's rm counts here; in other clones it counts only where writer \w+ is trusted/);
  assert.deepEqual((await rows(b)).map((r) => r.run), [ids[2]]);
  assert.equal(gitIn(b, 'rev-parse', `refs/flor/remotes/origin/ledgers/${gitIn(a, 'config', 'flor.writer')}`), tipA);
  await cli(b, ['push', 'origin']);
  await cli(a, ['fetch']);
  // In A, B is a stranger: the run stays, and show says what was ignored.
  assert.deepEqual((await rows(a)).map((r) => r.run), ids.slice(1));
  const writerB = gitIn(b, 'config', 'flor.writer');
  assert.match((await florIn(a, ['show', ids[1]!])).stdout, new RegExp(`^ignored +removal by writer ${writerB} \\(.+\\): that writer neither recorded this run nor is trusted`, 'm'));
  gitIn(a, 'config', '--add', 'flor.trustedWriters', writerB);
  assert.deepEqual((await rows(a)).map((r) => r.run), [ids[2]]);
  gitIn(a, 'config', '--unset-all', 'flor.trustedWriters');
});

test('gc deletes the local checkpoints of removed runs and keeps those of the others', async () => {
  const repo = requireRepoSync(a);
  const listed = JSON.parse((await florIn(a, ['runs', '--all', '--format', 'json'])).stdout) as Row[];
  assert.equal(listed.length, 3);
  const { listRunsChecked } = await import('../src/store/ledger.js');
  const entries = (await listRunsChecked(repo)).runs;
  const keysOf = async (id: string) => (await readCheckpointManifest(repo, entries.find((e) => e.id === id)!.ckpt!)).keys;
  const removedKeys = await keysOf(ids[0]!);
  const keptKeys = [...(await keysOf(ids[1]!)), ...(await keysOf(ids[2]!))];
  assert.ok(removedKeys.length > 0);
  for (const k of [...removedKeys, ...keptKeys]) assert.ok(existsSync(checkpointPath(repo.commonDir, k)));
  const gc = await florIn(a, ['gc']);
  assert.equal(gc.status, 0, gc.stderr);
  assert.match(gc.stdout, new RegExp(`^deleted ${removedKeys.length} checkpoint file\\(s\\), .+, of 1 removed run\\(s\\)$`, 'm'));
  for (const k of removedKeys) assert.ok(!existsSync(checkpointPath(repo.commonDir, k)));
  for (const k of keptKeys) assert.ok(existsSync(checkpointPath(repo.commonDir, k)));
});
