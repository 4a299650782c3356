/**
 * Broken history is repairable with one command: `git flor doctor --repair` on real repositories
 * whose objects were deleted or had bytes flipped, whose ledger ref was pointed at a blob or lost
 * its tip, and whose fetched ledger reaches an object that is gone. Each case ends with `git gc`
 * and `git fsck` clean and every healthy run readable.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { cleanup, copyRepo, fsckClean, gitIn, makeRepo, runNode, sh } from './helpers/repo.js';
import { cli } from './helpers/cli.js';
import { closeReaders } from '../src/store/objects.js';
import { corruptObject, deleteObject, loosePath, network, TRAIN, writerOf } from './tamper-support.js';
import { decodeRemovals } from '../src/store/removals.js';

after(() => {
  closeReaders();
  cleanup();
});

async function runIds(dir: string): Promise<string[]> {
  return (JSON.parse((await cli(dir, ['runs', '--format', 'json'])).stdout) as Array<{ run: string }>).map((r) => r.run).sort();
}

async function lossOf(dir: string): Promise<Record<string, number[]>> {
  const rows = JSON.parse((await cli(dir, ['log', 'loss', '--format', 'json'])).stdout) as Array<{ run: string; loss: number }>;
  const out: Record<string, number[]> = {};
  for (const r of rows) (out[r.run] ??= []).push(r.loss);
  return out;
}

let recorded = '';
before(async () => {
  recorded = makeRepo({ files: { 'train.mjs': TRAIN } });
  for (const lr of ['0.1', '0.2', '0.3']) runNode(recorded, 'train.mjs', ['--lr', lr]);
  assert.equal((await runIds(recorded)).length, 3); // a reader settles the captures before any copy
});

/** A repository with three real runs in its own ledger: a copy of the ones recorded once, for each test to damage. */
async function threeRuns(): Promise<{ dir: string; ids: string[]; ledger: string }> {
  const dir = copyRepo(recorded);
  const ids = await runIds(dir);
  assert.equal(ids.length, 3);
  return { dir, ids, ledger: `refs/flor/ledgers/${writerOf(dir)}` };
}

function segmentOid(dir: string, ledger: string, id: string): string {
  return gitIn(dir, 'rev-parse', `${ledger}:runs/${id.slice(0, 2)}/${id}/logs/forward.msgpack`);
}

for (const damage of ['missing', 'corrupt'] as const) {
  test(`a ${damage} segment object: doctor says ${damage}, --repair rewrites the ledger without that run, gc and fsck pass`, async () => {
    const { dir, ids, ledger } = await threeRuns();
    const healthy = await lossOf(dir);
    const victim = ids[1]!;
    const oid = segmentOid(dir, ledger, victim);
    if (damage === 'missing') deleteObject(dir, oid);
    else corruptObject(dir, oid);
    assert.notEqual(sh('git', ['gc', '-q', '--prune=now'], dir, { allowFail: true }).status, 0, 'git gc fails on the damage');
    const oldTip = gitIn(dir, 'rev-parse', ledger);

    const d = await cli(dir, ['doctor'], true);
    assert.equal(d.status, 1);
    assert.match(d.stdout, new RegExp(`damage: run ${victim}: object ${oid} is ${damage} \\(logs/forward\\.msgpack\\): .git flor doctor --repair. drops this run`));
    if (damage === 'corrupt') assert.doesNotMatch(d.stdout, new RegExp(`${oid} is missing`));

    const r = await cli(dir, ['doctor', '--repair'], true);
    assert.match(r.stdout, new RegExp(`repaired: dropped run ${victim} from ${ledger}: object ${oid} is ${damage}`));
    assert.equal(r.status, 0, r.stdout);
    assert.deepEqual(await runIds(dir), [ids[0], ids[2]]);
    const after = await lossOf(dir);
    assert.deepEqual(after[ids[0]!], healthy[ids[0]!]);
    assert.deepEqual(after[ids[2]!], healthy[ids[2]!]);
    const removals = decodeRemovals(execFileSync('git', ['cat-file', 'blob', `${ledger}:removals.msgpack`], { cwd: dir }));
    assert.equal(removals.length, 1);
    assert.deepEqual(removals[0]!.runs, [victim]);
    assert.equal(removals[0]!.replaces, oldTip);
    assert.equal(removals[0]!.writer, writerOf(dir));
    assert.match(removals[0]!.why, new RegExp(`object ${oid} is ${damage}`));
    // The rewritten history keeps the other runs' commits and says nothing of the dropped one.
    const log = gitIn(dir, 'log', '--format=%s', ledger);
    assert.equal(log.split('\n').length, 3, log);
    assert.doesNotMatch(log.split('\n').slice(1).join('\n'), new RegExp(victim));
    fsckClean(dir);
    assert.equal((await cli(dir, ['doctor'])).status, 0);
    runNode(dir, 'train.mjs');
    assert.equal((await runIds(dir)).length, 3, 'runs are captured after the repair');
  });
}

