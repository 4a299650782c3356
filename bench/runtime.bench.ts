/**
 * Runtime benchmarks, each in a child process running a real recorded run in a
 * temp Git repository (the built dist/: run `npx tsc` first):
 *  - flor.log of a number inside a 10M-iteration loop, ns per call, against pushing an equivalent
 *    `{ name, value }` object into a plain array in the same process: target <= 100 ns and <= 3x.
 *    The child kills itself once it has measured: capturing 10M records is the capture
 *    benchmark's subject, not this one's, and would only add minutes here.
 *  - checkpointing overhead: a fixture training loop (120 epochs of ~17 ms, 4 MB of state) with
 *    flor.checkpointing against the same loop with checkpointing off; target <= the configured
 *    share, at the default 5% and at 20%. The figure is CPU time of the process (main and writer
 *    threads), the median over pairs whose two runs share one core at the same time (below). The
 *    run's own account (what the policy charged: writer start, snapshots, writes, as a share of
 *    the loop's time) is printed alongside.
 */
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { serialize } from 'node:v8';
import { makeRepo, cleanup, testEnv, ROOT } from '../test/helpers/repo.js';

const SESSION = JSON.stringify(join(ROOT, 'dist', 'runtime', 'index.js'));

const HOT = `import { flor } from 'git-flor';
const N = 10_000_000;
function viaFlor(n) {
  let s = 0;
  for (let i = 0; i < n; i++) s += flor.log('loss', i * 0.5);
  return s;
}
function viaArray(n) {
  const a = [];
  for (let i = 0; i < n; i++) a.push({ name: 'loss', value: i * 0.5 });
  return a.length;
}
function time(f) {
  const t = process.hrtime.bigint();
  f(N);
  return Number(process.hrtime.bigint() - t) / N;
}
viaFlor(200_000);
viaArray(200_000);
const flor1 = time(viaFlor);
const arr1 = time(viaArray);
const flor2 = time(viaFlor);
const arr2 = time(viaArray);
console.log(JSON.stringify({ flor: Math.min(flor1, flor2), array: Math.min(arr1, arr2) }));
process.kill(process.pid, 'SIGKILL');
`;

const FIXTURE = `import { flor } from 'git-flor';
import { florSession } from ${SESSION};
const epochs = flor.arg('epochs', 120); // the session starts here, outside the measured window, in both variants
const w = new Float64Array(1 << 19); // 4 MB of "model"
const opt = { m: new Float64Array(1024), t: 0 };
const c0 = process.cpuUsage();
if (process.env.BENCH_CKPT === '1') flor.checkpointing({ w, opt }); // its trial snapshot is checkpointing's cost
for (const epoch of flor.loop('epoch', Array.from({ length: epochs }, (_, i) => i))) {
  let loss = 0;
  for (let k = 0; k < 20; k++) {
    for (let j = 0; j < w.length; j += 7) {
      w[j] = w[j] * 0.999 + Math.sin(j + epoch) * 1e-3;
      loss += w[j] * w[j];
    }
  }
  opt.t++;
  flor.log('loss', loss);
}
flor.commit(); // waits for the last checkpoint write: its CPU belongs to the run
const c = process.cpuUsage(c0);
const stats = florSession()?.checkpointStats() ?? null; // after commit: the last write's cost is in
console.log(JSON.stringify({ cpuMs: (c.user + c.system) / 1000, stats }));
`;

