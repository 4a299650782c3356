/** The pivot and the formats, pure: segments built in memory, exact outputs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pivot, type PivotRun } from '../src/query/pivot.js';
import { formats, render, styledTable } from '../src/query/formats.js';
import { recycleChunk } from '../src/query/json-rows.js';
import { codeBytes, codeLength, numberBytes, numberText, textCode } from '../src/query/cell-text.js';
import { cellTexts } from '../src/query/table-bytes.js';
import { rowObjects, tableFromObjects } from '../src/query/table.js';
import { parseSince } from '../src/query/since.js';
import type { Value } from '../src/store/records.js';
import type { Segment } from '../src/store/types.js';
import { segment } from './helpers/segments.js';
import { rng } from './helpers/programs.js';
import { isFlorError } from '../src/errors.js';

function run(id: string, start: string, segments: Segment[], args: Record<string, Value> = {}, commit = 'abcdef0123456789abcdef0123456789abcdef01'): PivotRun {
  return { meta: { id, start, commit, script: 'train.mjs', args }, segments };
}

const E = (e: number): [string, number] => ['epoch', e];
const S = (s: number): [string, number] => ['step', s];

test('outer-level names join onto the inner rows of the same iteration; missing is null', () => {
  const seg = segment('R1', [
    [[E(0), S(0)], 'loss', 1.5],
    [[E(0), S(1)], 'loss', 1.25],
    [[E(0)], 'acc', 0.5],
    [[E(1), S(0)], 'loss', 1.0],
    [[E(1), S(1)], 'loss', 0.75],
  ]);
  const { table, missing } = pivot([run('R1', '2026-01-01T00:00:00.000Z', [seg])], ['loss', 'acc']);
  assert.deepEqual(missing, []);
  assert.deepEqual(table.columns, ['run', 'version', 'time', 'file', 'epoch', 'step', 'loss', 'acc']);
  const base = { run: 'R1', version: 'abcdef0', time: '2026-01-01T00:00:00.000Z', file: 'train.mjs' };
  assert.deepEqual(rowObjects(table), [
    { ...base, epoch: 0, step: 0, loss: 1.5, acc: 0.5 },
    { ...base, epoch: 0, step: 1, loss: 1.25, acc: 0.5 },
    { ...base, epoch: 1, step: 0, loss: 1.0, acc: null },
    { ...base, epoch: 1, step: 1, loss: 0.75, acc: null },
  ]);
});

test('an outer iteration whose inner loop logged nothing gets its own row; top-level values and args join every row', () => {
  const seg = segment('R1', [
    [[], 'final', 'done'],
    [[E(0), S(0)], 'loss', 2],
    [[E(0)], 'acc', 0.1],
    [[E(1)], 'acc', 0.2],
  ]);
  const { table } = pivot([run('R1', 't1', [seg], { lr: 0.01 })], ['lr', 'loss', 'acc', 'final']);
  assert.deepEqual(
    rowObjects(table).map((r) => [r.epoch, r.step, r.lr, r.loss, r.acc, r.final]),
    [
      [0, 0, 0.01, 2, 0.1, 'done'],
      [1, null, 0.01, null, 0.2, 'done'],
    ],
  );
});

test('asking only for an outer name gives one row per outer iteration, without inner loop columns', () => {
  const seg = segment('R1', [
    [[E(0), S(0)], 'loss', 2],
    [[E(0)], 'acc', 0.1],
    [[E(1), S(0)], 'loss', 1],
    [[E(1)], 'acc', 0.2],
  ]);
  const { table } = pivot([run('R1', 't1', [seg])], ['acc']);
  assert.deepEqual(table.columns, ['run', 'version', 'time', 'file', 'epoch', 'acc']);
  assert.deepEqual(rowObjects(table).map((r) => [r.epoch, r.acc]), [[0, 0.1], [1, 0.2]]);
});

test('values keep their types; runs sort by start time; a name never logged is reported with the known ones', () => {
  const typed = new Float32Array([1.5, 2.5]);
  const a = segment('A', [[[E(0)], 'v', { k: [1, 'x', true, null] }], [[E(1)], 'v', typed]]);
  const b = segment('B', [[[E(0)], 'v', 'text'], [[E(1)], 'v', false]]);
  const r = pivot([run('A', '2026-02-01', [a]), run('B', '2026-01-01', [b], { seed: 7 }, null as unknown as string)], ['v', 'nope']);
  assert.deepEqual(r.missing, ['nope']);
  assert.deepEqual(r.known, ['seed', 'v']);
  const rows = rowObjects(r.table);
  assert.deepEqual(rows.map((x) => [x.run, x.version, x.epoch, x.nope]), [['B', null, 0, null], ['B', null, 1, null], ['A', 'abcdef0', 0, null], ['A', 'abcdef0', 1, null]]);
  assert.equal(rows[0]!.v, 'text');
  assert.equal(rows[1]!.v, false);
  assert.deepEqual(rows[2]!.v, { k: [1, 'x', true, null] });
  assert.ok(rows[3]!.v instanceof Float32Array);
  assert.equal(render('json', r.table).split('\n')[4], '{"run":"A","version":"abcdef0","time":"2026-02-01","file":"train.mjs","epoch":1,"v":[1.5,2.5],"nope":null}');
});

test('a name logged nowhere gives an empty table', () => {
  const { table, missing, known } = pivot([run('A', 't', [segment('A', [[[E(0)], 'loss', 1]])])], ['acc']);
  assert.equal(table.length, 0);
  assert.deepEqual(missing, ['acc']);
  assert.deepEqual(known, ['loss']);
  assert.equal(render('json', table), '[]\n');
  assert.equal(render('ndjson', table), '');
});

test('replay segments merge by loop path, never replace forward values, and mark the rows they fill', () => {
  const fwd = segment('R', [
    [[E(0), S(0)], 'loss', 3],
    [[E(1), S(0)], 'loss', 2],
  ]);
  // The replay re-executed loss (fidelity check) with a different value and added grad_norm.
  const old = segment('R', [[[E(1), S(0)], 'grad_norm', 99]], 'replay', '2026-01-01T00:00:00Z');
  const rep = segment('R', [
    [[E(1), S(0)], 'loss', 2.5],
    [[E(1), S(0)], 'grad_norm', 0.5],
    [[E(2), S(0)], 'grad_norm', 0.25],
  ], 'replay', '2026-02-01T00:00:00Z');
  const { table } = pivot([run('R', 't', [old, rep, fwd])], ['loss', 'grad_norm']);
  // These provenances do not say which statements were carried (older writers): all count as carried.
  assert.deepEqual(table.columns, ['run', 'version', 'time', 'file', 'epoch', 'step', 'loss', 'grad_norm', 'replayed', 'carried']);
  assert.deepEqual(
    rowObjects(table).map((r) => [r.epoch, r.step, r.loss, r.grad_norm, r.replayed, r.carried]),
    [
      [0, 0, 3, null, null, null],
      [1, 0, 2, 0.5, ['grad_norm'], ['grad_norm']],
      [2, 0, null, 0.25, ['grad_norm'], ['grad_norm']],
    ],
  );
});

test('a name logged twice in one iteration gives one row per occurrence', () => {
  const seg = segment('R', [
    [[E(0)], 'loss', 1],
    [[E(0)], 'loss', 2],
    [[E(0)], 'acc', 9],
  ]);
  const { table } = pivot([run('R', 't', [seg])], ['loss', 'acc']);
  assert.deepEqual(rowObjects(table).map((r) => [r.epoch, r.loss, r.acc]), [[0, 1, 9], [0, 2, 9]]);
});

test('asking for a loop name adds no column (the loop already is one) and is not reported missing', () => {
  const seg = segment('R', [[[E(0), S(0)], 'loss', 1], [[E(0), S(1)], 'loss', 2]]);
  const { table, missing } = pivot([run('R', 't', [seg])], ['epoch', 'loss', 'step']);
  assert.deepEqual(table.columns, ['run', 'version', 'time', 'file', 'epoch', 'step', 'loss']);
  assert.deepEqual(missing, []);
  assert.equal(table.length, 2);
});

test('a name that is a key column is refused with a hint', () => {
  assert.throws(() => pivot([], ['time']), (e) => isFlorError(e, 'NAME_CLASH') && /key column/.test(e.message));
});

const small = tableFromObjects(['run', 'epoch', 'loss', 'note'], [
  { run: 'A', epoch: 0, loss: 0.5, note: 'a, "b"' },
  { run: 'B', epoch: 10, loss: null, note: [1, 2] },
]);

test('csv: header, quoting, null empty, structured values as JSON', () => {
  assert.equal(render('csv', small), 'run,epoch,loss,note\nA,0,0.5,"a, ""b"""\nB,10,,"[1,2]"\n');
});

test('json and ndjson: one object per row, numbers stay numbers', () => {
  assert.equal(render('json', small), '[\n{"run":"A","epoch":0,"loss":0.5,"note":"a, \\"b\\""},\n{"run":"B","epoch":10,"loss":null,"note":[1,2]}\n]\n');
  assert.equal(render('ndjson', small), '{"run":"A","epoch":0,"loss":0.5,"note":"a, \\"b\\""}\n{"run":"B","epoch":10,"loss":null,"note":[1,2]}\n');
  assert.deepEqual(JSON.parse(render('json', small)), [
    { run: 'A', epoch: 0, loss: 0.5, note: 'a, "b"' },
    { run: 'B', epoch: 10, loss: null, note: [1, 2] },
  ]);
});

const NUDGE = new Float64Array(1);
const NUDGE_BITS = new BigInt64Array(NUDGE.buffer);

/** The double `d` ulps from v (in the bits' order). */
function nudge(v: number, d: number): number {
  NUDGE[0] = v;
  NUDGE_BITS[0]! += BigInt(d);
  return NUDGE[0]!;
}

