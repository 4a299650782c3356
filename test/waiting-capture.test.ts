/**
 * The waiting capturer's shell lists the code for a run's start (store/waiting-capture.ts): its
 * listing is git's own for the same arguments, in a work tree whose path needs quoting, and leaves
 * no scratch file; a shell that died before listing is noticed at once, and the start then lists
 * the code itself. Real repositories, real processes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { DetachedChild } from '../src/store/detached-child.js';
import { cleanup, flor, gitIn, makeRepo, runNode, sh, tempDir, writeFiles } from './helpers/repo.js';
import { requireRepoSync } from '../src/store/git.js';
import { codeListArgs } from '../src/store/code-select.js';
import { startWaitingCapture } from '../src/store/waiting-capture.js';

after(cleanup);

/** A repository under a path with a quote and a space, with a .florignore (its path is an argument of ls-files). */
function repo(): string {
  const dir = tempDir("flor-it's here-");
  gitIn(dir, 'init', '-q', '-b', 'main');
  writeFiles(dir, { 'a.mjs': 'export const a = 1;\n', '.florignore': 'data/\n', 'data/x.csv': '1\n', 'notes.txt': 'n\n', 'sub/b.mjs': 'b\n' });
  gitIn(dir, 'add', 'a.mjs', '.florignore');
  gitIn(dir, '-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '-qm', 'one');
  return dir;
}

/** The shell's exit once its pipe is closed (no journal: it ends without starting a capture). */
function ended(child: DetachedChild): Promise<number | null> {
  return new Promise((resolve) => {
    child.waitExit(resolve); // unref'd by its starter: the test waits for it
    child.closeStdin();
  });
}

test("the shell's listing is git ls-files' own, and its scratch files are gone once read", async () => {
  const dir = repo();
  const info = requireRepoSync(dir);
  const w = startWaitingCapture(info, join(info.commonDir, 'flor', 'journal', 'none.jrnl'), ['/bin/false'], []);
  assert.ok(w, 'started');
  const listed = w.listed();
  const direct = sh('git', codeListArgs(dir), dir).stdout;
  assert.equal(listed, direct);
  const paths = direct.split('\0').map((r) => r.slice(r.indexOf('\t') + 1).replace(/^\? /, ''));
  assert.deepEqual(paths.filter(Boolean).sort(), ['.florignore', 'a.mjs', 'notes.txt', 'sub/b.mjs'], '.florignore applied: data/ left out');
  assert.deepEqual(readdirSync(join(info.commonDir, 'flor', 'tmp')), []);
  assert.equal(w.listed(), null, 'once only');
  assert.equal(await ended(w.child), 0);
});

test('a shell that died before listing is noticed at once: no listing, and the start lists the code itself', async () => {
  const dir = repo();
  const info = requireRepoSync(dir);
  // A git that takes its time, so the shell dies before its listing is written.
  const shim = tempDir('flor-slow-git-');
  const realGit = spawnSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim();
  writeFileSync(join(shim, 'git'), `#!/bin/sh\nsleep 1\nexec ${realGit} "$@"\n`);
  chmodSync(join(shim, 'git'), 0o755);
  const path = process.env.PATH;
  process.env.PATH = `${shim}:${path}`;
  let w: ReturnType<typeof startWaitingCapture>;
  try {
    w = startWaitingCapture(info, join(info.commonDir, 'flor', 'journal', 'none.jrnl'), ['/bin/false'], []);
  } finally {
    process.env.PATH = path;
  }
  assert.ok(w);
  w.child.kill('SIGKILL');
  const t0 = performance.now();
  assert.equal(w.listed(), null);
  assert.ok(performance.now() - t0 < 900, `noticed in ${(performance.now() - t0).toFixed(0)} ms, before the slow git would have listed`);
  await ended(w.child);
});

test('a start that ended before reading the listing leaves no scratch file: the shell removes it as it ends', async () => {
  const dir = repo();
  const info = requireRepoSync(dir);
  const w = startWaitingCapture(info, join(info.commonDir, 'flor', 'journal', 'none.jrnl'), ['/bin/false'], []);
  assert.ok(w);
  assert.equal(await ended(w.child), 0, 'no journal: ends without a capture');
  assert.deepEqual(readdirSync(join(info.commonDir, 'flor', 'tmp')), []);
});

/** A script that says, after its first flor call (the run's start), whether node:child_process is loaded. */
const LOADED = `import { flor } from 'git-flor';
flor.log('x', 1);
process.stdout.write(String(process.moduleLoadList.includes('NativeModule child_process')));
`;

test("a run's start starts the waiting shell without loading node:child_process, and the run is captured", () => {
  const dir = makeRepo({ files: { 'loaded.mjs': LOADED } });
  // The first start writes the stat cache (through git), and the first capture writes flor.writer
  // into the config, which the next start reads again (through git): each start waits for the
  // last capture, or which start sees the changed config is a race.
  runNode(dir, 'loaded.mjs');
  flor(dir, ['runs']);
  runNode(dir, 'loaded.mjs');
  flor(dir, ['runs']);
  const r = runNode(dir, 'loaded.mjs');
  assert.equal(r.stdout, 'false', r.stderr);
  const runs = JSON.parse(flor(dir, ['runs', '--format', 'json']).stdout) as Array<{ status: string; records: number }>;
  assert.deepEqual(runs.map((x) => [x.status, x.records]), [['ok', 1], ['ok', 1], ['ok', 1]]);
});

test('under --pending-deprecation (flag or NODE_PENDING_DEPRECATION=1) the shell is started through child_process: no deprecation warning, the run is captured', () => {
  const dir = makeRepo({ files: { 'loaded.mjs': LOADED } });
  runNode(dir, 'loaded.mjs');
  const r = runNode(dir, 'loaded.mjs', [], { execArgv: ['--pending-deprecation'] });
  assert.equal(r.stdout, 'true');
  assert.doesNotMatch(r.stderr, /Deprecation|DEP0111/);
  // The environment variable turns the warning on as the flag does.
  const e = runNode(dir, 'loaded.mjs', [], { env: { NODE_PENDING_DEPRECATION: '1' } });
  assert.equal(e.stdout, 'true');
  assert.doesNotMatch(e.stderr, /Deprecation|DEP0111/);
  const runs = JSON.parse(flor(dir, ['runs', '--format', 'json']).stdout) as Array<{ status: string }>;
  assert.deepEqual(runs.map((x) => x.status), ['ok', 'ok', 'ok']);
});

/**
 * A script that prints, after its start, the environment of its waiting shell (its child, which
 * `exec`s the capturer with that environment), as NAME=value lines of the names asked for.
 */
const SHELL_ENV = `import { readdirSync, readFileSync } from 'node:fs';
import { flor } from 'git-flor';
flor.log('x', 1);
const kids = readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).filter((p) => {
  try { return readFileSync('/proc/' + p + '/stat', 'latin1').replace(/^.*\\) /, '').split(' ')[1] === String(process.pid); } catch { return false; }
});
const env = kids.map((p) => readFileSync('/proc/' + p + '/environ', 'latin1').split('\\0'));
const names = ['NODE_EXTRA_CA_CERTS', 'FLOR_TEST_KEPT'];
process.stdout.write(JSON.stringify(env.map((e) => e.filter((kv) => names.includes(kv.split('=')[0])).sort())));
`;

test('the capturer does not inherit NODE_EXTRA_CA_CERTS (Node parses that bundle at every start; the capturer makes no TLS connection), and keeps the rest', () => {
  const dir = makeRepo({ files: { 'env.mjs': SHELL_ENV } });
  const r = runNode(dir, 'env.mjs', [], { env: { NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt', FLOR_TEST_KEPT: 'yes' } });
  assert.equal(r.stdout, JSON.stringify([['FLOR_TEST_KEPT=yes']]), r.stderr);
  const runs = JSON.parse(flor(dir, ['runs', '--format', 'json']).stdout) as Array<{ status: string; records: number }>;
  assert.deepEqual(runs.map((x) => [x.status, x.records]), [['ok', 1]]);
});
