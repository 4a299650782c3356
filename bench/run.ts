/**
 * `npm run bench [-- name...]`: runs every bench/<name>.bench.ts's exported `run()` in turn (or
 * only the named ones). Each prints `BENCH <name>: <figure> (<ratio> vs <baseline>, target <t>) PASS|FAIL`.
 * Sequential on purpose: benches measuring time must not compete for the same cores.
 * A BENCH line that says FAIL does not change the exit status; a bench that throws does.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';

const dir = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.includes(f.replace(/\.bench\.ts$/, '')))
  .sort();

let failed = 0;
for (const f of files) {
  // Each bench in a process of its own: a bench that leaves a large heap behind (the capture
  // bench holds a million records) must not slow the next one's measurements through GC.
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', `const m = await import(${JSON.stringify(pathToFileURL(join(dir, f)).href)}); if (typeof m.run !== 'function') { console.error('exports no run()'); process.exit(1); } await m.run();`, '--input-type=module'], {
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    console.error(`bench/${f} failed (exit ${r.status ?? r.signal})`);
    failed++;
  }
}
if (files.length === 0) console.error(only.length ? `no bench named ${only.join(', ')}` : 'no benches found');
process.exitCode = failed || files.length === 0 ? 1 : 0;
