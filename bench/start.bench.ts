/**
 * Run start with many untracked files. A script's first flor call finds the repository, lists
 * its code, snapshots it into a tree and pins it; this is timed inside the script (from just before
 * the first flor call to just after it), which then kills itself (capture is the capture bench's
 * subject; the capturer waiting since the start captures the killed run meanwhile). The figure: median start with FILES small untracked files (the private index kept from
 * the previous run as a stat cache), against the baseline measured in the same run: a clean tree
 * of the same FILES files, tracked and committed. Target <= 2x. Also printed: the git processes
 * each start ran (counted through a `git` wrapper on PATH that logs each with its parent and
 * grandparent pids, in a separate run, since the wrapper costs time; the script's own count, and
 * its waiting capturer's while it lives) and the first run's cost, which hashes every untracked file once. A second figure:
 * the git processes of a start on a clean small repository where nothing changed (target <= 1).
 * FLOR_BENCH_FILES changes the count (default 100,000).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepo, cleanup, testEnv, gitIn, tempDir, BIN } from '../test/helpers/repo.js';

const FILES = Number(process.env.FLOR_BENCH_FILES) || 100_000;
const PAIRS = 5;
const TARGET = 2;

const SCRIPT = `import { flor } from 'git-flor';
const t = performance.now();
flor.arg('x', 0);
process.stdout.write(JSON.stringify({ ms: performance.now() - t }) + '\\n');
process.kill(process.pid, 'SIGKILL');
`;

function writeData(dir: string): void {
  const per = 1000;
  for (let d = 0; d * per < FILES; d++) {
    const sub = join(dir, 'data', `d${d}`);
    mkdirSync(sub, { recursive: true });
    for (let i = d * per; i < Math.min(FILES, (d + 1) * per); i++) writeFileSync(join(sub, `f${i}.txt`), `${i}\n`);
  }
}

function startRun(dir: string, env: Record<string, string> = {}): { ms: number; pid: number } {
  const r = spawnSync(process.execPath, ['start.mjs'], { cwd: dir, env: testEnv(env), encoding: 'utf8' });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`start.mjs printed nothing (${r.status ?? r.signal}): ${r.stderr}`);
  return { ms: (JSON.parse(line) as { ms: number }).ms, pid: r.pid };
}

const start = (dir: string): number => startRun(dir).ms;

/**
 * The git subcommands of the script's start (logged with their parent and grandparent pids): its
 * own, and its waiting capturer's while it lived (the shell lists the code for the start); not
 * those of the capture after its death.
 */
function ownGit(log: string, pid: number): string[] {
  return readFileSync(log, 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter(([parent, grandparent]) => parent === String(pid) || grandparent === String(pid))
    .map((f) => f[2]!);
}

/** Git processes one start runs: a wrapper first on PATH logs each before running the real git. */
function gitProcesses(dir: string, shim: string, log: string): string[] {
  writeFileSync(log, '');
  const { pid } = startRun(dir, { PATH: `${shim}:${process.env.PATH}`, FLOR_BENCH_GITLOG: log });
  return ownGit(log, pid);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(): Promise<void> {
  try {
    const clean = makeRepo({ files: { 'start.mjs': SCRIPT } });
    writeData(clean);
    gitIn(clean, 'add', '-A');
    gitIn(clean, 'commit', '-qm', 'data');
    const untracked = makeRepo({ files: { 'start.mjs': SCRIPT } });
    writeData(untracked);

    const shim = tempDir('flor-bench-shim-');
    const realGit = spawnSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim();
    // The parent's parent from /proc: its stat, after the command name.
    writeFileSync(join(shim, 'git'), `#!/bin/sh\nread -r s < /proc/$PPID/stat; s=\${s##*) }; s=\${s#* }\necho "$PPID \${s%% *} $1" >> "$FLOR_BENCH_GITLOG"\nexec ${realGit} "$@"\n`);
    chmodSync(join(shim, 'git'), 0o755);
    const log = join(shim, 'log');

    const first = start(untracked); // hashes every untracked file once, and keeps the index
    start(clean);
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < PAIRS; i++) {
      a.push(start(untracked));
      b.push(start(clean));
    }
    const gitUntracked = gitProcesses(untracked, shim, log).length;
    const gitClean = gitProcesses(clean, shim, log).length;
    const ms = median(a);
    const base = median(b);
    const ratio = ms / base;
    console.log(
      `BENCH run-start-${FILES}-untracked: ${ms.toFixed(0)} ms, ${gitUntracked} git processes, median of ${PAIRS} (${ratio.toFixed(2)}x vs a clean tree of the same ${FILES} files tracked = ${base.toFixed(0)} ms, ${gitClean} git processes; the first run, hashing them all: ${first.toFixed(0)} ms; target <= ${TARGET}x) ${ratio <= TARGET ? 'PASS' : 'FAIL'}`,
    );
    // The hot path: a clean small repository whose files did not change since the last run.
    const small = makeRepo({ files: { 'start.mjs': SCRIPT, 'lib.mjs': 'export const x = 1;\n' } });
    // Warm: the first capture writes flor.writer into the config, which is then read once more.
    for (let i = 0; i < 2; i++) {
      start(small);
      spawnSync(process.execPath, [BIN, 'runs'], { cwd: small, env: testEnv() });
    }
    const gitSmall = gitProcesses(small, shim, log);
    console.log(`BENCH run-start-git-processes: ${gitSmall.length} git processes at a run's start on a clean small repository, nothing changed since the last run (${gitSmall.join(', ')}; target <= 1) ${gitSmall.length <= 1 ? 'PASS' : 'FAIL'}`);
    rmSync(join(untracked, '.git', 'flor'), { recursive: true, force: true });
  } finally {
    cleanup();
  }
}
