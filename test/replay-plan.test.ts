import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planAlone, planReplay, scheduleMs, type PlanRun, type RunCheckpoints } from '../src/replay/plan.js';
import { trainSource } from '../fixtures/train/source.js';

const LOOPS = [{ name: 'epoch', parent: null, iterations: 6 }, { name: 'step', parent: 'epoch', iterations: 10 }];

function run(id: string, text: string, outerMs = [100, 100, 100, 100, 100, 100]): PlanRun {
  return { id, meta: { script: 'train.mjs', loops: LOOPS, outerMs, checkpointing: ['w', 'opt', 'rng'], status: 'ok' as const }, files: { 'train.mjs': text } };
}
function every(n: number): RunCheckpoints {
  return { iters: Array.from({ length: n }, (_, i) => i), keys: Array.from({ length: n }, (_, i) => `k${i}`) };
}

test('an outer-level statement skips the inner loop; each segment restores the previous end-of-iteration checkpoint', () => {
  const p = planReplay([run('A', trainSource(1, { withNew: true, only: ['wnorm'] }))], ['wnorm'], new Map([['A', every(6)]]), { workers: 2, startupMs: 10 });
  const r = p.runs[0]!;
  assert.deepEqual(r.statements.map((s) => [s.name, s.where]), [['wnorm', 'outer']]);
  assert.deepEqual(r.skipInner, ['step']);
  assert.equal(r.segments[0]!.start, 0);
  assert.equal(r.segments[0]!.restoreFrom, null);
  for (let i = 1; i < r.segments.length; i++) {
    assert.equal(r.segments[i]!.start, r.segments[i - 1]!.end);
    assert.equal(r.segments[i]!.restoreFrom, `k${r.segments[i]!.start - 1}`);
  }
  assert.equal(r.segments.at(-1)!.end, 6);
  assert.equal(r.segments.at(-1)!.runToEnd, true);
  assert.equal(r.segments[0]!.ckptKeys['0'], 'k0');
});

test('a statement inside the inner loop keeps it running', () => {
  const r = planReplay([run('A', trainSource(2, { withNew: true }))], ['gnorm'], new Map([['A', every(6)]]), { workers: 1 }).runs[0]!;
  assert.deepEqual(r.statements.map((s) => [s.name, s.where, s.loop]), [['gnorm', 'inner', 'step']]);
  assert.deepEqual(r.skipInner, []);
  assert.match(r.kept[0]!.reason, /gnorm/);
  assert.equal(r.segments.length, 1); // one worker: cuts would only add process starts
});

test('a statement after the inner loop that reads a variable it assigns keeps it running', () => {
  const r = planReplay([run('A', trainSource(3, { withNew: true }))], ['avg_loss'], new Map([['A', every(6)]]), { workers: 2 }).runs[0]!;
  assert.deepEqual(r.skipInner, []);
  assert.equal(r.kept[0]!.loop, 'step');
  assert.match(r.kept[0]!.reason, /sumLoss/);
});

test('variables that outlive the iteration, calls into local functions and mutations after the loop keep it', () => {
  const base = (inner: string, after: string, pre = '') => `import { flor } from 'git-flor';
${pre}
let gstep = 0;
const opt = { lr: 1 };
flor.checkpointing({ opt });
for (const e of flor.loop('epoch', [1, 2])) {
  for (const s of flor.loop('step', [1, 2])) {
    ${inner}
  }
  ${after}
  flor.log('x', e);
}
flor.log('last', gstep);`;
  const plan = (text: string) => planReplay([run('A', text)], ['x'], new Map([['A', every(6)]]), { workers: 1 }).runs[0]!;
  assert.match(plan(base('gstep++;', '')).kept[0]!.reason, /gstep.*outlives/);
  assert.match(plan(base('bump();', '', 'function bump() { gstep += 1; }')).kept[0]!.reason, /gstep/);
  assert.match(plan(base('', 'opt.lr *= 0.5;')).kept[0]!.reason, /checkpointed `opt`/);
  assert.match(plan(base('', 'decay(opt);', 'function decay(o) { o.lr *= 0.5; }')).kept[0]!.reason, /checkpointed `opt`/);
  assert.deepEqual(plan(base('', 'show(opt);', 'function show(o) { return o.lr; }')).skipInner, ['step']);
  assert.deepEqual(plan(base('const t = s * 2;', 'console.log(opt.lr);')).skipInner, ['step']);
});

