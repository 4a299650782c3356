/**
 * End to end: real repositories, real runs of the fixture training script (fixtures/train), replay
 * through the pool and child processes, values compared with runs that had the statements from the
 * start. Needs the built dist/ (`npx tsc`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, existsSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { trainSource, type Version, type SourceOptions } from '../fixtures/train/source.js';
import { replayMissing, type ReplayReport } from '../src/replay/replay.js';
import { keyed } from './helpers/segments.js';
import { readableRuns, listRunsChecked, readSegment, replayCodePath } from '../src/store/ledger.js';
import { requireRepoSync } from '../src/store/git.js';
import type { Value } from '../src/store/records.js';
import { spawn } from 'node:child_process';
import { makeRepo, runNode, writeFiles, gitIn, flor, fsckClean, fsckAfterGc, cleanup, testEnv, ROOT } from './helpers/repo.js';
import { cli as inProcess } from './helpers/cli.js';

after(cleanup);

const ARGS = ['--epochs', '4', '--steps', '6'];
/** Every outer iteration checkpointed, so segments and skips are exercised on a tiny run. */
const CKPT_ENV = { FLOR_CKPT_SHARE: '1' };

type Values = Map<string, Value>; // `${name}@${ctx}#${occurrence}` -> value

async function valuesOf(dir: string, names: string[]): Promise<Map<string, Values>> {
  const repo = requireRepoSync(dir);
  const out = new Map<string, Values>();
  const { runs, broken } = await listRunsChecked(repo);
  assert.deepEqual(broken, [], 'no run is unreadable');
  for (const run of runs) {
    const m: Values = new Map();
    for (const s of run.segments) {
      const seg = await readSegment(repo, s.oid);
      for (const r of keyed(seg, (n) => names.includes(n))) m.set(`${r.name}@${r.ctx}#${r.occurrence}`, r.value);
    }
    out.set(run.id, m);
  }
  return out;
}

/** The run ids of `dir`, oldest first. */
async function runIds(dir: string): Promise<string[]> {
  return (await readableRuns(requireRepoSync(dir))).map((r) => r.id);
}

/** runNode without blocking, so independent runs overlap (the suite has a time budget). */
function runNodeAsync(cwd: string, script: string, args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd, env: testEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${script} exited ${code}: ${err}`))));
  });
}

/** Values of `names` from running version `v` with today's statements present from the start. */
async function truth(v: Version, names: string[], opts: SourceOptions = {}): Promise<Values> {
  const dir = makeRepo({ files: { 'train.mjs': trainSource(v, { ...opts, withNew: true }) } });
  await runNodeAsync(dir, 'train.mjs', ARGS, CKPT_ENV);
  const all = await valuesOf(dir, names);
  assert.equal(all.size, 1);
  return [...all.values()][0]!;
}

function ok(r: ReplayReport): string[] {
  const bad = r.outcomes.filter((o) => o.status !== 'replayed');
  assert.deepEqual(bad, [], 'every run replayed');
  return r.outcomes.map((o) => o.run);
}

function assertSame(actual: Values, expected: Values, what: string): void {
  assert.ok(expected.size > 0, `${what}: ground truth is empty`);
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: same records`);
  for (const [k, v] of expected) assert.deepEqual(actual.get(k), v, `${what}: ${k}`);
}

// The main history: v1 committed and run; v2 run while dirty (uncommitted on top of v1); v3 committed
// and run; today's v4 in the work tree.
let main = '';
let ids: string[] = [];
const truths = new Map<Version, Values>();

before(async () => {
  const pending = ([1, 2, 3] as Version[]).map(async (v) => truths.set(v, await truth(v, ['wnorm', 'gnorm', 'avg_loss'])));
  main = makeRepo({ files: { 'train.mjs': trainSource(1) } });
  runNode(main, 'train.mjs', ARGS, { env: CKPT_ENV });
  writeFiles(main, { 'train.mjs': trainSource(2) });
  runNode(main, 'train.mjs', ARGS, { env: CKPT_ENV });
  gitIn(main, 'commit', '-qam', 'v2');
  writeFiles(main, { 'train.mjs': trainSource(3) });
  gitIn(main, 'commit', '-qam', 'v3');
  runNode(main, 'train.mjs', ARGS, { env: CKPT_ENV });
  writeFiles(main, { 'train.mjs': trainSource(4) });
  ids = await runIds(main);
  assert.equal(ids.length, 3);
  await Promise.all(pending);
});

