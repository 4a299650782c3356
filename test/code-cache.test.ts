/**
 * requireCached (src/code-cache.ts): a one-file CommonJS package (as @babel/parser, which replay
 * and propagation load) is compiled with a V8 code cache kept beside it, written at the first
 * process's exit and used by the next, and written again when V8 rejects it. Real processes (the
 * cache is written at exit), the built dist/.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { flagsKeyOf, KEEP_PER_KEY } from '../src/code-cache.js';
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

test('a process that writes a cache removes all but the newest of its key beside it, and leaves other keys alone', () => {
  const dir = tempDir('flor-code-cache-prune-');
  const pkg = join(dir, 'node_modules', 'onefile');
  const cacheDir = join(pkg, 'v8-cache');
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'onefile', main: './index.js' }));
  writeFileSync(join(pkg, 'index.js'), 'exports.answer = 42;\n');
  // Caches left by earlier versions of the package and other flags, one minute apart, oldest first.
  const old = Array.from({ length: KEEP_PER_KEY + 2 }, (_, i) => `onefile-${100 + i}-1-v0.0.0-x64-${i.toString(16)}.bin`);
  const other = ['other-1-1-v0.0.0-x64-0.bin', 'other-2-1-v0.0.0-x64-0.bin'];
  const base = Date.now() / 1000 - 3600;
  for (const [i, f] of [...old, ...other].entries()) {
    writeFileSync(join(cacheDir, f), Buffer.alloc(8));
    utimesSync(join(cacheDir, f), base + i * 60, base + i * 60);
  }
  writeFileSync(join(cacheDir, 'onefile-notes.txt'), 'not a cache');
  const load = `import { requireCached } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'code-cache.js')).href)};
process.stdout.write(String(requireCached(${JSON.stringify(pathToFileURL(join(dir, 'main.mjs')).href)}, 'onefile', 'onefile').answer));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', load], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '42');
  const left = readdirSync(cacheDir).sort();
  const made = left.filter((f) => f.startsWith('onefile-') && f.endsWith('.bin') && !old.includes(f));
  assert.equal(made.length, 1, left.join(' '));
  // The new cache and the KEEP_PER_KEY - 1 newest old ones; the three oldest are gone.
  assert.deepEqual(left, [...made, ...old.slice(3), ...other, 'onefile-notes.txt'].sort());
});
