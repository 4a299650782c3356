/**
 * What flor costs a user in waiting, each figure against a baseline measured in the same run,
 * interleaved (A B A B …): the median over rounds of each sample's difference (or ratio) to its
 * baseline's sample of the same round, with the spread (min–max of the samples). Paired so: the
 * host's bursts last seconds, and medians taken apart once read +25 and +32 ms for an import that
 * costs +10 ms, in passes whose samples spread over 80–200 ms.
 *  - import: a script that only imports git-flor, against `node -e 0`: target <= +25 ms.
 *  - run end: from a small recorded script's last statement to its process exit, against the
 *    same script using a no-op stand-in of the API (it reads `--name value` the same way):
 *    target <= +20 ms (the capture happens after exit, detached).
 *  - time added to a run's wall clock (import, start, end), same pair: target <= +50 ms.
 *  - CLI: `git flor -h` <= 1.3x and `runs`, `show`, `log NAME` on a repo of 20 runs <= 1.6x
 *    `node -e 0` (no orphaned run waiting to be captured).
 * Wall time of whole processes, as a user waits for them: on a loaded machine every figure
 * stretches, baselines too, so compare each with its own baseline only.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepo, cleanup, testEnv, BIN, BIN_SH } from '../test/helpers/repo.js';

const SAMPLES = Number(process.env.FLOR_BENCH_SAMPLES) || 15;

/** A no-op flor with the same surface; arg() reads `--name value` / `--name=value` like flor.arg. */
const STANDIN = `export const flor = {
  arg(name, def) {
    const a = process.argv;
    let raw;
    for (let i = 2; i < a.length; i++) {
      if (a[i] === '--' + name) raw = a[++i];
      else if (a[i].startsWith('--' + name + '=')) raw = a[i].slice(name.length + 3);
    }
    if (raw === undefined) return def;
    return typeof def === 'number' ? Number(raw) : typeof def === 'boolean' ? raw !== 'false' : raw;
  },
  loop: (name, it) => it,
  log: (name, v) => v,
  checkpointing() {},
  commit: () => null,
};
`;

/** A small evaluation-like script: the last statement stamps the time (epoch ms, sub-ms). */
const script = (from: string): string => `import { flor } from '${from}';
const n = flor.arg('n', 20);
let acc = 0;
for (const e of flor.loop('epoch', Array.from({ length: n }, (_, i) => i))) acc += flor.log('loss', 1 / (e + 1));
flor.log('acc', acc);
process.stdout.write(String(performance.timeOrigin + performance.now()));
`;

interface Timed {
  wall: number;
  /** From the script's last statement to its exit, seen by this process. */
  end: number;
}

/** Runs node with args in cwd (or, args starting with bin/git-flor, that script, as `git flor` does); wall time and end latency (when the child prints its last stamp). */
function timed(cwd: string, args: string[]): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.timeOrigin + performance.now();
    const c = args[0] === BIN_SH ? spawn(BIN_SH, args.slice(1), { cwd, env: testEnv(), stdio: ['ignore', 'pipe', 'ignore'] }) : spawn(process.execPath, args, { cwd, env: testEnv(), stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', reject);
    // 'exit', not 'close': the process has ended; a detached capturer it started holds no pipe.
    c.on('exit', (code) => {
      const t = performance.timeOrigin + performance.now();
      if (code !== 0) return reject(new Error(`node ${args.join(' ')} exited ${code}`));
      const stamp = Number(out.trim().split('\n').pop());
      resolve({ wall: t - t0, end: Number.isFinite(stamp) ? t - stamp : NaN });
    });
  });
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[(s.length - 1) >> 1]!;
}

/** The median over rounds of f(sample, its baseline's sample of the same round). */
function pairedMedian(a: number[], b: number[], f: (x: number, y: number) => number): number {
  return median(a.map((x, i) => f(x, b[i]!)));
}

function spread(a: number[]): string {
  return `${Math.min(...a).toFixed(0)}–${Math.max(...a).toFixed(0)}`;
}

/**
 * Until no run of `cwd` is waiting for its capture: a recorded run's capture goes on after the run
 * exits (by design, outside the run's wall clock), and must not share the cores with the next
 * sample, which would charge it to whatever command is measured next.
 */
