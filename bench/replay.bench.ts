/**
 * Replay benchmarks:
 *  - replay of one outer-level statement over a run of 20 epochs x 200 steps vs re-running that run
 *    (target >= 10x faster), both timed in this process;
 *  - the same kind of replay with 2 workers vs 1 on a CPU-bound replay (inner loop runs), target >= 1.6x.
 * INFO lines give context: the same replay on a run checkpointed by the default 5% policy, and what
 * two plain processes gain from running in parallel on this machine at this moment (the ceiling
 * of the 2-worker figure; on the shared 2-core machine it swung between 0.95x and 1.8x).
 * Real Git repositories in temp dirs, the built dist/ (run `npx tsc` first).
 */
import { writeFileSync, rmSync, mkdtempSync, mkdirSync, symlinkSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { trainSource } from '../fixtures/train/source.js';
import { benchEnv } from './env.js';
import { replayMissing } from '../dist/replay/replay.js';
import { requireRepoSync } from '../dist/store/git.js';
import { readableRuns } from '../dist/store/ledger.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const env = benchEnv;

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

function timeRun(dir: string, args: string[], extraEnv: Record<string, string> = {}): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['train.mjs', ...args], { cwd: dir, env: { ...env(), ...extraEnv }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`train.mjs failed: ${r.stderr}`);
  return performance.now() - t0;
}

async function timeReplay(dir: string, names: string[], workers: number, runs?: string[]): Promise<{ ms: number; checkpoints: number; tasks: number; taskMs: number }> {
  const t0 = performance.now();
  const r = await replayMissing(requireRepoSync(dir), names, { workers, runs });
  const ms = performance.now() - t0;
  const bad = r.outcomes.filter((o) => o.status !== 'replayed');
  if (bad.length || r.outcomes.length === 0) throw new Error(`replay did not complete: ${JSON.stringify(r.outcomes)}`);
  const taskMs = r.outcomes.reduce((a, o) => a + (o.status === 'replayed' ? o.ms : 0), 0);
  return { ms, checkpoints: r.plan.runs.reduce((a, p) => a + p.checkpoints, 0), tasks: r.plan.tasks, taskMs };
}

function line(name: string, figure: string, ratio: number, baseline: string, target: number): void {
  console.log(`BENCH ${name}: ${figure} (${ratio.toFixed(2)}x vs ${baseline}, target >= ${target}x) ${ratio >= target ? 'PASS' : 'FAIL'}`);
}

