/**
 * flor.memo: a call whose result the run records (a paid model call, a nondeterministic API), so
 * that a replay gets the same result back without making the call. docs/replay.md ("Memoised
 * calls") gives the semantics; the record is a `memo` tag (docs/format.md §5.3).
 *
 * A call is told apart from the other calls of its name in the same loop iterations by its key
 * when given, and by its occurrence among the calls with that key (or without one) there. The
 * occurrence is counted when the call is made, not when it returns, so calls that finish out of
 * order under Promise.all still replay to their call sites as long as they are made in the same
 * order; unkeyed calls of one name that overlap are said once, because that order may depend on
 * timing.
 */
import { readFileSync } from 'node:fs';
import { FlorError } from '../errors.js';
import { MemoRecord, decodeExact, isMemoTag, unpack, type MemoTag } from '../store/pack.js';
import type { Session } from './run.js';
import type { MemoKey } from './api.js';
import { memoId, type MemoFeedFile } from './replay-spec.js';


/** Deeper than this a result is refused (a circular one is). */
const MAX_DEPTH = 64;

function unstorable(name: string, what: string, path: string): FlorError {
  return new FlorError('MEMO_UNSTORABLE', `flor.memo('${name}'): ${path === 'result' ? 'the result' : path} is ${what}, which flor cannot store`, {
    hint: 'return the data instead of the object that holds it: `() => fetch(url).then((r) => r.text())` (or `r.json()`), not the Response',
    data: { name, path },
  });
}

function describeObject(v: object): string {
  const c = (v as { constructor?: { name?: unknown } }).constructor;
  const n = c && typeof c.name === 'string' && c.name ? c.name : 'an object of a class';
  return /^[AEIOU]/.test(n) ? `an ${n}` : `a ${n}`;
}

/**
 * A copy of a result as replay will give it back, or MEMO_UNSTORABLE. Stricter than flor.log,
 * which stores what it can of anything: a memoised value is handed back to the program, so only
 * values that come back as they were are accepted — numbers (-0 too), strings, booleans, null,
 * undefined, bigints, typed arrays, Buffers, ArrayBuffers, DataViews, arrays, plain objects, Dates,
 * Maps and Sets of those.
 */
