/**
 * How output meets the terminal, decided once per command before it runs, the way Git decides:
 * whether to page and through what, whether to colour, and how wide a table may be. Off a
 * terminal (a pipe, a file, the tests' in-process calls) everything is plain: no pager, no colour,
 * no fitting, and no `git config` read.
 */
import type { ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import type * as GitConfig from '../store/config.js';
// node:fs and child_process through process.getBuiltinModule, not a require made for them: making
// one loaded node:module, and with it Node's ES module loader and source-map support, at every
// command's start (useDirectStdout), which a CommonJS entry otherwise never loads.
import { childProcess, fdIsTTY, legacyBinding, nodeFs } from '../store/builtins.js';

let gitConfig: typeof GitConfig | null = null;

/**
 * Set by main (never by an in-process call, whose stdout is process.stdout) when fd 1 is a pipe,
 * a socket, a file, a device that is no terminal (/dev/null) or a terminal: output is written to
 * the fd as it is. Creating process.stdout loads net or the streams, which cost a command like
 * `git flor runs | …` about a tenth of its time, and at a terminal node:tty with them: ~20 ms of
 * `git flor log loss` on 20 runs (cpu-prof), a third of what the command took there. Null:
 * process.stdout. Back to process.stdout for good if the fd would block (a non-blocking pipe that
 * is full), which it handles.
 */
let directOut: number | null = null;
/** When directOut is a terminal: its width, asked once (terminalColumns). */
let directTTY: { columns: number | undefined } | null = null;

/**
 * main's choice for the process: fd 1 written directly (see directOut), else process.stdout, with
 * an early-closed pipe ending the process quietly.
 */
export function useDirectStdout(): void {
  try {
    const st = nodeFs().fstatSync(1);
    // A character device that is no terminal is /dev/null (or the like): for it process.stdout is
    // a SyncWriteStream, which loads the streams (~4 ms of `git flor log` on 20 runs, cpu-prof).
    if (st.isFIFO() || st.isSocket() || st.isFile()) directOut = 1;
    else if (st.isCharacterDevice()) {
      if (!fdIsTTY(1)) directOut = 1;
      else {
        const columns = terminalColumns(1);
        if (columns !== null) {
          directTTY = { columns };
          directOut = 1;
        }
      }
    }
  } catch {
    directOut = null;
    directTTY = null;
  }
  if (directOut === null) stdoutStream();
}

/**
 * The width of the terminal on `fd`, asked as process.stdout would ask it, without the stream:
 * a handle of Node's tty binding is made for the fd, put in blocking mode as tty.WriteStream puts
 * it (libuv opens the terminal afresh for it, onto the same fd number, so no other process
 * sharing the terminal sees its mode change), asked its window size and closed; the fd stays, in
 * the blocking mode writes to it expect. undefined: a terminal that gives no size; null: no such
 * binding (under --pending-deprecation, say): process.stdout is made instead.
 */
function terminalColumns(fd: number): number | undefined | null {
  const TTY = legacyBinding('tty_wrap')?.TTY as (new (fd: number, ctx: { code?: string }) => TtyHandle) | undefined;
  if (typeof TTY !== 'function') return null;
  const ctx: { code?: string } = {};
  let handle: TtyHandle;
  try {
    handle = new TTY(fd, ctx);
  } catch {
    return null;
  }
  if (ctx.code !== undefined) return null;
  try {
    if (handle.setBlocking(true) !== 0) return null;
    const size = [0, 0];
    return handle.getWindowSize(size) === 0 && size[0]! > 0 ? size[0] : undefined;
  } finally {
    handle.close();
  }
}

interface TtyHandle {
  setBlocking(on: boolean): number;
  getWindowSize(size: number[]): number;
  close(): void;
}

let streamWatched = false;

function stdoutStream(): NodeJS.WriteStream {
  if (!streamWatched) {
    streamWatched = true;
    // `git flor log x | head` closes the pipe early: that is the reader's choice, not an error.
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  return process.stdout;
}

/** Whether stdout is written directly (then process.stdout was never made). */
export function stdoutDirect(): boolean {
  return directOut !== null;
}

/** What the terminal decisions read of stdout, without making process.stdout when it is written directly. */
export function stdoutInfo(): { isTTY?: boolean; columns?: number } {
  if (directOut === null) return process.stdout;
  return directTTY ? { isTTY: true, columns: directTTY.columns } : { isTTY: false };
}

/** Writes `chunk` to fd 1 whole; false when the fd would block (the rest is then for process.stdout). */
function writeDirect(fd: number, chunk: string | Uint8Array, cb?: (err?: Error | null) => void): boolean {
  const fs = nodeFs();
  let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
  try {
    while (buf.length > 0) buf = buf.subarray(fs.writeSync(fd, buf));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // `git flor log x | head` closed the pipe early: the reader's choice, not an error.
    if (code === 'EPIPE') process.exit(process.exitCode ?? 0);
    if (code !== 'EAGAIN') throw e;
    directOut = null;
    return stdoutStream().write(buf, cb);
  }
  cb?.();
  return true;
}

/**
 * Loads the reader of Git's settings that setupTerminal needs on a terminal or under Git's pager
 * (it starts Git); off a terminal nothing is read and nothing is loaded.
 */
export async function loadTerminalConfig(): Promise<void> {
  gitConfig ??= await import('../store/config.js');
}

function gitSettings(): typeof GitConfig {
  if (!gitConfig) throw new Error('setupTerminal on a terminal: await loadTerminalConfig() first');
  return gitConfig;
}

/** Whether setupTerminal will read Git's settings (then loadTerminalConfig must have run). */
export function needsTerminalConfig(env: NodeJS.ProcessEnv = process.env, out: { isTTY?: boolean } = stdoutInfo()): boolean {
  return Boolean(out.isTTY) || set(env, 'GIT_PAGER_IN_USE') !== undefined;
}

export interface Terminal {
  /** ANSI colour in what goes to stdout. */
  color: boolean;
  /** Columns a table may take; null: no limit (not a terminal). */
  width: number | null;
  /** The pager command to start at the first output, or null. */
  pager: string | null;
}

let current: Terminal = { color: false, width: null, pager: null };

export function terminal(): Terminal {
  return current;
}

/** Commands whose output is worth a pager: the ones that can print a screenful or more. */
export const PAGED = new Set(['runs', 'log', 'show', 'diff', 'sql', 'names']);

export interface GlobalFlags {
  pager: boolean;
  color: boolean | undefined;
}

/**
 * `--no-pager`, `--color` and `--no-color` are taken out of argv wherever they stand before `--`,
 * so they work before the command as in Git (`git flor --no-pager log x`) and after it.
 */
export function takeGlobalFlags(argv: string[]): { argv: string[]; flags: GlobalFlags } {
  const flags: GlobalFlags = { pager: true, color: undefined };
  const rest: string[] = [];
  let ended = false;
  for (const a of argv) {
    if (!ended && a === '--no-pager') flags.pager = false;
    else if (!ended && a === '--color') flags.color = true;
    else if (!ended && a === '--no-color') flags.color = false;
    else {
      if (a === '--') ended = true;
      rest.push(a);
    }
  }
  return { argv: rest, flags };
}

function set(env: NodeJS.ProcessEnv, key: string): string | undefined {
  const v = env[key];
  return v === undefined || v === '' ? undefined : v;
}

/**
 * The width a table may take on a terminal or in Git's pager: COLUMNS first, as Git reads it (and
 * sets it for the pager it starts), then the terminal's own. Output to a pipe or a file is not fitted.
 */
function widthFor(env: NodeJS.ProcessEnv, screen: boolean, columns: number | undefined): number | null {
  if (!screen) return null;
  const c = Number(set(env, 'COLUMNS'));
  if (Number.isInteger(c) && c > 0) return c;
  return columns || null;
}

/**
 * Decides paging and colour for `command`. Git's rules: a pager only when stdout is a terminal,
 * not with `--no-pager`, not under Git's own pager (GIT_PAGER_IN_USE, set when `pager.flor` made
 * Git start one), not when `pager.flor` is false; the command is GIT_PAGER, then a `pager.flor`
 * command, then `core.pager`, then PAGER, then `less`, and `cat` or an empty one means none.
 * Colour: `--color`/`--no-color`, else none when NO_COLOR is set or `color.ui` is false/never,
 * else on when stdout is a terminal or Git's pager.
 */
export function setupTerminal(command: string, flags: GlobalFlags, env: NodeJS.ProcessEnv = process.env, out: { isTTY?: boolean; columns?: number } = stdoutInfo()): Terminal {
  const tty = Boolean(out.isTTY);
  const gitPaging = set(env, 'GIT_PAGER_IN_USE') !== undefined && gitSettings().configBool(env.GIT_PAGER_IN_USE) !== false;
  const wantsColor = flags.color !== false && set(env, 'NO_COLOR') === undefined && (tty || gitPaging);
  const wantsPager = tty && flags.pager && !gitPaging && PAGED.has(command);
  const config = (wantsColor && flags.color === undefined) || wantsPager ? gitSettings().configSync(process.cwd(), '^(core\\.pager|pager\\.flor|color\\.ui|color\\.flor)$') : new Map<string, string>();
  let color = flags.color ?? wantsColor;
  if (flags.color === undefined && color) {
    const ui = (config.get('color.flor') ?? config.get('color.ui'))?.trim().toLowerCase();
    if (ui === 'never' || gitSettings().configBool(ui) === false) color = false;
  }
  let pager: string | null = null;
  if (wantsPager) {
    const byCommand = config.get('pager.flor');
    const on = gitSettings().configBool(byCommand);
    if (on !== false) {
      pager = set(env, 'GIT_PAGER') ?? (byCommand !== undefined && on === null ? byCommand : undefined) ?? config.get('core.pager') ?? set(env, 'PAGER') ?? 'less';
      if (pager.trim() === '' || pager.trim() === 'cat') pager = null;
    }
  }
  current = { color, width: widthFor(env, tty || gitPaging, out.columns), pager };
  return current;
}

/** Resets to plain output (tests that set up a terminal put it back). */
export function resetTerminal(): void {
  current = { color: false, width: null, pager: null };
  pagerProc = null;
}

let pagerProc: ChildProcess | null = null;
let pagerGone: Promise<void> | null = null;

/** Starts the pager with stdout's writes going into it (Git's dup2 of fd 1 onto the pager's pipe). */
function startPager(cmd: string): Writable {
  // Git's defaults for less and lv, kept when the user set their own.
  const env = { ...process.env, LESS: process.env.LESS ?? 'FRX', LV: process.env.LV ?? '-c', GIT_PAGER_IN_USE: 'true' };
  // Loaded here: child_process costs a start more than the command's own modules.
  const { spawn } = childProcess();
  const child = spawn('/bin/sh', ['-c', cmd], { stdio: ['pipe', 'inherit', 'inherit'], env });
  pagerProc = child;
  pagerGone = new Promise((resolve) => {
    child.on('close', () => resolve());
    child.on('error', () => resolve());
  });
  // Ctrl-C is for the pager (less uses it); this process ends when its output is written.
  process.on('SIGINT', () => {});
  child.stdin!.on('error', (e: NodeJS.ErrnoException) => {
    // The pager was quit before the output ended: the reader's choice, not an error.
    if (e.code === 'EPIPE') void pagerGone!.then(() => process.exit(process.exitCode ?? 0));
  });
  child.stdin!.on('drain', () => process.stdout.emit('drain'));
  return child.stdin!;
}

/**
 * Writes to stdout, through the pager when one is chosen (started at the first write, so a command
 * that fails before printing leaves the terminal alone). Returns false when the caller should wait
 * for 'drain' on process.stdout.
 */
export function writeOut(chunk: string | Uint8Array, cb?: (err?: Error | null) => void): boolean {
  if (current.pager === null) return directOut !== null ? writeDirect(directOut, chunk, cb) : process.stdout.write(chunk, cb);
  const sink = pagerProc ? pagerProc.stdin! : startPager(current.pager);
  if (pagerProc!.exitCode !== null || sink.destroyed) {
    cb?.();
    return true;
  }
  return sink.write(chunk, cb);
}

/** Whether everything writeOut was given has reached the OS (nothing queued in the stream): the caller may reuse those buffers. */
export function outWritten(): boolean {
  // Written directly, a chunk is in the OS once writeOut returns (writeDirect writes it whole or
  // hands the rest to process.stdout, and stops writing directly). Asking process.stdout would
  // make it: loading net and the streams was ~10 ms of `git flor runs | …` (perf stat: ~300 page
  // faults), which the direct writes are there to save.
  if (current.pager === null && directOut !== null) return true;
  const sink = current.pager === null ? process.stdout : pagerProc?.stdin;
  return sink !== undefined && sink !== null && sink.writableLength === 0;
}

/** Ends the pager's input and waits until the user quits it (before the process exits). */
export async function closePager(): Promise<void> {
  if (!pagerProc) return;
  pagerProc.stdin!.end();
  await pagerGone;
}
