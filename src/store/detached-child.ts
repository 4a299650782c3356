/**
 * A detached child process (a session of its own) whose stdin is a pipe that only this process
 * holds, and whose stdout and stderr are /dev/null: the waiting capturer of a run
 * (waiting-capture.ts). Started at every recorded run's first flor call, where loading
 * node:child_process (it loads the streams, net and dgram: ~35 modules, several ms and a young
 * garbage collection in a process that has done nothing else yet) cost more than the fork itself.
 * So it is started through the same handles child_process uses (process_wrap, pipe_wrap), as
 * process.binding gives them; where that is not available (removed, the permission model) or
 * would print a deprecation warning (--pending-deprecation), through child_process as before.
 */
import { childProcess, legacyBinding, signalNumber } from './builtins.js';

export interface DetachedChild {
  /** Undefined when it could not start (child_process reports that asynchronously). */
  readonly pid: number | undefined;
  /** Its exit status once this process has seen it end (the event loop reaps it), else null. */
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  kill(signal: NodeJS.Signals): void;
  /** Keeps this process alive until the child ends, and then calls `cb`. */
  waitExit(cb: (code: number | null) => void): void;
  /** Closes this process's end of the pipe: the child reads end of file, as at this process's exit. */
  closeStdin(): void;
}

interface ProcessHandle {
  pid: number;
  onexit: (exitCode: number, signalCode: string) => void;
  spawn(options: object): number;
  kill(signal: number): number;
  close(): void;
  ref(): void;
  unref(): void;
}

interface PipeHandle {
  close(): void;
  unref(): void;
}

interface Bindings {
  Process: new () => ProcessHandle;
  Pipe: new (type: number) => PipeHandle;
  socket: number;
}

function bindings(): Bindings | null {
  if (process.platform === 'win32') return null;
  const pw = legacyBinding('process_wrap') as { Process?: Bindings['Process'] } | null;
  const pp = pw && (legacyBinding('pipe_wrap') as { Pipe?: Bindings['Pipe']; constants?: { SOCKET?: number } } | null);
  if (typeof pw?.Process !== 'function' || typeof pp?.Pipe !== 'function' || typeof pp.constants?.SOCKET !== 'number') return null;
  return { Process: pw.Process, Pipe: pp.Pipe, socket: pp.constants.SOCKET };
}

function byHandles(b: Bindings, file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): DetachedChild {
  const handle = new b.Process();
  const pipe = new b.Pipe(b.socket);
  let exitCode: number | null = null;
  let signalCode: NodeJS.Signals | null = null;
  let pipeOpen = true;
  const waiters: Array<(code: number | null) => void> = [];
  const closePipe = () => {
    if (pipeOpen) pipe.close();
    pipeOpen = false;
  };
  handle.onexit = (code, signal) => {
    if (signal) signalCode = signal as NodeJS.Signals;
    else exitCode = code;
    handle.close();
    closePipe();
    for (const w of waiters.splice(0)) w(exitCode);
  };
  const envPairs: string[] = [];
  for (const [k, v] of Object.entries(env)) if (v !== undefined) envPairs.push(`${k}=${v}`);
  const err = handle.spawn({
    file,
    args: [file, ...args],
    cwd,
    envPairs,
    stdio: [{ type: 'pipe', handle: pipe }, { type: 'ignore' }, { type: 'ignore' }],
    detached: true,
    windowsHide: false,
    windowsVerbatimArguments: false,
  });
  if (err !== 0) {
    handle.close();
    closePipe();
    throw new Error(`cannot start ${file} (uv error ${err})`);
  }
  // Neither the child nor its pipe keeps this process's event loop alive.
  handle.unref();
  pipe.unref();
  return {
    pid: handle.pid,
    get exitCode() {
      return exitCode;
    },
    get signalCode() {
      return signalCode;
    },
    kill(signal) {
      if (exitCode === null && signalCode === null) handle.kill(signalNumber(signal));
    },
    waitExit(cb) {
      if (exitCode !== null || signalCode !== null) return cb(exitCode);
      waiters.push(cb);
      handle.ref();
    },
    closeStdin: closePipe,
  };
}

function byChildProcess(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): DetachedChild {
  const child = childProcess().spawn(file, args, { cwd, detached: true, stdio: ['pipe', 'ignore', 'ignore'], env });
  child.on('error', () => {}); // could not start: pid stays undefined
  child.stdin!.on('error', () => {});
  child.unref();
  (child.stdin as unknown as { unref(): void }).unref();
  return {
    get pid() {
      return child.pid;
    },
    get exitCode() {
      return child.exitCode;
    },
    get signalCode() {
      return child.signalCode;
    },
    kill(signal) {
      child.kill(signal);
    },
    waitExit(cb) {
      if (child.exitCode !== null || child.signalCode !== null) return cb(child.exitCode);
      child.on('exit', (code) => cb(code));
      child.ref();
    },
    closeStdin() {
      child.stdin?.destroy();
    },
  };
}

/** Starts `file args` detached in `cwd` with `env`; throws when it cannot start. */
export function spawnDetached(file: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): DetachedChild {
  const b = bindings();
  return b ? byHandles(b, file, args, opts.cwd, opts.env) : byChildProcess(file, args, opts.cwd, opts.env);
}