/** An outer 'epoch' loop around an inner 'step' loop, with code around them; `opt` is checkpointed, 'x' requested. */
function nested(p: { pre?: string; before?: string; inner: string; after?: string }): string {
  return `import { flor } from 'git-flor';
${p.pre ?? ''}
const opt = { lr: 1 };
flor.checkpointing({ opt });
for (const e of flor.loop('epoch', [1, 2])) {
  ${p.before ?? ''}
  for (const s of flor.loop('step', [1, 2])) {
    ${p.inner}
  }
  ${p.after ?? ''}
  flor.log('x', e);
}`;
}

/** Why the inner loop of `nested(p)` is kept, or 'skipped'. */
function whyKept(p: Parameters<typeof nested>[0]): string {
  const r = planReplay([run('A', nested(p))], ['x'], new Map([['A', every(6)]]), { workers: 1 }).runs[0]!;
  return r.kept[0]?.reason ?? 'skipped';
}

test('assignments are judged by the binding they reach, not by name: a shadow elsewhere does not hide them', () => {
  const pre = 'let total = 0;';
  const readAtStart = "flor.log('t', total);";
  // A block inside the inner loop declares its own `total`; the `total += s` beside it is the outer one.
  assert.equal(whyKept({ pre, before: readAtStart, inner: 'if (s > 1) { let total = 0; total++; }\n    total += s;' }), '`total` is assigned inside and outlives the iteration');
  // A block after the inner loop declares a `total` of its own: the outer one still outlives the iteration.
  assert.equal(whyKept({ pre, before: readAtStart, inner: 'total += s;', after: 'if (e > 5) { const total = 1; }' }), '`total` is assigned inside and outlives the iteration');
  // `var` inside the inner loop belongs to the enclosing function (here the module): read after it, it keeps the loop.
  assert.equal(whyKept({ inner: 'var seen = s;', after: 'console.log(seen);' }), '`seen` is assigned inside and read after it');
  // A function the loop calls that assigns the outer `total`, though a block of it declares one too.
  assert.equal(
    whyKept({ pre: `${pre}\nfunction bump(k) { if (k) { let total = 1; total++; } total += k; }`, before: readAtStart, inner: 'bump(s);' }),
    '`total` is assigned inside and outlives the iteration',
  );
  // Still skipped: names that really are local to the inner loop, or fresh each outer iteration.
  assert.equal(whyKept({ inner: '{ let acc = 0; acc += s; }', after: 'console.log(opt.lr);' }), 'skipped');
  assert.equal(whyKept({ before: 'let part = 0;', inner: 'part += s;', after: 'console.log(opt.lr);' }), 'skipped');
  assert.equal(whyKept({ inner: 'for (let k = 0; k < 2; k++) { const q = k; }' }), 'skipped');
});

test('objects the inner loop changes in place count as written, unless checkpointed', () => {
  const pre = 'const hist = [];\nconst stats = { n: 0 };';
  assert.equal(whyKept({ pre, inner: 'hist.push(s);', after: "flor.log('m', hist.length);" }), '`hist` is changed in place inside and read after it');
  assert.equal(whyKept({ pre, inner: 'stats.n += s;', after: 'console.log(stats.n);' }), '`stats` is changed in place inside and read after it');
  assert.equal(whyKept({ pre: `${pre}\nsetInterval(() => console.log(stats), 1000);`, inner: 'delete stats.n;' }), '`stats` is changed in place inside and outlives the iteration');
  assert.equal(whyKept({ pre, before: 'const local = [];', inner: 'local.push(s);', after: 'console.log(local.length);' }), '`local` is changed in place inside and read after it');
  assert.equal(
    whyKept({ pre: `${pre}\nfunction record(h, v) { h.push(v); }\nprocess.on('exit', () => console.log(hist));`, inner: 'record(hist, s);' }),
    '`hist` is changed in place inside and outlives the iteration',
  );
  assert.equal(whyKept({ pre: `${pre}\nfunction note(v) { stats.n = v; }`, inner: 'note(s);', after: 'console.log(stats);' }), '`stats` is changed in place inside and read after it');
  // Still skipped: the checkpointed object (restored as it was at the end of the iteration), a
  // per-iteration object nobody reads after the loop, globals and imports, objects made inside.
  assert.equal(whyKept({ pre, inner: 'opt.lr *= 0.9;', after: 'console.log(opt.lr);' }), 'skipped');
  assert.equal(whyKept({ pre, before: 'const local = [];', inner: 'local.push(s);' }), 'skipped');
  assert.equal(whyKept({ pre, inner: "console.log(Math.max(s, 1)); flor.log('y', s);", after: 'console.log(Math.PI);' }), 'skipped');
  assert.equal(whyKept({ pre, inner: 'const b = []; b.push(s);', after: 'console.log(opt);' }), 'skipped');
});

