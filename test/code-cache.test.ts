/**
 * requireCached (src/code-cache.ts): a one-file CommonJS package (as @babel/parser, which replay
 * and propagation load) is compiled with a V8 code cache kept beside it, written at the first
 * process's exit and used by the next, and written again when V8 rejects it. Real processes (the
 * cache is written at exit), the built dist/.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { flagsKeyOf } from '../src/code-cache.js';
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

test('propagation takes diff-match-patch through the code cache as it takes @babel/parser: the second process compiles none of it', () => {
  // V8 prints the bytecode of a function it compiles, never of one it takes from a code cache;
  // the flags name a cache of this test's own (code-cache.ts puts them in its name).
  const flags = ['--print-bytecode', '--print-bytecode-filter=diff_match_patch.diff_main'];
  // A file, not -e: execArgv would hold the code, and with it the cache's name.
  const align = join(tempDir('flor-dmp-'), 'align.mjs');
  writeFileSync(align, `import { newDiffMatchPatch } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'propagate', 'packages.js')).href)};
process.stderr.write(JSON.stringify(newDiffMatchPatch().diff_main('abc', 'abd')));`);
  const run = () => {
    const r = spawnSync(process.execPath, [...flags, align], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '[[0,"ab"],[-1,"c"],[1,"d"]]');
    return r.stdout.includes('bytecode for function: diff_match_patch.diff_main');
  };
  const cacheDir = join(ROOT, 'node_modules', 'diff-match-patch', 'v8-cache');
  const mine = `-${flagsKeyOf(flags, process.env.NODE_OPTIONS)}.bin`;
  for (const f of readdirSafe(cacheDir)) if (f.endsWith(mine)) rmSync(join(cacheDir, f));
  assert.equal(run(), true, 'the first process compiles it, and leaves the cache');
  assert.equal(readdirSafe(cacheDir).filter((f) => f.endsWith(mine)).length, 1);
  assert.equal(run(), false, 'the next one takes it from the cache');
});

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
