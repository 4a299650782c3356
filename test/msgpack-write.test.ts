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
import { makeRepo, cleanup, testEnv } from './helpers/repo.js';

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