test('table: numbers written as bytes read as numberText, next to ties of the 6th digit and powers of ten too', () => {
  const rand = rng(11);
  const xs: number[] = [];
  for (let i = 0; i < 10000; i++) {
    const sign = i % 4 === 0 ? -1 : 1;
    xs.push(sign * rand() * 10 ** (Math.floor(rand() * 13) - 7));
    const tie = (100000 + Math.floor(rand() * 900000) + 0.5) / 10 ** (Math.floor(rand() * 12) - 1);
    for (const d of [-2, -1, 0, 1, 2]) xs.push(sign * nudge(tie, d));
    const p = 10 ** (Math.floor(rand() * 11) - 6);
    for (const d of [-2, -1, 1, 2]) xs.push(nudge(p, d), nudge(p * 9.999995, d));
  }
  const pool = new Uint8Array(16);
  let fast = 0;
  for (const v of xs) {
    const end = numberBytes(v, pool, 0);
    if (end < 0) continue;
    fast++;
    assert.equal(Buffer.from(pool.subarray(0, end)).toString('latin1'), numberText(v), String(v));
  }
  assert.ok(fast > 5000, `${fast} of ${xs.length} written as bytes`);
});

test('table: short decimals and whole numbers below 1e5 are number codes whose bytes are numberText; other texts are not codes', () => {
  const rand = rng(5);
  const coded: number[] = [0, 1, -1, 7, 42, -300, 99999, 0.5, -0.25, 12.5, 0.000001, 0.001, 1.5e-6, 3.14161, 99999.9, 1234.5];
  for (let i = 0; i < 5000; i++) coded.push(Number((rand() * 10 ** (Math.floor(rand() * 10) - 5)).toPrecision(1 + Math.floor(rand() * 6))) * (i % 3 ? 1 : -1));
  const out = new Uint8Array(16);
  for (const v of coded) {
    const s = numberText(v);
    if (s.replace(/^-|\./g, '').replace(/^0+/, '').length > 6 || Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-6)) continue;
    const code = textCode(s);
    assert.ok(code >= 0, `${s} is a code`);
    assert.equal(codeLength(code), s.length, s);
    assert.equal(Buffer.from(out.subarray(0, codeBytes(code, out, 0))).toString('latin1'), s);
  }
  for (const s of ['100000', '1234567', '1e-7', '1.23457e+21', 'NaN', 'Infinity', '-Infinity', '1.2345678', 'abc', '', '-', '00.5']) assert.equal(textCode(s), -1, s);
});

