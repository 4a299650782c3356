/**
 * The page's hindsight button: the dry-run plan of a replay, then the replay itself, running in
 * the server with its progress streamed to the page. It obeys what `git flor replay` obeys: the
 * same replayMissing, the clone's one replay lock (a replay started elsewhere makes this one wait,
 * and the page says whose), the same fidelity check, whose failures the page shows.
 */
import { FlorError } from '../errors.js';
import type { RepoInfo } from '../store/git.js';
import { replayMissing, type ReplayProgress } from '../replay/replay.js';
import { describePlan, describeProgress, describeReport, describeWriters, hasFindings } from '../replay/describe.js';

export interface ReplayJob {
  names: string[];
  state: 'waiting' | 'running' | 'done' | 'failed';
  started: string;
  progress: ReplayProgress | null;
  /** One line, as `git flor replay` prints it on a terminal. */
  line: string;
  /** Another replay of this clone holds the lock: whose. */
  waitingFor: string | null;
  /** The outcome, as `git flor replay` reports it. */
  report: string[];
  findings: boolean;
  error: { code: string; message: string; hint: string | null } | null;
}

function names(body: unknown): string[] {
  const n = (body as { names?: unknown } | null)?.names;
  if (!Array.isArray(n) || n.length === 0 || !n.every((x) => typeof x === 'string' && /^[\w.$-]{1,200}$/.test(x))) {
    throw new FlorError('BAD_REQUEST', 'name at least one logged name (letters, digits, _ . $ -)', { hint: "e.g. grad_norm: a name today's code logs" });
  }
  return n as string[];
}

/** Writers the user consented to for this replay: the page asks, never assumes. */
function allowWriters(body: unknown): string[] {
  const w = (body as { allowWriters?: unknown } | null)?.allowWriters;
  if (w === undefined) return [];
  if (!Array.isArray(w) || !w.every((x) => typeof x === 'string' && /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(x))) {
    throw new FlorError('BAD_REQUEST', 'allowWriters must be writer ids', { hint: 'the ids the plan lists as not trusted' });
  }
  return w as string[];
}

export class Hindsight {
  job: ReplayJob | null = null;
  constructor(
    private readonly repo: RepoInfo,
    private readonly changed: () => void,
  ) {}

  /** What a replay of these names would do; runs nothing and takes no lock. */
  async plan(body: unknown): Promise<{ names: string[]; plan: string[]; report: string[]; writers: Array<{ writer: string; runs: number; trusted: boolean }> }> {
    const n = names(body);
    const r = await replayMissing(this.repo, n, { dryRun: true, allowWriters: allowWriters(body) });
    return {
      names: n,
      plan: [...describePlan(r.plan), ...describeWriters(r)],
      report: describeReport(r),
      // Runs of other clones run code nobody here reviewed: the page asks before they replay.
      writers: r.writers.map((w) => ({ writer: w.writer, runs: w.runs.length, trusted: !!w.trustedBy })),
    };
  }

  /** Starts the replay in the background; one at a time per server (and per clone, by the lock). */
  start(body: unknown): ReplayJob {
    const n = names(body);
    const allow = allowWriters(body);
    if (this.job && (this.job.state === 'running' || this.job.state === 'waiting')) {
      throw new FlorError('REPLAY_RUNNING', `a replay of ${this.job.names.join(', ')} is running`, { hint: 'wait for it to finish; its progress is shown' });
    }
    const job: ReplayJob = { names: n, state: 'running', started: new Date().toISOString(), progress: null, line: 'planning…', waitingFor: null, report: [], findings: false, error: null };
    this.job = job;
    const update = () => this.changed();
    replayMissing(this.repo, n, {
      allowWriters: allow,
      onProgress: (p) => {
        job.state = 'running';
        job.waitingFor = null;
        job.progress = p;
        job.line = describeProgress(p);
        update();
      },
      onWait: (h) => {
        job.state = 'waiting';
        job.waitingFor = `another replay${h.names.length ? ` of ${h.names.join(', ')}` : ''} (pid ${h.pid}, started ${h.since})`;
        job.line = `waiting for ${job.waitingFor}`;
        update();
      },
    })
      .then((r) => {
        job.report = describeReport(r);
        job.findings = hasFindings(r);
        job.state = 'done';
        job.line = job.findings ? 'done, with findings' : 'done';
      })
      .catch((e: unknown) => {
        job.state = 'failed';
        job.error = e instanceof FlorError ? { code: e.code, message: e.message, hint: e.hint ?? null } : { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e), hint: null };
        job.line = `failed: ${job.error.message}`;
      })
      .finally(update);
    update();
    return job;
  }
}
