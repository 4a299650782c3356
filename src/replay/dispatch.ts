/**
 * Ordering work: the dispatcher that feeds the shared pool longest task first, a limiter for
 * the background git work (checkouts, provenance trees) so a replay of many runs never starts a
 * process per run at once, and eachLimited for a few runs prepared at a time.
 */

/**
 * Hands tasks to the pool only as workers free up, always the longest of those ready, whatever run
 * it belongs to: the pool's own queue is first-in first-out, and a long task started last would
 * leave the other workers idle at the end. Tasks offered in the same turn of the event loop (all
 * runs whose snapshots are ready) are ordered together. A task frees its worker when its promise
 * settles, or earlier through `free` (its process exited: decoding what it wrote needs no worker),
 * which starts the next task at once.
 */
export interface Dispatch {
  <T>(estMs: number, start: (free: () => void) => Promise<T>): Promise<T>;
  /**
   * Hands out what is ready now rather than after this turn: for the tasks of one run offered on
   * their own (a run that starts while the others are still prepared), which need no ordering
   * against tasks offered later in the turn.
   */
  now(): void;
}

export function dispatcher(workers: number): Dispatch {
  const ready: Array<{ estMs: number; go: () => void }> = [];
  let running = 0;
  let scheduled = false;
  const pump = (): void => {
    scheduled = false;
    while (running < workers && ready.length) {
      let m = 0;
      for (let i = 1; i < ready.length; i++) if (ready[i]!.estMs > ready[m]!.estMs) m = i;
      const [job] = ready.splice(m, 1);
      running++;
      job!.go();
    }
  };
  const later = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(pump);
  };
  const dispatch = <T>(estMs: number, start: (free: () => void) => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      ready.push({
        estMs,
        go: () => {
          let freed = false;
          const free = (now: boolean): void => {
            if (freed) return;
            freed = true;
            running--;
            if (now) pump();
            else later();
          };
          let p: Promise<T>;
          try {
            p = start(() => free(true));
          } catch (e) {
            p = Promise.reject(e);
          }
          p.then(resolve, reject).finally(() => free(false));
        },
      });
      later();
    });
  return Object.assign(dispatch, { now: pump });
}

/** Runs the functions given to it at most `limit` at a time, in the order given. */
export function limiter(limit: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active < limit) active++;
    else await new Promise<void>((r) => waiting.push(r)); // the slot is handed over, never re-counted
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function eachLimited<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
