/**
 * Run-level aggregates (`runs --col max(loss)`) are computed off the pivot's rows without making
 * the series' table: they must equal, value for value, what the series gives. Checked over random
 * loop shapes, values and replays in memory, then on a recorded repository.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { aggregate, aggregatesOf, seriesOf } from '../src/query/series.js';
import { AGGREGATES } from '../src/query/spec.js';
import type { Value } from '../src/store/records.js';
import type { RunMeta } from '../src/store/types.js';
import { segment, type Rec } from './helpers/segments.js';
import { rng, randomProgram, execute, LOG_NAMES } from './helpers/programs.js';
import { cleanup, makeRepo, runNode } from './helpers/repo.js';
import { cli } from './helpers/cli.js';

after(cleanup);

const ODD: Value[] = [null, Number.NaN, -0, 0, 'text', 7n, true, [1, 2], Infinity, -Infinity];

function meta(id: string, start: string): RunMeta {
  return { id, start, commit: null, script: 's.mjs', args: { a: 1 } } as unknown as RunMeta;
}

test('property: aggregatesOf gives exactly what aggregate gives over each run\'s series (replays, repeats, odd values)', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const rand = rng(seed);
    const runs = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, i) => {
      const recs: Rec[] = execute(randomProgram(rand)).map(([ctx, name, v]) => [ctx, name, rand() < 0.3 ? ODD[Math.floor(rand() * ODD.length)]! : (v as number) * (rand() < 0.5 ? -0.37 : 1.13)]);
      const segs = [segment(`R${i}`, recs)];
      // A replay that adds a name the forward run lacks and re-executes one it has, somewhere.
      if (rand() < 0.4) {
        const replayed: Rec[] = recs.filter(() => rand() < 0.5).map(([ctx, name, v]) => [ctx, rand() < 0.5 ? name : 'c', typeof v === 'number' ? v + 1000 : v]);
        if (replayed.length) segs.push(segment(`R${i}`, replayed, 'replay', `2026-0${1 + i}-01`));
      }
      return { run: { id: `R${i}`, meta: meta(`R${i}`, `2026-01-0${3 - i}`) }, segments: segs };
    });
    for (const name of [...LOG_NAMES, 'x', 'nothing']) {
      const series = seriesOf(name, runs);
      const fast = aggregatesOf(name, runs);
      for (const { run } of runs) {
        const s = series.get(run.id)!;
        const want = Object.fromEntries(AGGREGATES.map((fn) => [fn, aggregate(s, fn)]));
        assert.deepStrictEqual(fast.get(run.id)!.aggs, want, `seed ${seed}, name ${name}, run ${run.id}`);
        assert.equal(fast.get(run.id)!.rows, s.end - s.start);
      }
    }
  }
});

test('a name that is a key column is refused as the series refuses it', () => {
  const runs = [{ run: { id: 'R', meta: meta('R', 't') }, segments: [segment('R', [[[], 'time', 1]])] }];
  assert.throws(() => seriesOf('time', runs), /key column/);
  assert.throws(() => aggregatesOf('time', runs), /key column/);
});

test('recorded: runs --col of every aggregate, cold and from the derived cache, exact values', async () => {
  const dir = makeRepo({
    files: {
      'train.mjs': `import { flor } from 'git-flor';
const lr = flor.arg('lr', 0.5);
for (const e of flor.loop('epoch', [0, 1, 2])) {
  for (const s of flor.loop('step', [0, 1])) flor.log('loss', lr * (10 - e * 2 - s) / 4);
  flor.log('acc', e === 1 ? null : 0.25 * e);
}
flor.log('loss', 0.0625);
`,
    },
  });
  runNode(dir, 'train.mjs');
  runNode(dir, 'train.mjs', ['--lr', '0.25']);
  const cols = AGGREGATES.flatMap((fn) => ['--col', `${fn}(loss)`, '--col', `${fn}(acc)`]);
  const ask = async () => JSON.parse((await cli(dir, ['runs', ...cols, '--sort', 'max(loss)', '--format', 'json'])).stdout) as Array<Record<string, unknown>>;
  rmSync(join(dir, '.git', 'flor', 'cache'), { recursive: true, force: true });
  const cold = await ask();
  const warm = await ask();
  assert.deepEqual(warm, cold);
  const strip = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'run' && k !== 'args'));
  // loss at lr 0.25: 0.625 0.5625 | 0.5 0.4375 | 0.375 0.3125, then the final 0.0625 (7 values, sum 2.875)
  assert.deepEqual(cold.map(strip), [
    { 'last(loss)': 0.0625, 'last(acc)': 0.5, 'first(loss)': 0.625, 'first(acc)': 0, 'min(loss)': 0.0625, 'min(acc)': 0, 'max(loss)': 0.625, 'max(acc)': 0.5, 'mean(loss)': 2.875 / 7, 'mean(acc)': 0.25, 'count(loss)': 7, 'count(acc)': 3 },
    { 'last(loss)': 0.0625, 'last(acc)': 0.5, 'first(loss)': 1.25, 'first(acc)': 0, 'min(loss)': 0.0625, 'min(acc)': 0, 'max(loss)': 1.25, 'max(acc)': 0.5, 'mean(loss)': 5.6875 / 7, 'mean(acc)': 0.25, 'count(loss)': 7, 'count(acc)': 3 },
  ]);
});