function only(values: Values, names: string[]): Values {
  return new Map([...values].filter(([k]) => names.includes(k.slice(0, k.indexOf('@')))));
}

test('dry run: the plan skips the inner loop for an outer-level statement and writes nothing', async () => {
  const r = await inProcess(main, ['replay', 'wnorm', '--dry-run', '--workers', '2']);
  assert.match(r.stdout, /skipped loops: step/);
  assert.match(r.stdout, /3 run\(s\), \d+ task\(s\) on 2 worker\(s\)/);
  const one = await inProcess(main, ['replay', 'wnorm', '--dry-run', '--run', ids[1]!.slice(0, 12)]);
  assert.match(one.stdout, new RegExp(`^run ${ids[1]}: 4 iteration\\(s\\) of 'epoch', 4 checkpoint\\(s\\)`));
  assert.match(one.stdout, /^1 run\(s\)/m);
  const runs = await readableRuns(requireRepoSync(main));
  assert.ok(runs.every((x) => x.segments.length === 1));
});

test('an outer-level statement: replayed values equal a run that had it from the start, for each version', async () => {
  // A child start priced at 0 ms lets the planner cut these tiny runs into several segments; with
  // more workers than runs a cut wins whatever the recorded timings (with 2, near-equal runs tie).
  const r = await replayMissing(requireRepoSync(main), ['wnorm'], { workers: 4, startupMs: 0 });
  assert.deepEqual(r.mismatches, []);
  assert.deepEqual(ok(r), ids);
  for (const p of r.plan.runs) assert.deepEqual(p.skipInner, ['step']);
  assert.ok(r.plan.runs.some((p) => p.segments.length > 1), 'some run was cut into segments');
  const got = await valuesOf(main, ['wnorm']);
  ids.forEach((id, i) => assertSame(got.get(id)!, only(truths.get((i + 1) as Version)!, ['wnorm']), `v${i + 1} wnorm`));
  const dirty = (await readableRuns(requireRepoSync(main)))[1]!;
  assert.equal(dirty.meta.dirty, true);
});

test('an inner-level statement and one after the inner loop reading what it assigns: inner loop runs, values equal', async () => {
  const progress: Array<[number, number, number | null]> = [];
  const r = await replayMissing(requireRepoSync(main), ['gnorm', 'avg_loss'], { workers: 2, startupMs: 0, onProgress: (p) => progress.push([p.done, p.total, p.etaMs]) });
  // Emitted at each task's end, and also while tasks run (the same count again).
  assert.deepEqual([...new Set(progress.map(([d]) => d))], Array.from({ length: r.plan.tasks + 1 }, (_, i) => i));
  assert.ok(progress.every(([, t]) => t === r.plan.tasks));
  assert.equal(progress.at(-1)![2], 0);
  assert.deepEqual(r.mismatches, []);
  assert.deepEqual(ok(r), ids);
  for (const p of r.plan.runs) {
    assert.deepEqual(p.skipInner, []);
    assert.equal(p.kept[0]!.loop, 'step');
  }
  const got = await valuesOf(main, ['gnorm', 'avg_loss']);
  ids.forEach((id, i) => assertSame(got.get(id)!, only(truths.get((i + 1) as Version)!, ['gnorm', 'avg_loss']), `v${i + 1} gnorm+avg_loss`));
  // forward records untouched, replay rows in their own segments with provenance
  const runs = await readableRuns(requireRepoSync(main));
  for (const run of runs) {
    assert.equal(run.segments.length, 3);
    const segs = await Promise.all(run.segments.map((s) => readSegment(requireRepoSync(main), s.oid)));
    assert.equal(segs.filter((s) => s.source === 'forward').length, 1);
    const rep = segs.filter((s) => s.source === 'replay');
    assert.deepEqual(rep.map((s) => s.provenance!.statements.join(',')).sort(), ['gnorm,avg_loss', 'wnorm']);
  }
  fsckAfterGc(main);
  // The propagated code each replay ran is in the ledger beside its segment, so gc kept it.
  const ledger = gitIn(main, 'for-each-ref', '--format=%(refname)', 'refs/flor/ledgers/').trim();
  for (const run of runs) {
    for (const s of run.segments.filter((x) => x.name !== 'forward')) {
      const seg = await readSegment(requireRepoSync(main), s.oid);
      const code = seg.provenance!.code;
      assert.notEqual(code, run.codeTree, 'the replay ran propagated code');
      gitIn(main, 'cat-file', '-e', code);
      assert.equal(gitIn(main, 'rev-parse', `${ledger}:${replayCodePath(run.id, s.name)}`).trim(), code);
      const text = gitIn(main, 'cat-file', 'blob', `${code}:train.mjs`);
      for (const n of seg.provenance!.statements) assert.ok(text.includes(`flor.log('${n}'`), `${n} is in the code the replay ran`);
    }
  }
});

