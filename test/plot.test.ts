/** Curves, the SVG chart and `git flor plot` on a real repository. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { contextOf, curveOf, downsample, loopsOf, smooth } from '../src/query/curve.js';
import { shortIds } from '../src/query/short-ids.js';
import { niceTicks, svgChart, svgCharts } from '../src/cli/svg-chart.js';
import { segment } from './helpers/segments.js';
import { cleanup, makeRepo, runNode } from './helpers/repo.js';
import { cli } from './helpers/cli.js';

after(cleanup);

const E = (e: number): [string, number] => ['epoch', e];
const S = (s: number): [string, number] => ['step', s];

test('a curve is one point per record: an outer value is drawn once, not once per inner row', () => {
  const seg = segment('R', [
    [[E(0), S(0)], 'loss', 4],
    [[E(0), S(1)], 'loss', 3],
    [[E(0)], 'acc', 0.5],
    [[E(1), S(0)], 'loss', 2],
    [[E(1), S(1)], 'loss', 1],
    [[E(1)], 'acc', 0.7],
  ]);
  assert.deepEqual(curveOf([seg], 'loss'), { xs: [0, 1, 2, 3], ys: [4, 3, 2, 1] });
  assert.deepEqual(curveOf([seg], 'acc'), { xs: [0, 1], ys: [0.5, 0.7] });
  // x = the outer loop: its iteration, the last value within it.
  assert.deepEqual(curveOf([seg], 'loss', 'epoch'), { xs: [0, 1], ys: [3, 1] });
  // x = an inner loop: a global step across epochs, never step k of every epoch folded together.
  assert.deepEqual(curveOf([seg], 'loss', 'step'), { xs: [0, 1, 2, 3], ys: [4, 3, 2, 1] });
  // acc is logged outside loop `step`: nothing to draw against it.
  assert.deepEqual(curveOf([seg], 'acc', 'step'), { xs: [], ys: [] });
  assert.deepEqual(loopsOf([seg], 'loss').sort(), ['epoch', 'step']);
  assert.deepEqual(loopsOf([seg], 'acc'), ['epoch']);
});

test('non-numbers are not drawn but keep their place in record order; NaN is not drawn', () => {
  const seg = segment('R', [
    [[E(0)], 'v', 1],
    [[E(1)], 'v', 'text'],
    [[E(2)], 'v', Number.NaN],
    [[E(3)], 'v', 4],
  ]);
  assert.deepEqual(curveOf([seg], 'v'), { xs: [0, 3], ys: [1, 4] });
  assert.deepEqual(curveOf([seg], 'v', 'epoch'), { xs: [0, 3], ys: [1, 4] });
});

test('a loop nested in a loop of the same name is a column of its own (x, x.1)', () => {
  const seg = segment('R', [
    [[['x', 0], ['x', 0]], 'v', 1],
    [[['x', 0], ['x', 1]], 'v', 2],
    [[['x', 1], ['x', 0]], 'v', 3],
  ]);
  assert.deepEqual([...contextOf(seg, 2)], [['x', 1], ['x.1', 0]]);
  assert.deepEqual(curveOf([seg], 'v', 'x'), { xs: [0, 1], ys: [2, 3] });
  assert.deepEqual(curveOf([seg], 'v', 'x.1'), { xs: [0, 1, 2], ys: [1, 2, 3] });
});

test('forward records win over a replay that re-executed the same statement; a replayed-only name is drawn from its replay', () => {
  const fwd = segment('R', [[[E(0)], 'loss', 1], [[E(1)], 'loss', 2]]);
  const rep = segment('R', [[[E(0)], 'loss', 1], [[E(1)], 'loss', 2], [[E(0)], 'g', 9], [[E(1)], 'g', 8]], 'replay');
  assert.deepEqual(curveOf([fwd, rep], 'loss'), { xs: [0, 1], ys: [1, 2] });
  assert.deepEqual(curveOf([fwd, rep], 'g'), { xs: [0, 1], ys: [9, 8] });
});

test('downsampling keeps the shape in bucket means; smoothing is a debiased EMA', () => {
  const c = { xs: [0, 1, 2, 3, 4, 5, 6, 7], ys: [0, 2, 4, 6, 8, 10, 12, 14] };
  assert.deepEqual(downsample(c, 4), { xs: [0.5, 2.5, 4.5, 6.5], ys: [1, 5, 9, 13] });
  assert.equal(downsample(c, 100), c);
  // The first point is the value itself (no pull toward 0); a constant stays constant.
  assert.deepEqual(smooth([5, 5, 5], 0.9), [5, 5, 5]);
  const s = smooth([0, 10], 0.5);
  assert.equal(s[0], 0);
  assert.ok(Math.abs(s[1]! - 10 * 0.5 / 0.75) < 1e-12);
  assert.deepEqual(smooth([1, 2], 0), [1, 2]);
});

test('short ids are the shortest unique prefix, at least 8 characters', () => {
  const m = shortIds(['01M92EQN958TB71S', '01M92EQNW7Z75S8H', '01M92EQMR7CHEW8Z', '01ZZZZZZZZZZZZZZ'], 8);
  assert.equal(m.get('01M92EQN958TB71S'), '01M92EQN9');
  assert.equal(m.get('01M92EQNW7Z75S8H'), '01M92EQNW');
  assert.equal(m.get('01M92EQMR7CHEW8Z'), '01M92EQM');
  assert.equal(m.get('01ZZZZZZZZZZZZZZ'), '01ZZZZZZ');
});

test('the SVG chart: one polyline per series, round ticks, labels escaped', () => {
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6000000000001, 0.8, 1].map((v) => Number(v.toPrecision(12))));
  assert.deepEqual(niceTicks(0, 47), [0, 10, 20, 30, 40]);
  const svg = svgChart({ title: 'loss <x>', xLabel: 'step', series: [{ label: 'a&b', xs: [0, 1, 2], ys: [3, 2, 1] }, { label: 'c', xs: [0, 1], ys: [1, 1] }] });
  assert.equal((svg.match(/<polyline /g) ?? []).length, 2);
  assert.match(svg, /loss &lt;x&gt;/);
  assert.match(svg, /a&amp;b/);
  assert.ok(!svg.includes('http://') || svg.match(/http:\/\//g)!.length === 1, 'only the SVG namespace URI, nothing fetched');
  // The first series' first point sits at the plot's left edge and its top (y = 3 is the maximum).
  const first = /points="([\d.]+),([\d.]+)/.exec(svg)!;
  assert.equal(Number(first[1]), 64);
  assert.equal(Number(first[2]), 36);
  const two = svgCharts([{ title: 'a', xLabel: 'x', series: [] }, { title: 'b', xLabel: 'x', series: [] }]);
  assert.equal((two.match(/<svg /g) ?? []).length, 3);
  assert.match(two, /no numeric values/);
});

const SCRIPT = `import { flor } from 'git-flor';
const lr = flor.arg('lr', 0.5);
for (const epoch of flor.loop('epoch', [0, 1, 2])) {
  for (const step of flor.loop('step', [0, 1])) flor.log('loss', (10 - epoch * 2 - step) * lr);
  flor.log('acc', epoch / 10);
}
`;

test('git flor plot: a chart per name on a real repository, an SVG file, clear errors', async () => {
  const dir = makeRepo({ files: { 'train.mjs': SCRIPT } });
  runNode(dir, 'train.mjs');
  runNode(dir, 'train.mjs', ['--lr', '1']);
  const runs = JSON.parse((await cli(dir, ['runs', '--format', 'json'])).stdout) as Array<{ run: string }>;
  assert.equal(runs.length, 2);

  const r = await cli(dir, ['plot', 'loss', 'acc', '--x', 'epoch', '--width', '60', '--height', '6']);
  const text = r.stdout;
  assert.doesNotMatch(text, /\u001b\[/, 'no escape codes into a pipe');
  assert.match(text, /^loss by epoch/m);
  assert.match(text, /^acc by epoch/m);
  for (const { run } of runs) assert.ok(text.includes(run.slice(0, 8)), `legend names run ${run}`);
  // y-axis labels carry the values: the last loss of epoch 0 at lr 1 is (10 - 0 - 1) * 1 = 9.
  assert.match(text, /^\s*9┤/m);
  assert.ok(text.split('\n').every((l) => l.length <= 60), 'fits the width asked for');

  const colored = (await cli(dir, ['plot', 'loss', '--color', '--width', '60', '--height', '6'])).stdout;
  assert.match(colored, /\u001b\[3\dm/);

  const out = join(dir, 'loss.svg');
  const w = await cli(dir, ['plot', 'loss', '--output', out]);
  assert.match(w.stdout, /wrote .*loss\.svg: 1 chart, 2 runs/);
  const svg = readFileSync(out, 'utf8');
  assert.equal((svg.match(/<polyline /g) ?? []).length, 2);
  // By record order: 6 points per run.
  for (const m of svg.matchAll(/points="([^"]+)"/g)) assert.equal(m[1]!.split(' ').length, 6);

  const typo = await cli(dir, ['plot', 'los'], true);
  assert.equal(typo.status, 2);
  assert.match(typo.stderr, /these 2 runs never logged 'los'/);
  assert.match(typo.stderr, /did you mean 'loss'\?/);
  const badX = await cli(dir, ['plot', 'acc', '--x', 'step'], true);
  assert.equal(badX.status, 2);
  assert.match(badX.stderr, /'acc' is never logged inside a loop named 'step'/);
  assert.match(badX.stderr, /its loops: epoch/);
  const badSmooth = await cli(dir, ['plot', 'loss', '--smooth', '1'], true);
  assert.equal(badSmooth.status, 2);
  assert.match(badSmooth.stderr, /--smooth must be in \[0, 1\)/);
});
