/**
 * The one worker-thread pool every replay task of every run shares.
 * RULE: "Outer iterations are split into segments …; each segment is one task; tasks of all runs
 * share one pool."
 */
import { readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
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

/** dist/replay/worker.js of this checkout, when it is built after the last edit of any source file. */
function builtWorker(): string | null {
  const js = fileURLToPath(new URL('../../dist/replay/worker.js', import.meta.url));
  const src = fileURLToPath(new URL('..', import.meta.url));
  try {
    const built = statSync(js).mtimeMs;
    const edited = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    return edited.every((f) => statSync(join(src, f)).mtimeMs <= built) ? js : null;
  } catch {
    return null;
  }
}

export function createPool(workers: number): TaskPool {
  // A built worker needs no loader: threads inherit process.execArgv (a `--import tsx` costs each
  // thread a few hundred ms of CPU and an esbuild start), so they are started without it. Under tsx
  // (tests, benches) this module is the .ts source: its threads run the built worker when there is
  // one (both build and test keep dist/ current), and the .ts source with the loader only when not.
  const built = import.meta.url.endsWith('.ts') ? builtWorker() : fileURLToPath(new URL('./worker.js', import.meta.url));
  // Required, not imported: Node would scan piscina's CommonJS source for export names first (see propagate/packages.ts).
  const { Piscina } = createRequire(import.meta.url)('piscina') as { Piscina: typeof PiscinaPool };
  const pool = new Piscina<ReplayTask, ReplayTaskResult>({
    minThreads: workers, maxThreads: workers, idleTimeout: 1000,
    ...(built ? { filename: built, execArgv: [] } : { filename: fileURLToPath(new URL('./worker.ts', import.meta.url)) }),
  });
  return {
    run: (task) => pool.run(task),
    close: () => pool.destroy(),
  };
}
