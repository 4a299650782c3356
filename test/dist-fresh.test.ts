import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { staleDist } from './helpers/dist-fresh.js';
import { tempDir } from './helpers/repo.js';

test('a test run on a dist/ older than src/ is stopped with the file that is newer', () => {
  const root = tempDir();
  mkdirSync(join(root, 'src', 'store'), { recursive: true });
  mkdirSync(join(root, 'dist', 'store'), { recursive: true });
  writeFileSync(join(root, 'src', 'store', 'a.ts'), 'export const a = 1;\n');
  assert.equal(staleDist(root), 'dist/store/a.js is missing');
  writeFileSync(join(root, 'dist', 'store', 'a.js'), 'export const a = 1;\n');
  const t = Date.now() / 1000;
  utimesSync(join(root, 'src', 'store', 'a.ts'), t - 10, t - 10);
  utimesSync(join(root, 'dist', 'store', 'a.js'), t - 5, t - 5);
  assert.equal(staleDist(root), null);
  utimesSync(join(root, 'src', 'store', 'a.ts'), t, t);
  assert.equal(staleDist(root), 'src/store/a.ts is newer than dist/store/a.js');
});