test('a requested statement inside a function, or unparsable code, skips nothing', () => {
  const fn = `import { flor } from 'git-flor';
function report(v) { flor.log('x', v); }
for (const e of flor.loop('epoch', [1, 2])) {
  for (const s of flor.loop('step', [1, 2])) { }
  report(e);
}`;
  const r = planReplay([run('A', fn)], ['x'], new Map([['A', every(6)]]), { workers: 1 }).runs[0]!;
  assert.equal(r.statements[0]!.where, 'unknown');
  assert.deepEqual(r.skipInner, []);
  const bad = planReplay([run('B', 'for (const e of flor.loop(')], ['x'], new Map(), { workers: 1 }).runs[0]!;
  assert.deepEqual(bad.skipInner, []);
  assert.match(bad.notes.join('\n'), /does not parse/);
});

test('for await loops are found', () => {
  const r = planReplay([run('A', trainSource(4, { async: true, only: ['wnorm'] }))], ['wnorm'], new Map([['A', every(6)]]), { workers: 1 }).runs[0]!;
  assert.deepEqual(r.skipInner, ['step']);
  assert.equal(r.statements[0]!.where, 'outer');
});

test('no checkpoints: one segment from the start, nothing skipped', () => {
  const r = planReplay([run('A', trainSource(1, { withNew: true }))], ['wnorm'], new Map(), { workers: 4, startupMs: 1 }).runs[0]!;
  assert.equal(r.segments.length, 1);
  assert.deepEqual(r.segments[0]!.skipInner, []);
  assert.equal(r.segments[0]!.restoreFrom, null);
  assert.equal(r.segments[0]!.runToEnd, true);
  assert.equal(r.estMs, 600 + 1);
});

test('segments are cut only at checkpointed iterations, and only when the cut shortens the schedule', () => {
  const outerMs = Array.from({ length: 20 }, () => 1000);
  const ck: RunCheckpoints = { iters: [4, 9, 14, 19], keys: ['a', 'b', 'c', 'd'] };
  const mk = (id: string) => run(id, trainSource(2, { withNew: true }), outerMs);
  const cks = new Map(['A', 'B', 'C'].map((id) => [id, ck]));
  const spans = (p: ReturnType<typeof planReplay>) => p.runs.map((r) => r.segments.map((s) => [s.start, s.end]));
  // two equal runs on two workers: whole runs keep both busy; a cut would only add process starts
  const two = planReplay([mk('A'), mk('B')], ['gnorm'], cks, { workers: 2, startupMs: 100 });
  assert.deepEqual(spans(two), [[[0, 20]], [[0, 20]]]);
  assert.equal(two.estWallMs, 20100);
  // one run on two workers: cut at the checkpoint nearest the middle, the second half restores it
  const one = planReplay([mk('A')], ['gnorm'], cks, { workers: 2, startupMs: 100 });
  assert.deepEqual(spans(one), [[[0, 10], [10, 20]]]);
  assert.deepEqual(one.runs[0]!.segments.map((s) => s.restoreFrom), [null, 'b']);
  assert.equal(one.estWallMs, 10100);
  // three runs on two workers: halves balance (30 s + starts) where whole runs would take 40 s
  const three = planReplay([mk('A'), mk('B'), mk('C')], ['gnorm'], cks, { workers: 2, startupMs: 100 });
  assert.ok(three.estWallMs < 31000, String(three.estWallMs));
  assert.ok(three.tasks > 3);
  for (const r of three.runs) for (const sg of r.segments) assert.ok(sg.start === 0 || ck.iters.includes(sg.start - 1));
  // one worker: never cut
  assert.equal(planReplay([mk('A'), mk('B')], ['gnorm'], cks, { workers: 1 }).tasks, 2);
  assert.equal(scheduleMs([5, 4, 3, 3], 2), 8);
});