test('table: short numbers, their neighbours a few ulps away and 7 to 9 digit numbers are written as numberText, most without it', () => {
  const rand = rng(13);
  const xs: number[] = [1 + 0.0062, 0.1 + 0.2, 1 / 3, 2 / 3];
  for (let i = 0; i < 4000; i++) {
    const digits = 1 + Math.floor(rand() * 9);
    const short = Number((rand() * 10 ** (Math.floor(rand() * 11) - 6)).toPrecision(digits)) * (i % 2 ? -1 : 1);
    for (const d of [-2, -1, 0, 1, 2]) xs.push(nudge(short, d));
    xs.push(Math.floor(rand() * 1e5) * (i % 3 ? 1 : -1));
  }
  const pool = new Uint8Array(16);
  let coded = 0;
  let considered = 0;
  for (const v of xs) {
    const end = numberBytes(v, pool, 0);
    const m = Math.abs(v);
    if (m >= 1e-6 && m < 1e5) considered++;
    if (end < 0) continue;
    coded++;
    assert.equal(Buffer.from(pool.subarray(0, end)).toString('latin1'), numberText(v), String(v));
  }
  assert.ok(coded > 0.8 * considered, `${coded} of ${considered} written without numberText`);
});

test('table: a number column is kept as 4 bytes of code a row, and the bytes written match the painted (string) table exactly', () => {
  const n = 3000;
  const num = new Float64Array(n);
  const kind = new Uint8Array(n);
  const other = new Map<number, Value>();
  const odd = [0, -0, 1, -7, 42, 99999, 100000, 123456789, 0.5, -0.125, 1e-7, -3.5e-9, 1e21, Number.NaN, Number.POSITIVE_INFINITY, 2 / 3, -1 / 7];
  for (let i = 0; i < n; i++) {
    if (i % 101 === 7) continue; // null
    if (i % 97 === 3) other.set(i, i % 2 ? `text ${i}` : [1, 2]);
    else num[i] = i % 5 === 0 ? odd[(i / 5) % odd.length]! : Math.sin(i) * 10 ** ((i % 9) - 4);
    kind[i] = other.has(i) ? 2 : 1;
  }
  const t = { columns: ['i', 'x'], cols: [{ type: 'int' as const, ints: Int32Array.from({ length: n }, (_, i) => i) }, { type: 'num' as const, num, kind, other }], length: n };
  const cells = cellTexts(t.cols[1]!, n);
  assert.equal(cells.codes?.byteLength, 4 * n);
  assert.ok(cells.str!.size < n / 10, `${cells.str!.size} rows kept as text`);
  const painted = (style: Parameters<typeof styledTable>[0]) => Buffer.concat([...styledTable(style)(t)].map((c) => Buffer.from(c))).toString();
  const same = (_c: string, _v: Value, text: string) => text;
  assert.equal(render('table', t), painted({ cell: same }));
  // Cut to fit: the widest text column loses characters, in both paths alike.
  assert.equal(painted({ width: 14 }), painted({ width: 14, cell: same }));
});

