/**
 * Which loop iteration a record belongs to when loops run concurrently (two `for await … of
 * flor.loop(…)` under Promise.all): each async context carries its own innermost loop, through
 * AsyncLocalStorage. Started by the first async flor.loop only, so a synchronous script never pays
 * for async hooks.
 *
 * A loop sets its context as it starts, inside the consumer's first `next()`. When that call runs in
 * the synchronous part of an async function, the context is its caller's too, and the caller goes
 * on to start the sibling loops: so the loop is marked there by an Entry, which stands for the loop
 * only until the consumer resumes it in a context of its own (the second `next()`, after an
 * `await`), where the loop puts itself. A loop that has not begun its first iteration, or has
 * ended, stands for its parent. Hence a sibling started from the same caller never reads as nested.
 */
import type { AsyncLocalStorage } from 'node:async_hooks';
import { asyncHooks } from '../store/builtins.js';

export interface Placed<T extends Placed<T>> {
  parent: T | null;
  /** The frame of the iteration running now (-1 before the first). */
  frame: number;
  begun: boolean;
  done: boolean;
  /** Entered while async contexts were tracked: the loop keeps its place in them. */
  tracked: boolean;
  entry: Entry<T> | null;
  /** What the context held before the loop started, given back when it ends. */
  before: Entry<T> | T | undefined;
}

export interface Entry<T> {
  ctx: T;
  stale: boolean;
}

export class AsyncPlaces<T extends Placed<T>> {
  private readonly als: AsyncLocalStorage<Entry<T> | T | undefined> = new (asyncHooks().AsyncLocalStorage)();

  /** The innermost running loop of this async context; `untracked` where no tracked loop set one. */
  here(untracked: T | null): T | null {
    const st = this.als.getStore();
    if (st === undefined) return untracked;
    let ctx: T | null = 'stale' in st ? (st.stale ? st.ctx.parent : st.ctx) : st;
    while (ctx && (ctx.done || !ctx.begun)) ctx = ctx.parent;
    return ctx;
  }

  enter(ctx: T): void {
    ctx.tracked = true;
    ctx.before = this.als.getStore();
    ctx.entry = { ctx, stale: false };
    this.als.enterWith(ctx.entry);
  }

  /** The consumer asked for the next item: its context now is its own, the loop's. */
  resumed(ctx: T): void {
    if (ctx.entry) {
      ctx.entry.stale = true;
      ctx.entry = null;
    }
    this.als.enterWith(ctx);
  }

  /** Runs `fn` with `ctx` as the innermost loop of its async context, and of all it starts (flor.iteration). */
  run<R>(ctx: T, fn: () => R): R {
    return this.als.run(ctx, fn);
  }

  exit(ctx: T): void {
    if (ctx.entry) ctx.entry.stale = true;
    ctx.entry = null;
    this.als.enterWith(ctx.before);
  }
}
