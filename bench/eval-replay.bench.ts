/**
 * The eval-loop fixture (fixtures/eval-loop/): three scorer versions recorded against the fake
 * model server (40 prompts x 2 trials, 20 ms per reply), then `git flor log words --replay
 * --no-live-calls` with today's scorer. Figure: the replay's wall time (the whole command: runs
 * listed, code propagated and checked out, one child per run, segments written) against the three
 * recorded runs' wall time; target <= 10%. The model requests the replay made are printed too
 * (must be 0; the test asserts it). Real Git repository in a temp dir, the built dist/.
 */
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { scorer, todayScorer, evalFiles } from '../fixtures/eval-loop/build.js';
import { benchEnv as env } from './env.js';
import { startModelServer } from '../fixtures/eval-loop/model-server.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function git(cwd: string, ...args: string[]): void {
  const r = spawnSync('git', args, { cwd, env: env(), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
}

/** Asynchronously: the model server answers from this process meanwhile. Returns wall ms. `cmd`: node, or bin/git-flor (what `git flor` runs). */
function timed(cwd: string, args: string[], cmd = process.execPath): Promise<{ ms: number; stderr: string }> {
  return new Promise((ok, fail) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd, env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => (code === 0 ? ok({ ms: performance.now() - t0, stderr }) : fail(new Error(`${args.join(' ')} exited ${code}: ${stderr}`))));
  });
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'flor-bench-eval-'));
  const server = await startModelServer();
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'git-flor'), 'dir');
    writeFileSync(join(dir, '.gitignore'), 'node_modules/\n');
    for (const [p, text] of Object.entries(evalFiles())) writeFileSync(join(dir, p), text);
    git(dir, 'init', '-q', '-b', 'main');
    git(dir, 'config', 'gc.auto', '0');
    let recordedMs = 0;
    for (const v of [1, 2, 3] as const) {
      writeFileSync(join(dir, 'scorer.mjs'), scorer(v));
      git(dir, 'add', '-A');
      git(dir, 'commit', '-qm', `scorer v${v}`);
      recordedMs += (await timed(dir, ['eval.mjs', '--model', server.url])).ms;
    }
    // The recorded runs are captured by detached processes: a reader waits for them, outside the timing.
    await timed(dir, ['runs'], join(ROOT, 'bin', 'git-flor'));
    writeFileSync(join(dir, 'scorer.mjs'), todayScorer());
    const before = server.requests();
    const replay = await timed(dir, ['log', 'words', '--replay', '--no-live-calls', '--format', 'csv'], join(ROOT, 'bin', 'git-flor'));
    const calls = server.requests() - before;
    const tasks = [...replay.stderr.matchAll(/in 1 task\(s\), ([\d.]+ m?s)/g)].map((m) => m[1]).join(', ');
    console.log(`INFO recorded: 3 runs, ${Math.round(recordedMs)} ms (80 model calls of 20 ms each per run); replay children: ${tasks}; model requests during the replay: ${calls}`);
    const share = replay.ms / recordedMs;
    console.log(`BENCH eval-replay: ${Math.round(replay.ms)} ms (${(share * 100).toFixed(1)}% of the recorded runs' ${Math.round(recordedMs)} ms, target <= 10%) ${share <= 0.1 && calls === 0 ? 'PASS' : 'FAIL'}`);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
