/**
 * Replay on many machines: a pinned plan pushed to a bare remote, shards on clones of their own
 * (real processes, in parallel) that fetch it, replay their share and push to their own ledgers.
 * Needs the built dist/ (`npm run build`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { trainSource } from '../fixtures/train/source.js';
import { requireRepoSync } from '../src/store/git.js';
import { readableRuns, readSegment } from '../src/store/ledger.js';
import { replayMissing } from '../src/replay/replay.js';
import { planShards } from '../src/replay/shard-plan.js';
import { assignShards, parseShard } from '../src/replay/shard.js';
import type { StoredPlan } from '../src/store/plans.js';
import { BIN, cleanup, flor, gitIn, linkFlor, makeRepo, runNode, tempDir, testEnv, writeFiles } from './helpers/repo.js';
import { florIn } from './helpers/cli.js';

after(cleanup);

const NAMES = ['wnorm', 'gnorm'];
// Heavy enough per step that a shard's task lasts long enough to be killed in the middle of it.
const ARGS = ['--epochs', '6', '--steps', '15', '--dim', '16', '--batch', '64'];
const LONG_ARGS = ['--epochs', '6', '--steps', '90', '--dim', '16', '--batch', '64'];
const CKPT_ENV = { FLOR_CKPT_SHARE: '1' };

let origin = '';
let remote = '';
let writer = '';
let plan: StoredPlan;
/** A directory the shards could fetch the recording clone's checkpoints from (`checkpoints push`). */
let shared = '';

before(async () => {
  origin = makeRepo({ files: { 'train.mjs': trainSource(1) } });
  // The first run six times as long as the others: a plan for three shards then gains by
  // splitting it (three equal runs already balance three shards, and were split only when the
  // recorded timings happened to differ: a quiet machine recorded them equal). At three times,
  // a run recorded while the machine was three times as busy came out as long (CI, load 5).
  runNode(origin, 'train.mjs', LONG_ARGS, { env: CKPT_ENV });
  writeFiles(origin, { 'train.mjs': trainSource(2) });
  runNode(origin, 'train.mjs', ARGS, { env: CKPT_ENV });
  gitIn(origin, 'commit', '-qam', 'v2');
  writeFiles(origin, { 'train.mjs': trainSource(3) });
  gitIn(origin, 'commit', '-qam', 'v3');
  runNode(origin, 'train.mjs', ARGS, { env: CKPT_ENV });
  // Today's statements are committed: a plan reads them from a commit, never from a work tree.
  writeFiles(origin, { 'train.mjs': trainSource(4) });
  gitIn(origin, 'commit', '-qam', 'v4: wnorm, gnorm');
  assert.equal((await readableRuns(requireRepoSync(origin))).length, 3); // a reader settles the captures before the push
  remote = join(tempDir('flor-shard-remote-'), 'remote.git');
  gitIn(tempDir(), 'init', '-q', '--bare', '-b', 'main', remote);
  gitIn(origin, 'remote', 'add', 'origin', remote);
  gitIn(origin, 'push', '-q', 'origin', 'main');
  assert.equal((await inProcess(origin, ['push'])).code, 0);
  writer = gitIn(origin, 'config', 'flor.writer');
  shared = tempDir('flor-ckpt-dir-');
  assert.match((await inProcess(origin, ['checkpoints', 'push', shared])).out, /^pushed \d+ checkpoint\(s\)/);
});

/** A clone of the remote, as a shard's machine makes it (`git clone`, `npm ci`). */
function shardClone(): string {
  const dir = join(tempDir('flor-shard-'), 'clone');
  gitIn(tempDir(), 'clone', '-q', remote, dir);
  linkFlor(dir);
  return dir;
}

function startShard(dir: string, index: number) {
  const args = [BIN, 'replay', '--plan', plan.id, '--shard', `${index}/3`, '--workers', '1', '--allow-writer', writer];
  const child = spawn(process.execPath, args, { cwd: dir, env: testEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out })));
  return { child, done };
}