test('a run without usable checkpoints is planned alone as among all runs; one with checkpoints is not', () => {
  const outerMs = Array.from({ length: 20 }, () => 1000);
  const ck: RunCheckpoints = { iters: [4, 9, 14, 19], keys: ['a', 'b', 'c', 'd'] };
  const mk = (id: string, status: 'ok' | 'crashed' = 'ok') => {
    const r = run(id, trainSource(2, { withNew: true }), outerMs);
    return { ...r, meta: { ...r.meta, status }, ...(status === 'crashed' ? { reached: { iterations: 7, runToEnd: false, where: 'v at epoch=6' } } : {}) };
  };
  const runs = [mk('A'), mk('B'), mk('C', 'crashed'), mk('D')];
  // D has checkpoints: among all runs its cuts depend on the others' cost, so it has no plan alone.
  const cks = new Map([['B', { iters: [], keys: [] }], ['D', ck]]);
  for (const workers of [1, 2, 3, 8]) {
    const all = planReplay(runs, ['gnorm'], cks, { workers, startupMs: 100 });
    for (const [i, id] of ['A', 'B', 'C'].entries()) {
      assert.deepEqual(planAlone(runs[i]!, ['gnorm'], cks.get(id), { workers, startupMs: 100 }), all.runs[i]!.segments, `${id} on ${workers} worker(s)`);
    }
    assert.equal(planAlone(runs[3]!, ['gnorm'], ck, { workers, startupMs: 100 }), null);
  }
  assert.deepEqual(planAlone(runs[2]!, ['gnorm'], undefined, { workers: 2 })!.map((s) => [s.start, s.end, s.runToEnd]), [[0, 7, false]]);
});

test('the plans of one replay share the code shapes they read: a run planned alone is not read again for the whole plan', () => {
  const shapes: NonNullable<Parameters<typeof planReplay>[3]['shapes']> = new Map();
  const a = run('A', trainSource(2, { withNew: true }));
  const b = run('B', trainSource(3, { withNew: true }));
  const alone = planAlone(a, ['gnorm'], undefined, { workers: 2, shapes })!;
  assert.equal(shapes.size, 1, 'the version planned alone');
  const first = [...shapes.values()][0];
  const all = planReplay([a, b], ['gnorm'], new Map(), { workers: 2, shapes });
  assert.equal(shapes.size, 2, 'one more version, read once');
  assert.equal([...shapes.values()][0], first, 'the first version\'s shape is the one read for its plan alone');
  assert.deepEqual(all.runs[0]!.segments, alone);
  assert.deepEqual(all, planReplay([a, b], ['gnorm'], new Map(), { workers: 2 }), 'the same plan as without the shared shapes');
});

test('an outer loop inside main() is planned like one at top level; aliased checkpointed state is watched', () => {
  const text = `import { flor } from 'git-flor';
async function main() {
  const net = { lr: 1, w: [0] };
  flor.checkpointing({ model: net });
  flor.log('setup', net.lr);
  for (const e of flor.loop('epoch', [1, 2])) {
    for (const s of flor.loop('step', [1, 2])) { net.w[0] += s; }
    AFTER
    flor.log('x', net.w[0]);
  }
  flor.log('final', net.w[0]);
}
main();`;
  const plan = (after: string, names: string[]) =>
    planReplay([{ ...run('A', text.replace('AFTER', after)), meta: { ...run('A', '').meta, checkpointing: ['model'] } }], names, new Map([['A', every(6)]]), { workers: 1 }).runs[0]!;
  const p = plan('', ['x', 'setup', 'final']);
  assert.deepEqual(p.statements.map((s) => [s.name, s.where]), [['setup', 'before'], ['x', 'outer'], ['final', 'after']]);
  assert.deepEqual(p.skipInner, ['step']);
  assert.match(plan('net.lr *= 0.5;', ['x']).kept[0]!.reason, /checkpointed `net`/);
  // only a statement before the loop: the first iteration is enough
  const before = plan('', ['setup']);
  assert.deepEqual(before.segments.map((s) => [s.start, s.end, s.runToEnd]), [[0, 1, false]]);
});

test('a run that did not finish is replayed up to where it stopped, not past its outer loop', () => {
  const crashed = run('A', trainSource(1, { withNew: true, only: ['wnorm'] }), [100, 100, 100]);
  const p = planReplay([{ ...crashed, meta: { ...crashed.meta, status: 'crashed' } }], ['wnorm'], new Map([['A', every(3)]]), { workers: 1 }).runs[0]!;
  assert.deepEqual(p.segments.map((s) => [s.start, s.end, s.runToEnd]), [[0, 3, false]]);
  const ok = planReplay([crashed], ['wnorm'], new Map([['A', every(3)]]), { workers: 1 }).runs[0]!;
  assert.deepEqual(ok.segments.map((s) => [s.start, s.end, s.runToEnd]), [[0, 3, true]]);
});