test('re-running replays nothing new; replay leaves no snapshot behind', async () => {
  const r = await replayMissing(requireRepoSync(main), ['wnorm', 'gnorm', 'avg_loss'], { workers: 2 });
  assert.deepEqual(r.outcomes, []);
  assert.deepEqual(r.complete, ids);
  assert.equal(r.plan.tasks, 0);
  const dir = join(main, '.git', 'flor', 'replay');
  assert.deepEqual(existsSync(dir) ? readdirSync(dir) : [], []);
});

test('no checkpoints, a failing task, an async loop: the failing version is reported, the others complete; a retry reuses finished segments', async () => {
  const asyncTruth = truth(3, ['wnorm', 'gnorm'], { async: true });
  const dir = makeRepo({ files: { 'train.mjs': trainSource(1) } });
  runNode(dir, 'train.mjs', ARGS, { env: CKPT_ENV });
  rmSync(join(dir, '.git', 'flor', 'ckpt'), { recursive: true, force: true }); // as on a clone that fetched the run
  writeFiles(dir, { 'train.mjs': trainSource(2, { failOnDemand: true }) });
  gitIn(dir, 'commit', '-qam', 'can fail');
  runNode(dir, 'train.mjs', ARGS, { env: CKPT_ENV });
  writeFiles(dir, { 'train.mjs': trainSource(3, { async: true }) });
  gitIn(dir, 'commit', '-qam', 'async');
  runNode(dir, 'train.mjs', ARGS, { env: CKPT_ENV });
  writeFiles(dir, { 'train.mjs': trainSource(4, { async: true }) });
  const [noCk, fails, async_] = await runIds(dir);
  const FAIL = { FLOR_TEST_FAIL_EPOCH: '2' };

  const dry = await inProcess(dir, ['replay', 'wnorm', '--dry-run']);
  assert.match(dry.stdout, new RegExp(`run ${noCk}: 4 iteration\\(s\\) of 'epoch', 0 checkpoint\\(s\\), 1 segment`));
  assert.match(dry.stdout, /note: no usable checkpoints: replayed from the start in one segment/);

  // The CLI reports the failing version by name, the others complete, exit 1.
  const cli = flor(dir, ['replay', 'wnorm', '--workers', '2'], { allowFail: true, env: FAIL });
  assert.equal(cli.status, 1, cli.stderr);
  assert.match(cli.stdout, new RegExp(`run ${fails}: replay failed: segment \\d+ \\(iterations \\d+\\.\\.\\d+\\) exited with code 1: .*boom in epoch 2`));
  assert.match(cli.stdout, new RegExp(`run ${noCk}: replayed wnorm`));
  const got = await valuesOf(dir, ['wnorm']);
  assertSame(got.get(noCk!)!, only(truths.get(1)!, ['wnorm']), 'no checkpoints');
  assertSame(got.get(async_!)!, only(await asyncTruth, ['wnorm']), 'async loop');
  assert.equal(got.get(fails!)!.size, 0);

  // Only the failed run is tried again; once it passes, the segments that had finished are reused.
  const again = await replayMissing(requireRepoSync(dir), ['wnorm'], { workers: 2, startupMs: 0, env: FAIL });
  assert.deepEqual(again.outcomes.map((o) => [o.run, o.status]), [[fails, 'failed']]);
  assert.deepEqual(again.complete, [noCk, async_]);
  const segments = again.plan.runs[0]!.segments.length;
  assert.ok(segments > 1);
  const fixed = await replayMissing(requireRepoSync(dir), ['wnorm'], { workers: 2, startupMs: 0 });
  const o = fixed.outcomes[0]!;
  assert.equal(o.status, 'replayed');
  assert.equal(o.status === 'replayed' ? o.reusedTasks : -1, segments - 1);
  assertSame((await valuesOf(dir, ['wnorm'])).get(fails!)!, only(truths.get(2)!, ['wnorm']), 'after the retry');

  // `log NAME --replay`: replays what is missing, then shows it; a failure is on stderr, exit 1.
  const log = flor(dir, ['log', 'gnorm', '--replay', '--workers', '2', '--format', 'json'], { allowFail: true, env: FAIL });
  assert.equal(log.status, 1, log.stderr);
  assert.match(log.stderr, /replay failed: .*boom in epoch 2/);
  const rows = JSON.parse(log.stdout) as Array<Record<string, Value>>;
  const fromCli = (run: string): Values => {
    const m: Values = new Map();
    for (const r of rows.filter((x) => x.run === run)) m.set(`gnorm@epoch=${r.epoch}/step=${r.step}#0`, r.gnorm!);
    return m;
  };
  assertSame(fromCli(noCk!), only(truths.get(1)!, ['gnorm']), 'log --replay, no checkpoints');
  assertSame(fromCli(async_!), only(await asyncTruth, ['gnorm']), 'log --replay, async loop');
});

