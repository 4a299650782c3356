/**
 * Exit listeners that belong after a session's own: code-cache.ts saves a bundle's V8 code cache
 * from one, and saved before the run's end it would leave out the functions that end compiles, so
 * every later run compiled them again at exit. The runtime moves them behind its own listener
 * (runtime/lifecycle.ts). Marked with a registry symbol: the runtime bundle and the module that
 * loads it each hold their own copy of this file.
 */
const LATE = Symbol.for('git-flor.late-exit');

/** `fn`, marked as a listener to run after the session's own. */
export function markLate<T extends (...a: never[]) => unknown>(fn: T): T {
  (fn as unknown as Record<symbol, boolean>)[LATE] = true;
  return fn;
}

export function isLate(fn: unknown): boolean {
  return typeof fn === 'function' && (fn as unknown as Record<symbol, unknown>)[LATE] === true;
}
