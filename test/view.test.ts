/**
 * The view hides nothing: every record a run holds appears in `git flor log` on the rows of its own
 * loop iteration, no value appears where it was not logged, and no row is all null. Checked over
 * random loop shapes in memory, then on scripts recorded in a real repository.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { pivot } from '../src/query/pivot.js';
import { rowObjects } from '../src/query/table.js';
import { logView } from '../src/query/runs.js';
import { requireRepoSync, type RepoInfo } from '../src/store/git.js';
import { segment, type Rec } from './helpers/segments.js';
import { rng, randomProgram, execute, script, viewViolations, LOG_NAMES, type Stmt } from './helpers/programs.js';
import { cleanup, makeRepo, startNode } from './helpers/repo.js';
import { cli } from './helpers/cli.js';

after(cleanup);

const KEYS = new Set(['run', 'version', 'time', 'file', 'replayed']);

function nameSets(): string[][] {
  return [...LOG_NAMES.map((n) => [n]), ['a', 'b'], ['b', 'c'], LOG_NAMES];
}

function checkInMemory(prog: Stmt[], seed: number): void {
  const recs = execute(prog);
  const seg = segment('R', recs);
  for (const names of nameSets()) {
    const { table } = pivot([{ meta: { id: 'R', start: 't', commit: null, script: 's.mjs', args: {} }, segments: [seg] }], names);
    const loops = table.columns.filter((c) => !KEYS.has(c) && !names.includes(c));
    const bad = viewViolations(recs, rowObjects(table), names, loops);
    assert.deepEqual(bad, [], `seed ${seed}, names ${names.join(' ')}:\n${JSON.stringify(prog)}`);
  }
}

test('property: over random loop shapes and log placements the view shows every record where it was logged, and nothing else', () => {
  for (let seed = 1; seed <= 400; seed++) checkInMemory(randomProgram(rng(seed)), seed);
});

// ---------------------------------------------------------------- recorded in a real repository

const SLEEP = 'const sleep = (ms) => new Promise((r) => setTimeout(r, ms));\n';
const CASES: Record<string, string> = {
  'cases.mjs': `import { flor } from 'git-flor';
// A name logged twice in an outer iteration that also has an inner loop.
for (const e of flor.loop('epoch', [0, 1])) {
  for (const s of flor.loop('step', [0, 1])) flor.log('loss', e * 10 + s);
  flor.log('acc', 0.5 + e); flor.log('acc', 0.6 + e);
}
// A name logged in a loop and again after it, as a final value.
for (const r of flor.loop('round', [0, 1, 2])) flor.log('val', r);
flor.log('val', 42);
// The same name at the outer and the inner level.
for (const p of flor.loop('pass', [0, 1])) {
  for (const b of flor.loop('batch', [0, 1])) flor.log('err', p + b / 10);
  flor.log('err', 100 + p);
}
// A loop inside a loop of the same name.
for (const i of flor.loop('x', [0, 1])) for (const j of flor.loop('x', [0, 1, 2])) flor.log('cell', i * 10 + j);
`,
  // Two concurrent async loops, one over an array and one over an async generator, each with an
  // inner loop, under Promise.all: records must follow their own async context.
  'concurrent.mjs': `import { flor } from 'git-flor';
${SLEEP}async function* items(n) { for (let i = 0; i < n; i++) { await sleep(1); yield i; } }
async function lane(name, ms, source) {
  for await (const x of flor.loop(name, source)) {
    flor.log(name + '_pre', x);
    await sleep(ms);
    for (const s of flor.loop('inner', [0, 1])) flor.log(name + '_in', x * 10 + s);
    await sleep(ms);
    flor.log(name + '_post', x);
  }
  flor.log(name + '_done', 1);
}
await Promise.all([lane('a', 3, [0, 1, 2]), lane('b', 2, items(3))]);
flor.log('end', 2);
`,
  // Synchronous loops whose bodies await, run side by side: not told apart, so flor says so.
  'interleave.mjs': `import { flor } from 'git-flor';
${SLEEP}async function lane(name, ms) {
  for (const x of flor.loop(name, [0, 1, 2])) { await sleep(ms); flor.log(name, x); }
}
await Promise.all([lane('p', 3), lane('q', 2)]);
`,
};
const RANDOM_SEEDS = [3, 11, 17, 23, 42, 77];
/** One recorded script runs the random programs of all seeds one after the other: a bigger random program. */
const RANDOM = RANDOM_SEEDS.flatMap((seed) => randomProgram(rng(seed)));

interface Recorded {
  dir: string;
  repo: RepoInfo;
  stderr: Record<string, string>;
}
let recorded: Recorded | null = null;

async function setup(): Promise<Recorded> {
  if (recorded) return recorded;
  const files: Record<string, string> = { ...CASES, 'random.mjs': script(RANDOM) };
  const dir = makeRepo({ files });
  // In parallel: a recorded run mostly waits for its capture child.
  const stderr: Record<string, string> = {};
  await Promise.all(
    Object.keys(files).map(
      (f) =>
        new Promise<void>((resolve, reject) => {
          const child = startNode(dir, f);
          let err = '';
          child.stderr.on('data', (d: Buffer) => (err += d.toString()));
          child.on('error', reject);
          child.on('close', (code) => {
            stderr[f] = err;
            if (code === 0) resolve();
            else reject(new Error(`${f} exited with ${code}: ${err}`));
          });
        }),
    ),
  );
  recorded = { dir, repo: requireRepoSync(dir), stderr };
  return recorded;
}