test('a TypeScript script started with a loader is replayed with the same execArgv', async () => {
  const dir = makeRepo({ files: { 'src/train.mts': trainSource(1) } });
  symlinkSync(join(ROOT, 'node_modules', 'tsx'), join(dir, 'node_modules', 'tsx'), 'dir');
  runNode(join(dir, 'src'), 'train.mts', ARGS, { env: CKPT_ENV, execArgv: ['--import', 'tsx'] });
  writeFiles(dir, { 'src/train.mts': trainSource(4) });
  const [id] = await runIds(dir);
  const run = (await readableRuns(requireRepoSync(dir)))[0]!;
  assert.deepEqual(run.meta.execArgv, ['--import', 'tsx']);
  assert.equal(run.meta.cwd, 'src');
  const r = await replayMissing(requireRepoSync(dir), ['wnorm'], { workers: 1 });
  assert.deepEqual(ok(r), [id]);
  assertSame((await valuesOf(dir, ['wnorm'])).get(id!)!, only(truths.get(1)!, ['wnorm']), 'tsx');
});

test('a version that cannot take the statement is reported by name; a fidelity mismatch is reported and not written', async () => {
  const script = (body: string) => `import { flor } from 'git-flor';
const base = flor.arg('base', 10);
${body}
for (const e of flor.loop('epoch', [0, 1, 2])) {
  const noise = e === 1 ? Math.random() : e;
  flor.log('noise', noise);
}
`;
  const dir = makeRepo({ files: { 'run.mjs': script('const scale = 2;') } });
  runNode(dir, 'run.mjs', ['--base', '5'], { env: CKPT_ENV });
  writeFiles(dir, { 'run.mjs': script('const other = 2;') });
  gitIn(dir, 'commit', '-qam', 'no scale');
  runNode(dir, 'run.mjs', [], { env: CKPT_ENV });
  // today: logs x, which needs `scale`, a name the second version does not have
  writeFiles(dir, { 'run.mjs': script('const scale = 2;').replace("  flor.log('noise', noise);", "  flor.log('noise', noise);\n  flor.log('x', e * scale + base);") });
  const [withScale, without] = await runIds(dir);

  const r = flor(dir, ['replay', 'x'], { allowFail: true });
  assert.equal(r.status, 1);
  assert.match(r.stdout, new RegExp(`run ${without}: cannot take x: x: run\\.mjs:\\d+: .*scale`));
  assert.match(r.stdout, new RegExp(`run ${withScale}: NOT written: 1 replayed value\\(s\\) differ`));
  assert.match(r.stdout, new RegExp(`mismatch run ${withScale} noise at epoch=1: recorded 0\\.\\d+, replayed 0\\.\\d+`));
  assert.equal((await valuesOf(dir, ['x'])).get(withScale!)!.size, 0);

  // a child that dies (here: killed at its time limit) fails its task with a report
  const killed = await replayMissing(requireRepoSync(dir), ['x'], { timeoutMs: 1, workers: 1 });
  const k = killed.outcomes.find((o) => o.run === withScale)!;
  assert.equal(k.status, 'failed');
  assert.match(k.status === 'failed' ? k.reason : '', /^segment 0 \(iterations 0\.\.2\) killed by SIGKILL/);

  const accepted = await replayMissing(requireRepoSync(dir), ['x'], { acceptMismatch: true, workers: 1 });
  assert.equal(accepted.mismatches.length, 1);
  assert.deepEqual(accepted.outcomes.map((o) => [o.run, o.status]), [[withScale, 'replayed'], [without, 'not-propagated']]);
  const x = (await valuesOf(dir, ['x'])).get(withScale!)!;
  assert.deepEqual([...x.values()], [5, 7, 9]); // the run's args (--base 5), not today's default
});