interface FixtureOut {
  cpuMs: number;
  stats: { spentMs: number; stallMs: number; startupMs: number; estimateMs: number; loopMs: number; taken: number } | null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Runs the fixture with and without checkpointing at once, both pinned to one core (taskset), and
 * resolves with each run's output. On this machine's vCPUs the same run's CPU time swings by up to
 * 2x from one second to the next (identical runs: 2683 to 5803 ms within a minute), and the swings
 * of two vCPUs, or of one vCPU a few seconds apart, are independent: pairs of runs one after the
 * other spanned -31% to +75%, and pairs on the two cores at once were no steadier. Two runs that
 * take turns on one core every few ms see the same vCPU at the same time: their pairs' ratios
 * spanned 2.5% to 4.7% where sequential pairs spanned -26% to +32% (10 pairs each, here). The
 * policy's clock is the process's CPU time, so sharing the core does not change what it affords.
 */
function pinnedPair(dirs: { on: string; off: string }, share: number): Promise<Record<'on' | 'off', FixtureOut>> {
  const one = (dir: string, on: boolean) =>
    new Promise<FixtureOut>((res, rej) => {
      // The fixture is deterministic: a store kept from the last run would already hold every
      // snapshot, and a checkpoint found there costs only its hash.
      rmSync(join(dir, '.git', 'flor', 'ckpt'), { recursive: true, force: true });
      const c = spawn('taskset', ['-c', '0', process.execPath, 'fixture.mjs'], {
        cwd: dir,
        env: testEnv({ BENCH_CKPT: on ? '1' : '0', FLOR_CKPT_SHARE: String(share) }),
      });
      let out = '';
      let err = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr.on('data', (d: Buffer) => (err += d.toString()));
      c.on('error', rej);
      c.on('close', (code) => (code === 0 ? res(JSON.parse(out.trim().split('\n').pop()!) as FixtureOut) : rej(new Error(`fixture.mjs failed (${code}): ${err}`))));
    });
  return Promise.all([one(dirs.on, true), one(dirs.off, false)]).then(([on, off]) => ({ on, off }));
}

function child(dir: string, script: string, env: Record<string, string>, allowSignal = false): string {
  const r = spawnSync(process.execPath, [script], { cwd: dir, env: testEnv(env), encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0 && !(allowSignal && r.signal === 'SIGKILL')) throw new Error(`${script} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return r.stdout.trim().split('\n').pop()!;
}

export async function run(): Promise<void> {
  try {
    const dir = makeRepo({ files: { 'hot.mjs': HOT, 'fixture.mjs': FIXTURE } });

    const hot = JSON.parse(child(dir, 'hot.mjs', {}, true)) as { flor: number; array: number };
    // The killed run's 10M-record journal would otherwise be recovered by the next run's capture.
    rmSync(join(dir, '.git', 'flor', 'journal'), { recursive: true, force: true });
    const ratio = hot.flor / hot.array;
    const ok = hot.flor <= 100 && ratio <= 3;
    console.log(`BENCH runtime flor.log (10M numbers): ${hot.flor.toFixed(1)} ns/call (${ratio.toFixed(2)}x vs array push of {name,value} at ${hot.array.toFixed(1)} ns, target <= 100 ns and <= 3x) ${ok ? 'PASS' : 'FAIL'}`);

    // At the default share this run affords a writer thread's boot and a checkpoint or two; at
    // 20% it affords a periodic checkpoint every few epochs, which is the policy at work.
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    if (spawnSync('taskset', ['-c', '0', 'true']).status !== 0) {
      throw new Error('the checkpoint overhead bench needs `taskset` (util-linux) to run its pairs on one core');
    }
    // Each pair's runs are in repositories of their own (they run at once), which swap roles
    // from pair to pair.
    const twin = makeRepo({ files: { 'fixture.mjs': FIXTURE } });
    // FLOR_BENCH_PAIRS=N measures N pairs at each share instead (for a closer look).
    const PAIRS = Number(process.env.FLOR_BENCH_PAIRS) || 9;
    for (const share of [0.05, 0.2]) {
      const pairs: Array<Record<'on' | 'off', FixtureOut>> = [];
      for (let i = 0; i < PAIRS; i++) pairs.push(await pinnedPair(i % 2 === 0 ? { on: dir, off: twin } : { on: twin, off: dir }, share));
      const ratios = pairs.map((p) => p.on.cpuMs / p.off.cpuMs - 1).sort((x, y) => x - y);
      const cpu = median(ratios);
      const own = median(pairs.map((p) => (p.on.stats ? p.on.stats.spentMs / p.on.stats.loopMs : 0)));
      const on = pairs.map((p) => p.on.stats!);
      console.log(
        `BENCH runtime checkpoint overhead at share ${pct(share)}: ${pct(cpu)} CPU (median of ${PAIRS} pairs run at once on one core, process CPU with vs without checkpointing, all threads, registration included; ` +
          `pairs ${ratios.map(pct).join(' ')}; ${on.map((s) => s.taken).join('/')} checkpoints of 4 MB per run, writer thread in ${on.filter((s) => s.startupMs > 20).length}/${PAIRS}; ` +
          `run's own account ${pct(own)} (startup ${median(on.map((s) => s.startupMs)).toFixed(0)} ms, ${median(on.map((s) => s.estimateMs)).toFixed(1)} ms per checkpoint, stall ${median(on.map((s) => s.stallMs)).toFixed(1)} ms per run); ` +
          `target <= ${pct(share)}) ${cpu <= share ? 'PASS' : 'FAIL'}`,
      );
    }

    // What storing instead of deflating saves on state deflate cannot shrink (trained weights);
    // the fixture above is mostly zeros and still deflates.
    const { putCheckpoint, deflateLevel } = (await import(join(ROOT, 'dist', 'store', 'checkpoints.js'))) as typeof import('../src/store/checkpoints.js');
    const weights = new Float64Array(1 << 19).map(() => Math.random() - 0.5);
    const store = join(dir, '.git');
    const put = (level?: number) => {
      let best = Infinity;
      for (let k = 0; k < 3; k++) {
        weights[k]! += 1; // a new key each time: the store deduplicates equal snapshots
        const bytes = serialize(weights);
        const t0 = performance.now();
        putCheckpoint(store, bytes, level === undefined ? {} : { level });
        best = Math.min(best, performance.now() - t0);
      }
      return best;
    };
    const sampled = put();
    const level1 = put(1);
    console.log(`INFO runtime checkpoint write of 4 MB random floats: ${sampled.toFixed(1)} ms sampled (level ${deflateLevel(serialize(weights))}) vs ${level1.toFixed(1)} ms at deflate level 1`);
  } finally {
    cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