test('own ledger ref pointing at a blob, then its tip gone: runs are still captured, --repair restores every run', async () => {
  const { dir, ids, ledger } = await threeRuns();
  await cli(dir, ['tag', ids[0]!, 'before']);
  const good = gitIn(dir, 'rev-parse', ledger);
  const blob = sh('git', ['hash-object', '-w', '--stdin'], dir, { input: 'not a commit\n' }).stdout.trim();
  // Written to the ref file directly, as damage would be: no reflog entry of its own.
  writeFileSync(join(dir, '.git', ledger), blob + '\n');
  const r = runNode(dir, 'train.mjs', ['--lr', '0.4']);
  assert.doesNotMatch(r.stderr, /not captured/);
  assert.equal((await runIds(dir)).length, 1, 'the new run landed on a new chain');
  const fresh = (await runIds(dir))[0]!;
  await cli(dir, ['tag', fresh, 'after']); // a mark made while the ref was broken, on the new chain
  const d = await cli(dir, ['doctor'], true);
  assert.equal(d.status, 1);
  assert.match(d.stdout, new RegExp(`damage: ${ledger}: points at .*the last good tip ${good.slice(0, 12)} is only in the reflog`));
  const fix = await cli(dir, ['doctor', '--repair'], true);
  assert.match(fix.stdout, new RegExp(`repaired: restored ${ledger} to its last good tip ${good.slice(0, 12)} from the reflog, joined with the runs captured since`));
  assert.equal((await runIds(dir)).length, 4);
  assert.ok((await runIds(dir)).includes(ids[0]!));
  const tags = (JSON.parse((await cli(dir, ['runs', '--format', 'json'])).stdout) as Array<{ run: string; tags: string[] | null }>).filter((x) => x.tags?.length).map((x) => [x.run, x.tags]);
  assert.deepEqual(tags.sort(), [[ids[0], ['before']], [fresh, ['after']]].sort(), 'marks from both sides of the break are kept');
  const kept = gitIn(dir, 'for-each-ref', '--format=%(objectname)', 'refs/flor/broken/');
  assert.equal(kept, blob, 'the damaged value is kept for inspection');
  fsckClean(dir);

  // Now the tip is gone: the ref names an object this repository does not have.
  writeFileSync(join(dir, '.git', ledger), '0123456789abcdef0123456789abcdef01234567\n');
  const r2 = runNode(dir, 'train.mjs', ['--lr', '0.5']);
  assert.doesNotMatch(r2.stderr, /not captured/);
  const fix2 = await cli(dir, ['doctor', '--repair'], true);
  assert.match(fix2.stdout, /repaired: restored .* from the reflog/);
  const all = await runIds(dir);
  assert.equal(all.length, 5, 'the four runs of the restored tip and the new one');
  fsckClean(dir);
  assert.equal((await cli(dir, ['doctor'])).status, 0);
});

test('a fetched ledger with a missing object: fetched again when the remote has it, else dropped and said so', async () => {
  const { bare, clones } = await network(['a', 'b']);
  const a = clones.a!;
  const b = clones.b!;
  runNode(a, 'train.mjs');
  runNode(a, 'train.mjs', ['--lr', '0.3']);
  await cli(a, ['runs']); // a push right after a run may precede its capture
  await cli(a, ['push']);
  await cli(b, ['fetch']);
  const ledger = `refs/flor/remotes/origin/ledgers/${writerOf(a)}`;
  const [first, second] = await runIds(b);
  const seg = segmentOid(b, ledger, first!);
  deleteObject(b, seg);
  const d = await cli(b, ['doctor'], true);
  assert.match(d.stdout, new RegExp(`damage: ${ledger}: reaches 1 damaged object\\(s\\): object ${seg} is missing`));
  const fix = await cli(b, ['doctor', '--repair'], true);
  assert.match(fix.stdout, new RegExp(`repaired: fetched ${ledger} again from origin`));
  assert.equal(fix.status, 0, fix.stdout);
  assert.deepEqual(await runIds(b), [first, second]);
  fsckClean(b);

  // The remote loses it too: nothing can supply it, the ledger is dropped.
  deleteObject(b, seg);
  const inBare = loosePath(bare, seg);
  if (existsSync(inBare)) deleteObject(bare, seg);
  else sh('git', ['-C', bare, 'repack', '-adq'], bare); // (objects arrived packed: never here in practice)
  const drop = await cli(b, ['doctor', '--repair'], true);
  assert.match(drop.stdout, new RegExp(`repaired: dropped ${ledger} \\(and its seen tip\\)`));
  assert.equal(gitIn(b, 'for-each-ref', ledger), '');
  assert.deepEqual(await runIds(b), []);
  fsckClean(b);
});

test('a repaired ledger is pushed against the tip it replaces, and other clones accept its removal record', async () => {
  const { clones } = await network(['a', 'b']);
  const a = clones.a!;
  const b = clones.b!;
  for (const lr of ['0.1', '0.2', '0.3']) runNode(a, 'train.mjs', ['--lr', lr]);
  await cli(a, ['runs']);
  await cli(a, ['push']);
  await cli(b, ['fetch']);
  const ids = await runIds(b);
  assert.equal(ids.length, 3);
  const ledger = `refs/flor/ledgers/${writerOf(a)}`;
  deleteObject(a, segmentOid(a, ledger, ids[1]!));
  assert.equal((await cli(a, ['doctor', '--repair'], true)).status, 0);
  const p = await cli(a, ['push'], true);
  assert.equal(p.status, 0, p.stderr);
  gitIn(b, 'fetch', '-q');
  const r = await cli(b, ['runs', '--format', 'json']);
  assert.equal(r.stderr, '', 'the removal record by the ledger\'s own writer is accepted');
  assert.deepEqual((JSON.parse(r.stdout) as Array<{ run: string }>).map((x) => x.run).sort(), [ids[0], ids[2]]);
  const d = await cli(b, ['doctor'], true);
  assert.equal(d.status, 0, d.stdout);
  assert.equal(gitIn(b, 'rev-parse', `refs/flor/seen/origin/${writerOf(a)}`), gitIn(a, 'rev-parse', ledger));
  fsckClean(a);
  fsckClean(b);
});