/** A replay child of this clone has begun an outer iteration (its progress file exists). */
function taskRunning(dir: string): boolean {
  const root = join(dir, '.git', 'flor', 'replay');
  if (!existsSync(root)) return false;
  return readdirSync(root).some((d) => d.endsWith('.out') && readdirSync(join(root, d)).some((f) => f.startsWith('progress-')));
}

const tableOf = async (dir: string): Promise<string> => (await inProcess(dir, ['log', ...NAMES])).out;

test('a plan for shards cuts runs only at checkpoints they can fetch: none unless --checkpoints names where', async () => {
  const repo = requireRepoSync(origin);
  // Before any replay (the tests below replay it), and without gnorm, whose inner loop always runs.
  const NAME = ['wnorm'];
  const runs = (await readableRuns(repo)).map((r) => r.id);
  const ranges = (p: StoredPlan) => p.tasks.map((t) => `${t.run}:${t.start}:${t.end}`).sort();
  // Without a directory each run is one task from its start, priced with its inner loops, though
  // this clone holds every checkpoint; so with an empty one. (With `shared`, NAMES are cut: below.)
  const whole = (await planShards(repo, NAME, { shards: 3, startupMs: 0 })).plan;
  assert.deepEqual(ranges(whole), runs.map((r) => `${r}:0:6`).sort());
  assert.deepEqual([...new Set(whole.tasks.map((t) => t.shard))].sort(), [0, 1, 2]);
  const empty = tempDir('flor-ckpt-empty-');
  assert.deepEqual((await planShards(repo, NAME, { shards: 3, startupMs: 0, checkpointsIn: empty })).plan.tasks, whole.tasks);
  // The CLI passes the directory (a file:// URL too) to the planner: the same tasks and estimates
  // (with checkpoints wnorm's inner loops are skipped, so the tasks cost less than without them).
  const cliPlan = async (extra: string[]) => {
    const r = await florIn(origin, ['replay', ...NAME, '--plan', '--shards', '3', '--json', ...extra]);
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as StoredPlan).tasks;
  };
  const withDir = await cliPlan(['--checkpoints', `file://${shared}`]);
  assert.deepEqual(withDir, (await planShards(repo, NAME, { shards: 3, checkpointsIn: shared })).plan.tasks);
  const without = await cliPlan([]);
  assert.deepEqual(without, (await planShards(repo, NAME, { shards: 3 })).plan.tasks);
  const cost = (ts: StoredPlan['tasks']) => ts.reduce((a, t) => a + t.estMs, 0);
  assert.ok(cost(withDir) < cost(without), `${cost(withDir)} < ${cost(without)}`);
  // A directory that is not there, or --checkpoints where no plan is made, is refused.
  const missing = await inProcess(origin, ['replay', ...NAME, '--plan', '--shards', '3', '--checkpoints', join(empty, 'nope')]);
  assert.equal(missing.code, 2);
  assert.match(missing.out, /--checkpoints: no checkpoint directory at .*nope\nhint: push some first/);
  const saved = await inProcess(origin, ['replay', '--plan', whole.id, '--shard', '0/3', '--checkpoints', shared, '--no-fetch']);
  assert.equal(saved.code, 2);
  assert.match(saved.out, /--checkpoints is read when a plan is made; plan [0-9a-f]+ keeps its own cuts/);
  const local = await inProcess(origin, ['replay', ...NAME, '--checkpoints', shared, '--dry-run']);
  assert.equal(local.code, 2);
  assert.match(local.out, /--checkpoints DIR is read when planning for shards/);
});