test('json: a number column of many rows reads as JSON.stringify would write each row (numbers in slices of text)', () => {
  const n = 10_000;
  const num = new Float64Array(n);
  const kind = new Uint8Array(n);
  const other = new Map<number, Value>();
  const want: Array<Record<string, Value>> = [];
  const odd = [Number.NaN, -0, 1e21, 5e-324, -1.5e-7, Number.POSITIVE_INFINITY, 123456789.125];
  for (let i = 0; i < n; i++) {
    let v: Value;
    if (i % 97 === 5) v = null;
    else if (i % 89 === 3) other.set(i, (v = `s${i}`));
    else num[i] = v = i % 53 === 0 ? odd[(i / 53) % odd.length]! : Math.sin(i) * 10 ** ((i % 11) - 5);
    if (typeof v === 'number') kind[i] = 1;
    else if (v !== null) kind[i] = 2;
    want.push({ i, x: v });
  }
  const t = { columns: ['i', 'x'], cols: [{ type: 'int' as const, ints: Int32Array.from({ length: n }, (_, i) => i) }, { type: 'num' as const, num, kind, other }], length: n };
  assert.equal(render('json', t), `[\n${want.map((r) => JSON.stringify(r)).join(',\n')}\n]\n`);
  assert.equal(render('ndjson', t), want.map((r) => `${JSON.stringify(r)}\n`).join(''));
});

