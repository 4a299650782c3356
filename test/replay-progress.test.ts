/**
 * Replay's estimate and progress: the estimate counts the recorded iteration times and each task's
 * start-up (the script's own setup, recorded by the run), and progress is reported while a task
 * runs, not only between tasks. Real repository, real run and replay child; needs the built dist/.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { replayMissing, type ReplayProgress } from '../src/replay/replay.js';
import { describeProgress } from '../src/replay/describe.js';
import { tracker } from '../src/replay/progress.js';
import { emptyColumns } from '../src/store/records.js';
import { planAlone, planReplay, type PlanRun } from '../src/replay/plan.js';
import { requireRepoSync } from '../src/store/git.js';
import { makeRepo, runNode, writeFiles, cleanup } from './helpers/repo.js';

after(cleanup);

// The setup before the loop (loading data, say) costs SETUP_MS, each epoch 150 ms.
const script = (today: string) => `import { flor } from 'git-flor';
const spin = (ms) => { const t = Date.now(); while (Date.now() - t < ms); };
const n = flor.arg('n', 4);
spin(Number(process.env.SETUP_MS ?? 0));
let w = 0;
for (const e of flor.loop('epoch', Array.from({ length: n }, (_, i) => i))) {
  spin(150);
  w += e;
  flor.log('v', w);${today}
}
`;

test('the estimate counts the script\'s setup in every task, and progress comes from inside the running task', async () => {
  const dir = makeRepo({ files: { 'train.mjs': script('') } });
  runNode(dir, 'train.mjs', [], { env: { SETUP_MS: '600' } });
  writeFiles(dir, { 'train.mjs': script("\n  flor.log('w2', w * 2);") });
  const events: Array<ReplayProgress & { at: number }> = [];
  const t0 = Date.now();
  const r = await replayMissing(requireRepoSync(dir), ['w2'], {
    workers: 1, env: { SETUP_MS: '600' }, onProgress: (p) => events.push({ ...p, at: Date.now() - t0 }),
  });
  assert.deepEqual(r.outcomes.map((o) => o.status), ['replayed']);
  const [seg] = r.plan.runs[0]!.segments;
  assert.ok(seg!.startupMs >= 600, `the recorded setup is part of the task's start-up: ${seg!.startupMs}`);
  assert.ok(r.plan.estWallMs >= 600 + 4 * 150, `the plan prices setup and iterations: ${r.plan.estWallMs}`);
  assert.ok(events[0]!.etaMs! >= 1200, `the first ETA covers setup and iterations: ${events[0]!.etaMs}`);

  // One task: before the fix progress came only when it ended. Now the child reports its epoch.
  const inside = events.filter((e) => e.done === 0 && e.iterations.done > 0);
  assert.ok(inside.length >= 1, `progress inside the task: ${JSON.stringify(events.map((e) => [e.done, e.iterations.done, e.etaMs]))}`);
  assert.ok(inside.every((e) => e.iterations.total === 4 && e.iterations.done <= 4 && e.etaMs! > 0));
  const its = inside.map((e) => e.iterations.done);
  assert.deepEqual(its, [...its].sort((a, b) => a - b), 'iterations only go forward');
  assert.match(describeProgress(inside[0]!), /^replay: 0\/1 task\(s\), [1-4]\/4 iteration\(s\), ETA /);
  const last = events.at(-1)!;
  assert.deepEqual([last.done, last.total, last.etaMs, last.iterations], [1, 1, 0, { done: 4, total: 4 }]);
});

test('tasks that start before the plan is made are counted once it is', () => {
  const text = "import { flor } from 'git-flor';\nfor (const e of flor.loop('epoch', [0, 1])) flor.log('v', e);\n";
  const run = (id: string): PlanRun => ({ id, meta: { script: 'a.mjs', loops: [{ name: 'epoch', parent: null, iterations: 2 }], outerMs: [100, 100], checkpointing: [], status: 'ok' }, files: { 'a.mjs': text } });
  const events: ReplayProgress[] = [];
  const t = tracker((p) => events.push(p));
  // Run A has no checkpoints: its task starts (and here ends) while run B is still prepared.
  const [a] = planAlone(run('A'), ['v'], undefined, { workers: 2, startupMs: 10 })!;
  t.started(a!, '/nonexistent/progress-a');
  t.finished(a!, { ok: true, run: 'A', segment: 0, records: emptyColumns(), ms: 5, reused: false });
  assert.equal(events.length, 0, 'nothing is said before the plan: the totals are not known');
  const plan = planReplay([run('A'), run('B')], ['v'], new Map(), { workers: 2, startupMs: 10 });
  plan.runs[0] = { ...plan.runs[0]!, segments: [a!] };
  t.planned(plan);
  assert.deepEqual(events.map((e) => [e.done, e.total, e.iterations]), [[1, 2, { done: 2, total: 4 }]]);
  t.finished(plan.runs[1]!.segments[0]!, { ok: false, run: 'B', segment: 0, error: 'x', exitCode: 1, signal: null, stderrTail: '', ms: 1 });
  assert.deepEqual(events.map((e) => [e.done, e.total, e.failed, e.etaMs]).at(-1), [2, 2, 1, 0]);
  t.stop();
});
