/** The record buffer's chunks, written through a real journal and read back; run ids. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { RecordBuffer, freezeValue } from '../src/runtime/buffer.js';
import { ulid, ulidTime } from '../src/runtime/ulid.js';
import { openJournalAt, readJournal } from '../src/store/journal.js';
import { KIND_NUMBER } from '../src/store/records.js';
import { tempDir, cleanup } from './helpers/repo.js';

after(cleanup);

test('chunks append to the run-wide tables: frame and name indices survive flushes', () => {
  const b = new RecordBuffer();
  const j = openJournalAt(join(tempDir(), 'r.jrnl'));
  const epoch = b.loopId('epoch');
  const step = b.loopId('step');
  const expected: string[] = [];
  for (let e = 0; e < 3; e++) {
    const ef = b.newFrame(-1, epoch, e);
    for (let s = 0; s < 5000; s++) {
      b.curFrame = b.newFrame(ef, step, s);
      b.push('loss', e + s / 10_000);
      expected.push(`loss epoch=${e}/step=${s} ${e + s / 10_000}`);
    }
    b.curFrame = ef;
    b.push(e === 1 ? 'acc' : 'loss', { e });
    expected.push(`${e === 1 ? 'acc' : 'loss'} epoch=${e} {"e":${e}}`);
    j.append(b.takeChunk()); // one chunk per epoch, as a flush would cut them
    b.curFrame = -1;
  }
  assert.equal(b.dirty(), false);
  assert.equal(b.total(), 3 * 5001);
  j.close();
  const c = readJournal(j.path).records;
  assert.deepEqual(c.names, ['loss', 'acc']);
  assert.deepEqual(c.loops, ['epoch', 'step']);
  const got: string[] = [];
  let o = 0;
  for (let i = 0; i < c.name.length; i++) {
    const ctx: string[] = [];
    for (let f = c.frame[i]!; f >= 0; f = c.frames.parent[f]!) ctx.unshift(`${c.loops[c.frames.loop[f]!]}=${c.frames.iter[f]}`);
    const v = c.kind[i] === KIND_NUMBER ? String(c.num[i]) : JSON.stringify(c.other[o++]);
    got.push(`${c.names[c.name[i]!]} ${ctx.join('/')} ${v}`);
  }
  assert.deepEqual(got, expected);
});

test('logged values are copied at log time', () => {
  const t = new Float32Array([1, 2]);
  const o = { a: [1], t, d: new Date(0), m: new Map([['k', 1]]), f: () => 1 };
  const v = freezeValue(o) as Record<string, unknown>;
  t[0] = 9;
  o.a.push(2);
  assert.deepEqual(v, { a: [1], t: new Float32Array([1, 2]), d: '1970-01-01T00:00:00.000Z', m: { k: 1 } });
  assert.equal(freezeValue(undefined), null);
});

test('run ids: 26 chars, time-ordered, unique and monotonic within a millisecond', () => {
  const now = Date.UTC(2026, 0, 1);
  const ids = Array.from({ length: 1000 }, () => ulid(now));
  assert.ok(ids.every((id) => /^[0-9A-HJKMNP-TV-Z]{26}$/.test(id)));
  assert.equal(new Set(ids).size, 1000);
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(ulidTime(ids[0]!), now);
  assert.ok(ulid(now + 1) > ids.at(-1)!);
});