test('json and table chunks given back once written are reused, and the bytes are those of fresh chunks', () => {
  // Rows enough for several 1 MiB chunks (long run names make them wide); long floats so that the number text varies.
  const wide = (i: number, c: string) => `${c}${i % 7}`.padEnd(40, '.'); // a table cuts text past 40 characters
  const rows = Array.from({ length: 15_000 }, (_, i) => ({ run: wide(i, 'R'), a: wide(i, 'a'), b: wide(i, 'b'), c: wide(i, 'c'), d: wide(i, 'd'), step: i, loss: 1 / (i + 3), note: i % 1000 === 0 ? 'x' : null }));
  const t = tableFromObjects(['run', 'a', 'b', 'c', 'd', 'step', 'loss', 'note'], rows);
  for (const fmt of ['json', 'ndjson', 'table']) {
    const want = render(fmt, t);
    const memory = new Set<ArrayBufferLike>();
    let chunks = 0;
    const copies: Buffer[] = [];
    for (const c of formats[fmt]!(t)) {
      copies.push(Buffer.from(c));
      if (typeof c !== 'string') {
        memory.add(c.buffer);
        recycleChunk(c); // written: a later chunk may reuse its memory, which the copy above no longer needs
      }
      chunks++;
    }
    assert.ok(Buffer.concat(copies).equals(Buffer.from(want)), fmt);
    assert.ok(chunks >= 3, `${fmt}: ${chunks} chunks`);
    assert.ok(memory.size < chunks, `${fmt}: ${memory.size} buffers for ${chunks} chunks`);
  }
});

test('md: numeric columns right-aligned, pipes escaped', () => {
  const t = tableFromObjects(['run', 'loss', 'note'], [{ run: 'A', loss: 1, note: 'x|y' }]);
  assert.equal(render('md', t), '| run | loss | note |\n| --- | ---: | --- |\n| A | 1 | x\\|y |\n');
});

test('table: aligned columns, numbers right, long floats shortened, null blank', () => {
  const t = tableFromObjects(['run', 'epoch', 'loss'], [
    { run: 'A', epoch: 0, loss: 0.123456789123 },
    { run: 'BBB', epoch: 10, loss: null },
  ]);
  assert.equal(render('table', t), 'run  epoch      loss\nA        0  0.123457\nBBB     10\n');
});

test('unknown format is a typed error naming the choices', () => {
  assert.throws(() => render('xml', small), (e) => isFlorError(e, 'BAD_FORMAT') && /table, csv/.test(e.hint ?? ''));
});

test('--since reads ISO and relative dates and refuses nonsense', () => {
  const now = Date.parse('2026-03-10T12:00:00Z');
  assert.equal(parseSince('2026-03-01', now), Date.parse('2026-03-01'));
  assert.equal(parseSince('2 days ago', now), now - 2 * 864e5);
  assert.equal(parseSince('3.hours.ago', now), now - 3 * 36e5);
  assert.throws(() => parseSince('whenever', now), (e) => isFlorError(e, 'BAD_DATE'));
});

test('table: a number reads as its shortest text when that has at most 10 characters, else rounded to 6 significant digits', () => {
  const rand = rng(7);
  const xs: number[] = [];
  for (let i = 0; i < 20000; i++) {
    const scale = 10 ** (Math.floor(rand() * 11) - 6);
    const digits = 1 + Math.floor(rand() * 12);
    // Short ones (6 and 9 digits among them), long ones, and neighbours of powers of ten.
    xs.push(i % 3 === 0 ? Number((rand() * scale).toPrecision(digits)) : i % 3 === 1 ? rand() * scale : scale * (1 - 2 ** -(40 + (i % 13))));
  }
  const t = { columns: ['x'], cols: [{ type: 'num' as const, num: Float64Array.from(xs), kind: new Uint8Array(xs.length).fill(1), other: new Map() }], length: xs.length };
  const lines = render('table', t).split('\n').slice(1, -1).map((l) => l.trim());
  const want = xs.map((v) => (String(v).length <= 10 ? String(v) : String(Number(v.toPrecision(6)))));
  assert.deepEqual(lines, want);
});

test("a frame naming a loop its segment does not list is read under the loop '?', its values kept", () => {
  const seg = segment('R1', [
    [[E(0), S(0)], 'loss', 1.5],
    [[E(0), S(1)], 'loss', 1.25],
    [[E(0)], 'acc', 0.5],
  ]);
  // The step frames name loop 7: a damaged or foreign segment (the segment lists 2 loops).
  const loop = Int32Array.from(seg.frames.loop, (l) => (seg.loops[l] === 'step' ? 7 : l));
  const bad = { ...seg, frames: { ...seg.frames, loop } };
  const { table } = pivot([run('R1', '2026-01-01T00:00:00.000Z', [bad])], ['loss', 'acc']);
  assert.deepEqual(table.columns, ['run', 'version', 'time', 'file', 'epoch', '?', 'loss', 'acc']);
  assert.deepEqual(rowObjects(table).map((r) => [r.epoch, r['?'], r.loss, r.acc]), [[0, 0, 1.5, 0.5], [0, 1, 1.25, 0.5]]);
});
