/**
 * The process hooks of a session: exit, uncaught errors, SIGINT/SIGTERM, and a timer that
 * flushes records of async code and tells when the event loop stops turning (a long synchronous
 * stretch, where a JS signal handler could not run). At exit, once flor is done, the process ends
 * at once when nothing else can run or be printed after it (mayEndAtOnce).
 */
import { readFileSync } from 'node:fs';
import { nodeFlags, nodeRequire, nowMs, signalNumber, workerThreads } from '../store/builtins.js';
import { isLate } from '../late-exit.js';

/** Records reach the journal at least this often while the process runs (bounds SIGKILL loss). */
export const FLUSH_MS = 100;
/**
 * Without an event-loop turn for this long the script is in a synchronous stretch, where a JS
 * signal handler would not run until the stretch ends: the handlers are detached so Ctrl-C keeps
 * killing at once (the journal is then recovered as crashed) instead of being deferred.
 */
const SYNC_STRETCH_MS = 1000;

/**
 * Flags whose work Node does in its own teardown, after the `exit` event (a profile or coverage
 * written, a debugger waited for, a trace file closed): with one of them the process ends the usual way.
 */
const TEARDOWN_FLAGS = /^--(inspect|debug|cpu-prof|heap-prof|prof|trace-event|experimental-test-coverage|report|diagnostic-dir|redirect-warnings)/;

function teardownFlags(): boolean {
  return nodeFlags().some((a) => TEARDOWN_FLAGS.test(a)) || process.env.NODE_V8_COVERAGE !== undefined;
}

/**
 * A native addon is loaded: its cleanup hooks and finalizers (a database flushed, a device closed)
 * run in Node's teardown, which process.exit() skips. On Linux the process's mappings show every
 * one, loaded by require or by process.dlopen; elsewhere require's cache has those it loaded.
 */
function nativeAddon(): boolean {
  if (process.platform !== 'linux') return Object.keys(nodeRequire().cache).some((k) => k.endsWith('.node'));
  // Every addon, required or dlopen'ed, is mapped: the CommonJS loader need not be set up to ask it.
  try {
    return /\.node( \(deleted\))?$/m.test(readFileSync('/proc/self/maps', 'latin1'));
  } catch {
    return true;
  }
}

/**
 * Not a worker thread, whose exit is the thread's and not the process's. A worker always has
 * worker_threads loaded (its bootstrap uses it): a process that never loaded it is its main
 * thread, and loading it here (a few ms) is needed only when it is loaded already.
 */
function mainThread(): boolean {
  const loaded = (process as unknown as { moduleLoadList?: string[] }).moduleLoadList;
  if (loaded && !loaded.includes('NativeModule worker_threads')) return true;
  return workerThreads().isMainThread;
}

/**
 * Whether the process may end right after flor's exit handler instead of through Node's teardown,
 * which frees the heap region by region (tens of munmap/madvise calls, each dear in a VM: about as
 * long as flor's whole exit before this) and runs addons' cleanup hooks. Only when nothing else
 * can be waiting for that teardown: flor's handler was the last `exit` listener (JS code cannot
 * observe anything after it), no uncaught error (Node prints it after the `exit` listeners), no
 * native addon, no flag that writes at teardown, the main thread. process.exit() from an `exit`
 * listener does not emit `exit` again and exits with process.exitCode, as the end would have.
 */
function mayEndAtOnce(wasLast: boolean, uncaught: boolean): boolean {
  try {
    return wasLast && !uncaught && mainThread() && !teardownFlags() && !nativeAddon();
  } catch {
    return false;
  }
}

/** What the hooks report to the session. */
export interface LifecycleEvents {
  /** The process exits with `code` (normally, by process.exit, or after an uncaught error). */
  exiting(code: number, interruptedBy: NodeJS.Signals | null): void;
  /** An uncaught error, as one line (the exit that follows reports the failure). */
  uncaught(err: unknown): void;
  /** A signal with no handler of the user's: the process dies of it right after this returns. */
  interrupted(code: number): void;
  /** The event loop turned (timer): `now` is nowMs(). */
  turned(now: number): void;
  /** The session is over: signals are not attached again. */
  finished(): boolean;
}

export class Lifecycle {
  private lastTurn = nowMs();
  private timer: NodeJS.Timeout | null = null;
  private interruptedBy: NodeJS.Signals | null = null;
  private signalsAttached = false;
  private installed = false;
  /** An uncaught error was seen: Node prints it after the `exit` listeners. */
  private uncaught = false;

  constructor(private readonly on: LifecycleEvents) {}

  private readonly onExit = (code: number): void => {
    const listeners = process.listeners('exit');
    const after = listeners.slice(listeners.indexOf(this.onExit) + 1);
    // Last but for late listeners (late-exit.ts), which run here then, as they would after it.
    const wasLast = after.every(isLate);
    this.on.exiting(code, this.interruptedBy);
    if (mayEndAtOnce(wasLast, this.uncaught)) {
      for (const l of after) l(code);
      process.exit();
    }
  };

  private readonly onUncaught = (err: unknown): void => {
    this.uncaught = true;
    this.on.uncaught(err);
  };

  private readonly onSignal = (sig: NodeJS.Signals): void => {
    this.interruptedBy = sig;
    // The user's own handler decides what a signal means; the run ends when the process does.
    if (process.listenerCount(sig) > 1) return;
    const code = 128 + signalNumber(sig);
    this.on.interrupted(code);
    // Default semantics: die of the signal, so the parent sees how the process ended.
    process.kill(process.pid, sig);
    process.exit(code);
  };

  install(): void {
    if (this.installed) return;
    this.installed = true;
    process.on('exit', this.onExit);
    // The listeners registered as late (a code cache saved at exit) go behind this one.
    for (const l of process.listeners('exit')) {
      if (!isLate(l)) continue;
      process.removeListener('exit', l as (code: number) => void);
      process.once('exit', l as (code: number) => void);
    }
    process.on('uncaughtExceptionMonitor', this.onUncaught);
    this.attachSignals();
    this.lastTurn = nowMs();
    // Flushes records of async code, and marks that the event loop turns (signal handlers work).
    this.timer = setInterval(() => {
      this.lastTurn = nowMs();
      if (!this.signalsAttached) this.attachSignals();
      this.on.turned(this.lastTurn);
    }, FLUSH_MS);
    this.timer.unref();
  }

  private attachSignals(): void {
    if (this.signalsAttached || this.on.finished()) return;
    // First in line, so the run knows it was interrupted even when the user's handler exits.
    process.prependListener('SIGINT', this.onSignal);
    process.prependListener('SIGTERM', this.onSignal);
    this.signalsAttached = true;
  }

  private detachSignals(): void {
    if (!this.signalsAttached) return;
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
    this.signalsAttached = false;
  }

  /** From hot paths: in a long synchronous stretch the signal handlers are detached (see SYNC_STRETCH_MS). */
  check(now: number): void {
    if (this.signalsAttached && now - this.lastTurn > SYNC_STRETCH_MS) this.detachSignals();
  }

  remove(): void {
    process.removeListener('exit', this.onExit);
    process.removeListener('uncaughtExceptionMonitor', this.onUncaught);
    this.detachSignals();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
