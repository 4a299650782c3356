/**
 * The types a script sees: `flor` and what its methods take and give. Self-contained (no Node
 * types), so a TypeScript project type-checks `git-flor`'s declarations without @types/node.
 */

/** The typed arrays flor stores (a Node Buffer is stored as the Uint8Array it is). */
export type TypedArrayValue =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** A value flor records as logged: numbers, strings, booleans, null, bigints, typed arrays, and arrays and plain objects of these. */
export type LoggedValue = number | string | boolean | null | bigint | TypedArrayValue | LoggedValue[] | { [key: string]: LoggedValue };

/**
 * What flor.memo can store and give back, checked at compile time as it is at run time
 * (docs/replay.md): data, not objects with methods, promises or streams. `T` and
 * `T & Memoizable<T>` agree for such a T; a Response, a function or a class instance with methods
 * does not.
 */
export type Memoizable<T> = T extends null | undefined | boolean | number | string | bigint | Date | TypedArrayValue | ArrayBuffer | DataView
  ? T
  : T extends (...args: never[]) => unknown
    ? never
    : T extends PromiseLike<unknown>
      ? never
      : T extends ReadonlyMap<infer K, infer V>
        ? ReadonlyMap<Memoizable<K>, Memoizable<V>>
        : T extends ReadonlySet<infer E>
          ? ReadonlySet<Memoizable<E>>
          : T extends readonly (infer E)[]
            ? readonly Memoizable<E>[]
            : { [K in keyof T]: Memoizable<T[K]> };

/** A flor.memo key: tells apart the calls of one name in one iteration. */
export type MemoKey = string | number;

/** A value `flor.arg` takes as its default: a number, string, boolean or bigint, parsed from `--name`; anything else is JSON on the command line. */
export type ArgValue = number | string | boolean | bigint | null | ArgValue[] | { [key: string]: ArgValue };

/**
 * State a checkpoint saves through its own methods: `state()` returns what to save (anything
 * structured clone handles), `restore(s)` puts it back into this same object on replay.
 */
export interface Stateful<S = unknown> {
  state(): S;
  restore(saved: S): void;
}

/**
 * What `flor.checkpointing` takes: named pieces of the loop's state, each a plain object, an
 * array, a typed array, a Map, a Set, a class instance (its own fields), or a Stateful.
 */
export type CheckpointState = Record<string, unknown>;

export interface Flor {
  /**
   * `defaultValue`, or `--name value` / `--name=value` from the command line parsed to its type;
   * recorded with the run. A number, string or boolean default gives the widened type
   * (`flor.arg('model', 'tiny-1')` is a `string`); `flor.arg<'a' | 'b'>('mode', 'a')` narrows it.
   */
  arg(name: string, defaultValue: number): number;
  arg(name: string, defaultValue: string): string;
  arg(name: string, defaultValue: boolean): boolean;
  arg(name: string, defaultValue: bigint): bigint;
  arg<T>(name: string, defaultValue: T): T;
  /** Iterates `iterable`, giving everything logged inside the loop context (name, iteration). */
  loop<T>(name: string, iterable: Iterable<T>): Generator<T, void, undefined>;
  loop<T>(name: string, iterable: AsyncIterable<T>): AsyncGenerator<T, void, undefined>;
  /** Records `value` under `name` in the current loop context and returns it. */
  log<T>(name: string, value: T): T;
  /**
   * Calls `fn` and records its result under `name` (keyed by `key` when given, else by the call's
   * order in the iteration); a replay returns the recorded result, or throws the recorded error,
   * without calling `fn`. A Promise-returning `fn` gets a Promise back. The result must be data
   * flor can store (not a Response: return `r.text()` or `r.json()`). docs/replay.md
   */
  memo<T>(name: string, fn: () => Promise<T & Memoizable<T>>): Promise<T>;
  memo<T>(name: string, fn: () => T & Memoizable<T>): T;
  memo<T>(name: string, key: MemoKey, fn: () => Promise<T & Memoizable<T>>): Promise<T>;
  memo<T>(name: string, key: MemoKey, fn: () => T & Memoizable<T>): T;
  /** Runs `fn` as iteration `index` of loop `name`: records of event-driven code (a request handler). */
  iteration<T>(name: string, index: number, fn: () => T): T;
  /** Registers state restored on replay (see CheckpointState). */
  checkpointing(state: CheckpointState): void;
  /** Finishes the run now (it is otherwise finished at exit). Returns the run id, or null when not recording. */
  commit(): string | null;
}
