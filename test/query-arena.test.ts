import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Arena } from '../src/query/arena.js';

test('arrays from an arena never overlap, start zeroed (also after a reset), and a small round takes a small buffer', () => {
  const a = new Arena(1 << 20);
  const x = a.i32(10);
  const y = a.f64(3);
  const z = a.u8(5);
  x.fill(-1);
  y.fill(2.5);
  z.fill(7);
  assert.deepEqual([...x], Array(10).fill(-1));
  assert.deepEqual([...y], [2.5, 2.5, 2.5]);
  assert.deepEqual([...z], [7, 7, 7, 7, 7]);
  // A few values cost a buffer of a few KB, not the 1 MB chunk.
  assert.ok(x.buffer.byteLength <= 1 << 14, `first buffer ${x.buffer.byteLength} bytes`);
  a.reset();
  const again = a.i32(20);
  assert.equal(again.buffer, x.buffer, 'the buffer serves the next round');
  assert.deepEqual([...again], Array(20).fill(0));
});

test('a round larger than its buffers gets buffers that grow, and the next round one buffer as large as it needed', () => {
  const a = new Arena(1 << 20);
  const arrays = Array.from({ length: 40 }, () => a.f64(1000));
  const buffers = [...new Set(arrays.map((b) => b.buffer))];
  assert.ok(buffers.length > 1 && buffers.length < 10, `${buffers.length} buffers`);
  for (let i = 1; i < buffers.length; i++) assert.ok(buffers[i]!.byteLength >= buffers[i - 1]!.byteLength);
  arrays.forEach((b, i) => b.fill(i));
  arrays.forEach((b, i) => assert.ok(b.every((v) => v === i), `array ${i} was overwritten`));
  a.reset();
  const next = Array.from({ length: 40 }, () => a.f64(1000));
  assert.equal(new Set(next.map((b) => b.buffer)).size, 1);
  assert.ok(next.every((b) => b.every((v) => v === 0)));
});