export function freezeMemo(name: string, v: unknown, path = 'result', depth = 0): unknown {
  if (v === null || v === undefined) return v;
  switch (typeof v) {
    case 'number':
    case 'string':
    case 'boolean':
    case 'bigint':
      return v;
    case 'function':
      throw unstorable(name, 'a function', path);
    case 'symbol':
      throw unstorable(name, 'a symbol', path);
  }
  if (depth > MAX_DEPTH) throw unstorable(name, `nested deeper than ${MAX_DEPTH} levels (or circular)`, path);
  const o = v as object;
  // Copies: the program may change its bytes before the record is written. (A Buffer's own
  // slice() is a view, not a copy.)
  if (Buffer.isBuffer(o)) return Buffer.from(o);
  if (o instanceof DataView) return new DataView(o.buffer.slice(o.byteOffset, o.byteOffset + o.byteLength));
  if (ArrayBuffer.isView(o)) return (o as Uint8Array).slice();
  if (o instanceof ArrayBuffer) return o.slice(0);
  if (Array.isArray(o)) return o.map((x, i) => { const f = freezeMemo(name, x, `${path}[${i}]`, depth + 1); return f === undefined ? null : f; });
  if (o instanceof Date) {
    if (Number.isNaN(o.getTime())) throw unstorable(name, 'an invalid Date', path);
    return new Date(o.getTime());
  }
  if (o instanceof Map) {
    const out = new Map<unknown, unknown>();
    let i = 0;
    for (const [k, x] of o) {
      out.set(freezeMemo(name, k, `${path} key #${i}`, depth + 1), freezeMemo(name, x, `${path}.get(${typeof k === 'string' ? JSON.stringify(k) : `key #${i}`})`, depth + 1));
      i++;
    }
    return out;
  }
  if (o instanceof Set) {
    const out = new Set<unknown>();
    let i = 0;
    for (const x of o) out.add(freezeMemo(name, x, `${path} element #${i++}`, depth + 1));
    return out;
  }
  const proto = Object.getPrototypeOf(o) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    const what = typeof (o as { then?: unknown }).then === 'function' ? 'a Promise (await it inside the function)' : describeObject(o);
    throw unstorable(name, what, path);
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    const x = (o as Record<string, unknown>)[k];
    if (x !== undefined) out[k] = freezeMemo(name, x, `${path}.${k}`, depth + 1);
  }
  return out;
}

function errorOf(e: unknown): { name: string; message: string } {
  if (e instanceof Error) return { name: String(e.name), message: String(e.message) };
  return { name: 'Error', message: String(e) };
}

/** The recorded error as an Error to throw: the built-in class of that name when there is one. */
export function rethrown(err: { name: string; message: string }): Error {
  const Ctor = (globalThis as Record<string, unknown>)[err.name];
  const isErrorClass = typeof Ctor === 'function' && (Ctor === Error || (Ctor as { prototype?: unknown }).prototype instanceof Error);
  const e = isErrorClass ? new (Ctor as ErrorConstructor)(err.message) : new Error(err.message);
  if (e.name !== err.name) e.name = err.name;
  return e;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

export function readMemoFeed(path: string): Map<string, MemoTag> {
  let raw: unknown;
  try {
    raw = unpack(readFileSync(path), `memo feed ${path}`);
  } catch (e) {
    throw new FlorError('BAD_REPLAY_SPEC', `cannot read the memo values of this replay (${(e as Error).message})`, { hint: 'replay specs are written by `git flor replay`; re-run it' });
  }
  const out = new Map<string, MemoTag>();
  const entries = (raw as Partial<MemoFeedFile> | null)?.entries;
  if (!Array.isArray(entries)) return out;
  for (const e of entries) {
    if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'string' || !isMemoTag(e[2])) continue;
    const t = e[2];
    const key = typeof t.key === 'string' || typeof t.key === 'number' ? t.key : null;
    out.set(memoId(e[0], e[1], key, typeof t.occ === 'number' ? t.occ : 0), t);
  }
  return out;
}

/** Per-session state of flor.memo. */
export class Memo {
  /** Calls made so far per (name, iterations, key): the next call's occurrence. */
  private readonly counts = new Map<string, number>();
  /** Unkeyed calls of a name still running, per (name, iterations). */
  private readonly pending = new Map<string, number>();
  private readonly overlapSaid = new Set<string>();
  private feed: Map<string, MemoTag> | null = null;
  /** Calls a replay made live, per name (the orchestrator counts them from the records). */
  readonly live = new Map<string, number>();

  constructor(readonly session: Session) {}

  private get s(): Session {
    return this.session;
  }

  call<T>(name: string, key: MemoKey | null, fn: () => T): T {
    const s = this.s;
    if (s.mode === 'off') return fn();
    const { frame, ctx } = s.place();
    const ck = `${name}\u0000${ctx}\u0000${key === null ? '' : JSON.stringify(key)}`;
    const occ = this.counts.get(ck) ?? 0;
    this.counts.set(ck, occ + 1);
    if (s.mode === 'replay') {
      const tag = this.recorded().get(memoId(name, ctx, key, occ));
      if (tag) return this.replayed(name, key, occ, frame, tag) as T;
      if (s.spec!.noLiveCalls) this.refuseLive(name, ctx, key);
      this.live.set(name, (this.live.get(name) ?? 0) + 1);
    }
    const live = s.mode === 'replay';
    const pk = `${name}\u0000${ctx}`;
    if (key === null) this.overlap(name, pk, ctx);
    // A recorded call's time is what a replay will not spend (runtime/memo-wait.ts).
    const timed = !live;
    if (timed) s.memoWait.begin();
    const done = (): void => {
      if (timed) s.memoWait.end();
      if (key === null) this.pending.set(pk, this.pending.get(pk)! - 1);
    };
    let out: T;
    try {
      out = fn();
    } catch (e) {
      done();
      this.push(name, frame, new MemoRecord(undefined, errorOf(e), key, occ, false, live));
      throw e;
    }
    if (isThenable(out)) {
      return Promise.resolve(out).then(
        (v) => {
          done();
          this.push(name, frame, new MemoRecord(freezeMemo(name, v), null, key, occ, true, live));
          return v;
        },
        (e: unknown) => {
          done();
          this.push(name, frame, new MemoRecord(undefined, errorOf(e), key, occ, true, live));
          throw e;
        },
      ) as T;
    }
    done();
    this.push(name, frame, new MemoRecord(freezeMemo(name, out), null, key, occ, false, live));
    return out;
  }

  /** Unkeyed calls of one name overlapping in one iteration: said once per name. */
  private overlap(name: string, pk: string, ctx: string): void {
    const n = this.pending.get(pk) ?? 0;
    this.pending.set(pk, n + 1);
    if (n === 0 || this.overlapSaid.has(name)) return;
    this.overlapSaid.add(name);
    process.stderr.write(
      `git flor: flor.memo('${name}') was called again while an earlier call of it${ctx ? ` in ${ctx}` : ''} was still running; ` +
        `without a key, replay gives the calls their results by the order they are made, which concurrent code may not keep: ` +
        `give each call a key, flor.memo('${name}', key, fn)\n`,
    );
  }

  private recorded(): Map<string, MemoTag> {
    if (this.feed) return this.feed;
    const path = this.s.spec?.memo;
    return (this.feed = path ? readMemoFeed(path) : new Map());
  }

  private replayed(name: string, key: MemoKey | null, occ: number, frame: number, tag: MemoTag): unknown {
    const async = tag.async === true;
    const e = tag.error as { name?: unknown; message?: unknown } | undefined;
    const error = e && typeof e === 'object' ? { name: String(e.name), message: String(e.message) } : null;
    const value = error || tag.v === undefined ? undefined : decodeExact(tag.v);
    // The record goes into the replay's records too: the replayed run has it where the run had it.
    this.push(name, frame, new MemoRecord(value, error, key, occ, async, false));
    if (error) {
      if (async) return Promise.reject(rethrown(error));
      throw rethrown(error);
    }
    // A copy of its own for the caller, who may change it before the record is written.
    const given = value === undefined ? undefined : decodeExact(tag.v);
    return async ? Promise.resolve(given) : given;
  }

  private refuseLive(name: string, ctx: string, key: MemoKey | null): never {
    const what = `flor.memo('${name}'${key === null ? '' : `, ${JSON.stringify(key)}`}) has no recorded value${ctx ? ` at ${ctx}` : ''}`;
    const msg = `${what}, and this replay may not call it live (--no-live-calls)`;
    process.stderr.write(`FlorError: ${msg}\n`);
    this.s.finish('failed', 1, msg);
    process.exit(1);
  }

  private push(name: string, frame: number, rec: MemoRecord): void {
    const s = this.s;
    if (!s.recording || (frame < 0 && !s.topEnabled)) return;
    s.buf.push(name, rec, frame);
    s.tick();
    if (name === s.stopName) s.loggedStopName();
  }
}
