/**
 * CPU time of the calling thread, for charging checkpoints honestly. Wall time is the wrong
 * measure on a loaded machine: a snapshot preempted halfway looks ten times its cost, and one such
 * outlier once stretched the checkpoint period to a few per run. process.cpuUsage() counts every
 * thread of the process (the writer, GC helpers), so it cannot tell whose work it was.
 * Linux gives each thread's on-CPU nanoseconds in /proc/thread-self/schedstat (read in ~25 µs);
 * elsewhere the fallback is min(wall, process CPU), which is never below the thread's own time
 * when nothing else runs and still ignores preemption.
 */
import { readFileSync } from 'node:fs';
import { nowMs } from '../store/builtins.js';

/** Module state is per thread: every worker imports its own copy. */
let available: boolean | null = null;

/** This thread's CPU time in ms since it started, or null where the kernel does not say. */
export function threadCpuMs(): number | null {
  if (available === false) return null;
  try {
    // The kernel folds a running thread's time into schedstat only at ticks and context switches,
    // so a bare read lags by up to a tick, and a checkpoint whose write blocks gets charged the
    // loop's lag. getrusage (process.cpuUsage) brings the calling thread's runtime up to date first.
    process.cpuUsage();
    const s = readFileSync('/proc/thread-self/schedstat', 'latin1');
    const ns = Number(s.slice(0, s.indexOf(' ')));
    if (!Number.isFinite(ns) || ns <= 0) throw new Error('unreadable schedstat');
    available = true;
    return ns / 1e6;
  } catch {
    available = false;
    return null;
  }
}

/** Process CPU (all threads) in ms. */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export interface CpuMark {
  thread: number | null;
  wall: number;
  proc: number;
}

export function cpuMark(): CpuMark {
  return { thread: threadCpuMs(), wall: nowMs(), proc: processCpuMs() };
}

/** CPU this thread spent since `m` (ms); see the module comment for the fallback. */
export function cpuSince(m: CpuMark): number {
  if (m.thread !== null) {
    const t = threadCpuMs();
    if (t !== null) return Math.max(0, t - m.thread);
  }
  return Math.max(0, Math.min(nowMs() - m.wall, processCpuMs() - m.proc));
}
