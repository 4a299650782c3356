/**
 * The query cache on 200 runs x 5,000 records (the history of query.bench.ts), each command timed
 * as a whole CLI process:
 * - `git flor runs --col max(loss) --sort max(loss)`: warm (cache filled) <= 400 ms, cold <= 1 s;
 * - `git flor log loss --where 'lr > 0.01'`: cold <= 1 s.
 * Cold means `.git/flor/cache` removed (the OS page cache stays warm: the ledgers were just read).
 * Baseline in the same run: a bare `node -e 0` process start. Best of 5, median printed too.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { cleanup, BIN } from '../test/helpers/repo.js';
import { buildBenchRepo, median, timeProcess } from './query.bench.js';

export async function run(): Promise<void> {
  const out = join(tmpdir(), `flor-query-cache-bench-${process.pid}.out`);
  try {
    const { dir } = await buildBenchRepo();
    const cache = join(dir, '.git', 'flor', 'cache');
    const flor = (...a: string[]) => [process.execPath, BIN, ...a];
    const cases: Array<{ name: string; args: string[]; cold: boolean; target: number }> = [
      { name: 'runs-max-loss-warm', args: flor('runs', '--col', 'max(loss)', '--sort', 'max(loss)'), cold: false, target: 400 },
      { name: 'runs-max-loss-cold', args: flor('runs', '--col', 'max(loss)', '--sort', 'max(loss)'), cold: true, target: 1000 },
      { name: 'log-where-cold', args: flor('log', 'loss', '--where', 'lr > 0.01'), cold: true, target: 1000 },
    ];
    const times = new Map<string, number[]>(cases.map((c) => [c.name, []]));
    const node: number[] = [];
    timeProcess(cases[0]!.args, dir, out); // fills the cache for the warm case
    for (let i = 0; i < 5; i++) {
      node.push(timeProcess([process.execPath, '-e', '0'], dir, out));
      for (const c of cases) {
        if (c.cold) rmSync(cache, { recursive: true, force: true });
        times.get(c.name)!.push(timeProcess(c.args, dir, out));
        if (c.cold) timeProcess(cases[0]!.args, dir, out); // leave it warm for the next warm case
      }
    }
    const base = Math.min(...node);
    for (const c of cases) {
      const xs = times.get(c.name)!;
      const ms = Math.min(...xs);
      console.log(
        `BENCH query-cache-${c.name}: ${ms.toFixed(0)} ms best of 5, median ${median(xs).toFixed(0)} ms ` +
          `(${(ms / base).toFixed(1)}x vs node -e 0 = ${base.toFixed(0)} ms, target <= ${c.target} ms) ${ms <= c.target ? 'PASS' : 'FAIL'}`,
      );
    }
  } finally {
    rmSync(out, { force: true });
    cleanup();
  }
}
