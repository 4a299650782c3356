/**
 * A run's start on the hot path (a clean repository, nothing changed since the last run): the
 * git processes it runs, counted through a `git` wrapper first on PATH, and the metadata it
 * records when HEAD, the work tree or the config change between runs. Real scripts, real repos.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cleanup, flor, gitIn, makeRepo, runNode, sh, tempDir } from './helpers/repo.js';

after(cleanup);

/** Starts recording, then dies at once (the next reader captures the run as crashed). */
const SCRIPT = `import { flor } from 'git-flor';
flor.arg('x', 0);
process.kill(process.pid, 'SIGKILL');
`;

const shim = tempDir('flor-shim-');
const log = join(shim, 'log');
const realGit = spawnSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim();
// Logs each git process with its parent and grandparent (from /proc: the parent's stat, after the command name).
writeFileSync(join(shim, 'git'), `#!/bin/sh\nread -r s < /proc/$PPID/stat; s=\${s##*) }; s=\${s#* }\necho "$PPID \${s%% *} $1" >> "${log}"\nexec ${realGit} "$@"\n`);
chmodSync(join(shim, 'git'), 0o755);

/**
 * Waits until the last run's capture has landed (its journal is gone). Twice in ~6 full suites on
 * a loaded machine, a start made while the previous run's capture was still in flight was later
 * listed as not dirty after an edit; never alone or in stress runs of this sequence. This test is
 * about one start's git processes and metadata, so each start begins from a settled repository.
 */
function settled(dir: string): void {
  const journals = join(dir, '.git', 'flor', 'journal');
  const until = Date.now() + 30_000;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (Date.now() < until) {
    let left: string[] = [];
    try {
      left = readdirSync(journals);
    } catch {
      return; // no run yet
    }
    if (left.every((n) => n === 'bad')) return; // bad/ keeps journals capture could not read
    Atomics.wait(pause, 0, 0, 20);
  }
}

/**
 * The git subcommands one start ran: the script's own, and its waiting capturer's while the script
 * lived (the shell lists the code for the start); not those of the capture that follows its death.
 */
function start(dir: string): string[] {
  const { own, shell } = startBy(dir);
  return [...own, ...shell];
}

/** The same, apart: those the script's process started, and those its waiting capturer's shell did. */
function startBy(dir: string): { own: string[]; shell: string[] } {
  settled(dir);
  writeFileSync(log, '');
  const r = runNode(dir, 'start.mjs', [], { env: { PATH: `${shim}:${process.env.PATH}` }, allowFail: true });
  const lines = readFileSync(log, 'utf8')
    .split('\n')
    .map((l) => l.split(' '));
  return {
    own: lines.filter(([parent]) => parent === String(r.pid)).map((f) => f[2]!),
    shell: lines.filter(([parent, grandparent]) => parent !== String(r.pid) && grandparent === String(r.pid)).map((f) => f[2]!),
  };
}

interface Row {
  run: string;
  commit: string | null;
  branch: string | null;
  dirty: boolean;
}

function lastRun(dir: string): Row {
  const runs = JSON.parse(flor(dir, ['runs', '--format', 'json', '--all']).stdout) as Row[];
  return runs.at(-1)!;
}

function meta(dir: string, run: string): { skipped?: { paths: Array<{ path: string }> }; commit: string | null; branch: string | null; dirty: boolean } {
  return JSON.parse(flor(dir, ['show', run, '--format', 'json']).stdout).meta;
}

/** What the test below saw of the run started right after an edit of a tracked file. */
let afterEdit: { dirty: boolean; detail: string } | null = null;

