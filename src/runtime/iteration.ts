/**
 * flor.iteration(name, index, fn): one iteration of a loop the program does not write as a loop —
 * a request handler, a feedback endpoint — as FlorDB's `flor.iteration`. Records logged while `fn`
 * runs, and in everything it starts (awaits, timers, promises), carry (name, index) in their loop
 * context. Each call runs in an async context of its own (AsyncLocalStorage, async-place.ts), so
 * concurrent requests never mix their records.
 */
import { FlorError } from '../errors.js';
import type { Session } from './run.js';

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

export function iteration<T>(s: Session, name: string, index: number, fn: () => T): T {
  if (typeof name !== 'string' || name === '') {
    throw new FlorError('BAD_LOOP', `flor.iteration needs a non-empty loop name, got ${JSON.stringify(name)}`, { hint: "write flor.iteration('request', i, () => handle(req))" });
  }
  if (!Number.isInteger(index) || index < 0) {
    throw new FlorError('BAD_LOOP', `flor.iteration('${name}', …) needs a whole number >= 0 as its index, got ${String(index)}`, { hint: 'count the requests: flor.iteration(\'request\', n++, …)' });
  }
  if (typeof fn !== 'function') throw new FlorError('BAD_LOOP', `flor.iteration('${name}', ${index}, fn) needs a function to run`, { hint: "flor.iteration('request', i, async () => { … })" });
  if (s.mode === 'off') return fn();
  const ctx = s.iterationCtx(name, index);
  let out: T;
  try {
    out = s.places!.run(ctx, fn);
  } catch (e) {
    s.exitLoop(ctx);
    throw e;
  }
  if (!isThenable(out)) {
    s.exitLoop(ctx);
    return out;
  }
  return Promise.resolve(out).finally(() => s.exitLoop(ctx)) as T;
}