test('3 shards on 3 clones, pushing at once, one killed mid-task and re-run: the merged log equals a single-machine replay', async () => {
  // Priced at no start-up, these small runs are cut at the checkpoints the shards could fetch, and
  // split between shards. The shards here do not fetch them: a range that starts later runs the
  // iterations before it muted, with the same values.
  const made = await planShards(requireRepoSync(origin), NAMES, { shards: 3, startupMs: 0, checkpointsIn: shared });
  plan = made.plan;
  assert.equal(plan.shards, 3);
  assert.deepEqual(plan.names, NAMES);
  assert.equal(plan.from, gitIn(origin, 'rev-parse', 'HEAD'));
  // The tips read when planning; saving the plan then vouched for it in the planner's own ledger, one commit on top.
  assert.equal(plan.tips[`refs/flor/ledgers/${writer}`], gitIn(origin, 'rev-parse', `refs/flor/ledgers/${writer}^`));
  assert.equal(gitIn(origin, 'rev-parse', `refs/flor/ledgers/${writer}:plans/${plan.id}.msgpack`), gitIn(origin, 'rev-parse', `${plan.commit}:plan.msgpack`));
  const runs = (await readableRuns(requireRepoSync(origin))).map((r) => r.id);
  assert.deepEqual(plan.runs.map((r) => r.run).sort(), runs);
  for (const run of runs) {
    // Each run's tasks cover its six epochs once, in order.
    const ts = plan.tasks.filter((t) => t.run === run).sort((a, b) => a.start - b.start);
    assert.equal(ts[0]!.start, 0);
    for (let i = 1; i < ts.length; i++) assert.equal(ts[i]!.start, ts[i - 1]!.end);
    assert.equal(ts.at(-1)!.end, 6);
    assert.ok(ts.at(-1)!.runToEnd);
  }
  assert.deepEqual([...new Set(plan.tasks.map((t) => t.shard))].sort(), [0, 1, 2]);
  // The victim: a shard that holds part of a run another shard also works on.
  const split = runs.find((r) => new Set(plan.tasks.filter((t) => t.run === r).map((t) => t.shard)).size > 1);
  assert.ok(split, `some run is split between shards: ${JSON.stringify(plan.tasks)}`);
  const victim = plan.tasks.find((t) => t.run === split)!.shard;
  const victimRuns = new Set(plan.tasks.filter((t) => t.shard === victim).map((t) => t.run));
  const push = await inProcess(origin, ['push']);
  assert.match(push.out, new RegExp(`pushed replay plan\\(s\\) [^\\n]*\\b${plan.id}`));

  const clones = [0, 1, 2].map(() => shardClone());
  const shards = clones.map((dir, i) => startShard(dir, i));
  // kill -9 of the victim's CLI once one of its replay children is running a task.
  const v = shards[victim]!;
  const t0 = Date.now();
  while (!taskRunning(clones[victim]!) && Date.now() - t0 < 60_000 && v.child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  assert.ok(taskRunning(clones[victim]!), 'the victim shard started a task');
  v.child.kill('SIGKILL');
  const killed = await v.done;
  assert.equal(killed.signal, 'SIGKILL');
  const others = [0, 1, 2].filter((i) => i !== victim);
  for (const i of others) {
    const r = await shards[i]!.done;
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /replayed wnorm, gnorm/);
  }
  // The survivors push at the same moment, to the same bare remote.
  const pushes = await Promise.all(others.map((i) => run(clones[i]!, ['push'])));
  for (const p of pushes) assert.equal(p.code, 0, p.out);

  // Meanwhile a shard's share never counts as the run done: only runs no task of the victim touches are complete.
  assert.equal((await inProcess(origin, ['fetch'])).code, 0);
  const mid = await replayMissing(requireRepoSync(origin), NAMES, { dryRun: true });
  assert.deepEqual(mid.complete, runs.filter((r) => !victimRuns.has(r)));
  assert.deepEqual(mid.outcomes.map((o) => o.run), runs.filter((r) => victimRuns.has(r)));

  // The victim, retried with the same index on its clone, fetches and does what is not in yet.
  const again = await run(clones[victim]!, ['replay', '--plan', plan.id, '--shard', `${victim}/3`, '--workers', '1', '--allow-writer', writer]);
  assert.equal(again.code, 0, again.out);
  assert.match(again.out, /replayed wnorm, gnorm/);
  assert.equal((await run(clones[victim]!, ['push'])).code, 0);

  // Every task of the plan is in exactly one segment, across the three shards' ledgers.
  assert.equal((await inProcess(origin, ['fetch'])).code, 0);
  const repo = requireRepoSync(origin);
  const covered: string[] = [];
  for (const r of await readableRuns(repo)) {
    for (const s of r.segments) {
      const seg = await readSegment(repo, s.oid);
      if (seg.provenance?.plan === plan.id) for (const [a, b] of seg.provenance.segments) covered.push(`${r.id}:${a}:${b}`);
    }
  }
  assert.deepEqual(covered.sort(), plan.tasks.map((t) => `${t.run}:${t.start}:${t.end}`).sort());

  // A single machine: a clone that has only the recording clone's ledger, replaying everything itself.
  const single = shardClone();
  gitIn(single, 'fetch', '-q', 'origin', `refs/flor/ledgers/${writer}:refs/flor/remotes/origin/ledgers/${writer}`);
  const alone = flor(single, ['replay', ...NAMES, '--allow-writer', writer]);
  assert.equal((alone.stdout.match(/replayed wnorm, gnorm/g) ?? []).length, 3, alone.stdout);
  const expected = await tableOf(single);
  assert.ok(expected.split('\n').length > 3 * 6 * 30, 'one row per step of every run');
  assert.equal(await tableOf(origin), expected);
  // Every shard's clone shows the same after a fetch.
  assert.equal((await inProcess(clones[0]!, ['fetch'])).code, 0);
  assert.equal(await tableOf(clones[0]!), expected);
  // And a later replay on the clone that saved the plan finds nothing to do.
  const later = await florIn(origin, ['replay', ...NAMES]); // in-process: it starts no replay child
  assert.equal(later.status, 0, later.stderr);
  assert.doesNotMatch(later.stdout, /replayed/);
  assert.match(later.stderr + later.stdout, /3 run\(s\) already have wnorm, gnorm/);
});

