/**
 * The built capturer (scripts/bundle.ts bundleProcesses): a recorded run's capture runs
 * dist/store/capture-main.cjs, which runs the capturer's bundle (capturer.cjs) with a V8 code cache
 * the first two captures leave in dist/store/v8-cache/; it starts no ES module loader and loads no
 * package (msgpackr included). Runs the built dist/ in real repositories.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, flor, makeRepo, ROOT, runNode, sh, tempDir, testEnv } from './helpers/repo.js';
import { flagsKeyOf } from '../src/code-cache.js';
import { findRepoSync } from '../src/store/git.js';
import { snapshotWorkTreeSync, headSync } from '../src/store/worktree.js';
import { journalPath, listJournals } from '../src/store/journal.js';
import { makeMeta, writeRunJournal } from './helpers/store-fixtures.js';

after(cleanup);

const STORE = join(ROOT, 'dist', 'store');
const cacheDir = join(STORE, 'v8-cache');

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

test("a recorded run's capturer runs the CommonJS bundle: no ES module loader, no package loaded (msgpackr included)", () => {
  const out = tempDir('flor-capturer-loads-');
  // Every node process of the run (the script, its capturer) writes what it loaded at its exit.
  const hook = join(out, 'hook.cjs');
  const dir = makeRepo({ files: { 'train.mjs': "import { flor } from 'git-flor';\nfor (const e of flor.loop('epoch', [0, 1])) flor.log('loss', e);\n" } });
  writeFileSync(
    hook,
    [
      "const M = require('node:module');",
      'const required = [];',
      'const load = M._load;',
      "M._load = function (r, ...a) { if (!r.startsWith('node:') && !M.builtinModules.includes(r)) required.push(r); return load.call(this, r, ...a); };",
      `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)} + '/' + process.pid + '.json', JSON.stringify({ main: process.argv[1], loaded: process.moduleLoadList, required })));`,
      '',
    ].join('\n'),
  );
  runNode(dir, 'train.mjs', [], { env: { NODE_OPTIONS: `--require ${hook}` } });
  let capturer: { main: string; loaded: string[]; required: string[] } | undefined;
  for (let i = 0; i < 200 && !capturer; i++) {
    for (const f of readdirSync(out).filter((n) => n.endsWith('.json'))) {
      const r = JSON.parse(readFileSync(join(out, f), 'utf8')) as { main: string; loaded: string[]; required: string[] };
      if (r.main.includes('capture-main')) capturer = r;
    }
    if (!capturer) sleep(50);
  }
  assert.ok(capturer, 'the capturer ran and exited');
  assert.equal(capturer.main, join(STORE, 'capture-main.cjs'));
  const esm = ['NativeModule internal/modules/esm/translators', 'NativeModule internal/fs/promises'];
  assert.deepEqual(esm.filter((m) => capturer!.loaded.includes(m)), [], 'no ES module loader (nor the fs promises it reads files with)');
  assert.deepEqual(capturer.required.filter((r) => !r.endsWith('capture-main.cjs')), [], 'no package, msgpackr included');
  const runs = JSON.parse(flor(dir, ['runs', '--format', 'json']).stdout) as Array<{ status: string; records: number }>;
  assert.deepEqual(runs.map((r) => [r.status, r.records]), [['ok', 2]]);
});

test('the capturer compiles from the code cache the first two captures leave, the second completing the first', () => {
  const dir = makeRepo({ files: { 'train.js': 'console.log("hi")\n' } });
  const repo = findRepoSync(dir)!;
  const tree = snapshotWorkTreeSync(repo);
  const commit = headSync(repo).commit!;
  // V8 prints the bytecode of a function it compiles, never of one it took from a code cache. The
  // flags go into the cache's name (code-cache.ts), so these captures share a cache of their own.
  const flags = ['--print-bytecode', '--print-bytecode-filter=buildCapture'];
  const capture = (): boolean => {
    const meta = makeMeta({ commit });
    writeRunJournal(repo.commonDir, meta, tree, { epochs: 2, steps: 2 });
    const r = sh(process.execPath, [...flags, join(STORE, 'capture-main.cjs'), journalPath(repo.commonDir, meta.id)], dir, { allowFail: true });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.includes('bytecode for function: buildCapture');
  };
  // Only this test's own cache files: the captures of the files running beside it share the flagless ones.
  const own = `-${flagsKeyOf(flags, testEnv().NODE_OPTIONS)}.`;
  const caches = () => (existsSync(cacheDir) ? readdirSync(cacheDir) : []).filter((f) => f.startsWith('capture-') && f.includes(own));
  for (const f of caches()) rmSync(join(cacheDir, f), { force: true });
  assert.equal(capture(), true, 'the first capture compiles, and saves its cache as a first process\'s');
  assert.ok(caches().some((f) => f.endsWith('.first.bin')));
  assert.equal(capture(), false, 'the second takes it, and writes the whole cache');
  assert.ok(caches().some((f) => /^capture-.*(?<!\.first)\.bin$/.test(f)));
  assert.equal(capture(), false, 'the third takes that one');
  assert.deepEqual(listJournals(repo.commonDir), []);
  const runs = JSON.parse(flor(dir, ['runs', '--format', 'json']).stdout) as Array<{ status: string }>;
  assert.equal(runs.length, 3);
});
