/**
 * The view hides nothing: every record a run holds appears in `git flor log` on the rows of its own
 * loop iteration, no value appears where it was not logged, and no row is all null. Checked over
 * random loop shapes in memory, then on scripts recorded in a real repository.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { pivot } from '../src/query/pivot.js';
import { rowObjects } from '../src/query/table.js';
import { segment } from './helpers/segments.js';
import { rng, randomProgram, execute, viewViolations, LOG_NAMES, type Stmt } from './helpers/programs.js';
import { cleanup } from './helpers/repo.js';

after(cleanup);

const KEYS = new Set(['run', 'version', 'time', 'file', 'replayed']);

function nameSets(): string[][] {
  return [...LOG_NAMES.map((n) => [n]), ['a', 'b'], ['b', 'c'], LOG_NAMES];
}

function checkInMemory(prog: Stmt[], seed: number): void {
  const recs = execute(prog);
  const seg = segment('R', recs);
  for (const names of nameSets()) {
    const { table } = pivot([{ meta: { id: 'R', start: 't', commit: null, script: 's.mjs', args: {} }, segments: [seg] }], names);
    const loops = table.columns.filter((c) => !KEYS.has(c) && !names.includes(c));
    const bad = viewViolations(recs, rowObjects(table), names, loops);
    assert.deepEqual(bad, [], `seed ${seed}, names ${names.join(' ')}:\n${JSON.stringify(prog)}`);
  }
}

test('property: over random loop shapes and log placements the view shows every record where it was logged, and nothing else', () => {
  for (let seed = 1; seed <= 400; seed++) checkInMemory(randomProgram(rng(seed)), seed);
});