test('a shard retried on a fresh clone fetches first and does only what is not in the remote', async () => {
  const dir = shardClone();
  const r = await inProcess(dir, ['replay', '--plan', plan.id.slice(0, 6), '--shard', '0/3', '--allow-writer', writer]);
  assert.equal(r.code, 0, r.out);
  assert.doesNotMatch(r.out, /replayed/);
  assert.match(r.out, /already done/);
  // Nothing was written: the clone has no ledger of its own.
  assert.equal(gitIn(dir, 'for-each-ref', 'refs/flor/ledgers/'), '');
});

test('a shard with the recording clone\'s checkpoints fetched restores them instead of running the iterations before its range', async () => {
  const made = await planShards(requireRepoSync(origin), ['avg_loss'], { shards: 3, startupMs: 0, checkpointsIn: shared });
  const late = made.plan.tasks.find((t) => t.start > 0);
  assert.ok(late, `a task starts after iteration 0: ${JSON.stringify(made.plan.tasks)}`);
  assert.equal((await inProcess(origin, ['push'])).code, 0);
  const dir = shardClone();
  const args = ['replay', '--plan', made.plan.id, '--shard', `${late.shard}/3`, '--allow-writer', writer, '--workers', '1'];
  const before = await inProcess(dir, [...args, '--dry-run']);
  assert.equal(before.code, 0, before.out);
  assert.match(before.out, /note: no usable checkpoints/);
  assert.doesNotMatch(before.out, /\[\d+\.\.\d+\)\*/);
  const f = await inProcess(dir, ['checkpoints', 'fetch', shared, '--plan', made.plan.id]);
  assert.match(f.out, /^fetched [1-9]\d* checkpoint\(s\)/);
  const after = await inProcess(dir, [...args, '--dry-run']);
  assert.ok(after.out.includes(`[${late.start}..${late.end})*`), after.out);
  // And the replay from them passes the fidelity check of the statements the runs already had.
  const r = await run(dir, args);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /replayed avg_loss/);
});

