/** The package entry: a checkout installed without `npm run build` says so when a script imports it. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, cleanup, tempDir, testEnv } from './helpers/repo.js';

after(cleanup);

test('importing git-flor from an unbuilt checkout names the fix; once built it loads', () => {
  const dir = tempDir();
  const pkg = join(dir, 'node_modules', 'git-flor');
  mkdirSync(pkg, { recursive: true });
  for (const f of ['package.json', 'index.js']) copyFileSync(join(ROOT, f), join(pkg, f));
  writeFileSync(join(dir, 'train.mjs'), "import { flor } from 'git-flor';\nconsole.log(typeof flor.log);\n");
  const unbuilt = spawnSync(process.execPath, ['train.mjs'], { cwd: dir, env: testEnv(), encoding: 'utf8' });
  assert.equal(unbuilt.status, 1);
  assert.match(unbuilt.stderr, /Error: git-flor is not built: run `npm run build` in .*node_modules\/git-flor\//);
  symlinkSync(join(ROOT, 'dist'), join(pkg, 'dist'));
  const built = spawnSync(process.execPath, ['train.mjs'], { cwd: dir, env: testEnv(), encoding: 'utf8' });
  assert.equal(built.stdout, 'function\n', built.stderr);
});
