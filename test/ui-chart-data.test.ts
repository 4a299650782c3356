/**
 * The chart payload of `git flor ui`: curves aligned on one x column for uPlot, and the binary body
 * the page reads them from. Pure: no repository, no browser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignCurves, encodeChart, smoothColumn } from '../src/ui/chart-data.js';
import { curveOf, smooth } from '../src/query/curve.js';
import { segment } from './helpers/segments.js';

const cols = (a: { xs: Float64Array; ys: Float64Array[] }) => ({ xs: [...a.xs], ys: a.ys.map((c) => [...c]) });

test('curves that fit are aligned on the union of their x values, NaN where a curve has no point', () => {
  const a = { xs: [0, 1, 2, 3], ys: [4, 3, 2, 1] };
  const b = { xs: [1, 3, 5], ys: [9, 8, 7] };
  const out = alignCurves([a, b], 10);
  assert.deepEqual(cols(out), { xs: [0, 1, 2, 3, 5], ys: [[4, 3, 2, 1, NaN], [NaN, 9, NaN, 8, 7]] });
  assert.deepEqual(out.points, [4, 3]);
  // Five distinct x values do not fit in four columns: bucket means on a shared grid instead.
  assert.equal(alignCurves([a, b], 4).xs.length, 4);
});

test('curves wider than the chart become bucket means on one grid shared by all of them', () => {
  const a = { xs: [0, 1, 2, 3, 4, 5, 6, 7], ys: [0, 2, 4, 6, 8, 10, 12, 14] };
  const b = { xs: [0, 1, 2, 3], ys: [1, 1, 3, 3] };
  // Two buckets of width 3.5 over 0..7, each point at its bucket's centre; b ends in the first.
  const out = alignCurves([a, b], 2);
  assert.deepEqual(cols(out), { xs: [1.75, 5.25], ys: [[3, 11], [2, NaN]] });
  assert.deepEqual(out.points, [2, 1]);
  // A bucket no curve has a point in is no column at all.
  const gap = alignCurves([{ xs: [0, 1, 2, 9, 10], ys: [1, 1, 1, 5, 5] }], 4);
  assert.deepEqual(cols(gap), { xs: [1.25, 8.75], ys: [[1, 5]] });
});

test('smoothing runs over a column\'s own points and leaves its gaps', () => {
  const col = Float64Array.from([NaN, 0, NaN, 10, 4]);
  const want = smooth([0, 10, 4], 0.5);
  assert.deepEqual([...smoothColumn(col, 0.5)], [NaN, want[0], NaN, want[1], want[2]]);
});

test('the binary body: a header, then float64 columns at the offsets the header gives', () => {
  const body = encodeChart({ x: 'epoch', note: 'é' }, [Float64Array.from([1, 2, 3]), Float64Array.from([0.1, NaN])]);
  const len = body.readUInt32LE(0);
  const head = JSON.parse(body.subarray(4, 4 + len).toString('utf8')) as { x: string; note: string; columns: Array<[number, number]> };
  assert.deepEqual(head, { x: 'epoch', note: 'é', columns: [[0, 3], [3, 2]] });
  const start = (4 + len + 7) & ~7;
  assert.equal(body.length, start + 5 * 8);
  const all = new Float64Array(body.buffer.slice(body.byteOffset + start, body.byteOffset + body.length));
  assert.deepEqual([...all], [1, 2, 3, 0.1, NaN]);
});

test('a curve is made once per segments: drawn again, the same curve; a new segment, a new one', () => {
  const fwd = segment('r', [[[['epoch', 0]], 'loss', 1], [[['epoch', 1]], 'loss', 2]]);
  const first = curveOf([fwd], 'loss');
  assert.equal(curveOf([fwd], 'loss'), first);
  assert.notEqual(curveOf([fwd], 'loss', 'epoch'), first, 'another x is another curve');
  // A run still recording is read into new segment objects each time: its curve is made anew.
  const grown = segment('r', [[[['epoch', 0]], 'loss', 1], [[['epoch', 1]], 'loss', 2], [[['epoch', 2]], 'loss', 3]]);
  assert.deepEqual(curveOf([grown], 'loss'), { xs: [0, 1, 2], ys: [1, 2, 3] });
  // A replay that only re-logs the name does not change which segment draws it.
  const rep = segment('r', [[[['epoch', 0]], 'loss', 1], [[['epoch', 0]], 'g', 7]], 'replay');
  assert.equal(curveOf([fwd, rep], 'loss'), first);
  assert.deepEqual(curveOf([fwd, rep], 'g'), { xs: [0], ys: [7] });
});
