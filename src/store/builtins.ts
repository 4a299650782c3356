/**
 * Node's heavier built-in modules, loaded at first use. Loading `child_process`, `crypto` or
 * `zlib` (each pulls in streams, net and more) costs a CLI start more than all of flor's own
 * modules: `git flor runs` answered from the derived cache needs none of them, so the modules on
 * that path take them from here instead of importing them. The same holds for a script's
 * `import 'git-flor'`: a run needs v8, zlib and a worker thread only once it checkpoints, and
 * async_hooks only for an async loop.
 */
import { createRequire } from 'node:module';

const getBuiltin = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
let req: NodeJS.Require | undefined;

/**
 * A built-in module by its `node:` name: through process.getBuiltinModule where Node has it
 * (20.16), which skips the CommonJS loader that createRequire and require run (a few ms of a
 * run's start, most of it compiling that loader's functions); else through require.
 */
function load(id: string): unknown {
  return getBuiltin ? getBuiltin.call(process, id) : nodeRequire()(id);
}

/** A require of this module's, made at first use. */
export function nodeRequire(): NodeJS.Require {
  return (req ??= createRequire(import.meta.url));
}

let fsm: typeof import('node:fs') | undefined;
let pathm: typeof import('node:path') | undefined;
let cp: typeof import('node:child_process') | undefined;
let crypto: typeof import('node:crypto') | undefined;
let zlib: typeof import('node:zlib') | undefined;
let v8m: typeof import('node:v8') | undefined;
let wt: typeof import('node:worker_threads') | undefined;
let ah: typeof import('node:async_hooks') | undefined;

/**
 * node:fs for a module that must not import it: an ES import builds its namespace, which loads the
 * streams (cli/terminal.ts, in a plain tsc build and in-process tests).
 */
export function nodeFs(): typeof import('node:fs') {
  return (fsm ??= load('node:fs') as typeof import('node:fs'));
}

export function nodePath(): typeof import('node:path') {
  return (pathm ??= load('node:path') as typeof import('node:path'));
}

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
 * One of Node's internal bindings by process.binding, or null where that is not available (removed,
 * the permission model) or would print a deprecation warning (--pending-deprecation, or
 * NODE_PENDING_DEPRECATION=1 as the flag does; --throw-deprecation).
 */
export function legacyBinding(name: string): Record<string, unknown> | null {
  const binding = (process as unknown as { binding?: (name: string) => Record<string, unknown> }).binding;
  const flags = nodeFlags();
  const pending = flags.includes('--pending-deprecation') || process.env.NODE_PENDING_DEPRECATION === '1';
  if (typeof binding !== 'function' || pending || flags.includes('--throw-deprecation')) return null;
  try {
    return binding.call(process, name);
  } catch {
    return null;
  }
}

/**
 * Whether stderr is a terminal, without creating process.stderr: that stream (a tty, pipe or file
 * writer) costs a run's end a few milliseconds when the run has nothing to say. Asked of the
 * binding node:tty asks: node:tty loads the net module (and the streams) when stdout and stderr
 * are files or /dev/null, a few ms more of a run's end.
 */
export function stderrIsTTY(): boolean {
  return fdIsTTY(2);
}

/** Whether file descriptor `fd` is a terminal, the same way as stderrIsTTY. */
export function fdIsTTY(fd: number): boolean {
  const isTTY = legacyBinding('tty_wrap')?.isTTY;
  if (typeof isTTY === 'function') return isTTY(fd) === true;
  return (load('node:tty') as typeof import('node:tty')).isatty(fd);
}

let os: typeof import('node:os') | undefined;

/** node:os at first use: a run's start needs only the host name and the home directory. */
function nodeOs(): typeof import('node:os') {
  return (os ??= load('node:os') as typeof import('node:os'));
}

/** os.hostname(): on Linux the kernel's, as gethostname(2) reads it, without loading node:os. */
export function hostName(): string {
  if (process.platform === 'linux') {
    try {
      const name = nodeFs().readFileSync('/proc/sys/kernel/hostname', 'latin1').trim();
      if (name) return name;
    } catch {
      // no /proc here
    }
  }
  return nodeOs().hostname();
}

/** os.homedir(): $HOME on POSIX when it is set, as os.homedir() itself reads it. */
export function homeDir(): string {
  const home = process.env.HOME;
  return home !== undefined && process.platform !== 'win32' ? home : nodeOs().homedir();
}

/** The number of signal `sig` (0 when unknown). */
export function signalNumber(sig: NodeJS.Signals): number {
  return (nodeOs().constants.signals as Record<string, number>)[sig] ?? 0;
}

/** The Node flags this process runs with: its execArgv, then NODE_OPTIONS' words. */
export function nodeFlags(): string[] {
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean)];
}

/**
 * Milliseconds since the process started, as performance.now() counts them (only differences are
 * used): the `performance` global loads perf_hooks (11 modules, ~8M instructions) at first use,
 * which a run whose script never reads it need not pay.
 */
export function nowMs(): number {
  return process.uptime() * 1000;
}
