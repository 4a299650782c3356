import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { makeRepo, cleanup, testEnv, ROOT } from '/work/main/test/helpers/repo.js';
const SESSION = JSON.stringify(join(ROOT, 'dist', 'runtime', 'index.js'));
const FIXTURE = `import { flor } from 'git-flor';
import { florSession } from ${SESSION};
const w = new Float64Array(1 << 19);
const opt = { m: new Float64Array(1024), t: 0 };
const c00 = process.cpuUsage();
if (process.env.BENCH_CKPT === '1') flor.checkpointing({ w, opt });
const reg = process.cpuUsage(c00);
const t0 = performance.now();
const c0 = process.cpuUsage();
for (const epoch of flor.loop('epoch', Array.from({ length: 120 }, (_, i) => i))) {
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
const loopMs = performance.now() - t0;
const cl = process.cpuUsage(c0);
flor.commit();
const c = process.cpuUsage(c0);
const stats = florSession()?.checkpointStats() ?? null;
console.log(JSON.stringify({ regMs: (reg.user+reg.system)/1000, loopMs, loopCpu: (cl.user+cl.system)/1000, cpuMs: (c.user + c.system) / 1000, stats }));
`;
const dir = makeRepo({ files: { 'fixture.mjs': FIXTURE } });
const N = Number(process.argv[2] ?? 6);
const extra = process.argv.slice(3);
for (let i = 0; i < N; i++) for (const on of i % 2 ? ['1', '0'] : ['0', '1']) {
  const r = spawnSync(process.execPath, [...extra, 'fixture.mjs'], { cwd: dir, env: testEnv({ BENCH_CKPT: on, FLOR_CKPT_SHARE: '0.05' }), encoding: 'utf8' });
  const o = JSON.parse(r.stdout.trim().split('\n').pop()!);
  const gcs = (r.stdout.match(/Mark-Compact/g) ?? []).length + '/' + (r.stdout.match(/Scavenge/g) ?? []).length;
  const s = o.stats;
  console.log(on, 'reg', o.regMs.toFixed(1), 'loopCpu', o.loopCpu.toFixed(0), 'cpu', o.cpuMs.toFixed(0), 'wall', o.loopMs.toFixed(0), s ? `spent ${s.spentMs.toFixed(1)} startup ${s.startupMs.toFixed(1)} est ${s.estimateMs.toFixed(1)} stall ${s.stallMs.toFixed(1)} taken ${s.taken} loopMs ${s.loopMs.toFixed(0)}` : '', extra.length ? 'gc ' + gcs : '');
}
cleanup();
