/**
 * Record mode end to end: real repositories, real user scripts importing 'git-flor' (the built
 * dist/, so run `npx tsc` first), results read back through the ledger as `git flor` reads them.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { readableRuns, readSegment, type RunEntry } from '../src/store/ledger.js';
import { recoverOrphans } from '../src/store/capture.js';
import { requireRepoSync } from '../src/store/git.js';
import { KIND_NUMBER, type Value } from '../src/store/records.js';
import { makeRepo, runNode, startNode, tempDir, linkFlor, writeFiles, fsckClean, cleanup, gitIn } from './helpers/repo.js';

after(cleanup);

interface Row {
  name: string;
  ctx: string; // "epoch=0/step=2", '' at top level
  value: Value;
}

async function runsOf(dir: string): Promise<Array<{ run: RunEntry; rows: Row[] }>> {
  const repo = requireRepoSync(dir);
  const out: Array<{ run: RunEntry; rows: Row[] }> = [];
  for (const run of await readableRuns(repo)) {
    const fwd = run.segments.find((s) => s.name === 'forward');
    assert.ok(fwd, `run ${run.id} has a forward segment`);
    const c = await readSegment(repo, fwd.oid);
    const rows: Row[] = [];
    let o = 0;
    for (let i = 0; i < c.name.length; i++) {
      const parts: string[] = [];
      for (let f = c.frame[i]!; f >= 0; f = c.frames.parent[f]!) parts.unshift(`${c.loops[c.frames.loop[f]!]}=${c.frames.iter[f]}`);
      const value = c.kind[i] === KIND_NUMBER ? c.num[i]! : c.other[o++]!;
      rows.push({ name: c.names[c.name[i]!]!, ctx: parts.join('/'), value });
    }
    out.push({ run, rows });
  }
  return out;
}

async function onlyRun(dir: string): Promise<{ run: RunEntry; rows: Row[] }> {
  const all = await runsOf(dir);
  assert.equal(all.length, 1, 'exactly one run captured');
  return all[0]!;
}

function journals(dir: string): string[] {
  const d = join(dir, '.git', 'flor', 'journal');
  return existsSync(d) ? readdirSync(d).filter((n) => n.endsWith('.jrnl')) : [];
}

function waitFor(child: ChildProcess, text: string, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${JSON.stringify(text)}; got ${JSON.stringify(seen)}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(text)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
}

const LOOPS = `import { flor } from 'git-flor';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function* ticks(n) { for (let i = 0; i < n; i++) { await sleep(1); yield i; } }
flor.log('before', 'top');
if (flor.arg('async', false)) {
  for await (const e of flor.loop('epoch', ticks(2))) {
    for await (const s of flor.loop('step', ticks(3))) {
      for (const k of flor.loop('sub', ['p', 'q'])) flor.log('x', e * 100 + s * 10 + (k === 'p' ? 0 : 1));
    }
    flor.log('e', e);
  }
} else {
  for (const e of flor.loop('epoch', [0, 1])) {
    for (const s of flor.loop('step', new Set([0, 1, 2]))) {
      for (const k of flor.loop('sub', 'pq')) flor.log('x', e * 100 + s * 10 + (k === 'p' ? 0 : 1));
    }
    flor.log('e', e);
  }
}
flor.log('after', 'top');
`;

function expectedLoopRows(): Row[] {
  const rows: Row[] = [{ name: 'before', ctx: '', value: 'top' }];
  for (let e = 0; e < 2; e++) {
    for (let s = 0; s < 3; s++) for (let k = 0; k < 2; k++) rows.push({ name: 'x', ctx: `epoch=${e}/step=${s}/sub=${k}`, value: e * 100 + s * 10 + k });
    rows.push({ name: 'e', ctx: `epoch=${e}`, value: e });
  }
  rows.push({ name: 'after', ctx: '', value: 'top' });
  return rows;
}

test('nested sync and async loops give every record its loop context', async () => {
  const dir = makeRepo({ files: { 'train.mjs': LOOPS } });
  runNode(dir, 'train.mjs');
  runNode(dir, 'train.mjs', ['--async']);
  const runs = await runsOf(dir);
  assert.equal(runs.length, 2);
  for (const { run, rows } of runs) {
    assert.deepEqual(rows, expectedLoopRows(), `run with argv ${run.meta.argv.join(' ')}`);
    assert.equal(run.meta.status, 'ok');
    assert.equal(run.meta.exitCode, 0);
    assert.deepEqual(run.meta.loops, [
      { name: 'epoch', parent: null, iterations: 2 },
      { name: 'step', parent: 'epoch', iterations: 3 },
      { name: 'sub', parent: 'step', iterations: 2 },
    ]);
    assert.equal(run.meta.outerMs.length, 2);
    assert.ok(run.meta.outerMs.every((ms) => typeof ms === 'number' && ms >= 0));
  }
  assert.deepEqual(runs.map((r) => r.run.meta.args), [{ async: false }, { async: true }]);
  assert.deepEqual(journals(dir), [], 'journals are gone once captured');
  fsckClean(dir);
});

test('metadata: script, argv, args, commit, branch, dirty, code tree', async () => {
  const dir = makeRepo({
    files: {
      'src/train.mjs': `import { flor } from 'git-flor';
const lr = flor.arg('lr', 0.1);
const layers = flor.arg('layers', [8]);
const opt = flor.arg('opt', 'sgd');
flor.log('lr', lr);
console.log(JSON.stringify([lr, layers, opt]));
`,
    },
  });
  const head = gitIn(dir, 'rev-parse', 'HEAD');
  const r = runNode(join(dir, 'src'), 'train.mjs', ['--lr=0.5', '--layers', '[4,2]', 'positional']);
  assert.deepEqual(JSON.parse(r.stdout), [0.5, [4, 2], 'sgd']);
  writeFiles(dir, { 'notes.txt': 'an untracked file makes the code dirty\n' });
  runNode(dir, 'src/train.mjs');
  const [clean, dirty] = await runsOf(dir);
  assert.ok(clean && dirty);
  assert.equal(clean.run.meta.script, 'src/train.mjs');
  assert.equal(clean.run.meta.cwd, 'src');
  assert.deepEqual(clean.run.meta.argv, ['--lr=0.5', '--layers', '[4,2]', 'positional']);
  assert.deepEqual(clean.run.meta.args, { lr: 0.5, layers: [4, 2], opt: 'sgd' });
  assert.equal(clean.run.meta.commit, head);
  assert.equal(clean.run.meta.branch, 'main');
  assert.equal(clean.run.meta.dirty, false);
  assert.equal(clean.run.codeTree, gitIn(dir, 'rev-parse', 'HEAD^{tree}'));
  assert.equal(clean.run.meta.node, process.version);
  assert.equal(dirty.run.meta.dirty, true);
  assert.equal(dirty.run.meta.cwd, '');
  assert.ok(gitIn(dir, 'ls-tree', '-r', '--name-only', dirty.run.codeTree).split('\n').includes('notes.txt'));
  assert.ok(dirty.run.id > clean.run.id, 'run ids sort by time');
});

test('values keep their types through the ledger; later mutation does not change a record', async () => {
  const dir = makeRepo({
    files: {
      'types.mjs': `import { flor } from 'git-flor';
const same = flor.log('num', 1.5);
if (same !== 1.5) throw new Error('log must return its value');
flor.log('int', -7);
flor.log('nan', NaN);
flor.log('str', 'héllo');
flor.log('yes', true);
flor.log('no', false);
flor.log('nil', null);
flor.log('arr', [1, 'a', [2, null]]);
flor.log('obj', { a: 1, b: { c: [true, 'x'] } });
flor.log('f32', new Float32Array([1.5, -2.25]));
flor.log('i32', new Int32Array([3, -4]));
flor.log('u8', new Uint8Array([0, 255]));
const m = [1];
const t = new Float64Array([1, 2]);
flor.log('mutable', { m, t });
m.push(2);
t[0] = 99;
`,
    },
  });
  runNode(dir, 'types.mjs');
  const { rows } = await onlyRun(dir);
  const v = new Map(rows.map((r) => [r.name, r.value]));
  assert.equal(v.get('num'), 1.5);
  assert.equal(v.get('int'), -7);
  assert.ok(Number.isNaN(v.get('nan') as number));
  assert.equal(v.get('str'), 'héllo');
  assert.equal(v.get('yes'), true);
  assert.equal(v.get('no'), false);
  assert.equal(v.get('nil'), null);
  assert.deepEqual(v.get('arr'), [1, 'a', [2, null]]);
  assert.deepEqual(v.get('obj'), { a: 1, b: { c: [true, 'x'] } });
  assert.deepEqual(v.get('f32'), new Float32Array([1.5, -2.25]));
  assert.deepEqual(v.get('i32'), new Int32Array([3, -4]));
  assert.deepEqual(v.get('u8'), new Uint8Array([0, 255]));
  assert.deepEqual(v.get('mutable'), { m: [1], t: new Float64Array([1, 2]) });
});

test('six runs started at once in one repository are all captured', async () => {
  const dir = makeRepo({
    files: {
      'par.mjs': `import { flor } from 'git-flor';
const k = flor.arg('k', 0);
for (const i of flor.loop('i', [0, 1, 2, 3, 4])) flor.log('v', k * 10 + i);
`,
    },
  });
  const kids = Array.from({ length: 6 }, (_, k) => startNode(dir, 'par.mjs', ['--k', String(k)]));
  const ends = await Promise.all(kids.map(exited));
  for (const e of ends) assert.equal(e.code, 0, e.stderr);
  const runs = await runsOf(dir);
  assert.equal(runs.length, 6);
  assert.equal(new Set(runs.map((r) => r.run.id)).size, 6);
  const byK = runs.map((r) => r.run.meta.args.k as number).sort();
  assert.deepEqual(byK, [0, 1, 2, 3, 4, 5]);
  for (const { run, rows } of runs) {
    const k = run.meta.args.k as number;
    assert.deepEqual(rows.map((r) => r.value), [0, 1, 2, 3, 4].map((i) => k * 10 + i));
  }
  assert.deepEqual(journals(dir), []);
  fsckClean(dir);
});

test('a run killed with SIGKILL mid-loop is captured as crashed with its records, by the capturer waiting since its start', async () => {
  const dir = makeRepo({
    files: {
      'crash.mjs': `import { flor } from 'git-flor';
function* forever() { for (let i = 0; ; i++) yield i; }
for (const i of flor.loop('step', forever())) {
  flor.log('i', i);
  if (i === 300) console.log('ready');
  const t = performance.now();
  while (performance.now() - t < 0.2);
}
`,
    },
  });
  const child = startNode(dir, 'crash.mjs');
  const done = exited(child);
  await waitFor(child, 'ready');
  await new Promise((r) => setTimeout(r, 400));
  child.kill('SIGKILL');
  const e = await done;
  assert.equal(e.signal, 'SIGKILL');
  // The capturer that waited from the run's start captures it now, with no reader: as crashed.
  for (let i = 0; i < 6000 && journals(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(journals(dir), [], 'captured without a reader');
  const { run, rows } = await onlyRun(dir);
  assert.equal(run.meta.status, 'crashed');
  assert.ok(rows.length > 300, `records up to the last ~100 ms are kept (got ${rows.length})`);
  rows.forEach((r, i) => assert.deepEqual(r, { name: 'i', ctx: `step=${i}`, value: i }));
  assert.deepEqual(journals(dir), []);
  assert.equal(gitIn(dir, 'for-each-ref', 'refs/flor/tmp/'), '', 'recovery dropped the pin');
});

test('an uncaught exception ends the run as failed, keeping the error and the records', async () => {
  const dir = makeRepo({
    files: {
      'fail.mjs': `import { flor } from 'git-flor';
for (const i of flor.loop('step', [0, 1, 2])) {
  flor.log('i', i);
  if (i === 1) throw new RangeError('diverged at step 1');
}
`,
    },
  });
  const r = runNode(dir, 'fail.mjs', [], { allowFail: true });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /diverged at step 1/, 'the user still sees their error');
  const { run, rows } = await onlyRun(dir);
  assert.equal(run.meta.status, 'failed');
  assert.equal(run.meta.exitCode, 1);
  assert.equal(run.meta.error, 'RangeError: diverged at step 1');
  assert.deepEqual(rows.map((x) => x.value), [0, 1]);
});

const TICKER = `import { flor } from 'git-flor';
if (process.argv.includes('--own-handler')) process.on('SIGINT', () => { console.log('own handler'); process.exit(3); });
async function* ticks() { for (let i = 0; ; i++) { await new Promise((r) => setTimeout(r, 10)); yield i; } }
for await (const i of flor.loop('tick', ticks())) {
  flor.log('i', i);
  if (i === 3) console.log('ready');
}
`;

test('SIGINT ends the run as interrupted and the process still dies of it', async () => {
  const dir = makeRepo({ files: { 'tick.mjs': TICKER } });
  const child = startNode(dir, 'tick.mjs');
  const done = exited(child);
  await waitFor(child, 'ready');
  child.kill('SIGINT');
  const e = await done;
  assert.equal(e.signal, 'SIGINT', e.stderr);
  const { run, rows } = await onlyRun(dir);
  assert.equal(run.meta.status, 'interrupted');
  assert.equal(run.meta.exitCode, 130);
  assert.ok(rows.length >= 4);
  rows.forEach((r, i) => assert.equal(r.value, i));
});

test("SIGINT with the user's own handler: their handler decides, the run is interrupted", async () => {
  const dir = makeRepo({ files: { 'tick.mjs': TICKER } });
  const child = startNode(dir, 'tick.mjs', ['--own-handler']);
  const done = exited(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(child, 'ready');
  child.kill('SIGINT');
  const e = await done;
  assert.equal(e.code, 3, e.stderr);
  assert.match(out, /own handler/);
  const { run } = await onlyRun(dir);
  assert.equal(run.meta.status, 'interrupted');
  assert.equal(run.meta.exitCode, 3);
});

test('Ctrl-C still kills a long synchronous loop at once (the journal is recovered as crashed)', async () => {
  const dir = makeRepo({
    files: {
      'busy.mjs': `import { flor } from 'git-flor';
let t0 = 0;
let said = false;
function* forever() { for (let i = 0; ; i++) yield i; }
for (const i of flor.loop('step', forever())) {
  // From the first iteration: the session starts (and may take long on a loaded machine) before it.
  if (i === 0) t0 = performance.now();
  flor.log('i', i);
  if (!said && performance.now() - t0 > 1500) { console.log('ready'); said = true; }
  const t = performance.now();
  while (performance.now() - t < 0.5);
}
`,
    },
  });
  const child = startNode(dir, 'busy.mjs');
  const done = exited(child);
  await waitFor(child, 'ready');
  const sent = Date.now();
  child.kill('SIGINT');
  const e = await done;
  assert.equal(e.signal, 'SIGINT');
  assert.ok(Date.now() - sent < 2000, 'not deferred until the loop ends');
  await recoverOrphans(requireRepoSync(dir));
  const { run, rows } = await onlyRun(dir);
  // Node cannot run a handler inside the synchronous stretch: the run says what that means.
  assert.equal(run.meta.status, 'crashed');
  assert.match(run.meta.error ?? '', /SIGINT\/SIGTERM during a synchronous stretch/);
  assert.ok(rows.length > 100);
});

test('flor.commit() finishes the run early; later calls record nothing', async () => {
  const dir = makeRepo({
    files: {
      'early.mjs': `import { flor } from 'git-flor';
flor.log('a', 1);
const id = flor.commit();
console.log(id);
flor.log('b', 2);
for (const i of flor.loop('l', [0, 1])) flor.log('c', i);
console.log('still running');
`,
    },
  });
  const r = runNode(dir, 'early.mjs');
  const [id, after] = r.stdout.trim().split('\n');
  assert.equal(after, 'still running');
  const { run, rows } = await onlyRun(dir);
  assert.equal(run.id, id);
  assert.equal(run.meta.status, 'ok');
  assert.deepEqual(rows, [{ name: 'a', ctx: '', value: 1 }]);
});

test('a bad command-line value ends the script as its own parser would: one line naming the argument, exit 2', () => {
  const dir = makeRepo({
    files: {
      'args.mjs': `import { flor } from 'git-flor';
try { flor.arg('epochs', 3); } catch (e) { console.log('caught ' + e.code); }
console.log('went on');
`,
    },
  });
  const r = runNode(dir, 'args.mjs', ['--epochs', 'many'], { allowFail: true });
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^git flor: --epochs: "many" is not a number$/m);
});

test('outside a Git repository the script runs and one stderr line says nothing is recorded', () => {
  const dir = tempDir();
  linkFlor(dir);
  writeFiles(dir, {
    'free.mjs': `import { flor } from 'git-flor';
const n = flor.arg('n', 2);
let s = 0;
for (const i of flor.loop('i', [1, 2, 3])) s += flor.log('v', i * n);
flor.checkpointing({ s: { s } });
console.log(s);
`,
  });
  const r = runNode(dir, 'free.mjs', ['--n', '10']);
  assert.equal(r.stdout.trim(), '60');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^git flor: not inside a Git repository; this run is not recorded$/);
});
