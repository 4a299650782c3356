/**
 * The wall-clock time a recorded run spent with at least one flor.memo call running: what a
 * replay that gets every call's result from the record does not spend again. Calls that overlap
 * (Promise.all) count once, as the stretch they cover; a call that spans an iteration's end is
 * split at it. The replay plan takes each outer iteration's share off its recorded time, and the
 * rest (calls outside the outer loop's iterations) off the script's setup.
 */
import { nowMs } from '../store/builtins.js';

export class MemoWait {
  private running = 0;
  private since = 0;
  private done = 0;

  begin(): void {
    if (this.running++ === 0) this.since = nowMs();
  }

  end(): void {
    if (--this.running === 0) this.done += nowMs() - this.since;
  }

  /** Time so far at `now`, the stretch still running included. */
  total(now: number): number {
    return this.done + (this.running > 0 ? now - this.since : 0);
  }
}
