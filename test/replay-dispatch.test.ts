/**
 * The ordering of replay work: tasks reach the pool longest first among those ready, never more
 * than `workers` at once; background git work never runs more than `limit` at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dispatcher, limiter } from '../src/replay/dispatch.js';

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

test('dispatcher: tasks offered together start longest first, at most `workers` at a time', async () => {
  const dispatch = dispatcher(2);
  const started: number[] = [];
  const gates = new Map<number, ReturnType<typeof gate>>();
  const offer = (est: number) => {
    const g = gate();
    gates.set(est, g);
    return dispatch(est, async () => {
      started.push(est);
      await g.promise;
      return est * 10;
    });
  };
  // Offered one by one in the same turn, as the tasks of runs whose snapshots are ready.
  const done = [offer(30), offer(10), offer(50), offer(20), offer(40)];
  await tick();
  await tick();
  assert.deepEqual(started, [50, 40], 'the two longest start, nothing else');
  gates.get(40)!.open();
  await tick();
  await tick();
  assert.deepEqual(started, [50, 40, 30]);
  // A longer task offered later still goes before the shorter ones already waiting.
  const late = offer(35);
  gates.get(50)!.open();
  await tick();
  await tick();
  assert.deepEqual(started, [50, 40, 30, 35]);
  for (const g of gates.values()) g.open();
  assert.deepEqual(await Promise.all([...done, late]), [300, 100, 500, 200, 400, 350]);
  assert.deepEqual(started, [50, 40, 30, 35, 20, 10]);
});

test('dispatcher: now() hands out the tasks offered so far at once, longest first, within `workers`', async () => {
  const dispatch = dispatcher(2);
  const started: number[] = [];
  const g = gate();
  const offer = (est: number) => dispatch(est, async () => {
    started.push(est);
    await g.promise;
    return est;
  });
  // One run's tasks, offered while the other runs are still prepared: they need not wait a turn.
  const done = [offer(10), offer(30), offer(20)];
  dispatch.now();
  assert.deepEqual(started, [30, 20], 'started before this turn ends, the longest two');
  dispatch.now();
  assert.deepEqual(started, [30, 20], 'still at most `workers`');
  await tick();
  assert.deepEqual(started, [30, 20], 'the pump this turn scheduled starts nothing more');
  g.open();
  assert.deepEqual(await Promise.all(done), [10, 30, 20]);
  assert.deepEqual(started, [30, 20, 10]);
});

test('dispatcher: a task that throws or rejects fails alone and frees its worker', async () => {
  const dispatch = dispatcher(1);
  const sync = dispatch(3, () => {
    throw new Error('sync boom');
  });
  const rejected = dispatch(2, async () => {
    throw new Error('async boom');
  });
  const fine = dispatch(1, async () => 'ok');
  await assert.rejects(sync, /sync boom/);
  await assert.rejects(rejected, /async boom/);
  assert.equal(await fine, 'ok');
});

test('dispatcher: a task that frees its worker early lets the next one start before it settles', async () => {
  const dispatch = dispatcher(1);
  const started: string[] = [];
  const first = gate();
  let free!: () => void;
  const a = dispatch(2, async (f) => {
    started.push('a');
    free = f;
    await first.promise; // its journal is still being read
    return 'a';
  });
  const b = dispatch(1, async () => {
    started.push('b');
    return 'b';
  });
  await tick();
  await tick();
  assert.deepEqual(started, ['a']);
  free();
  assert.deepEqual(started, ['a', 'b'], 'started at once, in the same turn');
  free(); // freeing twice frees one worker, once
  const c = dispatch(0, async () => {
    started.push('c');
    return 'c';
  });
  assert.equal(await b, 'b');
  await tick();
  await tick();
  assert.deepEqual(started, ['a', 'b', 'c']);
  first.open();
  assert.deepEqual(await Promise.all([a, c]), ['a', 'c']);
  // Settling after an early free does not free a second worker: one task at a time still.
  let active = 0;
  let most = 0;
  const more = Array.from({ length: 4 }, (_, i) => dispatch(i, async (f) => {
    active++;
    most = Math.max(most, active);
    await tick();
    active--;
    f();
    await tick();
    return i;
  }));
  assert.deepEqual(await Promise.all(more), [0, 1, 2, 3]);
  assert.equal(most, 1);
});

test('limiter: never more than `limit` at once, in the order given', async () => {
  const limit = limiter(2);
  let active = 0;
  let most = 0;
  const order: number[] = [];
  const jobs = Array.from({ length: 7 }, (_, i) =>
    limit(async () => {
      active++;
      most = Math.max(most, active);
      order.push(i);
      await tick();
      active--;
      return i;
    }),
  );
  // A job offered later runs after those already waiting.
  await tick();
  jobs.push(limit(async () => {
    active++;
    most = Math.max(most, active);
    order.push(7);
    active--;
    return 7;
  }));
  assert.deepEqual(await Promise.all(jobs), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(most, 2);
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('limiter: a caller arriving while a slot changes hands waits its turn', async () => {
  const limit = limiter(1);
  let active = 0;
  let most = 0;
  const job = (g?: Promise<void>) => async () => {
    active++;
    most = Math.max(most, active);
    await (g ?? tick());
    active--;
  };
  const a = gate();
  const all = [limit(job(a.promise)), limit(job())];
  await tick();
  a.open();
  // Callers at every microtask depth around the hand-over from the first job to the second.
  for (let depth = 0; depth < 12; depth++) {
    let p: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < depth; i++) p = p.then(() => undefined);
    all.push(p.then(() => limit(job())));
  }
  await Promise.all(all);
  assert.equal(most, 1);
});
