import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync, truncateSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Unpackr } from 'msgpackr';
import { tempDir, cleanup } from './helpers/repo.js';
import { encodeSegment, decodeSegment, makeSegment, concatColumns } from '../src/store/segment.js';
import { openJournalAt, readJournal, readJournalStart, listJournals, openJournal } from '../src/store/journal.js';
import { pack, unpack, encodeValue, decodeValue } from '../src/store/pack.js';
import { isFlorError } from '../src/errors.js';
import type { RecordColumns, Value } from '../src/store/records.js';
import { makeMeta, ulid } from './helpers/store-fixtures.js';

after(cleanup);

/** Records whose values are every type a user may log. */
function allTypes(): { cols: RecordColumns; values: Value[] } {
  const values: Value[] = [
    1.5, -0, Infinity, NaN, 'text', '', true, false, null, 12345678901234567890n, -5n,
    [1, 'two', [3]], { a: 1, b: { c: 'd' }, e: [true, null] },
    new Float32Array([1.25, -2.5]), new Int16Array([-3, 4]), new Uint8Array([0, 255]), new BigInt64Array([-9n]),
    { $flor: 'not a tag', x: 1 }, 'ünïcödé ✓',
  ];
  const n = values.length;
  const cols: RecordColumns = {
    names: values.map((_, i) => `v${i}`),
    loops: ['epoch'],
    frames: { parent: Int32Array.of(-1, -1), loop: Int32Array.of(0, 0), iter: Int32Array.of(0, 1) },
    name: Int32Array.from(values.map((_, i) => i)),
    frame: Int32Array.from(values.map((_, i) => (i % 3) - 1)),
    num: new Float64Array(n),
    kind: new Uint8Array(n),
    other: [],
  };
  values.forEach((v, i) => {
    if (typeof v === 'number') {
      cols.num[i] = v;
      cols.kind[i] = 0;
    } else {
      cols.num[i] = NaN;
      cols.kind[i] = 1;
      cols.other.push(v);
    }
  });
  return { cols, values };
}

// The raw msgpack, read without flor's decoder: whatever shape it has is what the test inspects.
// biome-ignore lint/suspicious/noExplicitAny: see above
type Any = any;

test('segment round-trips every value type with its type', () => {
  const { cols, values } = allTypes();
  const run = ulid();
  const prov = { statements: ['grad'], code: 'a'.repeat(40), time: '2026-01-01T00:00:00.000Z', writer: 'w1', segments: [[0, 3]] as Array<[number, number]> };
  const seg = decodeSegment(encodeSegment(makeSegment(run, 'replay', cols, prov)), 'test segment');
  assert.equal(seg.run, run);
  assert.equal(seg.source, 'replay');
  assert.deepEqual(seg.provenance, prov);
  assert.deepEqual(seg.names, cols.names);
  assert.deepEqual(seg.frames.iter, Int32Array.of(0, 1));
  assert.deepEqual(seg.frame, cols.frame);
  let o = 0;
  values.forEach((v, i) => {
    const got = seg.kind[i] === 0 ? seg.num[i] : seg.other[o++];
    if (typeof v === 'number' && Number.isNaN(v)) assert.ok(Number.isNaN(got as number));
    else if (Object.is(v, -0)) assert.ok(Object.is(got, -0), 'negative zero survives');
    else assert.deepEqual(got, v, `value ${i}`);
  });
  assert.equal(seg.other.filter((x) => typeof x === 'bigint').length, 2);
  assert.ok(seg.other.some((x) => x instanceof Float32Array));
});

test('a Node Buffer or a typed-array subclass is stored as its base typed array and reads back', () => {
  class Scaled extends Float32Array {}
  const back = (v: unknown) => decodeValue(unpack(pack(encodeValue(v))));
  const buf = back(Buffer.from('ab'));
  assert.ok(buf instanceof Uint8Array && !Buffer.isBuffer(buf));
  assert.deepEqual([...(buf as Uint8Array)], [97, 98]);
  const f = back(new Scaled([1.5, -2]));
  assert.equal((f as object).constructor, Float32Array);
  assert.deepEqual([...(f as Float32Array)], [1.5, -2]);
});

test('a segment is standard msgpack: a plain decoder sees columns as dtype + bytes', () => {
  const { cols } = allTypes();
  const buf = encodeSegment(makeSegment(ulid(), 'forward', cols));
  const plain = new Unpackr({ useRecords: false, mapsAsObjects: true }).unpack(buf) as Record<string, Any>;
  assert.equal(plain.format, 'flor-segment');
  assert.equal(plain.version, 1);
  assert.equal(plain.num.dtype, 'Float64Array');
  assert.equal(plain.num.data.length, cols.num.length * 8);
  assert.equal(Buffer.from(plain.num.data).readDoubleLE(0), 1.5);
  assert.equal(plain.name.dtype, 'Int32Array');
  const big = plain.other.find((x: Any) => x && x.$flor === 'bigint');
  assert.equal(big.v, '12345678901234567890');
  const f32 = plain.other.find((x: Any) => x && x.$flor === 'typed');
  assert.equal(f32.dtype, 'Float32Array');
  assert.equal(Buffer.from(f32.data).readFloatLE(4), -2.5);
});

