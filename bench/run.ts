/**
 * `npm run bench [-- name...]`: runs every bench/<name>.bench.ts's exported `run()` in turn (or
 * only the named ones). Each prints `BENCH <name>: <figure> (<ratio> vs <baseline>, target <t>) PASS|FAIL`.
 * Sequential on purpose: benches measuring time must not compete for the same cores.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.includes(f.replace(/\.bench\.ts$/, '')))
  .sort();

let failed = 0;
for (const f of files) {
  const mod = (await import(pathToFileURL(join(dir, f)).href)) as { run?: () => Promise<void> };
  if (typeof mod.run !== 'function') {
    console.error(`bench/${f}: exports no run()`);
    failed++;
    continue;
  }
  try {
    await mod.run();
  } catch (e) {
    console.error(`bench/${f} failed: ${e instanceof Error ? e.stack : String(e)}`);
    failed++;
  }
}
if (files.length === 0) console.error(only.length ? `no bench named ${only.join(', ')}` : 'no benches found');
process.exitCode = failed || files.length === 0 ? 1 : 0;
