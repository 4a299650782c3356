/**
 * The journal's msgpack encoder (store/msgpack-write.ts) writes the bytes msgpackr writes with
 * pack.ts's options, at every size boundary of every type, and a recorded run does not load
 * msgpackr.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { packPlain } from '../src/store/msgpack-write.js';
import { pack, unpack, encodeValue } from '../src/store/pack.js';
import { join } from 'node:path';
import { makeRepo, cleanup, testEnv, ROOT } from './helpers/repo.js';
import { encodeRunMeta, decodeRunMeta } from '../src/store/run-meta.js';
import { makeMeta } from './helpers/store-fixtures.js';

after(cleanup);

const ints = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, 2 ** 53, -1, -0x20, -0x21, -0x80, -0x81, -0x8000, -0x8001, -0x80000000, -0x80000001, -(2 ** 53)];
const floats = [0.5, -1.25, 1e300, -0, NaN, Infinity, -Infinity, Number.MIN_VALUE];
const strings = ['', 'a', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(255), 'x'.repeat(256), 'x'.repeat(65535), 'x'.repeat(65536), 'ünïcödé ✓', '😀'.repeat(20), 'é'.repeat(200)];
const bytes = [0, 1, 255, 256, 65535, 65536].map((n) => Uint8Array.from({ length: n }, (_, i) => i & 0xff));
const lengths = [0, 1, 15, 16, 65535, 65536];

test('packPlain writes what msgpackr writes, at every size boundary', () => {
  const values: unknown[] = [null, true, false, ...ints, ...floats, ...strings, ...bytes, Buffer.from('buf')];
  for (const n of lengths) {
    values.push(Array.from({ length: n }, (_, i) => i));
    values.push(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])));
  }
  values.push({ t: 'start', meta: { id: 'x', args: encodeValue({ lr: 0.1, big: 5n, when: new Date(0), m: new Map([[1, 2]]) }), end: null }, pid: 1 });
  values.push({ nested: [[], {}, [{ a: [1, 'b', null] }]], u: undefined });
  for (const v of values) {
    const label = typeof v === 'string' ? `string of ${v.length}` : Array.isArray(v) ? `array of ${v.length}` : String(v).slice(0, 40);
    assert.deepEqual(packPlain(v), pack(v), label);
  }
});

test("a run's metadata is written as msgpackr wrote it (the capturer no longer loads msgpackr for it)", () => {
  const meta = makeMeta({ args: { lr: 0.1, big: 5n as unknown as number, when: new Date(0) as unknown as string, tags: ['a', 'b'], m: new Map([[1, 2]]) as unknown as number }, argCalls: { lr: [0.1, 0.2] }, loops: [{ name: 'epoch', parent: null, iterations: 2 }], outerMs: [1.5, 2], records: 7, status: 'ok', end: new Date(0).toISOString() });
  assert.deepEqual(encodeRunMeta(meta), pack({ ...meta, args: encodeValue(meta.args), argCalls: encodeValue(meta.argCalls) }));
  assert.equal(decodeRunMeta(encodeRunMeta(meta), 'test').records, 7);
});

test('packPlain round-trips through the readers, undefined as nil', () => {
  const v = { a: [1, -2, 3.5, 'x'], b: { c: new Uint8Array([1, 2]) }, d: undefined, e: -0 };
  assert.deepEqual(unpack(packPlain(v)), { a: [1, -2, 3.5, 'x'], b: { c: Buffer.from([1, 2]) }, d: null, e: 0 });
});

test('packPlain refuses what must be encoded first', () => {
  assert.throws(() => packPlain(5n), /cannot encode/);
  assert.throws(() => packPlain({ a: new Int32Array(2) }), /cannot encode/);
});

test('a recorded run loads no CommonJS package (msgpackr included)', () => {
  const dir = makeRepo({
    files: {
      'hook.mjs': [
        "import { createRequire } from 'node:module';",
        "const M = createRequire(import.meta.url)('module');",
        'const load = M._load;',
        "M._load = function (r, ...a) { if (!r.startsWith('node:') && !M.builtinModules.includes(r)) process.stderr.write('required ' + r + '\\n'); return load.call(this, r, ...a); };",
        '',
      ].join('\n'),
      'run.mjs': "import { flor } from 'git-flor';\nfor (const e of flor.loop('epoch', [1, 2])) flor.log('loss', { e, s: 'x' });\n",
    },
  });
  const r = spawnSync(process.execPath, ['--import', './hook.mjs', 'run.mjs'], { cwd: dir, env: testEnv(), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('required')).join('\n'), '');
});

test('a segment is written without msgpackr, in the bytes msgpackr writes, and reads back', () => {
  const probe = `
import { createRequire } from 'node:module';
const dist = process.argv[1];
const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('msgpackr'));
const { allocColumns, KIND_NUMBER, KIND_OTHER } = await import(dist + '/store/records.js');
const { encodeSegment, decodeSegment, makeSegment } = await import(dist + '/store/segment.js');
const { encodeValue, MemoRecord } = await import(dist + '/store/pack.js');
const c = allocColumns(2, 4, ['loss', 'reply', 'note'], ['epoch']);
c.frames.parent.set([-1, -1]); c.frames.loop.set([0, 0]); c.frames.iter.set([0, 1]);
c.name.set([0, 1, 0, 2]); c.frame.set([0, 0, 1, -1]);
c.num.set([0.25, NaN, 2 ** 40, NaN]); c.kind.set([KIND_NUMBER, KIND_OTHER, KIND_NUMBER, KIND_OTHER]);
c.other = ['y'.repeat(300), { at: new Date(0), tags: new Set(['a']), n: 12n, deep: [1, [2, { z: null }]] }];
c.memo = new Map([[1, encodeValue(new MemoRecord('y'.repeat(300), null, 'k', 0, true, false), true)]]);
const bytes = encodeSegment(makeSegment('01M946MQVQQF744NQXCK23XZGT', 'replay', c, { statements: ['reply'], code: 'a'.repeat(40), time: new Date(0).toISOString(), writer: 'w', segments: [[0, 2]], carried: ['reply'] }));
const before = loaded();
const back = decodeSegment(bytes, 'probe');
const { pack, unpack } = await import(dist + '/store/pack.js');
const same = Buffer.compare(bytes, pack(unpack(bytes))) === 0;
console.log(JSON.stringify({ before, same, names: back.names, num: [...back.num].map(String), other: back.other.length, memo: back.memo?.size ?? 0, prov: back.provenance }));
`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe, join(ROOT, 'dist')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout.trim());
  assert.equal(got.before, false, 'encoding (and decoding) a small segment loads no msgpackr');
  assert.equal(got.same, true, 'the bytes are those msgpackr writes for the same segment');
  assert.deepEqual(got.names, ['loss', 'reply', 'note']);
  assert.deepEqual(got.num, ['0.25', 'NaN', String(2 ** 40), 'NaN']);
  assert.equal(got.other, 2);
  assert.equal(got.memo, 1);
  assert.deepEqual(got.prov, { statements: ['reply'], code: 'a'.repeat(40), time: new Date(0).toISOString(), writer: 'w', segments: [[0, 2]], carried: ['reply'] });
});