test('decodeSegment rejects damage with a message naming the segment', () => {
  const { cols } = allTypes();
  const good = makeSegment(ulid(), 'forward', cols);
  const prov = { statements: ['grad'], code: 'a'.repeat(40), time: '2026-01-01T00:00:00.000Z', writer: 'w1', segments: [[0, 3]] as Array<[number, number]> };
  // A shard's segment names its plan by id and reads back as written.
  const planned = decodeSegment(encodeSegment({ ...good, source: 'replay', provenance: { ...prov, plan: '0123456789ab' } }), 'planned');
  assert.equal(planned.provenance?.plan, '0123456789ab');
  const cases: Array<[string, () => Buffer]> = [
    ['garbage bytes', () => Buffer.from('not msgpack at all \xc1\xc1')],
    ['wrong version', () => pack({ ...JSON.parse('{}'), format: 'flor-segment', version: 2 })],
    ['name index out of range', () => encodeSegment({ ...good, name: Int32Array.from(good.name, (x) => x + 100) })],
    ['frame out of range', () => encodeSegment({ ...good, frame: Int32Array.from(good.frame, () => 7) })],
    ['short column', () => encodeSegment({ ...good, num: good.num.subarray(1) })],
    ['value count mismatch', () => encodeSegment({ ...good, other: good.other.slice(1) })],
    // A plan is named by its 12-hex-digit id; anything else would pass for a shard's share of no plan.
    ['provenance.plan not a plan id', () => encodeSegment({ ...good, source: 'replay', provenance: { ...prov, plan: 42 as unknown as string } })],
    ['provenance.plan a path', () => encodeSegment({ ...good, source: 'replay', provenance: { ...prov, plan: '../../HEAD' } })],
  ];
  for (const [label, make] of cases) {
    for (const own of [false, true]) {
      assert.throws(
        () => decodeSegment(make(), 'run XYZ segment forward', own),
        (e: unknown) => isFlorError(e) && /run XYZ segment forward/.test(e.message),
        `${label}${own ? ', in its own bytes' : ''}`,
      );
    }
  }
});

test('a segment decoded in its own bytes equals the one decoded from a copy, wherever its columns fall', () => {
  const { cols } = allTypes();
  let moved = 0;
  for (let pad = 0; pad < 8; pad++) {
    // A longer name moves every column after it by a byte: each alignment of each column is met.
    const bytes = encodeSegment(makeSegment(ulid(), 'forward', { ...cols, names: cols.names.map((n, i) => (i === 0 ? n + 'y'.repeat(pad) : n)) }));
    for (const shift of [0, 1, 4]) {
      const own = Buffer.alloc(bytes.length + shift).subarray(shift); // where the blob sits in its memory
      own.set(bytes);
      const before = Buffer.from(own);
      const seg = decodeSegment(own, 'own', true);
      assert.deepEqual(seg, decodeSegment(bytes, 'copy'), `pad ${pad}, shift ${shift}`);
      const columns = [seg.frames.parent, seg.frames.loop, seg.frames.iter, seg.name, seg.frame, seg.num, seg.kind];
      assert.ok(columns.every((c) => c.buffer === own.buffer), 'no column is a copy');
      if (!own.equals(before)) moved++;
    }
  }
  assert.ok(moved > 0, 'some columns were moved into alignment');
});

test('concatColumns remaps table indices and frame parents', () => {
  const a: RecordColumns = {
    names: ['loss'], loops: ['epoch'],
    frames: { parent: Int32Array.of(-1), loop: Int32Array.of(0), iter: Int32Array.of(0) },
    name: Int32Array.of(0), frame: Int32Array.of(0), num: Float64Array.of(1), kind: Uint8Array.of(0), other: [],
  };
  const b: RecordColumns = {
    names: ['acc', 'loss'], loops: ['step', 'epoch'],
    frames: { parent: Int32Array.of(-1, 0), loop: Int32Array.of(1, 0), iter: Int32Array.of(5, 2) },
    name: Int32Array.of(1, 0), frame: Int32Array.of(1, -1), num: Float64Array.of(2, NaN), kind: Uint8Array.of(0, 1), other: ['x'],
  };
  const c = concatColumns([a, b]);
  assert.deepEqual(c.names, ['loss', 'acc']);
  assert.deepEqual(c.loops, ['epoch', 'step']);
  assert.deepEqual([...c.frames.parent], [-1, -1, 1]);
  assert.deepEqual([...c.frames.loop], [0, 0, 1]);
  assert.deepEqual([...c.name], [0, 0, 1]);
  assert.deepEqual([...c.frame], [0, 2, -1]);
  assert.deepEqual(c.other, ['x']);
  decodeSegment(encodeSegment(makeSegment(ulid(), 'forward', c)), 'concat'); // indices valid
});

