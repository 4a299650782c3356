/**
 * What a run's code tree holds: tracked files as they are (over the size cap too), untracked code,
 * and not node_modules, nested repositories, .florignore'd paths or untracked files over the cap.
 * One recorded run in a repository without a .gitignore, shared by the tests below.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepo, runNode, flor, gitIn, cleanup, writeFiles } from './helpers/repo.js';
import { cli } from './helpers/cli.js';
import { cutDiff, DIFF_LINES } from '../src/cli/commands/show.js';

const SCRIPT = (extra = '') => `import { flor } from 'git-flor';
import { readFileSync } from 'node:fs';
const n = readFileSync(new URL('./big.bin', import.meta.url)).length;
for (const e of flor.loop('epoch', [0, 1])) {
  flor.log('loss', n + e);${extra}
}
`;
const LONG = (n: number) => Array.from({ length: n }, (_, i) => String(i)).join('\n') + '\n';

let dir = '';
let run = '';
let stderr = '';
let meta: Record<string, unknown> = {};
let codeTree = '';

before(async () => {
  dir = makeRepo({ files: { 'train.mjs': SCRIPT(), 'tracked.bin': 'x'.repeat(4500), 'long.txt': LONG(10) } });
  // As in a fresh `npm init` repository: no .gitignore at all.
  gitIn(dir, 'rm', '-q', '.gitignore');
  gitIn(dir, 'commit', '-qm', 'no gitignore');
  gitIn(dir, 'config', 'flor.captureMaxBytes', '4k');
  writeFiles(dir, {
    'big.bin': 'b'.repeat(5000),
    'small.txt': 'kept\n',
    '.florignore': 'scratch/\n',
    'scratch/notes.txt': 'not code\n',
    'node_modules/dep/index.js': 'export default 1;\n',
    'tracked.bin': 'y'.repeat(4600),
    'long.txt': LONG(700),
  });
  const nested = join(dir, 'vendor', 'lib');
  mkdirSync(nested, { recursive: true });
  gitIn(nested, 'init', '-q');
  writeFileSync(join(nested, 'a.js'), 'x\n');
  const r = runNode(dir, 'train.mjs');
  stderr = r.stderr;
  const json = JSON.parse((await cli(dir, ['runs', '--format', 'json'])).stdout) as Array<{ run: string }>;
  run = json[0]!.run;
  const shown = JSON.parse((await cli(dir, ['show', run, '--format', 'json'])).stdout) as { meta: Record<string, unknown>; codeTree: string };
  meta = shown.meta;
  codeTree = shown.codeTree;
});

after(() => cleanup());

test('capture keeps tracked and untracked code, and leaves out node_modules, nested repositories, .florignore and untracked files over the cap', () => {
  const files = gitIn(dir, 'ls-tree', '-r', '--name-only', codeTree).split('\n');
  assert.deepEqual(files.sort(), ['.florignore', 'long.txt', 'small.txt', 'tracked.bin', 'train.mjs']);
  // The tracked file over the cap is captured as it was when the run started.
  assert.equal(gitIn(dir, 'cat-file', 'blob', `${codeTree}:tracked.bin`), 'y'.repeat(4600));
  assert.deepEqual(meta.skipped, {
    count: 3,
    bytes: 5000,
    paths: [
      { path: 'big.bin', why: 'size', bytes: 5000 },
      { path: 'node_modules/', why: 'node_modules', bytes: null },
      { path: 'vendor/lib/', why: 'repository', bytes: null },
    ],
  });
});

test('the run start says once what was skipped (count and size) and warns about the large modified tracked file', () => {
  const lines = stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 2, stderr);
  assert.equal(
    lines[0],
    `git flor: run ${run} does not capture 3 untracked path(s), 4.9 KB in files: big.bin (4.9 KB, over the 4.0 KB cap), node_modules/ (dependencies), vendor/lib/ (a nested repository); see \`git flor show ${run}\`, \`git config flor.captureMaxBytes\` and .florignore`,
  );
  assert.equal(lines[1], 'git flor: warning: captured 1 modified tracked file(s) over the 4.0 KB cap: tracked.bin (4.5 KB) (tracked files are always captured as they are)');
});

test('show marks the run as incomplete and cuts a long diff, pointing at --full-diff', async () => {
  const text = (await cli(dir, ['show', run])).stdout;
  assert.match(text, /^capture +incomplete: 3 untracked path\(s\) not captured, 4\.9 KB in files: big\.bin \(4\.9 KB\), node_modules\/ \(dependencies\), vendor\/lib\/ \(nested repository\)$/m);
  const diff = text.slice(text.indexOf('code that ran vs'));
  assert.ok(diff.split('\n').length < DIFF_LINES, 'cut');
  assert.match(diff, / long\.txt +\| 690 \+/);
  assert.match(diff, /files? changed/);
  assert.match(diff, new RegExp(`more line\\(s\\) of diff \\(\\d+ in all\\): \`git flor show ${run} --full-diff\` prints it whole`));
  const full = (await cli(dir, ['show', run, '--full-diff'])).stdout;
  assert.match(full, /^\+699$/m);
  assert.doesNotMatch(full, /--full-diff/);
  assert.doesNotMatch((await cli(dir, ['show', run, '--no-diff'])).stdout, /code that ran vs/);
});

test('a short diff is printed whole; a huge stat is cut too', () => {
  assert.equal(cutDiff('a | 1 +\n\ndiff --git a/a b/a\n+x\n', 'R', false), 'a | 1 +\n\ndiff --git a/a b/a\n+x\n');
  const stat = Array.from({ length: 900 }, (_, i) => ` f${i} | 1 +`);
  const text = [...stat, ' 900 files changed, 900 insertions(+)', '', 'diff --git a/f0 b/f0', '+x', ''].join('\n');
  const cut = cutDiff(text, 'R', false).split('\n');
  assert.ok(cut.length < 320, String(cut.length));
  assert.ok(cut.includes(' 900 files changed, 900 insertions(+)'));
  assert.ok(cut.includes(' … 700 more file(s)'));
});

test("a replay that needs a skipped file fails saying the run's code was incomplete", () => {
  writeFiles(dir, { 'train.mjs': SCRIPT("\n  flor.log('double', (n + e) * 2);") });
  const r = flor(dir, ['replay', 'double', '--run', run], { allowFail: true }); // a process: the replay child must not get this process's loader flags
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, new RegExp(`run ${run}: replay failed: .*ENOENT.*big\\.bin.*; the run's code was incomplete: its capture left out big\\.bin, 2 more \\(over the size cap, dependencies or nested repositories\\), so the replay cannot load it`));
});
