/**
 * The one worker-thread pool every replay task of every run shares.
 * RULE: "Outer iterations are split into segments …; each segment is one task; tasks of all runs
 * share one pool."
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Piscina as PiscinaPool } from 'piscina';
import { createRequire } from 'node:module';
import type { ReplayTask, ReplayTaskResult } from './worker.js';

export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

export interface TaskPool {
  run(task: ReplayTask): Promise<ReplayTaskResult>;
  close(): Promise<void>;
}

export function createPool(workers: number): TaskPool {
  // Under tsx (tests, benches) this module is the .ts source and so is its worker; built, the .js.
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const filename = fileURLToPath(new URL(`./worker${ext}`, import.meta.url));
  // A built worker needs no loader: threads inherit process.execArgv (a `--import tsx` costs each
  // thread a few hundred ms on a busy machine), so they are started without it.
  // Required, not imported: Node would scan piscina's CommonJS source for export names first (see propagate/packages.ts).
  const { Piscina } = createRequire(import.meta.url)('piscina') as { Piscina: typeof PiscinaPool };
  const pool = new Piscina<ReplayTask, ReplayTaskResult>({
    filename, minThreads: workers, maxThreads: workers, idleTimeout: 1000, ...(ext === '.js' ? { execArgv: [] } : {}),
  });
  return {
    run: (task) => pool.run(task),
    close: () => pool.destroy(),
  };
}
