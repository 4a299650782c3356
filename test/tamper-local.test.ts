/**
 * Local damage that must not cost runs: a journal with a corrupt frame in the middle, and damaged
 * checkpoint files under a replay. Real repositories, real runs, bytes flipped or cut on disk.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, flor, fsckClean, gitIn, makeRepo, runNode, writeFiles } from './helpers/repo.js';
import { cli } from './helpers/cli.js';
import { closeReaders } from '../src/store/objects.js';
import { requireRepoSync } from '../src/store/git.js';
import { journalPath } from '../src/store/journal.js';
import { listCheckpoints, checkpointPath } from '../src/store/checkpoints.js';
import { makeMeta, writeRunJournal } from './helpers/store-fixtures.js';

after(() => {
  closeReaders();
  cleanup();
});

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** Byte offsets of each whole frame's body in a journal. */
function frameOffsets(buf: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 <= buf.length; ) {
    out.push(i + 4);
    i += 4 + buf.readUInt32LE(i);
  }
  return out;
}

test('a journal with a corrupt frame 7 of 14 is captured as crashed with every frame before it, and keeps its code', async () => {
  const dir = makeRepo({ files: { 'train.mjs': 'export {};\n' } });
  const repo = requireRepoSync(dir);
  const tree = gitIn(dir, 'rev-parse', 'HEAD^{tree}');
  const dead = spawnSync('true').pid!; // a pid that has exited: the journal is an orphan
  const meta = makeMeta({ commit: gitIn(dir, 'rev-parse', 'HEAD') });
  writeRunJournal(repo.commonDir, meta, tree, { epochs: 12, chunks: 12, steps: 2, pid: dead }); // start + 12 chunks + end
  gitIn(dir, 'update-ref', `refs/flor/tmp/${meta.id}`, tree); // the code pin a running run holds
  const path = journalPath(repo.commonDir, meta.id);
  const buf = readFileSync(path);
  const at = frameOffsets(buf);
  assert.equal(at.length, 14);
  // Frame 7 (index 6): garbage that includes a terminal escape and a byte msgpack never uses.
  buf.set([0xc1, 0x1b, 0x5b, 0x32, 0x4a], at[6]!);
  writeFileSync(path, buf);

  const r = await cli(dir, ['doctor'], true);
  assert.doesNotMatch(r.stdout + r.stderr, CONTROL);
  assert.match(r.stdout, new RegExp(`recovered run ${meta.id} from its journal`));
  assert.equal(existsSync(join(repo.commonDir, 'flor', 'journal', 'bad')), false, 'nothing set aside');
  const runs = JSON.parse((await cli(dir, ['runs', '--format', 'json'])).stdout) as Array<{ run: string; status: string; records: number }>;
  assert.equal(runs.length, 1);
  assert.equal(runs[0]!.status, 'crashed');
  assert.equal(runs[0]!.records, 5 * (2 + 2), 'the five chunks before the damage: 2 losses + acc + note each');
  const show = (await cli(dir, ['show', meta.id])).stdout;
  assert.match(show, /^status +crashed: journal damaged at frame 7 of 14 \(.*0xc1.*\): the 6 frame\(s\) before it were captured$/m);
  const w = gitIn(dir, 'config', 'flor.writer');
  assert.equal(gitIn(dir, 'rev-parse', `refs/flor/ledgers/${w}:runs/${meta.id.slice(0, 2)}/${meta.id}/code`), tree, 'code kept in the ledger');
  const log = JSON.parse((await cli(dir, ['log', 'note', '--format', 'json'])).stdout) as Array<{ note: string }>;
  assert.deepEqual(log.map((x) => x.note), ['epoch 0', 'epoch 1', 'epoch 2', 'epoch 3', 'epoch 4']);
  fsckClean(dir);
});

const CKPT = (withW: boolean) => `import { flor } from 'git-flor';
const s = { w: [0] };
flor.checkpointing({ s });
for (const epoch of flor.loop('epoch', [0, 1, 2, 3, 4, 5])) {
  s.w[0] += epoch + 1;
  flor.log('loss', 1 / s.w[0]);${withW ? "\n  flor.log('w', s.w[0]);" : ''}
}
`;

test('damaged checkpoints: replay falls back to a sound one, doctor reports them and --repair removes them', async () => {
  const dir = makeRepo({ files: { 'train.mjs': CKPT(false) } });
  runNode(dir, 'train.mjs', [], { env: { FLOR_CKPT_SHARE: '1' } });
  const repo = requireRepoSync(dir);
  const keys = listCheckpoints(repo.commonDir);
  assert.equal(keys.length, 6, 'every iteration checkpointed');
  // Which key is the end of which iteration: the run's manifest.
  const id = (JSON.parse((await cli(dir, ['runs', '--format', 'json'])).stdout) as Array<{ run: string }>)[0]!.run;
  const order = JSON.parse((await cli(dir, ['show', id, '--format', 'json'])).stdout).checkpoints.iters as number[];
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
  // Damage all but the first: truncated, flipped, truncated...
  const w = gitIn(dir, 'config', 'flor.writer');
  const manifest = gitIn(dir, 'cat-file', 'blob', `refs/flor/ledgers/${w}:runs/${id.slice(0, 2)}/${id}/ckpt.msgpack`);
  const inOrder = keys.filter((k) => manifest.includes(k)).sort((a, b) => manifest.indexOf(a) - manifest.indexOf(b));
  assert.equal(inOrder.length, 6);
  inOrder.slice(1).forEach((k, i) => {
    const f = checkpointPath(repo.commonDir, k);
    if (i % 2) truncateSync(f, Math.floor(statSync(f).size / 2));
    else {
      const b = readFileSync(f);
      b[b.length - 6] = b[b.length - 6]! ^ 0xff;
      writeFileSync(f, b);
    }
  });
  const d = await cli(dir, ['doctor'], true);
  assert.equal(d.status, 1);
  assert.equal(d.stdout.match(/damaged checkpoint/g)?.length, 5, d.stdout);

  writeFiles(dir, { 'train.mjs': CKPT(true) });
  gitIn(dir, 'commit', '-qam', 'log w');
  const r = flor(dir, ['replay', 'w', '--workers', '3'], { allowFail: true }); // a process: its replay children must not get this process's loader flags
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const rows = JSON.parse((await cli(dir, ['log', 'w', '--format', 'json'])).stdout) as Array<{ w: number }>;
  assert.deepEqual(rows.map((x) => x.w), [1, 3, 6, 10, 15, 21]);

  const fix = await cli(dir, ['doctor', '--repair'], true);
  assert.equal(fix.stdout.match(/repaired: removed damaged checkpoint/g)?.length, 5, fix.stdout);
  assert.deepEqual(listCheckpoints(repo.commonDir), [inOrder[0]]);
  assert.equal((await cli(dir, ['doctor'])).status, 0);
  fsckClean(dir);
  assert.ok(readdirSync(join(repo.commonDir, 'flor')).length > 0);
});