test('a start where nothing changed runs one git process (ls-files) and records what git would tell', () => {
  const dir = makeRepo({ files: { 'start.mjs': SCRIPT, 'lib.mjs': 'export const a = 1;\n' } });
  // Fills the caches (HEAD's tree, the config, the stat cache and its tree); the first capture
  // writes flor.writer into the config, so the settings are read once more after it.
  start(dir);
  flor(dir, ['runs']);
  start(dir);
  flor(dir, ['runs']);
  // The listing is the waiting capturer's: the script's own process forks once, for that shell.
  assert.deepEqual(startBy(dir), { own: [], shell: ['ls-files'] });
  const head = gitIn(dir, 'rev-parse', 'HEAD');
  let m = meta(dir, lastRun(dir).run);
  assert.deepEqual([m.commit, m.branch, m.dirty], [head, 'main', false]);

  // HEAD moves: its tree is asked of git once, then cached again.
  writeFileSync(join(dir, 'lib.mjs'), 'export const a = 2;\n');
  gitIn(dir, 'commit', '-qam', 'two');
  const moved = start(dir);
  assert.ok(moved.includes('rev-parse'), moved.join(' '));
  m = meta(dir, lastRun(dir).run);
  assert.deepEqual([m.commit, m.dirty], [gitIn(dir, 'rev-parse', 'HEAD'), false]);
  assert.deepEqual(start(dir), ['ls-files']);

  // An edit, uncommitted: the code differs from HEAD's tree.
  writeFileSync(join(dir, 'lib.mjs'), 'export const a = 3;\n');
  start(dir);
  const edited = lastRun(dir);
  afterEdit = { dirty: meta(dir, edited.run).dirty, detail: `the run after the edit: ${JSON.stringify(edited)} of ${JSON.parse(flor(dir, ['runs', '--format', 'json', '--all']).stdout).length} runs` };
  gitIn(dir, 'checkout', '-q', 'lib.mjs');

  // A detached HEAD has no branch.
  gitIn(dir, 'checkout', '-q', '--detach');
  start(dir);
  m = meta(dir, lastRun(dir).run);
  assert.deepEqual([m.commit, m.branch], [gitIn(dir, 'rev-parse', 'HEAD'), null]);
  gitIn(dir, 'checkout', '-q', 'main');

  // A setting changed in the repository's config is read at the next start, not taken from the cache.
  writeFileSync(join(dir, 'big.txt'), 'x'.repeat(100));
  start(dir);
  assert.ok(!meta(dir, lastRun(dir).run).skipped, 'under the default cap');
  gitIn(dir, 'config', 'flor.captureMaxBytes', '10');
  const reread = start(dir);
  assert.ok(reread.includes('config'), reread.join(' '));
  assert.deepEqual(meta(dir, lastRun(dir).run).skipped?.paths.map((p) => p.path), ['big.txt']);
  // The same through the environment (git -c, GIT_CONFIG_COUNT): never a stale cached value.
  const env = { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'flor.captureMaxBytes', GIT_CONFIG_VALUE_0: '1000' };
  runNode(dir, 'start.mjs', [], { env, allowFail: true });
  assert.ok(!meta(dir, lastRun(dir).run).skipped, 'the environment raised the cap');
});

// It failed in 3 of 9 full suites before the same-second fix the next test covers, and passed in
// every full suite since.
test('a run started right after a same-size edit of a tracked file is recorded as dirty', () => {
  assert.ok(afterEdit, 'the test above reached the edit');
  assert.equal(afterEdit.dirty, true, afterEdit.detail);
});

test('an edit of the same size within the second of the committed version is recorded: Git, which compares stat data to the second, is never handed the old entry of a file found changed', () => {
  const dir = makeRepo({ files: { 'start.mjs': SCRIPT, 'lib.mjs': 'export const a = 2;\n' }, commit: false });
  // No ctime in Git's comparison, and both versions' mtimes in one second: only the content differs.
  gitIn(dir, 'config', 'core.trustctime', 'false');
  const at = (frac: string) => sh('touch', ['-d', `2020-01-01 00:00:00.${frac}`, join(dir, 'lib.mjs')], dir);
  at('100');
  gitIn(dir, 'add', '-A');
  gitIn(dir, 'commit', '-q', '-m', 'two');
  writeFileSync(join(dir, 'lib.mjs'), 'export const a = 3;\n');
  at('900');
  runNode(dir, 'start.mjs', [], { allowFail: true });
  const run = lastRun(dir);
  const tree = (JSON.parse(flor(dir, ['show', run.run, '--format', 'json']).stdout) as { codeTree: string }).codeTree;
  assert.equal(gitIn(dir, 'cat-file', 'blob', `${tree}:lib.mjs`), 'export const a = 3;');
  assert.equal(meta(dir, run.run).dirty, true);
});
