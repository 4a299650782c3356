/**
 * requireCached (src/code-cache.ts): a one-file CommonJS package (as @babel/parser, which replay
 * and propagation load) is compiled with a V8 code cache kept beside it, written at the first
 * process's exit and used by the next, and written again when V8 rejects it. Real processes (the
 * cache is written at exit), the built dist/.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cleanup, tempDir, ROOT } from './helpers/repo.js';

after(cleanup);

test('a one-file CommonJS package is compiled from the code cache the previous process left beside it', () => {
  const dir = tempDir('flor-code-cache-');
  const pkg = join(dir, 'node_modules', 'onefile');
  mkdirSync(join(pkg, 'lib'), { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'onefile', main: './lib/index.js' }));
  // It requires a built-in, as a package may: require is the package's own.
  writeFileSync(join(pkg, 'lib', 'index.js'), "'use strict';\nconst { sep } = require('node:path');\nexports.answer = (x) => (sep === '/' ? x * 6 : 0);\n");
  const load = `import { requireCached } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'code-cache.js')).href)};
const m = requireCached(${JSON.stringify(pathToFileURL(join(dir, 'main.mjs')).href)}, 'onefile', 'onefile');
process.stdout.write(String(m.answer(7)));`;
  const run = () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', load], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const cacheDir = join(pkg, 'lib', 'v8-cache');
  const files = () => {
    try {
      return readdirSync(cacheDir);
    } catch {
      return [];
    }
  };

  assert.equal(run(), '42');
  const [made, ...more] = files();
  assert.match(made ?? '', /^onefile-\d+-\d+-v\d+\.\d+\.\d+-\w+-[0-9a-f]+\.bin$/, 'the first process left its bytecode');
  assert.deepEqual(more, []);
  const first = statSync(join(cacheDir, made!));
  assert.ok(first.size > 0);

  // The second process takes it (V8 accepts it), so it writes nothing.
  assert.equal(run(), '42');
  assert.deepEqual(files(), [made]);
  assert.equal(statSync(join(cacheDir, made!)).mtimeMs, first.mtimeMs);

  // A damaged cache is rejected by V8: the package is compiled afresh and the cache written again.
  writeFileSync(join(cacheDir, made!), Buffer.alloc(64, 7));
  assert.equal(run(), '42');
  assert.ok(statSync(join(cacheDir, made!)).size > 64, 'written again');
});
