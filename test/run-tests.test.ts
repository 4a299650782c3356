import { test } from 'node:test';
import assert from 'node:assert/strict';
import { longestFirst } from '../scripts/run-tests.js';

test('npm test starts the longest files first, and a file without a measured duration before all of them', () => {
  const seconds = { 'a.test.js': 2, 'b.test.js': 30, 'c.test.js': 2, 'd.test.js': 9.5 };
  assert.deepEqual(longestFirst(['a.test.js', 'b.test.js', 'c.test.js', 'd.test.js', 'new.test.js'], seconds), ['new.test.js', 'b.test.js', 'd.test.js', 'a.test.js', 'c.test.js']);
  assert.deepEqual(longestFirst(['z.test.js', 'y.test.js'], {}), ['y.test.js', 'z.test.js'], 'no table: by name, as node --test orders them');
});