function chunk(i: number, n: number) {
  return {
    t: 'chunk' as const,
    names: i === 0 ? ['loss', 'msg'] : [],
    loops: i === 0 ? ['epoch'] : [],
    frames: { parent: Int32Array.of(-1), loop: Int32Array.of(0), iter: Int32Array.of(i) },
    name: new Int32Array(n),
    frame: new Int32Array(n).fill(i),
    num: Float64Array.from({ length: n }, (_, k) => i * 1000 + k),
    kind: new Uint8Array(n),
    other: [] as Value[],
  };
}

test('journal: chunks merge in order; a cut last frame is ignored', () => {
  const dir = tempDir();
  const meta = makeMeta();
  const path = join(dir, 'x.jrnl');
  const w = openJournalAt(path);
  w.append({ t: 'start', meta, codeTree: 'b'.repeat(40), pid: 4242, host: 'h' });
  w.append(chunk(0, 5));
  w.append({ t: 'args', args: { lr: 0.5, big: 3n } });
  // A chunk given as subarray views of a larger buffer, as a growing runtime buffer would.
  const big = chunk(1, 10);
  w.append({ ...big, name: big.name.subarray(2, 5), frame: big.frame.subarray(2, 5), num: big.num.subarray(2, 5), kind: big.kind.subarray(2, 5) });
  w.append({ t: 'ckpt', iter: 0, key: 'c'.repeat(64), bytes: 99 });
  const before = statSync(path).size;
  w.append(chunk(2, 4));
  w.close();
  const whole = readJournal(path);
  assert.equal(whole.records.name.length, 12);
  assert.equal(whole.truncatedBytes, 0);
  // Cut the last frame in the middle: its records vanish, everything before stays.
  truncateSync(path, before + 10);
  const j = readJournal(path);
  assert.equal(j.truncatedBytes, 10);
  assert.equal(j.start?.pid, 4242);
  assert.equal(j.start?.meta.id, meta.id);
  assert.deepEqual(j.records.names, ['loss', 'msg']);
  assert.deepEqual([...j.records.num], [0, 1, 2, 3, 4, 1002, 1003, 1004]);
  assert.deepEqual([...j.records.frame], [0, 0, 0, 0, 0, 1, 1, 1]);
  assert.deepEqual([...j.records.frames.iter], [0, 1]);
  assert.deepEqual(j.args, { lr: 0.5, big: 3n });
  assert.deepEqual(j.ckpts, [{ iter: 0, key: 'c'.repeat(64), bytes: 99 }]);
  assert.equal(j.end, null);
  // Only the 4-byte length of a frame made it: also a cut tail.
  appendFileSync(path, Buffer.from([200, 0, 0]));
  assert.equal(readJournal(path).records.name.length, 8);
});

test('journal: a damaged frame before the end is an error naming the file', () => {
  const dir = tempDir();
  const path = join(dir, 'y.jrnl');
  const w = openJournalAt(path);
  w.append({ t: 'start', meta: makeMeta(), codeTree: 'b'.repeat(40), pid: 1, host: 'h' });
  w.append(chunk(0, 3));
  w.append(chunk(1, 3));
  w.close();
  const buf = readFileSync(path);
  const second = 4 + buf.readUInt32LE(0);
  buf.fill(0xc1, second + 4, second + 12); // 0xc1 is never valid msgpack
  writeFileSync(path, buf);
  assert.throws(() => readJournal(path), (e: unknown) => isFlorError(e, 'CORRUPT_JOURNAL') && e.message.includes(path));
});

test('journal: listJournals and readJournalStart', () => {
  const common = tempDir();
  assert.deepEqual(listJournals(common), []);
  const m1 = makeMeta();
  const m2 = makeMeta();
  for (const m of [m2, m1]) {
    const w = openJournal(common, m.id);
    w.append({ t: 'start', meta: m, codeTree: 'b'.repeat(40), pid: 77, host: 'box' });
    w.close();
  }
  const list = listJournals(common);
  assert.deepEqual(list, [m1.id, m2.id].sort().map((id) => join(common, 'flor', 'journal', `${id}.jrnl`)));
  const s = readJournalStart(list[0]!);
  assert.equal(s?.pid, 77);
  assert.equal(s?.host, 'box');
  assert.equal(readJournalStart(join(common, 'none.jrnl')), null);
});
