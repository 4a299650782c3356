/**
 * What runs the replay tasks every run shares. Each task is a child process of its own (worker.ts
 * starts the old version's script, waits for it and decodes its journal); the dispatcher
 * (dispatch.ts) keeps at most `--workers` of them running at once.
 * RULE: "Outer iterations are split into segments …; each segment is one task; tasks of all runs
 * share one pool."
 * The tasks are supervised from this thread: a pool of worker threads cost a replay ~100 ms of CPU
 * per thread to boot (a Node environment and the worker's modules each) and its package's load,
 * on the cores the children need, only to wait on a child and decode a journal.
 */
import { availableParallelism } from 'node:os';
import type { ReplayTask, ReplayTaskResult } from './worker.js';
import { childEnv, warmPool } from './warm.js';

export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

export interface TaskPool {
  /** `exited`: see worker.ts runTask. */
  run(task: ReplayTask, exited?: () => void): Promise<ReplayTaskResult>;
  /** `n` more tasks are known to come (negative: fewer): processes are started ahead for them (warm.ts). */
  ahead(n: number): void;
  /** Ends the processes started ahead that no task took. */
  close(): Promise<void>;
}

/**
 * `workers`: tasks run at once. `env`: the tasks' extra environment. Processes wait started ahead
 * for at most one task more than `workers`: with as many runs as workers or more, the process of
 * the task after the first round boots while the runs are still prepared, not while that round
 * runs (the eval-loop's three runs on two workers: 20-40 ms sooner, medians of 10).
 */
export function createPool(o: { workers: number; top: string; env?: Record<string, string> }): TaskPool {
  // Loaded once a run needs replaying (the commands that import replay for its options start no
  // pool), while its code is still being checked out, not when its first task is due.
  const worker = import('./worker.js');
  worker.catch(() => undefined); // a failed load fails each task that awaits it
  const warm = warmPool({ limit: o.workers + 1, top: o.top, env: () => childEnv(o.env) });
  return {
    run: async (task, exited) => (await worker).default(task, exited, warm),
    ahead: (n) => warm.ahead(n),
    close: () => warm.close(),
  };
}
