/** A replay's progress and the time it has left, as its tasks start and finish. */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { scheduleMs, type Plan, type PlannedSegment } from './plan.js';
import type { ReplayTaskResult } from './worker.js';
import type { ReplayOptions } from './types.js';

/**
 * Progress and the time left. Before anything runs the plan's estimate is all there is (recorded
 * iteration times, each task's start-up: a process start and the script's own setup). Then it is
 * corrected by how fast the work goes: finished tasks (real time against their estimate), running
 * tasks by the outer iteration their child reports (ReplaySpec.progress), and a start-up that takes
 * longer than priced. Emitted at each task's end and, while tasks run, every PROGRESS_POLL_MS.
 */
export function tracker(onProgress: ReplayOptions['onProgress']) {
  // Tasks of runs planned on their own may start before the plan is made: nothing is emitted until it is.
  let plan: Plan | null = null;
  let all: PlannedSegment[] = [];
  let total = 0;
  let iterTotal = 0;
  const running = new Map<PlannedSegment, { t0: number; progress: string }>();
  const finished = new Set<PlannedSegment>();
  let failed = 0;
  let actualMs = 0; // finished tasks: real time
  let doneEstMs = 0; // and what they were estimated at
  let timer: NodeJS.Timeout | null = null;

  const reported = (path: string): { iter: number; at: number } | null => {
    try {
      const iter = Number(readFileSync(path, 'utf8'));
      return Number.isInteger(iter) ? { iter, at: statSync(path).mtimeMs } : null;
    } catch {
      return null; // not begun its first iteration yet
    }
  };
  const emit = (): void => {
    if (!onProgress || !plan) return;
    const now = Date.now();
    let obsActual = actualMs;
    let obsEst = doneEstMs;
    let iterDone = 0;
    const live: Array<{ s: PlannedSegment; elapsed: number; doneEst: number | null }> = [];
    for (const s of finished) iterDone += s.end - s.start;
    for (const [s, r] of running) {
      const elapsed = now - r.t0;
      const n = s.end - s.start;
      const p = reported(r.progress);
      if (p && n > 0) {
        const k = Math.max(0, Math.min(n, p.iter - s.start));
        const doneEst = s.startupMs + ((s.estMs - s.startupMs) * k) / n;
        obsActual += Math.max(0, p.at - r.t0);
        obsEst += doneEst;
        iterDone += k;
        live.push({ s, elapsed, doneEst });
      } else {
        // Still starting: once past its priced start-up, that start-up was under-priced.
        if (elapsed > s.startupMs && s.startupMs > 0) {
          obsActual += elapsed;
          obsEst += s.startupMs;
        }
        live.push({ s, elapsed, doneEst: null });
      }
    }
    const pace = obsEst > 0 ? obsActual / obsEst : 1;
    const left: number[] = [];
    for (const s of all) if (!finished.has(s) && !running.has(s)) left.push(s.estMs * pace);
    for (const l of live) left.push(l.doneEst === null ? Math.max(0, l.s.estMs * pace - l.elapsed) : (l.s.estMs - l.doneEst) * pace);
    const etaMs = finished.size === total ? 0 : scheduleMs(left, plan.workers);
    onProgress({ done: finished.size, total, failed, etaMs: Math.max(0, Math.round(etaMs)), iterations: { done: iterDone, total: iterTotal } });
  };
  const stop = (): void => {
    if (timer) clearInterval(timer);
    timer = null;
  };
  return {
    /** The plan, holding the very segments given to `started` and `finished`. */
    planned(p: Plan): void {
      plan = p;
      all = p.runs.flatMap((r) => r.segments);
      total = all.length;
      iterTotal = all.reduce((a, s) => a + (s.end - s.start), 0);
      if (finished.size === total) stop();
      emit();
    },
    started(seg: PlannedSegment, progress: string): void {
      running.set(seg, { t0: Date.now(), progress });
      if (onProgress && !timer) {
        timer = setInterval(emit, PROGRESS_POLL_MS);
        timer.unref();
      }
    },
    finished(seg: PlannedSegment, r: ReplayTaskResult): void {
      const live = running.get(seg);
      running.delete(seg);
      if (live) rmSync(live.progress, { force: true });
      finished.add(seg);
      if (!r.ok) failed++;
      else if (!r.reused) {
        actualMs += live ? Date.now() - live.t0 : r.ms;
        doneEstMs += seg.estMs;
      }
      if (plan && finished.size === total) stop();
      emit();
    },
    stop,
  };
}

/** How often progress is emitted while tasks run. */
const PROGRESS_POLL_MS = 250;

export type Tracker = ReturnType<typeof tracker>;
