/**
 * Node's heavier built-in modules, loaded at first use. Loading `child_process`, `crypto` or
 * `zlib` (each pulls in streams, net and more) costs a CLI start more than all of flor's own
 * modules: `git flor runs` answered from the derived cache needs none of them, so the modules on
 * that path take them from here instead of importing them. The same holds for a script's
 * `import 'git-flor'`: a run needs v8, zlib and a worker thread only once it checkpoints, and
 * async_hooks only for an async loop.
 */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

let cp: typeof import('node:child_process') | undefined;
let crypto: typeof import('node:crypto') | undefined;
let zlib: typeof import('node:zlib') | undefined;
let v8m: typeof import('node:v8') | undefined;
let wt: typeof import('node:worker_threads') | undefined;
let ah: typeof import('node:async_hooks') | undefined;

export function childProcess(): typeof import('node:child_process') {
  return (cp ??= load('node:child_process') as typeof import('node:child_process'));
}

export function nodeCrypto(): typeof import('node:crypto') {
  return (crypto ??= load('node:crypto') as typeof import('node:crypto'));
}

export function nodeZlib(): typeof import('node:zlib') {
  return (zlib ??= load('node:zlib') as typeof import('node:zlib'));
}

export function nodeV8(): typeof import('node:v8') {
  return (v8m ??= load('node:v8') as typeof import('node:v8'));
}

export function workerThreads(): typeof import('node:worker_threads') {
  return (wt ??= load('node:worker_threads') as typeof import('node:worker_threads'));
}

export function asyncHooks(): typeof import('node:async_hooks') {
  return (ah ??= load('node:async_hooks') as typeof import('node:async_hooks'));
}

/** A name no other process or call picks: for temporary files renamed into place. */
let unique = 0;
export function uniqueSuffix(): string {
  return `${process.pid}.${Date.now().toString(36)}.${(unique++).toString(36)}.${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * Whether stderr is a terminal, without creating process.stderr: that stream (a tty, pipe or file
 * writer) costs a run's end a few milliseconds when the run has nothing to say.
 */
export function stderrIsTTY(): boolean {
  return (load('node:tty') as typeof import('node:tty')).isatty(2);
}

/** The Node flags this process runs with: its execArgv, then NODE_OPTIONS' words. */
export function nodeFlags(): string[] {
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean)];
}
