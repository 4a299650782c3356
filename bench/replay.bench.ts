/**
 * Replay benchmarks (issue 3):
 *  - replay of one outer-level statement over a run of 20 epochs x 200 steps vs re-running that run
 *    (target >= 10x faster), both timed in this process;
 *  - the same kind of replay with 2 workers vs 1 on a CPU-bound replay (inner loop runs), target >= 1.6x.
 * Real Git repositories in temp dirs, the built dist/ (run `npx tsc` first).
 */
import { writeFileSync, rmSync, mkdtempSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { trainSource } from '../fixtures/train/source.js';
import { replayMissing } from '../src/replay/replay.js';
import { requireRepoSync } from '../src/store/git.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {
    ...process.env, GIT_AUTHOR_NAME: 'Bench', GIT_AUTHOR_EMAIL: 'b@example.com', GIT_COMMITTER_NAME: 'Bench',
    GIT_COMMITTER_EMAIL: 'b@example.com', GIT_CONFIG_NOSYSTEM: '1',
  };
  delete e.FLOR_REPLAY;
  delete e.GIT_DIR;
  delete e.GIT_INDEX_FILE;
  return e;
}

function sh(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, env: env(), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function repoWith(source: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'flor-bench-replay-'));
  sh('git', ['init', '-q', '-b', 'main'], dir);
  sh('git', ['config', 'gc.auto', '0'], dir);
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'git-flor'), 'dir');
  writeFileSync(join(dir, '.gitignore'), 'node_modules/\n');
  writeFileSync(join(dir, 'train.mjs'), source);
  sh('git', ['add', '-A'], dir);
  sh('git', ['commit', '-q', '-m', 'v3'], dir);
  return dir;
}

function timeRun(dir: string, args: string[]): number {
  const t0 = performance.now();
  sh(process.execPath, ['train.mjs', ...args], dir);
  return performance.now() - t0;
}

async function timeReplay(dir: string, names: string[], workers: number): Promise<number> {
  const t0 = performance.now();
  const r = await replayMissing(requireRepoSync(dir), names, { workers });
  const ms = performance.now() - t0;
  const bad = r.outcomes.filter((o) => o.status !== 'replayed');
  if (bad.length || r.outcomes.length === 0) throw new Error(`replay did not complete: ${JSON.stringify(r.outcomes)}`);
  return ms;
}

function line(name: string, figure: string, ratio: number, baseline: string, target: number): void {
  console.log(`BENCH ${name}: ${figure} (${ratio.toFixed(1)}x vs ${baseline}, target >= ${target}x) ${ratio >= target ? 'PASS' : 'FAIL'}`);
}

export async function run(): Promise<void> {
  const dirs: string[] = [];
  try {
    // 1. outer-level statement, 20 epochs x 200 steps: replay (inner loop skipped) vs re-run.
    const big = ['--epochs', '20', '--steps', '200', '--dim', '32', '--batch', '64'];
    const a = repoWith(trainSource(3));
    dirs.push(a);
    timeRun(a, big); // the run to replay
    const rerun = timeRun(a, big); // re-running it: the alternative replay must beat
    writeFileSync(join(a, 'train.mjs'), trainSource(4));
    const replay = await timeReplay(a, ['wnorm'], 1);
    line('replay outer-level statement, 20x200 run, 2 runs', `${Math.round(replay)} ms vs ${Math.round(rerun)} ms per re-run`, (2 * rerun) / replay, 're-running both runs', 10);

    // 2. CPU-bound replay (the inner loop must run for gnorm): 2 workers vs 1, same runs, two repos.
    const mid = ['--epochs', '8', '--steps', '150', '--dim', '32', '--batch', '64'];
    const times: number[] = [];
    for (const workers of [1, 2]) {
      const d = repoWith(trainSource(3));
      dirs.push(d);
      timeRun(d, mid);
      timeRun(d, mid);
      writeFileSync(join(d, 'train.mjs'), trainSource(4));
      times.push(await timeReplay(d, ['gnorm'], workers));
    }
    line('replay inner-loop statement, 2 workers vs 1', `${Math.round(times[1]!)} ms vs ${Math.round(times[0]!)} ms`, times[0]! / times[1]!, '1 worker', 1.6);
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
