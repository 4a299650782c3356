import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planReplay, scheduleMs, type PlanRun, type RunCheckpoints } from '../src/replay/plan.js';
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

test('assignments are judged by the binding they reach, not by name: a shadow elsewhere does not hide them', () => {
  const base = (inner: string, after: string, before = '') => `import { flor } from 'git-flor';
let total = 0;
const opt = { lr: 1 };
flor.checkpointing({ opt });
for (const e of flor.loop('epoch', [1, 2])) {
  ${before}
  for (const s of flor.loop('step', [1, 2])) {
    ${inner}
  }
  ${after}
  flor.log('x', e);
}`;
  const plan = (text: string) => planReplay([run('A', text)], ['x'], new Map([['A', every(6)]]), { workers: 1 }).runs[0]!;
  // A block inside the inner loop declares its own \`total\`; the \`total += s\` beside it is the outer one.
  const shadowInside = plan(base('if (s > 1) { let total = 0; total++; }\n    total += s;', '', 'flor.log(\'t\', total);'));
  assert.deepEqual(shadowInside.skipInner, []);
  assert.match(shadowInside.kept[0]!.reason, /`total` is assigned inside and outlives the iteration/);
  // A block after the inner loop declares a \`total\` of its own: the outer one still outlives the iteration.
  const shadowAfter = plan(base('total += s;', 'if (e > 5) { const total = 1; }', 'flor.log(\'t\', total);'));
  assert.deepEqual(shadowAfter.skipInner, []);
  assert.match(shadowAfter.kept[0]!.reason, /`total` is assigned inside and outlives the iteration/);
  // \`var\` inside the inner loop belongs to the enclosing function (here the module): read after it, it keeps the loop.
  const hoisted = plan(base('var seen = s;', 'console.log(seen);'));
  assert.deepEqual(hoisted.skipInner, []);
  assert.match(hoisted.kept[0]!.reason, /`seen` is assigned inside and read after it/);
  // A function the loop calls that assigns the outer \`total\`, though a block of it declares one too.
  const viaCall = plan(base('bump(s);', '', 'flor.log(\'t\', total);').replace('let total = 0;', 'let total = 0;\nfunction bump(k) { if (k) { let total = 1; total++; } total += k; }'));
  assert.deepEqual(viaCall.skipInner, []);
  assert.match(viaCall.kept[0]!.reason, /`total`/);
  // Still skipped: names that really are local to the inner loop, or fresh each outer iteration.
  assert.deepEqual(plan(base('{ let acc = 0; acc += s; }', 'console.log(opt.lr);')).skipInner, ['step']);
  assert.deepEqual(plan(base('part += s;', 'console.log(opt.lr);', 'let part = 0;')).skipInner, ['step']);
  assert.deepEqual(plan(base('for (let k = 0; k < 2; k++) { const q = k; }', '')).skipInner, ['step']);
});

test('objects the inner loop changes in place count as written, unless checkpointed', () => {
  const base = (inner: string, after: string, before = '', pre = '') => `import { flor } from 'git-flor';
const hist = [];
const stats = { n: 0 };
const opt = { lr: 1 };
${pre}
flor.checkpointing({ opt });
for (const e of flor.loop('epoch', [1, 2])) {
  ${before}
  for (const s of flor.loop('step', [1, 2])) {
    ${inner}
  }
  ${after}
  flor.log('x', e);
}`;
  const plan = (text: string) => planReplay([run('A', text)], ['x'], new Map([['A', every(6)]]), { workers: 1 }).runs[0]!;
  const why = (text: string) => plan(text).kept[0]?.reason ?? 'skipped';
  assert.equal(why(base('hist.push(s);', 'flor.log(\'m\', hist.length);')), '`hist` is changed in place inside and read after it');
  assert.equal(why(base('stats.n += s;', 'console.log(stats.n);')), '`stats` is changed in place inside and read after it');
  assert.equal(why(base('delete stats.n;', '', '', 'setInterval(() => console.log(stats), 1000);')), '`stats` is changed in place inside and outlives the iteration');
  assert.equal(why(base('local.push(s);', 'console.log(local.length);', 'const local = [];')), '`local` is changed in place inside and read after it');
  assert.equal(why(base('record(hist, s);', '', '', 'function record(h, v) { h.push(v); }\nprocess.on(\'exit\', () => console.log(hist));')), '`hist` is changed in place inside and outlives the iteration');
  assert.equal(why(base('note(s);', 'console.log(stats);', '', 'function note(v) { stats.n = v; }')), '`stats` is changed in place inside and read after it');
  // Still skipped: the checkpointed object (restored as it was at the end of the iteration), a
  // per-iteration object nobody reads after the loop, globals and imports, objects made inside.
  assert.equal(why(base('opt.lr *= 0.9;', 'console.log(opt.lr);')), 'skipped');
  assert.equal(why(base('local.push(s);', '', 'const local = [];')), 'skipped');
  assert.equal(why(base('console.log(Math.max(s, 1)); flor.log(\'y\', s);', 'console.log(Math.PI);')), 'skipped');
  assert.equal(why(base('const b = []; b.push(s);', 'console.log(opt);')), 'skipped');
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