test('the planner reads what propagation reads: TS decorators and JSX in .js do not make a file unparsed', async () => {
  const { readCodeShape } = await import('../src/replay/code-shape.js');
  const shape = readCodeShape(
    {
      'model.ts': "import { flor } from 'git-flor';\nfunction dec(..._a: unknown[]) {}\nclass A { @dec m() {} }\nfor (const e of flor.loop('epoch', [1])) { flor.log('x', e); }\n",
      'view.js': "import { flor } from 'git-flor';\nconst el = <div />;\nflor.log('y', 2);\n",
    },
    ['x', 'y'],
  );
  assert.deepEqual(shape.unparsed, []);
  assert.deepEqual(shape.logs.map((l) => [l.file, l.name, l.loop?.name ?? null]), [['model.ts', 'x', 'epoch'], ['view.js', 'y', null]]);
});

test('a loop name is skipped only when every flor.loop of that name sits directly in the outer loop', () => {
  const plan = (text: string) => planReplay([run('A', text)], ['x'], new Map([['A', every(6)]]), { workers: 1 }).runs[0]!;
  // The same name again, nested in another inner loop (where the requested statement is).
  const nestedAgain = plan(nested({ inner: 'opt.lr *= 0.9;', after: "for (const p of flor.loop('phase', [0])) { for (const s of flor.loop('step', [1])) flor.log('x', s); }" }));
  assert.deepEqual(nestedAgain.skipInner, []);
  assert.ok(nestedAgain.kept.some((k) => k.loop === 'step' && /another flor\.loop named 'step' \(train\.mjs:\d+\) is not directly in the outer loop/.test(k.reason)), JSON.stringify(nestedAgain.kept));
  // The same name in a function the outer loop calls: at run time it is a direct inner loop too.
  const inFunction = plan(nested({ pre: "function evaluate() { let t = 0; for (const b of flor.loop('step', [1, 2])) t += b; return t; }", inner: 'opt.lr *= 0.9;', after: 'const ev = evaluate(); console.log(ev);' }));
  assert.deepEqual(inFunction.skipInner, []);
  assert.match(inFunction.kept[0]!.reason, /another flor\.loop named 'step'/);
  // A loop whose name is not a literal could be any name at run time.
  const dynamic = plan(nested({ pre: "const nm = 'step';", inner: 'opt.lr *= 0.9;', after: "for (const q of flor.loop(nm, [1])) console.log(q);" }));
  assert.deepEqual(dynamic.skipInner, []);
  assert.ok(dynamic.kept.some((k) => /has no literal name/.test(k.reason)), JSON.stringify(dynamic.kept));
  // Alone, the same inner loop is skipped.
  assert.deepEqual(plan(nested({ inner: 'opt.lr *= 0.9;' })).skipInner, ['step']);
});

test("a recorded run's time in flor.memo calls is not counted in its replay's estimate (the replay gets their results from the record); a re-run pays it", () => {
  const text = trainSource(2, { withNew: true });
  const plain = planReplay([run('A', text)], ['gnorm'], new Map(), { workers: 1, startupMs: 10 }).runs[0]!;
  const memoised: PlanRun = { ...run('A', text), meta: { ...run('A', text).meta, memoMs: [90, 90, 90, 90, 90, 100] } };
  const m = planReplay([memoised], ['gnorm'], new Map(), { workers: 1, startupMs: 10 }).runs[0]!;
  assert.equal(plain.estMs, 10 + 600);
  assert.equal(plain.rerunMs, 10 + 600, 'a re-run pays the same process start');
  assert.equal(m.estMs, 10 + 5 * 10 + 0, 'each iteration costs what was spent outside its memo calls (never below 0)');
  assert.equal(m.rerunMs, plain.rerunMs, 're-running the script makes the calls again');
  // Setup (the run's time outside its iterations) is paid by every task, less its memoised calls.
  const timed = (memoSetupMs?: number): PlanRun => ({ ...run('A', text), meta: { ...run('A', text).meta, start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:00:01.000Z', ...(memoSetupMs ? { memoSetupMs } : {}) } });
  const est = (r: PlanRun) => planReplay([r], ['gnorm'], new Map(), { workers: 1 }).runs[0]!.segments[0]!.startupMs;
  assert.equal(est(timed(300)) + 300, est(timed()), 'the 400 ms of setup, less 300 ms of memoised calls');
  const rerun = (r: PlanRun) => planReplay([r], ['gnorm'], new Map(), { workers: 1 }).runs[0]!.rerunMs;
  assert.equal(rerun(timed(300)), rerun(timed()), 'a re-run makes the setup\'s memoised calls too');
  assert.equal(rerun(timed()), est(timed()) + 600, 'start-up and setup, then every iteration as recorded');
});
