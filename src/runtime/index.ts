/**
 * The API user code calls: `import { flor } from 'git-flor'`. The session starts at the first
 * call (record mode in a Git repository, replay mode under FLOR_REPLAY, off elsewhere).
 */
import { FlorError } from '../errors.js';
import { Session } from './run.js';
import { loop as makeLoop } from './loop.js';
import { Memo } from './memo.js';
import type { Memoizable, MemoKey } from './api.js';
import { iteration as runIteration } from './iteration.js';

// The package entry (index.js) imports this module alone, so it exports the errors too.
export { FlorError, isFlorError, FLOR_ERROR_CODES } from '../errors.js';

let session: Session | null = null;

function current(): Session {
  return (session ??= Session.boot());
}

function badName(name: unknown): FlorError {
  return new FlorError('BAD_NAME', `flor.log needs a string name, got ${typeof name}`, { hint: "write flor.log('loss', value)" });
}

let memos: Memo | null = null;

function badMemo(what: string): FlorError {
  return new FlorError('BAD_MEMO', `flor.memo ${what}`, { hint: "write flor.memo('reply', () => call()) or flor.memo('reply', key, () => call())" });
}

function memo<T>(name: string, fn: () => Promise<T & Memoizable<T>>): Promise<T>;
function memo<T>(name: string, fn: () => T & Memoizable<T>): T;
function memo<T>(name: string, key: MemoKey, fn: () => Promise<T & Memoizable<T>>): Promise<T>;
function memo<T>(name: string, key: MemoKey, fn: () => T & Memoizable<T>): T;
function memo<T>(name: string, keyOrFn: MemoKey | (() => T), fn?: () => T): T {
  if (typeof name !== 'string' || name === '') throw badMemo(`needs a non-empty string name, got ${typeof name}`);
  const f = fn ?? keyOrFn;
  const key = fn === undefined ? null : keyOrFn;
  if (typeof f !== 'function') throw badMemo(`('${name}', …) needs the function whose result it records`);
  if (key !== null && typeof key !== 'string' && !(typeof key === 'number' && Number.isFinite(key))) throw badMemo(`('${name}', key, fn) needs a string or a finite number as its key, got ${typeof key}`);
  const s = current();
  if (!memos || memos.session !== s) memos = new Memo(s);
  return memos.call(name, key as MemoKey | null, f as () => T);
}

function loop<T>(name: string, iterable: Iterable<T>): Generator<T, void, undefined>;
function loop<T>(name: string, iterable: AsyncIterable<T>): AsyncGenerator<T, void, undefined>;
function loop<T>(name: string, iterable: Iterable<T> | AsyncIterable<T>): Generator<T, void, undefined> | AsyncGenerator<T, void, undefined> {
  return makeLoop(current(), name, iterable);
}

export const flor = {
  /** `default`, or `--name value` / `--name=value` from the command line parsed to its type; recorded. */
  arg<T>(name: string, defaultValue: T): T {
    return current().arg(name, defaultValue);
  },

  /** Iterates `iterable`, giving everything logged inside the loop context (name, iteration). */
  loop,

  /** Records `value` under `name` in the current loop context and returns it. */
  log<T>(name: string, value: T): T {
    const s = session ?? current();
    if (s.recording) {
      if (typeof name !== 'string') throw badName(name);
      const b = s.buf;
      const frame = s.places ? s.frameHere() : b.curFrame;
      if (frame >= 0 || s.topEnabled) {
        if ((b.push(name, value, frame) & 1023) === 0) s.tick();
      }
      if (name === s.stopName) s.loggedStopName();
    }
    return value;
  },

  /**
   * Calls `fn` and records its result under `name` (keyed by `key` when given, else by the call's
   * order in the iteration); a replay returns the recorded result, or throws the recorded error,
   * without calling `fn`. A Promise-returning `fn` gets a Promise back. The result must be data
   * flor can store (not a Response: return `r.text()` or `r.json()`).
   */
  memo,

  /** Runs `fn` as iteration `index` of loop `name` (event-driven code: a request handler). */
  iteration<T>(name: string, index: number, fn: () => T): T {
    return runIteration(current(), name, index, fn);
  },

  /** Registers state restored on replay: plain objects, arrays, typed arrays, or { state(), restore(s) }. */
  checkpointing(state: Record<string, unknown>): void {
    current().register(state);
  },

  /** Finishes the run now (it is otherwise finished at exit). Returns the run id, or null when not recording. */
  commit(): string | null {
    return current().commit();
  },
};

/** The session of this process, for tests and benchmarks; null before the first flor call. */
export function florSession(): Session | null {
  return session;
}
