/**
 * The small-buffer msgpack decoder (store/msgpack-read.ts) gives what msgpackr's unpacker gives
 * with pack.ts's options, value for value, and fails where it fails, on crafted and random bytes;
 * and the common commands read a small history without loading msgpackr.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Packr, Unpackr } from 'msgpackr';
import { unpackPlain } from '../src/store/msgpack-read.js';
import { unpack } from '../src/store/pack.js';
import { isFlorError } from '../src/errors.js';
import { makeRepo, cleanup, testEnv, BIN } from './helpers/repo.js';

after(cleanup);

const msgpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
const packr = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true, variableMapSize: true });

/** Both decoders' outcome: the value, or that it threw. */
function both(bytes: Uint8Array): [unknown, unknown] {
  const run = (f: (b: Uint8Array) => unknown): unknown => {
    try {
      return { value: f(bytes) };
    } catch {
      return 'threw';
    }
  };
  return [run(unpackPlain), run((b) => msgpackr.unpack(b))];
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/ /g, ''), 'hex');

test('unpackPlain decodes what msgpackr decodes: every type, size boundary and map-key form', () => {
  const values: unknown[] = [
    null, true, false, 0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53),
    0.5, -1e300, NaN, Infinity, '', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(256), 'x'.repeat(65536), 'ünïcödé ✓', '😀'.repeat(40),
    Buffer.from([1, 2, 3]), Buffer.alloc(300), Buffer.alloc(70000),
    Array.from({ length: 20 }, (_, i) => i), Array.from({ length: 70000 }, () => 1),
    Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, [i]])), { ['y'.repeat(40)]: 1, nested: { a: { b: [{}] } } },
  ];
  for (const v of values) assert.deepEqual(...both(packr.pack(v)), String(v).slice(0, 30));
  const crafted = [
    'ca 3f c0 00 00', // float32
    'cf 00 00 00 01 00 00 00 00', // uint64
    'd3 ff ff ff ff ff ff ff ff', // int64 -1
    '82 01 a1 61 c3 a1 62', // numeric and boolean keys: {"1": "a", "true": "b"}
    '81 c0 01', // nil key
    '81 a9 5f 5f 70 72 6f 74 6f 5f 5f 01', // __proto__
    '81 d9 02 6b 6b 01', // str8 key
    '81 c4 01 00 01', // bin key
    '81 90 01', // array key
    'a3 ed a0 80', // a surrogate half in UTF-8 (invalid)
    'a4 f0 9f 98', // a cut 4-byte sequence
    'a2 c3 28', // a bad continuation byte
    'd9 41 ' + 'e2 82 ac'.repeat(21) + ' ff 41', // long, with a bad byte
  ];
  for (const h of crafted) assert.deepEqual(...both(hex(h)), h);
  assert.deepEqual(unpackPlain(hex('81 a9 5f 5f 70 72 6f 74 6f 5f 5f 01')), { __proto_: 1 });
  // Keys are cached by length and first bytes: one that shares them is told apart by the rest.
  assert.deepEqual([unpackPlain(packr.pack({ abc: 1 })), unpackPlain(packr.pack({ abd: 2 })), unpackPlain(packr.pack({ abc: 3 }))], [{ abc: 1 }, { abd: 2 }, { abc: 3 }]);
  assert.equal(Object.getPrototypeOf(unpackPlain(hex('80'))), Object.prototype);
});

test('unpackPlain fails where msgpackr fails: cut short, trailing bytes, lengths past the end', () => {
  const whole = packr.pack({ a: [1, 'two', Buffer.from([3])], b: 'x'.repeat(40) });
  for (let n = 0; n < whole.length; n++) assert.deepEqual(both(whole.subarray(0, n)), ['threw', 'threw'], `cut at ${n}`);
  assert.deepEqual(both(Buffer.concat([whole, hex('c0')])), ['threw', 'threw']);
  for (const h of ['dd ff ff ff ff', 'df 00 01 00 00 01', 'c6 00 00 10 00 00', 'db 00 00 10 00']) assert.deepEqual(both(hex(h)), ['threw', 'threw'], h);
});

test('unpackPlain and msgpackr agree on random bytes (standard msgpack only, as unpack() admits)', () => {
  let seed = 7;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let i = 0; i < 20000; i++) {
    const b = Buffer.from(Array.from({ length: 1 + rnd(12) }, () => rnd(256)));
    try {
      unpack(b);
    } catch (e) {
      if (isFlorError(e) && /extension|never used/.test(e.message)) continue; // refused before decoding
    }
    assert.deepEqual(...both(b), b.toString('hex'));
  }
});

test('runs, show and log over a small history load no msgpackr', () => {
  const dir = makeRepo({ files: { 'train.mjs': "import { flor } from 'git-flor';\nfor (const e of flor.loop('epoch', [1, 2])) flor.log('loss', { e, s: 'x' });\n" } });
  for (let i = 0; i < 2; i++) assert.equal(spawnSync(process.execPath, ['train.mjs'], { cwd: dir, env: testEnv() }).status, 0);
  const hook = join(dir, 'hook.cjs');
  writeFileSync(hook, "const M = require('module'); const load = M._load;\nM._load = function (r, ...a) { if (/msgpackr/.test(r)) process.stderr.write('required ' + r + '\\n'); return load.call(this, r, ...a); };\n");
  const flor = (args: string[]) => spawnSync(process.execPath, ['-r', hook, BIN, ...args], { cwd: dir, env: testEnv(), encoding: 'utf8' });
  const first = flor(['runs', '--format', 'json']); // fills the derived cache
  assert.equal(first.status, 0, first.stderr);
  const id = (JSON.parse(first.stdout) as Array<{ run: string }>)[0]!.run;
  for (const args of [['runs'], ['show', id], ['log', 'loss']]) {
    const r = flor(args);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stderr.split('\n').filter((l) => l.startsWith('required')), [], `git flor ${args.join(' ')}`);
  }
});