test('--shard without a saved plan: every shard that sees the same refs plans the same, under one id, by nobody', async () => {
  const a = await planShards(requireRepoSync(origin), ['avg_loss'], { shards: 2, anonymous: true });
  const b = await planShards(requireRepoSync(origin), ['avg_loss'], { shards: 2, anonymous: true });
  assert.equal(a.plan.id, b.plan.id);
  assert.equal(a.plan.commit, b.plan.commit);
  assert.equal(a.plan.writer, null);
  assert.equal(a.plan.time, null);
  const saved = await planShards(requireRepoSync(origin), ['avg_loss'], { shards: 2 });
  assert.notEqual(saved.plan.id, a.plan.id);
  assert.equal(saved.plan.writer, writer);
  assert.deepEqual(saved.plan.tasks, a.plan.tasks);
});

test('a shard count that is not the plan\'s, or a plan this clone cannot find, fails with a clear message', async () => {
  const dir = shardClone();
  const wrong = await inProcess(dir, ['replay', '--plan', plan.id, '--shard', '0/2']);
  assert.equal(wrong.code, 2);
  assert.match(wrong.out, /plan [0-9a-f]{12} is split into 3 shard\(s\), but this is shard 0 of 2/);
  const none = await inProcess(dir, ['replay', '--plan', 'abcdef', '--shard', '0/3', '--no-fetch']);
  assert.equal(none.code, 2);
  assert.match(none.out, /no replay plan abcdef in this clone/);
});

test('--shard auto reads Kubernetes, Slurm or FLOR_SHARD variables, and refuses missing or inconsistent ones', () => {
  assert.deepEqual(parseShard('2/5', {}), { index: 2, count: 5, source: '--shard 2/5' });
  assert.equal(parseShard('auto', { JOB_COMPLETION_INDEX: '1', FLOR_SHARDS: '3' }).index, 1);
  assert.equal(parseShard('auto', { JOB_COMPLETION_INDEX: '2' }, 3).count, 3);
  assert.deepEqual(parseShard('auto', { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1' }), { index: 3, count: 4, source: 'SLURM_ARRAY_TASK_ID=4 of 4' });
  assert.equal(parseShard('auto', { FLOR_SHARD: '0', FLOR_SHARDS: '2' }).count, 2);
  // Two sources that agree are fine; that disagree are not.
  assert.equal(parseShard('auto', { JOB_COMPLETION_INDEX: '1', FLOR_SHARD: '1', FLOR_SHARDS: '2' }).index, 1);
  assert.throws(() => parseShard('auto', { JOB_COMPLETION_INDEX: '1', FLOR_SHARD: '0', FLOR_SHARDS: '2' }), /two different shards/);
  assert.throws(() => parseShard('auto', { JOB_COMPLETION_INDEX: '1' }), /FLOR_SHARDS/);
  assert.throws(() => parseShard('auto', { SLURM_ARRAY_TASK_ID: '1' }), /SLURM_ARRAY_TASK_COUNT/);
  assert.throws(() => parseShard('auto', {}), /found no shard index/);
  assert.throws(() => parseShard('auto', { FLOR_SHARD: 'x', FLOR_SHARDS: '2' }), /not a whole number/);
  assert.throws(() => parseShard('3/3', {}), /shard 3 does not exist among 3/);
  assert.throws(() => parseShard('1-3', {}), /I\/N/);
});

test('assignment is by estimated cost, balanced, and the same on every machine', () => {
  // Round-robin by index would give shard 0 both long tasks (100 + 90 against 10 + 10).
  const costs = [100, 10, 90, 10];
  const order = ['a', 'b', 'c', 'd'];
  assert.deepEqual(assignShards(costs, 2, order), [0, 1, 1, 0]);
  // Ties go by the task order, not by the input order.
  assert.deepEqual(assignShards([5, 5], 2, ['b', 'a']), [1, 0]);
});

/**
 * The CLI in this process, for the calls that start no replay child (listings, push and fetch, dry
 * runs, refusals): a replay child would get this process's loader flags.
 */
async function inProcess(cwd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  const r = await florIn(cwd, args);
  return { code: r.status, out: r.stdout + r.stderr };
}

/** The built CLI in a process, without blocking the event loop (other shards run meanwhile). */
function run(cwd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: testEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}