async function view(file: string, names: string[]): Promise<{ rows: Array<Record<string, unknown>>; loops: string[] }> {
  const { repo } = await setup();
  const { table } = await logView(repo, { names });
  const rows = rowObjects(table).filter((r) => r.file === file);
  const loops = table.columns.filter((c) => !KEYS.has(c) && !names.includes(c) && rows.some((r) => r[c] !== null));
  return { rows: rows.map((r) => Object.fromEntries([...loops, ...names].map((c) => [c, r[c]]))), loops };
}

test('a name logged twice in an outer iteration with an inner loop: both values, on that epoch’s rows, no all-null rows', async () => {
  const both = await view('cases.mjs', ['loss', 'acc']);
  assert.deepEqual(both.rows, [
    { epoch: 0, step: 0, loss: 0, acc: null },
    { epoch: 0, step: 1, loss: 1, acc: null },
    { epoch: 0, step: null, loss: null, acc: 0.5 },
    { epoch: 0, step: null, loss: null, acc: 0.6 },
    { epoch: 1, step: 0, loss: 10, acc: null },
    { epoch: 1, step: 1, loss: 11, acc: null },
    { epoch: 1, step: null, loss: null, acc: 1.5 },
    { epoch: 1, step: null, loss: null, acc: 1.6 },
  ]);
  assert.deepEqual((await view('cases.mjs', ['acc'])).rows, [
    { epoch: 0, acc: 0.5 },
    { epoch: 0, acc: 0.6 },
    { epoch: 1, acc: 1.5 },
    { epoch: 1, acc: 1.6 },
  ]);
});

test('a final value logged after the loop under the same name gets a row of its own', async () => {
  assert.deepEqual((await view('cases.mjs', ['val'])).rows, [
    { round: 0, val: 0 },
    { round: 1, val: 1 },
    { round: 2, val: 2 },
    { round: null, val: 42 },
  ]);
});

test('a name logged at the outer and the inner level shows both', async () => {
  assert.deepEqual((await view('cases.mjs', ['err'])).rows, [
    { pass: 0, batch: 0, err: 0 },
    { pass: 0, batch: 1, err: 0.1 },
    { pass: 0, batch: null, err: 100 },
    { pass: 1, batch: 0, err: 1 },
    { pass: 1, batch: 1, err: 1.1 },
    { pass: 1, batch: null, err: 101 },
  ]);
});

test('a loop inside a loop of the same name is a column of its own (x, x.1)', async () => {
  const { rows, loops } = await view('cases.mjs', ['cell']);
  assert.deepEqual(loops, ['x', 'x.1']);
  assert.deepEqual(rows.map((r) => [r.x, r['x.1'], r.cell]), [
    [0, 0, 0], [0, 1, 1], [0, 2, 2],
    [1, 0, 10], [1, 1, 11], [1, 2, 12],
  ]);
});

test('concurrent for-await loops: each record in the iteration of its own async context; show lists them as siblings', async () => {
  const { dir, stderr, repo } = await setup();
  assert.equal(stderr['concurrent.mjs'], '');
  const names = ['a_pre', 'a_in', 'a_post', 'a_done', 'b_pre', 'b_in', 'b_post', 'b_done', 'end'];
  const recs: Rec[] = [];
  for (const l of ['a', 'b']) {
    for (let x = 0; x < 3; x++) {
      recs.push([[[l, x]], `${l}_pre`, x], [[[l, x]], `${l}_post`, x]);
      for (let s = 0; s < 2; s++) recs.push([[[l, x], ['inner', s]], `${l}_in`, x * 10 + s]);
    }
    recs.push([[], `${l}_done`, 1]);
  }
  recs.push([[], 'end', 2]);
  for (const set of [...names.map((n) => [n]), names]) {
    const { rows, loops } = await view('concurrent.mjs', set);
    assert.deepEqual(viewViolations(recs, rows, set, loops), [], set.join(' '));
  }
  const { rows } = await view('concurrent.mjs', ['a_in', 'b_in']);
  assert.deepEqual(rows.map((r) => [r.a, r.b, r.inner, r.a_in, r.b_in]), [
    [0, null, 0, 0, null], [0, null, 1, 1, null], [1, null, 0, 10, null], [1, null, 1, 11, null], [2, null, 0, 20, null], [2, null, 1, 21, null],
    [null, 0, 0, null, 0], [null, 0, 1, null, 1], [null, 1, 0, null, 10], [null, 1, 1, null, 11], [null, 2, 0, null, 20], [null, 2, 1, null, 21],
  ]);
  const id = rowObjects((await logView(repo, { names: ['end'] })).table).find((r) => r.file === 'concurrent.mjs')!.run as string;
  const shown = JSON.parse((await cli(dir, ['show', id, '--format', 'json'])).stdout) as { meta: { loops: Array<{ name: string; parent: string | null }> } };
  assert.deepEqual(shown.meta.loops.map((l) => `${l.name} in ${l.parent}`).sort(), ['a in null', 'b in null', 'inner in a', 'inner in b']);
});

test('synchronous loops whose bodies await, run side by side, are reported as not told apart', async () => {
  const { stderr } = await setup();
  assert.match(stderr['interleave.mjs']!, /git flor: a loop started inside an iteration of loop '[pq]' was still running when that iteration ended/);
  assert.equal(stderr['interleave.mjs']!.split('\n').filter((l) => l.startsWith('git flor:')).length, 1);
});

test('property, recorded: a random script in a real repository shows every record where it was logged', async () => {
  const recs = execute(RANDOM);
  for (const names of nameSets()) {
    const { rows, loops } = await view('random.mjs', names);
    assert.deepEqual(viewViolations(recs, rows, names, loops), [], `names ${names.join(' ')}:\n${script(RANDOM)}`);
  }
});
