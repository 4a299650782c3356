/**
 * The built runtime (scripts/bundle.ts): `import 'git-flor'` runs dist/runtime/runtime.cjs with
 * a V8 code cache that the first two recorded runs leave in dist/runtime/v8-cache/ (their start's
 * and end's functions included) and later runs take; a FlorError the runtime throws is the class both
 * 'git-flor' and 'git-flor/query' export. Runs the built dist/ in one shared repository.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, flor, makeRepo, ROOT, runNode, tempDir, testEnv } from './helpers/repo.js';
import { flagsKeyOf } from '../src/code-cache.js';

after(cleanup);

const dir = makeRepo({
  files: {
    'train.mjs': "import { flor } from 'git-flor';\nfor (const e of flor.loop('epoch', [0, 1])) flor.log('loss', e);\n",
    // What Node loaded once flor's exit work is done (this listener comes after flor's).
    'loads.mjs': `import { flor } from 'git-flor';
for (const e of flor.loop('epoch', [0, 1])) flor.log('loss', e);
process.on('exit', () => process.getBuiltinModule('node:fs').writeFileSync(process.env.LOADED_LIST, JSON.stringify(process.moduleLoadList)));
`,
    'bad.mjs': `import { flor, FlorError } from 'git-flor';
import { FlorError as QueryFlorError } from 'git-flor/query';
try {
  for (const x of flor.loop('', [1])) flor.log('x', x);
} catch (e) {
  process.stdout.write(JSON.stringify([e.code, e instanceof FlorError, e instanceof QueryFlorError]));
}
`,
  },
});

const cacheDir = join(ROOT, 'dist', 'runtime', 'v8-cache');
const loadedList = join(tempDir('flor-loaded-'), 'loaded.json');

function runCaches(): string[] {
  return (existsSync(cacheDir) ? readdirSync(cacheDir) : []).filter((f) => f.startsWith('run-') && f.endsWith('.bin'));
}

test("the first two recorded runs write the runtime code cache, the second completing the first's, and the next run takes it (not written again)", () => {
  // A flag that changes nothing here gives these runs a cache of their own (its name holds the
  // flags): every recorded run of the files running beside this one shares the flagless cache,
  // and one saved between two of these runs failed this test (a full suite, 3 files at a time).
  const execArgv = ['--no-deprecation'];
  const own = `-${flagsKeyOf(execArgv, testEnv().NODE_OPTIONS)}.`;
  const caches = () => runCaches().filter((f) => f.includes(own));
  for (const f of caches()) rmSync(join(cacheDir, f), { force: true });
  runNode(dir, 'train.mjs', [], { execArgv });
  const [first, ...others] = caches();
  assert.match(first ?? '', /\.first\.bin$/, "the first run saves its cache as a first process's");
  assert.deepEqual(others, []);
  runNode(dir, 'train.mjs', [], { execArgv });
  const [cache, ...more] = caches();
  assert.equal(cache, first!.replace(/\.first\.bin$/, '.bin'), 'the second takes it and writes the whole cache in its place');
  assert.deepEqual(more, []);
  const written = statSync(join(cacheDir, cache!)).mtimeMs;
  runNode(dir, 'train.mjs', [], { execArgv });
  assert.deepEqual(caches(), [cache]);
  assert.equal(statSync(join(cacheDir, cache!)).mtimeMs, written, 'V8 took it: a rejected cache is written again');
  const runs = JSON.parse(flor(dir, ['runs', '--format', 'json']).stdout) as Array<{ status: string; records: number }>;
  assert.deepEqual(runs.map((r) => [r.status, r.records]), [['ok', 2], ['ok', 2], ['ok', 2]]);
});

test("a repository's first run, which has no stat cache yet, does not leave its start alone in the cache: the runs after it take the reused tree's start from it", () => {
  // Files older than the stat cache the first run writes, so the second run's start reuses its tree.
  const fresh = makeRepo({ files: { 'train.mjs': "import { flor } from 'git-flor';\nflor.log('loss', 1);\n" } });
  const old = new Date(Date.now() - 20_000);
  for (const f of ['train.mjs', '.gitignore']) utimesSync(join(fresh, f), old, old);
  const flags = ['--print-bytecode', '--print-bytecode-filter=reusableTree'];
  const compiled = () => runNode(fresh, 'train.mjs', [], { execArgv: flags }).stdout.includes('bytecode for function: reusableTree');
  for (const f of runCaches()) rmSync(join(cacheDir, f), { force: true });
  assert.deepEqual([compiled(), compiled(), compiled()], [false, true, false], 'the first run never reuses a tree; the second compiles that start, the third takes it from the cache');
});

test("the cache the first run leaves holds its end's functions: a later run's exit compiles none of them", () => {
  // V8 prints the bytecode of a function it compiles, never of one it took from a code cache.
  // The flag goes into the cache's name (code-cache.ts), so these two runs share a cache of their own.
  const flags = ['--print-bytecode', '--print-bytecode-filter=mayEndAtOnce'];
  const compiled = () => runNode(dir, 'train.mjs', [], { execArgv: flags }).stdout.includes('bytecode for function: mayEndAtOnce');
  for (const f of runCaches()) rmSync(join(cacheDir, f), { force: true });
  assert.equal(compiled(), true, 'the first run compiles the exit path, and then saves the cache');
  assert.equal(compiled(), false, 'the next run takes it from the cache');
});

test('a recorded run loads none of the built-ins it can do without: os, tty (and net), the CommonJS loader, perf_hooks', () => {
  runNode(dir, 'loads.mjs', [], { env: { LOADED_LIST: loadedList } });
  const loaded = new Set(JSON.parse(readFileSync(loadedList, 'utf8')) as string[]);
  const avoidable = ['NativeModule os', 'NativeModule tty', 'NativeModule net', 'NativeModule module', 'NativeModule perf_hooks'];
  assert.deepEqual(avoidable.filter((m) => loaded.has(m)), []);
  assert.ok(loaded.has('NativeModule vm') && loaded.has('Internal Binding process_wrap'), 'the list is the recorded run\'s');
  const runs = JSON.parse(flor(dir, ['runs', '--format', 'json']).stdout) as Array<{ file: string; status: string; records: number }>;
  assert.deepEqual(runs.filter((r) => r.file === 'loads.mjs').map((r) => [r.status, r.records]), [['ok', 2]]);
});

test("a FlorError thrown by the runtime is the class 'git-flor' and 'git-flor/query' export", () => {
  const r = runNode(dir, 'bad.mjs');
  assert.deepEqual(JSON.parse(r.stdout), ['BAD_LOOP', true, true]);
});
