/**
 * The API user code calls: `import { flor } from 'git-flor'`. The session starts at the first
 * call (record mode in a Git repository, replay mode under FLOR_REPLAY, off elsewhere).
 */
import { FlorError } from '../errors.js';
import { Session } from './run.js';
import { loop as makeLoop } from './loop.js';

let session: Session | null = null;

function current(): Session {
  return (session ??= Session.boot());
}

function badName(name: unknown): FlorError {
  return new FlorError('BAD_NAME', `flor.log needs a string name, got ${typeof name}`, { hint: "write flor.log('loss', value)" });
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
