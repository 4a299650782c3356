/** The package entry: a checkout installed without `npm run build` says so when a script imports it. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { ROOT, cleanup, makeRepo, tempDir, testEnv } from './helpers/repo.js';

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

test("importing git-flor loads the entry, the runtime's module and the errors, and no other module of the package", () => {
  const dir = makeRepo({ files: { 'imp.mjs': "import { flor, FlorError } from 'git-flor';\nconsole.log(typeof flor.log, typeof FlorError);\n" } });
  const log = join(dir, 'resolved.txt');
  // A resolve hook that notes every module Node resolves (hooks run in a thread of their own).
  const hooks = `import { appendFileSync } from 'node:fs'; export async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(log)}, r.url + '\\n'); return r; }`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, 'imp.mjs'], { cwd: dir, env: testEnv(), encoding: 'utf8' });
  assert.equal(r.stdout, 'function function\n', r.stderr);
  const root = pathToFileURL(realpathSync(ROOT)).href;
  const ours = readFileSync(log, 'utf8').split('\n').filter((u) => u.startsWith(root)).map((u) => u.slice(root.length + 1));
  assert.deepEqual([...new Set(ours)].sort(), ['dist/errors.js', 'dist/runtime/index.js', 'index.js']);
});