export async function run(): Promise<void> {
  const dirs: string[] = [];
  try {
    // 1. One outer-level statement over a run of 20 epochs x 200 steps: replay (inner loop skipped,
    //    each epoch's end state restored) vs re-running the run. The run is checkpointed at every
    //    epoch (FLOR_CKPT_SHARE=1): how densely the default 5% policy checkpoints is the runtime's
    //    business, reported on the INFO line.
    const big = ['--epochs', '20', '--steps', '200', '--dim', '64', '--batch', '512'];
    const a = repoWith(trainSource(3));
    dirs.push(a);
    timeRun(a, big, { FLOR_CKPT_SHARE: '1' });
    const rerun = timeRun(a, big); // re-running it, as a user would: the alternative replay must beat
    const [dense, sparse] = (await readableRuns(requireRepoSync(a))).map((r) => r.id);
    writeFileSync(join(a, 'train.mjs'), trainSource(4));
    const rep = await timeReplay(a, ['wnorm'], 1, [dense!]);
    line('replay of an outer-level statement, 20x200 run', `${Math.round(rep.ms)} ms vs ${Math.round(rerun)} ms re-run`, rerun / rep.ms, 're-running it', 10);
    const def = await timeReplay(a, ['wnorm'], 1, [sparse!]);
    console.log(`INFO replay of the same run checkpointed by the default policy (${def.checkpoints}/20 epochs checkpointed): ${Math.round(def.ms)} ms (${(rerun / def.ms).toFixed(1)}x vs re-running it)`);

    // 2. CPU-bound replay (the inner loop must run for gnorm) of two runs: 2 workers vs 1. Each
    //    replay gets its own copy of the repository (a replay writes segments, after which there
    //    is nothing left to replay), and pairs alternate their order and are judged on the median
    //    ratio: on this shared VM one measurement swings by 20% with the neighbours' load (a median
    //    of 3 was one pair's luck, and with 5 two passes of twelve read 1.57x and 1.49x: 9 pairs).
    const mid = ['--epochs', '10', '--steps', '150', '--dim', '64', '--batch', '256'];
    const one = repoWith(trainSource(3));
    dirs.push(one);
    timeRun(one, mid, { FLOR_CKPT_SHARE: '1' });
    timeRun(one, mid, { FLOR_CKPT_SHARE: '1' });
    // A reader waits for the captures still in flight: a copy made meanwhile would hold a journal
    // claimed by a live process, half captured.
    await readableRuns(requireRepoSync(one));
    writeFileSync(join(one, 'train.mjs'), trainSource(4));
    let copies = 0;
    const fresh = (): string => {
      const d = `${one}-copy${copies++}`;
      cpSync(one, d, { recursive: true, verbatimSymlinks: true });
      dirs.push(d);
      return d;
    };
    const PAIRS = 9;
    const pairs: Array<{ w1: Awaited<ReturnType<typeof timeReplay>>; w2: Awaited<ReturnType<typeof timeReplay>> }> = [];
    for (let i = 0; i < PAIRS; i++) {
      const [d1, d2] = [fresh(), fresh()];
      spawnSync('sync'); // the copies are written back before the clock starts, not during the first arm
      if (i % 2 === 0) {
        const w1 = await timeReplay(d1, ['gnorm'], 1);
        pairs.push({ w1, w2: await timeReplay(d2, ['gnorm'], 2) });
      } else {
        const w2 = await timeReplay(d2, ['gnorm'], 2);
        pairs.push({ w1: await timeReplay(d1, ['gnorm'], 1), w2 });
      }
    }
    const byRatio = [...pairs].sort((x, y) => x.w1.ms / x.w2.ms - y.w1.ms / y.w2.ms);
    const { w1, w2 } = byRatio[PAIRS >> 1]!;
    line(
      'CPU-bound replay (inner loop runs), 2 runs x 10x150, 2 workers vs 1',
      `${Math.round(w2.ms)} ms (${w2.tasks} tasks) vs ${Math.round(w1.ms)} ms (${w1.tasks} tasks), median of ${PAIRS} interleaved pairs: ${byRatio.map((p) => (p.w1.ms / p.w2.ms).toFixed(2)).join(' ')}`,
      w1.ms / w2.ms,
      '1 worker',
      1.6,
    );
    // With one worker the tasks run one after the other: the rest of the wall time is the replay's
    // own serial cost (listing, propagation, checkout, plan, fidelity, ledger append, pool).
    console.log(`INFO serial cost outside the tasks with 1 worker: ${Math.round(w1.ms - w1.taskMs)} ms of ${Math.round(w1.ms)} ms (tasks ${Math.round(w1.taskMs)} ms)`);
    // What this machine gives two independent processes right now: the ceiling for the line above.
    const plain = mkdtempSync(join(tmpdir(), 'flor-bench-plain-'));
    dirs.push(plain);
    writeFileSync(join(plain, 'train.mjs'), trainSource(3));
    mkdirSync(join(plain, 'node_modules'));
    symlinkSync(ROOT, join(plain, 'node_modules', 'git-flor'), 'dir');
    const t0 = performance.now();
    timeRun(plain, mid);
    timeRun(plain, mid);
    const seq = performance.now() - t0;
    const t1 = performance.now();
    await Promise.all([0, 1].map(() => new Promise<void>((res, rej) => {
      const c = spawn(process.execPath, ['train.mjs', ...mid], { cwd: plain, env: env(), stdio: 'ignore' });
      c.on('close', (code) => (code === 0 ? res() : rej(new Error(`train.mjs exited ${code}`))));
    })));
    const par = performance.now() - t1;
    console.log(`INFO two plain runs of the fixture (no git flor): in parallel ${Math.round(par)} ms vs one after the other ${Math.round(seq)} ms (${(seq / par).toFixed(2)}x: what 2 cores give now)`);
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
