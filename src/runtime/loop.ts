/**
 * flor.loop: wraps an iterable in a generator that keeps the loop context (one frame per
 * iteration) and, for the outermost loop, times iterations, takes checkpoints and — in replay —
 * runs only the requested iterations. Sync iterables give a generator, async ones an async
 * generator, so `for` and `for await` work as they did without flor; `for await` always gets the
 * async one, so concurrent loops are told apart (async-place.ts).
 *
 * The end of iteration k is when the consumer asks for item k+1. The next item is taken *before*
 * the end-of-iteration work, so the loop knows whether k was the last one (the last iteration is
 * always checkpointed) and record and replay agree on the order: checkpoint k is taken after item
 * k+1 was taken, and replay restores it after taking item k+1.
 */
import { FlorError } from '../errors.js';
import type { Session } from './run.js';

function notIterable(name: string): FlorError {
  return new FlorError('BAD_LOOP', `flor.loop('${name}', …) needs an iterable or async iterable`, {
    hint: 'pass an array, a generator, or anything with [Symbol.iterator] / [Symbol.asyncIterator]',
  });
}

export function* syncLoop<T>(s: Session, name: string, src: Iterable<T>): Generator<T, void, undefined> {
  const ctx = s.enterLoop(name);
  let it: Iterator<T> | null = null;
  let finished = false;
  try {
    if (ctx.skip) {
      s.restore(ctx.restoreKey!);
      return;
    }
    it = src[Symbol.iterator]();
    let i = 0;
    let r = it.next();
    while (!r.done && i < ctx.first) {
      r = it.next();
      i++;
    }
    if (ctx.restoreKey && !r.done) s.restore(ctx.restoreKey);
    while (!r.done) {
      s.beginIter(ctx, i);
      yield r.value;
      s.resumed(ctx);
      if (i + 1 >= ctx.stop) {
        s.endIter(ctx, i, true);
        break;
      }
      r = it.next();
      s.endIter(ctx, i, r.done === true);
      i++;
    }
    finished = r.done === true;
  } finally {
    // A `break` in the user's loop (or an error) ends the wrapped iterator too, as for-of would.
    if (it && !finished) it.return?.();
    s.exitLoop(ctx);
  }
}

export async function* asyncLoop<T>(s: Session, name: string, src: AsyncIterable<T> | Iterable<T>): AsyncGenerator<T, void, undefined> {
  const ctx = s.enterLoop(name, true);
  let it: AsyncIterator<T> | Iterator<T> | null = null;
  let finished = false;
  try {
    if (ctx.skip) {
      s.restore(ctx.restoreKey!);
      return;
    }
    it = Symbol.asyncIterator in src ? (src as AsyncIterable<T>)[Symbol.asyncIterator]() : (src as Iterable<T>)[Symbol.iterator]();
    let i = 0;
    let r = await it.next();
    while (!r.done && i < ctx.first) {
      r = await it.next();
      i++;
    }
    if (ctx.restoreKey && !r.done) s.restore(ctx.restoreKey);
    while (!r.done) {
      s.beginIter(ctx, i);
      yield r.value;
      s.resumed(ctx);
      if (i + 1 >= ctx.stop) {
        s.endIter(ctx, i, true);
        break;
      }
      r = await it.next();
      s.endIter(ctx, i, r.done === true);
      i++;
    }
    finished = r.done === true;
  } finally {
    if (it && !finished) await it.return?.();
    s.exitLoop(ctx);
  }
}

/** Picks the generator kind from the iterable: sync when it can be iterated synchronously. */
export function loop<T>(s: Session, name: string, src: Iterable<T> | AsyncIterable<T>): Generator<T, void, undefined> | AsyncGenerator<T, void, undefined> {
  if (src !== null && src !== undefined) {
    if (typeof (src as Iterable<T>)[Symbol.iterator] === 'function') {
      const gen = syncLoop(s, name, src as Iterable<T>);
      // `for await` asks for this before Symbol.iterator: over an array too the loop then runs as
      // an async loop, whose records are told apart from a concurrent loop's by async context.
      Object.defineProperty(gen, Symbol.asyncIterator, { value: () => asyncLoop(s, name, src), configurable: true });
      return gen;
    }
    if (typeof (src as AsyncIterable<T>)[Symbol.asyncIterator] === 'function') return asyncLoop(s, name, src as AsyncIterable<T>);
  }
  throw notIterable(name);
}
