/**
 * What a replay shows on the terminal — progress, the outcome, a wait for another replay's lock —
 * shared by `git flor replay` and `git flor log --replay`.
 */
import type { RepoInfo } from '../store/git.js';
import { replayMissing, type ReplayReport, type ReplayProgress } from '../replay/replay.js';
import type { LockHolder } from '../store/replay-lock.js';
import type { SegmentReader } from '../store/ledger.js';
import { describeReport, describeProgress, hasFindings } from '../replay/describe.js';

/** Progress on one self-rewriting stderr line, only when stderr is a terminal. */
export function progressPrinter(): ((p: ReplayProgress) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (p) => {
    process.stderr.write(`\r\x1b[K${describeProgress(p)}`);
    if (p.done === p.total) process.stderr.write('\r\x1b[K');
  };
}

/** Prints a replay's outcome to stderr; the exit status it deserves. */
function reportReplay(r: ReplayReport, stream: NodeJS.WritableStream = process.stderr): number {
  for (const l of describeReport(r)) stream.write(l + '\n');
  return hasFindings(r) ? 1 : 0;
}

/**
 * `git flor log NAME... --replay`: replays what is missing before the table is built. Names today's
 * code does not log (args, names every run has) are left to the query. Reports go to stderr so the
 * table on stdout stays clean; returns the exit status the replay deserves.
 */
export async function replayForLog(
  repo: RepoInfo, names: string[], opts: { runs?: string[]; since?: number; workers?: number; segments?: SegmentReader; allowWriters?: string[]; noLiveCalls?: boolean },
): Promise<number> {
  const r = await replayMissing(repo, names, {
    runs: opts.runs, since: opts.since, workers: opts.workers, skipUnknown: true, segments: opts.segments, onProgress: progressPrinter(), onWait: printWait,
    allowWriters: opts.allowWriters, noLiveCalls: opts.noLiveCalls,
  });
  return reportReplay(r);
}

/** Another replay holds this clone's lock: say whose, since the wait may be long. */
export function printWait(h: LockHolder): void {
  const what = h.names.length ? ` of ${h.names.join(', ')}` : '';
  process.stderr.write(`git flor: waiting for another replay${what} (pid ${h.pid}, started ${h.since}) to finish; then only what is still missing is replayed\n`);
}
