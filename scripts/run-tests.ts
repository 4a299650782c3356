/**
 * What `npm test` runs after scripts/bundle-tests.ts: every .test-build/*.test.js through
 * node:test's run(), longest files first. `node --test` sorts its files by name, and with two
 * files at a time a long file that comes late (ui, sync-*, tamper-* sort last) runs alone at the
 * end while the other core idles; started first, it overlaps the short ones. The order comes from
 * test/durations.json (seconds per file, measured); a file it does not know is taken as long and
 * started first, so a new slow file never lands in the tail. `--write-durations` measures this
 * run's files and rewrites that table (one file at a time; nothing is written when a test fails).
 *
 * Output and exit status are node --test's: TAP on stdout, exit 1 when any test failed.
 */
import { run } from 'node:test';
import { tap } from 'node:test/reporters';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUILT = join(ROOT, '.test-build');
const DURATIONS = join(ROOT, 'test', 'durations.json');

/** Files longest first: unknown ones ahead of every known one, ties by name. */
export function longestFirst(files: string[], seconds: Record<string, number>): string[] {
  const weight = (f: string) => seconds[f] ?? Number.POSITIVE_INFINITY;
  return [...files].sort((a, b) => weight(b) - weight(a) || (a < b ? -1 : a > b ? 1 : 0));
}

function readDurations(): Record<string, number> {
  try {
    const table = JSON.parse(readFileSync(DURATIONS, 'utf8')) as unknown;
    if (typeof table !== 'object' || table === null || Array.isArray(table)) return {};
    return Object.fromEntries(Object.entries(table).filter(([, v]) => typeof v === 'number' && Number.isFinite(v)));
  } catch {
    return {}; // no table: every file counts as long, and the order is by name
  }
}

/** Runs `files`, `concurrency` at a time, TAP on stdout; true when every test passed. */
async function runFiles(files: string[], concurrency: number): Promise<boolean> {
  const stream = run({ files: files.map((f) => join(BUILT, f)), concurrency });
  let passed = true;
  // As node --test: a failing test marked `todo` (a known bug, named in its reason) is reported, not counted.
  stream.on('test:fail', (d: { todo?: string | boolean }) => {
    if (d.todo === undefined || d.todo === false) passed = false;
  });
  const out = stream.compose(tap);
  out.pipe(process.stdout, { end: false });
  await new Promise<void>((resolve) => out.on('end', resolve));
  return passed;
}

async function main(): Promise<void> {
  const names = readdirSync(BUILT).filter((f) => f.endsWith('.test.js'));
  if (!process.argv.includes('--write-durations')) {
    const concurrency = Number(process.env.FLOR_TEST_CONCURRENCY) || 2;
    process.exitCode = (await runFiles(longestFirst(names, readDurations()), concurrency)) ? 0 : 1;
    return;
  }
  // One file at a time, alone on the machine: what each costs, not what it waited for.
  const took: Record<string, number> = {};
  let passed = true;
  for (const f of names.sort()) {
    const t0 = performance.now();
    passed = (await runFiles([f], 1)) && passed;
    took[f] = Math.round((performance.now() - t0) / 100) / 10;
  }
  if (passed) writeFileSync(DURATIONS, `${JSON.stringify(took, null, 2)}\n`);
  process.exitCode = passed ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
