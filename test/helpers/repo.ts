/**
 * Real Git repositories in temp dirs for tests — never mocks of Git.
 * makeRepo({ files, commits }) builds a repo from inline objects; linkFlor makes
 * `import { flor } from 'git-flor'` resolve to this checkout's built dist/.
 */
import { appendFileSync, mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { spawnSync, spawn, type SpawnSyncReturns } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assertDistFresh } from './dist-fresh.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The CLI's JavaScript entry, which tests run with this Node (bin/git-flor is the sh script that runs it). */
export const BIN = join(ROOT, 'bin', 'git-flor.cjs');
/** What a user's `git flor` runs: the sh script. */
export const BIN_SH = join(ROOT, 'bin', 'git-flor');
assertDistFresh(ROOT);

/** Environment for git and flor in tests: fixed identity, no user/system config, no color. */
export function testEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@example.com',
    GIT_CONFIG_NOSYSTEM: '1',
    NO_COLOR: '1',
  };
  delete env.GIT_DIR;
  delete env.GIT_INDEX_FILE;
  delete env.GIT_WORK_TREE;
  delete env.FLOR_REPLAY_PARENT;
  delete env.FLOR_REPLAY; // inherited replay mode would silently change what a test's script does
  return { ...env, ...extra };
}

export function sh(cmd: string, args: string[], cwd: string, opts: { env?: NodeJS.ProcessEnv; input?: string; allowFail?: boolean } = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env: opts.env ?? testEnv(), input: opts.input, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (!opts.allowFail && r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}) in ${cwd}\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

export function gitIn(cwd: string, ...args: string[]): string {
  return sh('git', args, cwd).stdout.trim();
}

export interface RepoSpec {
  /** Files of the first commit (or of the work tree when commits is empty/omitted and commit is false). */
  files?: Record<string, string>;
  /** Further commits, each a set of file writes (null deletes). */
  commits?: Array<{ message?: string; files: Record<string, string | null> }>;
  /** Commit `files` as the first commit (default true). */
  commit?: boolean;
  /** Link node_modules/git-flor to this checkout (default true). */
  flor?: boolean;
}

const made: string[] = [];

export function tempDir(prefix = 'flor-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export function writeFiles(dir: string, files: Record<string, string | null>): void {
  for (const [p, content] of Object.entries(files)) {
    const f = join(dir, p);
    if (content === null) {
      rmSync(f, { force: true });
      continue;
    }
    mkdirSync(dirname(f), { recursive: true });
    writeFileSync(f, content);
  }
}

export function makeRepo(spec: RepoSpec = {}): string {
  const dir = tempDir();
  gitIn(dir, 'init', '-q', '-b', 'main');
  // Appended, not set with three `git config` processes: a repository is made in most tests.
  appendFileSync(join(dir, '.git', 'config'), '[gc]\n\tauto = 0\n[user]\n\tname = Test\n\temail = test@example.com\n');
  writeFiles(dir, { '.gitignore': 'node_modules/\n', ...(spec.files ?? {}) });
  if (spec.flor !== false) linkFlor(dir);
  if (spec.commit !== false) {
    gitIn(dir, 'add', '-A');
    gitIn(dir, 'commit', '-q', '-m', 'initial');
  }
  for (const [i, c] of (spec.commits ?? []).entries()) {
    writeFiles(dir, c.files);
    gitIn(dir, 'add', '-A');
    gitIn(dir, 'commit', '-q', '-m', c.message ?? `commit ${i + 1}`);
  }
  return dir;
}

/**
 * A copy of a repository (work tree, .git with its refs, reflogs, objects and writer id) in a new
 * temp dir: for tests that each damage or extend the same recorded runs, instead of recording
 * them again. The copy has the original's writer id: never push both to one remote.
 */
export function copyRepo(src: string): string {
  const dir = tempDir('flor-copy-');
  sh('cp', ['-a', `${src}/.`, dir], dir);
  return dir;
}

/** node_modules/git-flor -> this checkout, as a user would get from `npm link` or a path install. */
export function linkFlor(dir: string): void {
  const nm = join(dir, 'node_modules');
  mkdirSync(nm, { recursive: true });
  if (!existsSync(join(nm, 'git-flor'))) symlinkSync(ROOT, join(nm, 'git-flor'), 'dir');
}

/** Runs a user script with node in `cwd` (synchronously). */
export function runNode(cwd: string, script: string, args: string[] = [], opts: { env?: Record<string, string>; execArgv?: string[]; allowFail?: boolean } = {}): SpawnSyncReturns<string> {
  return sh(process.execPath, [...(opts.execArgv ?? []), script, ...args], cwd, { env: testEnv(opts.env), allowFail: opts.allowFail });
}

/** Starts a user script without waiting (for concurrency and kill -9 tests). */
export function startNode(cwd: string, script: string, args: string[] = [], env: Record<string, string> = {}) {
  return spawn(process.execPath, [script, ...args], { cwd, env: testEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs the built CLI as a user would (`git flor ...` resolves to bin/git-flor). */
export function flor(cwd: string, args: string[], opts: { allowFail?: boolean; env?: Record<string, string>; input?: string } = {}): SpawnSyncReturns<string> {
  return sh(process.execPath, [BIN, ...args], cwd, { env: testEnv(opts.env), allowFail: opts.allowFail, input: opts.input });
}

/** Asserts the repository is sound (every object and ref flor wrote checks out). */
export function fsckClean(dir: string): void {
  sh('git', ['fsck', '--strict', '--no-progress'], dir);
}

/**
 * fsckClean, then `git gc --prune=now` and again: gc loses nothing flor wrote. Only where a test is
 * about gc keeping flor's objects (a gc costs about a second on a fresh repository).
 */
export function fsckAfterGc(dir: string): void {
  fsckClean(dir);
  const before = gitIn(dir, 'for-each-ref', '--format=%(objectname) %(refname)', 'refs/flor');
  sh('git', ['gc', '-q', '--prune=now'], dir);
  const after = gitIn(dir, 'for-each-ref', '--format=%(objectname) %(refname)', 'refs/flor');
  if (before !== after) throw new Error(`gc changed refs/flor:\n${before}\n---\n${after}`);
  sh('git', ['fsck', '--strict', '--no-progress', '--connectivity-only'], dir);
}

/**
 * Removes the file's temp dirs in a detached shell, so the file ends without waiting for it.
 * Removing them inline took 0.7–1.5 s of a heavy file's wall clock for 0.2–0.3 s of CPU (this
 * disk is mounted with `discard`: a delete waits on the device), time in which that core ran
 * nothing. A run's detached capturer may still be writing into its repository: the shell retries
 * until every dir is gone (up to ~10 s), as rmSync's retries did.
 */
export function cleanup(): void {
  const dirs = made.splice(0);
  if (dirs.length === 0) return;
  const script = 'n=0; while [ $n -lt 20 ]; do rm -rf -- "$@" 2>/dev/null; left=; for d in "$@"; do [ -e "$d" ] && left=1; done; [ -z "$left" ] && exit 0; n=$((n + 1)); sleep 0.5; done';
  try {
    spawn('/bin/sh', ['-c', script, 'sh', ...dirs], { detached: true, stdio: 'ignore' }).unref();
  } catch {
    for (const d of dirs) rmSync(d, { recursive: true, force: true, maxRetries: 50, retryDelay: 100 });
  }
}