async function capturesDone(cwd: string): Promise<void> {
  const dir = join(cwd, '.git', 'flor', 'journal');
  for (let i = 0; i < 2000; i++) {
    if (!existsSync(dir) || !readdirSync(dir).some((n) => n.includes('.jrnl'))) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Interleaved samples of several commands, so load shifts hit each alike. */
async function interleaved(cwd: string, cmds: Record<string, string[]>, n = SAMPLES): Promise<Record<string, Timed[]>> {
  const out: Record<string, Timed[]> = Object.fromEntries(Object.keys(cmds).map((k) => [k, []]));
  const sample = async (args: string[]): Promise<Timed> => {
    const t = await timed(cwd, args);
    await capturesDone(cwd);
    return t;
  };
  for (const args of Object.values(cmds)) await sample(args); // warm the file cache
  for (let i = 0; i < n; i++) for (const [k, args] of Object.entries(cmds)) out[k]!.push(await sample(args));
  return out;
}

function verdict(ok: boolean): string {
  return ok ? 'PASS' : 'FAIL';
}

export async function run(): Promise<void> {
  try {
    const dir = makeRepo({ files: { 'eval.mjs': script('git-flor'), 'base.mjs': script('./standin.mjs'), 'standin.mjs': STANDIN, 'imp.mjs': "import { flor } from 'git-flor';\n" } });
    const s = await interleaved(dir, { node: ['-e', '0'], imp: ['imp.mjs'], base: ['base.mjs'], flor: ['eval.mjs'] });
    spawnSync(process.execPath, [BIN, 'runs'], { cwd: dir, env: testEnv() }); // captures anything still pending
    const wall = (k: string): number[] => s[k]!.map((x) => x.wall);
    const imp = pairedMedian(wall('imp'), wall('node'), (a, b) => a - b);
    console.log(`BENCH latency.import: +${imp.toFixed(1)} ms to import git-flor (median of ${SAMPLES} paired rounds; ${(median(wall('imp')) / median(wall('node'))).toFixed(2)}x vs node -e 0 = ${median(wall('node')).toFixed(0)} ms, spread ${spread(wall('imp'))} vs ${spread(wall('node'))}; target <= +25 ms) ${verdict(imp <= 25)}`);
    const endF = s.flor!.map((x) => x.end);
    const endB = s.base!.map((x) => x.end);
    const end = pairedMedian(endF, endB, (a, b) => a - b);
    console.log(`BENCH latency.run-end: +${end.toFixed(1)} ms from the last statement to exit (median of ${SAMPLES} paired rounds; ${median(endF).toFixed(1)} ms vs ${median(endB).toFixed(1)} ms with a no-op stand-in, spread ${spread(endF)} vs ${spread(endB)}; target <= +20 ms) ${verdict(end <= 20)}`);
    const added = pairedMedian(wall('flor'), wall('base'), (a, b) => a - b);
    console.log(`BENCH latency.run-added: +${added.toFixed(1)} ms of wall clock (median of ${SAMPLES} paired rounds; import, start, end: ${median(wall('flor')).toFixed(0)} ms vs ${median(wall('base')).toFixed(0)} ms with a no-op stand-in, spread ${spread(wall('flor'))} vs ${spread(wall('base'))}; target <= +50 ms) ${verdict(added <= 50)}`);

    // CLI on 20 runs, in a repository of its own: the samples above recorded 16 runs in `dir`
    // (this bench once added 19 to them and measured 35). Then one listing, so that nothing waits
    // to be captured.
    const cliDir = makeRepo({ files: { 'eval.mjs': script('git-flor') } });
    for (let i = 0; i < 20; i++) await timed(cliDir, ['eval.mjs', '--n', String(5 + i)]);
    const runs = JSON.parse(spawnSync(process.execPath, [BIN, 'runs', '--format', 'json'], { cwd: cliDir, env: testEnv(), encoding: 'utf8' }).stdout) as Array<{ run: string }>;
    if (runs.length !== 20) throw new Error(`expected 20 runs, found ${runs.length}`);
    const id = runs[runs.length - 1]!.run;
    writeFileSync(join(cliDir, 'runs.txt'), runs.map((r) => r.run).join('\n'));
    // The commands as `git flor` runs them: bin/git-flor, the sh script that starts Node.
    const c = await interleaved(cliDir, { node: ['-e', '0'], help: [BIN_SH, '-h'], runs: [BIN_SH, 'runs'], show: [BIN_SH, 'show', id], log: [BIN_SH, 'log', 'loss'] });
    const base = median(c.node!.map((x) => x.wall));
    for (const [k, label, target] of [
      ['help', 'git flor -h', 1.3],
      ['runs', 'git flor runs (20 runs)', 1.6],
      ['show', 'git flor show RUN', 1.6],
      ['log', 'git flor log loss (20 runs)', 1.6],
    ] as const) {
      const w = c[k]!.map((x) => x.wall);
      const ratio = pairedMedian(w, c.node!.map((x) => x.wall), (a, b) => a / b);
      console.log(`BENCH latency.cli-${k}: ${median(w).toFixed(0)} ms for ${label} (${ratio.toFixed(2)}x vs node -e 0, median of ${SAMPLES} paired rounds; node -e 0 = ${base.toFixed(0)} ms, spread ${spread(w)} vs ${spread(c.node!.map((x) => x.wall))}; target <= ${target}x) ${verdict(ratio <= target)}`);
    }
  } finally {
    cleanup();
  }
}