test('a `git gc --prune=now` while the tasks run: the segment is written with its provenance intact', async () => {
  // During replay the script waits until the replay has written the propagated copy of itself (its
  // provenance, referenced by nothing yet), then prunes every unreferenced object.
  const script = (today: boolean) => `import { flor } from 'git-flor';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
for (const e of flor.loop('epoch', [0, 1, 2])) {
  flor.log('v', e * 2);${today ? "\n  flor.log('w', e * 3);" : ''}
}
const top = process.env.FLOR_TEST_REPO;
if (process.env.FLOR_REPLAY && top) {
  const self = readFileSync(new URL(import.meta.url), 'utf8');
  const oid = execFileSync('git', ['hash-object', '--stdin'], { cwd: top, input: self }).toString().trim();
  const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  for (let i = 0; i < 250; i++) {
    try {
      execFileSync('git', ['cat-file', '-e', oid], { cwd: top, stdio: 'ignore' });
      break;
    } catch {
      nap(20);
    }
  }
  nap(200); // the tree follows its blob within milliseconds
  execFileSync('git', ['gc', '-q', '--prune=now'], { cwd: top });
  let kept = true;
  try {
    execFileSync('git', ['cat-file', '-e', oid], { cwd: top, stdio: 'ignore' });
  } catch {
    kept = false;
  }
  if (kept) throw new Error('gc kept the propagated blob: this test did not prune anything');
}
`;
  const dir = makeRepo({ files: { 'run.mjs': script(false) } });
  runNode(dir, 'run.mjs', [], { env: CKPT_ENV });
  writeFiles(dir, { 'run.mjs': script(true) });
  const [id] = await runIds(dir);
  const r = await replayMissing(requireRepoSync(dir), ['w'], { workers: 1, env: { FLOR_TEST_REPO: dir } });
  assert.deepEqual(ok(r), [id]);
  assert.deepEqual([...(await valuesOf(dir, ['w'])).get(id!)!.values()], [0, 3, 6]);
  fsckClean(dir);
  const run = (await readableRuns(requireRepoSync(dir)))[0]!;
  const seg = await readSegment(requireRepoSync(dir), run.segments.find((s) => s.name !== 'forward')!.oid);
  assert.ok(gitIn(dir, 'cat-file', 'blob', `${seg.provenance!.code}:run.mjs`).includes("flor.log('w'"));
});

test('a name today\'s code does not log is an error with a hint', async () => {
  const r = await inProcess(main, ['replay', 'nope'], true);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /today's code does not log 'nope'/);
  assert.match(r.stderr, /hint: add flor\.log\('nope'/);
});

