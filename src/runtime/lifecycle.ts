/**
 * The process hooks of a session: exit, uncaught errors, SIGINT/SIGTERM, and a timer that
 * flushes records of async code and tells when the event loop stops turning (a long synchronous
 * stretch, where a JS signal handler could not run).
 */
import { constants as osConstants } from 'node:os';

/** Records reach the journal at least this often while the process runs (bounds SIGKILL loss). */
export const FLUSH_MS = 100;
/**
 * Without an event-loop turn for this long the script is in a synchronous stretch, where a JS
 * signal handler would not run until the stretch ends: the handlers are detached so Ctrl-C keeps
 * killing at once (the journal is then recovered as crashed) instead of being deferred.
 */
const SYNC_STRETCH_MS = 1000;

function signalNumber(sig: NodeJS.Signals): number {
  return (osConstants.signals as Record<string, number>)[sig] ?? 0;
}

/** What the hooks report to the session. */
export interface LifecycleEvents {
  /** The process exits with `code` (normally, by process.exit, or after an uncaught error). */
  exiting(code: number, interruptedBy: NodeJS.Signals | null): void;
  /** An uncaught error, as one line (the exit that follows reports the failure). */
  uncaught(err: unknown): void;
  /** A signal with no handler of the user's: the process dies of it right after this returns. */
  interrupted(code: number): void;
  /** The event loop turned (timer): `now` is performance.now(). */
  turned(now: number): void;
  /** The session is over: signals are not attached again. */
  finished(): boolean;
}

export class Lifecycle {
  private lastTurn = performance.now();
  private timer: NodeJS.Timeout | null = null;
  private interruptedBy: NodeJS.Signals | null = null;
  private signalsAttached = false;
  private installed = false;

  constructor(private readonly on: LifecycleEvents) {}

  private readonly onExit = (code: number): void => {
    this.on.exiting(code, this.interruptedBy);
  };

  private readonly onUncaught = (err: unknown): void => {
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
    process.on('uncaughtExceptionMonitor', this.onUncaught);
    this.attachSignals();
    this.lastTurn = performance.now();
    // Flushes records of async code, and marks that the event loop turns (signal handlers work).
    this.timer = setInterval(() => {
      this.lastTurn = performance.now();
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
