/**
 * flor.memo through a real record and a real replay: every storable type comes back as it was,
 * thrown errors are thrown again, concurrent calls with and without keys reach their call sites,
 * a call with no recorded value is made live (counted, stored) or, with noLiveCalls, fails the
 * replay; a result flor cannot store is an error at record time. Needs the built dist/.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { replayMissing } from '../src/replay/replay.js';
import { keyed } from './helpers/segments.js';
import { requireRepoSync } from '../src/store/git.js';
import { readableRuns, readSegment } from '../src/store/ledger.js';
import { makeRepo, runNode, writeFiles, cleanup, tempDir } from './helpers/repo.js';
import { florIn } from './helpers/cli.js';

after(cleanup);

// What the program saw, down to the types: the replay's copy of this must equal the run's.
const PRELUDE = `import { flor } from 'git-flor';
import { appendFileSync } from 'node:fs';
const note = (what) => { if (process.env.MEMO_CALLS) appendFileSync(process.env.MEMO_CALLS, what + '\\n'); };
const kind = (x) => x === null ? 'null' : typeof x !== 'object' ? typeof x : x.constructor.name + (Object.getPrototypeOf(x) === Object.prototype ? ':plain' : '');
const bytes = (b) => [...new Uint8Array(b.buffer ?? b, b.byteOffset ?? 0, b.byteLength)].map(String);
const show = (x) => JSON.stringify(x, function (k, y) {
  const raw = this[k];
  if (Object.is(y, -0)) return '-0';
  if (raw instanceof ArrayBuffer || raw instanceof DataView || Buffer.isBuffer(raw)) return [raw.constructor.name, ...bytes(raw)];
  if (raw instanceof Date) return 'Date ' + raw.toISOString();
  if (typeof y === 'bigint') return y + 'n';
  if (typeof y === 'number' && !Number.isFinite(y)) return String(y);
  if (y instanceof Map) return ['Map', ...y];
  if (y instanceof Set) return ['Set', ...y];
  if (ArrayBuffer.isView(y)) return [y.constructor.name, ...[...y].map(String)];
  if (y && typeof y === 'object' && Object.getPrototypeOf(y) === Object.prototype) {
    const kinds = Object.assign(Object.create(null), Object.fromEntries(Object.entries(y).map(([a, b]) => [a, kind(b)])));
    return Object.assign(Object.create(null), { kinds }, y);
  }
  return y;
});
const sleep = (ms, v) => new Promise((r) => setTimeout(() => r(v), ms));
const value = (i) => ({
  num: i + 0.5, neg: -3, str: 's' + i, bool: i % 2 === 0, nul: null, nan: NaN, inf: -Infinity, big: 10n ** 20n + BigInt(i),
  f32: new Float32Array([i, 1.5]), u8: new Uint8Array([i, 255]), i64: new BigInt64Array([-5n, BigInt(i)]), f64: new Float64Array([Math.PI]),
  date: new Date(Date.UTC(2026, 0, i + 1)), map: new Map([['a', i], ['b', [1, 2]]]), set: new Set([i, 'x']),
  arr: [1, 'two', [3, { four: 4 }]], obj: { nested: { deep: i } }, flor: { $flor: 'not a tag' },
  buf: Buffer.from([i, 7]), ab: new Uint8Array([i, 9]).buffer, dv: new DataView(new Uint8Array([5, i, 3]).buffer, 1), nz: -0, zeros: [-0, 0, { z: -0 }],
});
`;

const LOOP = (extra: string) => `${PRELUDE}
for (const i of flor.loop('item', [0, 1, 2])) {
  const v = flor.memo('value', () => { note('value'); return value(i); });
  const n = flor.memo('num', () => { note('num'); return i * 2.5; });
  const p = flor.memo('async', () => { note('async'); return sleep(5, { at: i }); });
  const isPromise = p instanceof Promise;
  const a = await p;
  // Keys: the slow call finishes last when recorded, first when replayed.
  const keyed = await Promise.all(['slow', 'fast'].map((k) => flor.memo('keyed', k, () => { note('keyed'); return sleep(k === 'slow' ? 30 : 1, k + i); })));
  // No keys, overlapping: told apart by the order they are made.
  const raced = await Promise.all([25, 1].map((ms) => flor.memo('raced', () => { note('raced'); return sleep(ms, ms * 100 + i); })));
  let err = null;
  try { flor.memo('boom', () => { note('boom'); throw new RangeError('bad ' + i); }); } catch (e) { err = e.constructor.name + ' ' + e.name + ': ' + e.message; }
  const ap = flor.memo('aboom', async () => { note('aboom'); throw Object.assign(new Error('async bad ' + i), { name: 'ModelError' }); });
  let aerr = null;
  try { await ap; } catch (e) { aerr = e.constructor.name + ' ' + e.name + ': ' + e.message; }
  const undef = flor.memo('undef', () => { note('undef'); return undefined; });
  const fresh = flor.memo('fresh', 'k' + i + (process.env.VARIANT ?? ''), () => { note('fresh'); return 'live ' + i; });
  const seen = show({ v, n, isPromise, a, keyed, raced, err, aerrPromise: ap instanceof Promise, aerr, undef: undef === undefined ? 'undefined' : kind(undef), fresh });
  flor.log('seen', seen);${extra}
}
`;

let dir = '';
let recordStderr = '';

before(() => {
  dir = makeRepo({ files: { 'memo.mjs': LOOP('') } });
  const r = runNode(dir, 'memo.mjs');
  recordStderr = r.stderr;
  writeFiles(dir, { 'memo.mjs': LOOP("\n  flor.log('seen_again', seen);") });
});

async function records(name: string): Promise<Array<{ source: string; ctx: string; value: unknown }>> {
  const repo = requireRepoSync(dir);
  const runs = await readableRuns(repo);
  const out: Array<{ source: string; ctx: string; value: unknown }> = [];
  for (const s of runs[0]!.segments) {
    const seg = await readSegment(repo, s.oid);
    for (const k of keyed(seg, (n) => n === name)) out.push({ source: seg.source, ctx: k.ctx, value: k.value });
  }
  return out;
}

test('memoised values are recorded like logged values: readers see them under their name', async () => {
  assert.equal(recordStderr.match(/flor\.memo\('raced'\) was called again while an earlier call of it in item=0 was still running/g)?.length, 1, recordStderr);
  const num = await records('num');
  assert.deepEqual(num.map((r) => [r.ctx, r.value]), [['item=0', 0], ['item=1', 2.5], ['item=2', 5]]);
  // A memoised number is a number for readers, as a logged one is (SQL's DOUBLE `value`, not JSON).
  const sql = await florIn(dir, ['sql', "select value, value_json from logs where name = 'num' order by item"]);
  assert.equal(sql.status, 0, sql.stderr);
  assert.match(sql.stdout, /^value\s+value_json\n\s*0\s+0\n\s*2\.5\s+2\.5\n\s*5\s+5\n$/);
  const value = (await records('value'))[1]!.value as Record<string, unknown>;
  // Readers get a Date's text, a Map's object and a Set's array, as for logged values.
  assert.equal(value.date, '2026-01-02T00:00:00.000Z');
  assert.deepEqual(value.map, { a: 1, b: [1, 2] });
  assert.deepEqual(value.set, [1, 'x']);
  assert.ok(value.f32 instanceof Float32Array);
  // Readers see a Buffer, ArrayBuffer or DataView as its bytes, and keep a memoised -0.
  assert.deepEqual(value.buf, new Uint8Array([1, 7]));
  assert.deepEqual(value.ab, new Uint8Array([1, 9]));
  assert.deepEqual(value.dv, new Uint8Array([1, 3]));
  assert.ok(Object.is(value.nz, -0));
  assert.ok(Object.is((value.zeros as unknown[])[0], -0) && Object.is((value.zeros as unknown[])[1], 0));
  const boom = await records('boom');
  assert.deepEqual(boom[2]!.value, { $flor: 'thrown', name: 'RangeError', message: 'bad 2' });
  const keyedRecs = await records('keyed');
  // Records are written as the calls finish: the fast one first.
  assert.deepEqual(keyedRecs.filter((r) => r.ctx === 'item=0').map((r) => r.value), ['fast0', 'slow0']);
});

test('a replay gives every call its recorded result, as the run saw it, without calling anything', async () => {
  const calls = join(tempDir(), 'calls');
  const report = await replayMissing(requireRepoSync(dir), ['seen_again'], { workers: 1, env: { MEMO_CALLS: calls } });
  assert.deepEqual(report.mismatches, []);
  const o = report.outcomes[0]!;
  assert.equal(o.status, 'replayed', JSON.stringify(o));
  assert.deepEqual(o.status === 'replayed' ? o.live : null, {});
  assert.equal(existsSync(calls), false, existsSync(calls) ? readFileSync(calls, 'utf8') : '');
  const seen = await records('seen');
  const again = await records('seen_again');
  assert.equal(again.length, 3);
  assert.deepEqual(again.map((r) => r.value), seen.map((r) => r.value));
  const first = JSON.parse(seen[1]!.value as string) as Record<string, unknown>;
  // The run's own view of its values (so the replay's equal copy is about the same types).
  assert.deepEqual((first.v as { kinds: Record<string, string> }).kinds, {
    num: 'number', neg: 'number', str: 'string', bool: 'boolean', nul: 'null', nan: 'number', inf: 'number', big: 'bigint',
    f32: 'Float32Array', u8: 'Uint8Array', i64: 'BigInt64Array', f64: 'Float64Array', date: 'Date', map: 'Map', set: 'Set',
    arr: 'Array', obj: 'Object:plain', flor: 'Object:plain', buf: 'Buffer', ab: 'ArrayBuffer', dv: 'DataView', nz: 'number', zeros: 'Array',
  });
  const v = first.v as Record<string, unknown>;
  assert.deepEqual([v.buf, v.ab, v.dv, v.nz, v.zeros], [['Buffer', '1', '7'], ['ArrayBuffer', '1', '9'], ['DataView', '1', '3'], '-0', ['-0', 0, { kinds: { z: 'number' }, z: '-0' }]]);
  assert.equal((first.v as Record<string, unknown>).date, 'Date 2026-01-02T00:00:00.000Z');
  assert.deepEqual((first.v as Record<string, unknown>).i64, ['BigInt64Array', '-5', '1']);
  assert.equal(first.isPromise, true);
  assert.deepEqual(first.keyed, ['slow1', 'fast1']);
  assert.deepEqual(first.raced, [2501, 101]);
  assert.equal(first.err, 'RangeError RangeError: bad 1');
  assert.equal(first.aerrPromise, true);
  assert.equal(first.aerr, 'Error ModelError: async bad 1');
  assert.equal(first.undef, 'undefined');
});

test('a call with a new key is made live, counted per name and stored; --no-live-calls fails instead', async () => {
  writeFiles(dir, { 'memo.mjs': LOOP("\n  flor.log('seen_third', seen);") });
  const refused = await replayMissing(requireRepoSync(dir), ['seen_third'], { workers: 1, env: { VARIANT: '-v2' }, noLiveCalls: true });
  const f = refused.outcomes[0]!;
  assert.equal(f.status, 'failed');
  assert.match(f.status === 'failed' ? f.reason : '', /flor\.memo\('fresh', "k0-v2"\) has no recorded value at item=0, and this replay may not call it live \(--no-live-calls\)/);

  const calls = join(tempDir(), 'calls');
  const report = await replayMissing(requireRepoSync(dir), ['seen_third'], { workers: 1, env: { VARIANT: '-v2', MEMO_CALLS: calls } });
  const o = report.outcomes[0]!;
  assert.equal(o.status, 'replayed', JSON.stringify(o));
  assert.deepEqual(o.status === 'replayed' ? o.live : null, { fresh: 3 });
  assert.equal(readFileSync(calls, 'utf8'), 'fresh\nfresh\nfresh\n');
  const fresh = await records('fresh');
  assert.deepEqual(fresh.filter((r) => r.source === 'replay').map((r) => [r.ctx, r.value]), [['item=0', 'live 0'], ['item=1', 'live 1'], ['item=2', 'live 2']]);

  // The next replay finds them recorded: nothing is called.
  rmSync(calls);
  writeFiles(dir, { 'memo.mjs': LOOP("\n  flor.log('seen_fourth', seen);") });
  const again = await replayMissing(requireRepoSync(dir), ['seen_fourth'], { workers: 1, env: { VARIANT: '-v2', MEMO_CALLS: calls }, noLiveCalls: true });
  assert.equal(again.outcomes[0]!.status, 'replayed', JSON.stringify(again.outcomes[0]));
  assert.equal(existsSync(calls), false);
});

test('a result flor cannot store is an error at record time that says to return the data', () => {
  const d = makeRepo({
    files: {
      'bad.mjs': `import { flor } from 'git-flor';
for (const i of flor.loop('i', [0])) {
  try { await flor.memo('resp', () => Promise.resolve(new Response('hello'))); } catch (e) { console.log(e.code, e.message); }
  try { flor.memo('fn', () => ({ ok: 1, cb: () => 2 })); } catch (e) { console.log(e.code, e.message); }
  try { flor.memo('deep', () => ({ data: { stream: new ReadableStream() } })); } catch (e) { console.log(e.code, e.message); console.log(e.hint); }
}
`,
    },
  });
  const r = runNode(d, 'bad.mjs');
  assert.equal(
    r.stdout,
    "MEMO_UNSTORABLE flor.memo('resp'): the result is a Response, which flor cannot store\n" +
      "MEMO_UNSTORABLE flor.memo('fn'): result.cb is a function, which flor cannot store\n" +
      "MEMO_UNSTORABLE flor.memo('deep'): result.data.stream is a ReadableStream, which flor cannot store\n" +
      'return the data instead of the object that holds it: `() => fetch(url).then((r) => r.text())` (or `r.json()`), not the Response\n',
  );
});

test('flor.iteration: concurrent request handlers keep their records apart, inside a loop and at top level', async () => {
  const d = makeRepo({
    files: {
      'server.mjs': `import { flor } from 'git-flor';
import { createServer } from 'node:http';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const server = createServer((req, res) => {
  const i = Number(new URL(req.url, 'http://x').searchParams.get('i'));
  flor.iteration('request', i, async () => {
    flor.log('got', i);
    await sleep((6 - i) * 7); // the first request finishes last
    await Promise.all([sleep(1).then(() => flor.log('side', i * 100)), sleep(2)]);
    flor.log('answer', 'r' + i);
    res.end('ok');
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = 'http://127.0.0.1:' + server.address().port + '/?i=';
for (const round of flor.loop('round', [0, 1])) {
  await Promise.all([0, 1, 2, 3, 4, 5].map((i) => fetch(url + i).then((r) => r.text())));
  flor.log('round_done', round);
}
await Promise.all([6, 7].map((i) => fetch(url + i).then((r) => r.text())));
const back = flor.iteration('sync', 3, () => flor.log('inside', 'sync'));
flor.log('outside', back);
server.close();
`,
    },
  });
  runNode(d, 'server.mjs');
  const repo = requireRepoSync(d);
  const [r] = await readableRuns(repo);
  const seg = await readSegment(repo, r!.segments[0]!.oid);
  const at = (name: string) => keyed(seg, (n) => n === name).map((k) => `${k.ctx} ${String(k.value)}`).sort();
  // Requests of a round sit in that round's iteration; those after the loop at top level.
  const expect = (f: (i: number) => string) => [...[0, 1, 2, 3, 4, 5].flatMap((i) => [0, 1].map((round) => `round=${round}/request=${i} ${f(i)}`)), ...[6, 7].map((i) => `request=${i} ${f(i)}`)].sort();
  assert.deepEqual(at('got'), expect((i) => String(i)));
  assert.deepEqual(at('side'), expect((i) => String(i * 100)));
  assert.deepEqual(at('answer'), expect((i) => 'r' + i));
  assert.deepEqual(at('round_done'), ['round=0 0', 'round=1 1']);
  assert.deepEqual(at('inside'), ['sync=3 sync']);
  assert.deepEqual(at('outside'), [' sync']);
  assert.deepEqual(r!.meta.loops.map((l) => `${l.parent ?? '-'}>${l.name}:${l.iterations}`).sort(), ['->request:8', '->round:2', '->sync:4', 'round>request:6']);
});

test('the memo fidelity check: a replayed memo value must be the recorded one for that call, given the same way', async () => {
  const { checkMemo } = await import('../src/replay/memo-feed.js');
  const entry = (id: string, tag: Record<string, unknown>) => ({ i: 0, name: 'reply', ctx: 'p=0', id, tag: { $flor: 'memo', occ: 0, ...tag } as never });
  const recorded = [entry('a', { v: 'hello', async: true }), entry('b', { v: 'x' })];
  assert.deepEqual(checkMemo('R', recorded, [entry('a', { v: 'hello', async: true }), entry('b', { v: 'x' }), entry('c', { v: 'new', live: true })]), []);
  const bad = checkMemo('R', recorded, [entry('a', { v: 'hello!', async: true }), entry('b', { v: 'x', async: true }), entry('c', { v: 'no twin' })]);
  assert.deepEqual(bad.map((m) => [m.recorded, m.replayed]), [['hello', 'hello!'], ['x', 'x'], [undefined, 'no twin']]);
});

test('memo call sites: literal names of flor.memo calls, in JS and TS', async () => {
  const { memoNamesIn } = await import('../src/replay/memo-sites.js');
  const ts = `import { flor } from 'git-flor';
const r = await flor.memo<string>('reply', key, () => call());
const s = flor.memo(\`judge\`, () => 1) as number;
const t = flor.memo(name, () => 2); // not a literal: unknown
other.memo('not-flor', () => 3);
// flor.memo('in a comment')
`;
  assert.deepEqual(memoNamesIn('a.ts', ts), ['judge', 'reply']);
  assert.deepEqual(memoNamesIn('a.mjs', 'flor.memo("x", () => 1); flor.memo('), []);
});

test("a run records, per outer iteration, the time its flor.memo calls took: overlapping calls once, time outside them not at all, calls before the loop in no iteration but as setup", async () => {
  const dir = makeRepo({ files: { 'timed.mjs': `import { flor } from 'git-flor';
const sleep = (ms, v) => new Promise((r) => setTimeout(() => r(v), ms));
await flor.memo('setup', () => sleep(40, 'data'));
for (const i of flor.loop('item', [0, 1, 2])) {
  await sleep(30); // not a memoised call
  const both = await Promise.all(['a', 'b'].map((k) => flor.memo('reply', k, () => sleep(60, k + i))));
  flor.log('n', both.length + (i === 1 ? flor.memo('sync', () => 1) : 0));
}
` } });
  runNode(dir, 'timed.mjs');
  const [r] = await readableRuns(requireRepoSync(dir));
  const { outerMs, memoMs, memoSetupMs } = r!.meta;
  assert.equal(outerMs.length, 3);
  // The 40 ms 'setup' call before the loop: outside every iteration.
  assert.ok(memoSetupMs !== undefined && memoSetupMs >= 35 && memoSetupMs < Math.min(...outerMs), JSON.stringify({ outerMs, memoMs, memoSetupMs }));
  assert.equal(memoMs?.length, 3, JSON.stringify({ outerMs, memoMs }));
  for (let i = 0; i < 3; i++) {
    const m = memoMs![i]!;
    assert.ok(m >= 55, `iteration ${i}: the two 60 ms calls took ${m} ms`);
    // Counted twice, two calls running together for the whole of their stretch would exceed it.
    assert.ok(outerMs[i]! - m >= 25, `iteration ${i}: ${outerMs[i]} ms in all, ${m} ms in memo calls, with a 30 ms sleep outside them`);
  }
});
