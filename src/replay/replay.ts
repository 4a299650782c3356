/**
 * `replayMissing`: fills in names that old runs never logged. Finds the runs lacking them,
 * propagates today's statements into each run's code, plans, runs every task of every run on one
 * pool, checks fidelity and writes one replay segment per run. Runs fail or succeed on their own:
 * one version that cannot take the statements, or whose replay throws, is reported and the others
 * complete. This file is the order of those steps; each step is a module of its own:
 * select-runs.ts, prepare.ts (with the propagation memo), plan.ts, tasks.ts, check-write.ts,
 * progress.ts, and findings.ts that gathers what each found.
 *
 * The replay rules of docs/design.md, and where each is kept (search for "RULE:"):
 * - checkpoint at the end of iteration k seeds k+1 ........ plan.ts cutSegments, tasks.ts taskFor
 * - args come from the original run ....................... tasks.ts taskFor
 * - an inner loop is skipped only when … ................... plan.ts judgeInner
 * - segments at checkpointed boundaries, one shared pool .. plan.ts cutSegments, pool.ts
 * - existing statements re-executed and compared .......... assemble.ts checkFidelity, check-write.ts checkRun
 * - replay never overwrites forward records ............... check-write.ts checkRun
 * - a version that cannot take a statement or fails is
 *   reported by name, the others complete ................. propagation.ts propagateRun, check-write.ts checkRun
 * - no usable checkpoints: from the start, still correct .. plan.ts planRun
 */
import { FlorError, isFlorError } from '../errors.js';
import type { RepoInfo } from '../store/git.js';
import type { RunEntry } from '../store/ledger.js';
import { acquireReplayLock } from '../store/replay-lock.js';
import { reader } from '../store/objects.js';
import { planAlone, planReplay, type Plan, type PlanOptions, type PlanRun, type PlannedSegment } from './plan.js';
import { readTodayFiles, type TodayFiles } from './propagation.js';
import { loadParser } from '../propagate/packages.js';
import { propagatedTree } from './snapshot.js';
import { defaultWorkers } from './pool.js';
import { dispatcher, limiter } from './dispatch.js';
import { selectRuns } from './select-runs.js';
import { PARALLEL_GIT, prepareRuns, type Prepared } from './prepare.js';
import { lazyStart, runTasks, stage, type Staged, type TaskRunning } from './tasks.js';
import { checkRun, writeRun } from './check-write.js';
import { tracker } from './progress.js';
import { Findings } from './findings.js';
import type { ReplayOptions, ReplayReport, RunOutcome } from './types.js';
import type { Mismatch } from './assemble.js';

export type { ReplayOptions, ReplayProgress, ReplayReport, RunOutcome, TaskFailure, WriterUse } from './types.js';

const ignore = (): void => undefined;

export async function replayMissing(repo: RepoInfo, names: string[], opts: ReplayOptions = {}): Promise<ReplayReport> {
  if (names.length === 0) throw new FlorError('REPLAY_NO_NAMES', 'name at least one logged name to replay', { hint: 'git flor replay grad_norm' });
  if (!repo.top) throw new FlorError('BARE_REPO', 'replay needs a work tree: today\'s statements come from it', { hint: 'run inside a clone with a work tree' });
  // Checked here, not in one command: `replay --workers` and `log --replay --workers` both land here.
  if (opts.workers !== undefined && !(Number.isInteger(opts.workers) && opts.workers >= 1)) {
    throw new FlorError('BAD_WORKERS', `--workers must be a whole number >= 1, not ${opts.workers}`, { hint: 'e.g. --workers 4' });
  }
  const workers = opts.workers ?? Math.max(1, defaultWorkers());
  // Today's statements are read while the lock is taken: the parse works on this core while Git
  // starts the lock's update-ref on another. They come from the work tree, not the ledger.
  const today = readTodayFiles(repo, names, opts.at ?? opts.shard?.plan.from);
  today.catch(ignore); // awaited under the lock; a rejection must not count as unhandled meanwhile
  reader(repo); // and the object reader's cat-file starts, which lists the runs once the lock is held
  // The parser loads while those processes start (after this turn's microtasks, which start the
  // lock's update-ref), not after the files it parses are listed.
  setImmediate(loadParser);
  // A replay child boots meanwhile too, on the core this one leaves idle while it waits on those
  // processes and parses: most replays run a task, and the first run that needs one takes it.
  const engine = opts.dryRun ? null : lazyStart(repo, { workers, env: opts.env });
  engine?.guess();
  let release: (() => Promise<void>) | null = null;
  try {
    // What is missing is decided under the lock, so a replay that waited sees the other's segments.
    // A dry run writes nothing and takes no lock.
    if (!opts.dryRun) release = await acquireReplayLock(repo, names, { onWait: opts.onWait, timeoutMs: opts.lockTimeoutMs });
    return await replayLocked(repo, names, workers, opts, today, engine);
  } finally {
    // Before the lock goes: no task, nor a process started for one, outlives the replay.
    await engine?.close();
    await release?.();
  }
}

async function replayLocked(repo: RepoInfo, names: string[], workers: number, opts: ReplayOptions, todayRead: Promise<TodayFiles>, engine: ReplayContext['engine']): Promise<ReplayReport> {
  // The runs are listed while today's files may still be read: neither needs the other.
  const listing = selectRuns(repo, opts.runs, opts.since);
  listing.catch(ignore); // awaited below, unless today's code already fails the request
  const today = await todayRead;
  const unknown = names.filter((n) => !today.namesFound.has(n));
  if (unknown.length && opts.skipUnknown) names = names.filter((n) => today.namesFound.has(n));
  else if (unknown.length) {
    throw new FlorError('REPLAY_NOT_IN_CODE', `today's code does not log ${unknown.map((n) => `'${n}'`).join(', ')}`, {
      hint: `add flor.log('${unknown[0]}', …) to the script in the working tree first; replay propagates it into each old version`,
    });
  }

  if (names.length === 0) return new Findings().report(names, planReplay([], [], new Map(), { workers }));

  return replayWith({ repo, names, today, entries: await listing, workers, engine, opts, shapes: new Map() });
}

interface ReplayContext {
  repo: RepoInfo;
  names: string[];
  today: TodayFiles;
  entries: RunEntry[];
  workers: number;
  /** The pool and writer id, started when a run needs them; null in a dry run, which runs nothing. */
  engine: ReturnType<typeof lazyStart> | null;
  opts: ReplayOptions;
  /** The code shapes the plans read (plan.ts PlanOptions.shapes): a run planned alone is not parsed again for the whole plan. */
  shapes: NonNullable<PlanOptions['shapes']>;
}

async function replayWith(c: ReplayContext): Promise<ReplayReport> {
  const { repo, names, workers, engine, opts } = c;
  const found = new Findings();
  // Checkouts and provenance trees run in the background, but never more than a few at once.
  const gitSlots = limiter(PARALLEL_GIT);
  const run = engine ? runner(c, engine, found, gitSlots) : null;
  try {
    const prepared = await prepareRuns({ repo, names, today: c.today, opts, found, gitSlots, ...(engine && run ? { start: engine.start, onPrepared: run.early } : {}) }, c.entries);
    const ckpts = new Map(prepared.map((p) => [p.entry.id, p.ckpts]));
    const planned = planReplay(prepared.map(planRunOf), names, ckpts, { workers, startupMs: opts.startupMs, shapes: c.shapes });
    const plan = opts.shard ? opts.shard.pin(planned, ckpts) : planned;
    if (!run) {
      for (const p of prepared) found.outcomes.push({ run: p.entry.id, status: 'planned', names: p.names });
      return found.report(names, plan);
    }
    await run.rest(prepared, plan);
    return found.report(names, plan);
  } finally {
    // Also when something above throws: no task may outlive the replay, nor the progress timer.
    await run?.settled();
  }
}

function planRunOf(p: Prepared): PlanRun {
  return { id: p.entry.id, meta: p.entry.meta, files: p.code, names: p.names, reached: p.end?.reached ?? null };
}

/**
 * Runs the prepared runs' tasks: each run's go to the dispatcher as soon as its snapshot is checked
 * out (started while the runs were prepared). A run whose segments do not depend on the other runs
 * (plan.ts planAlone: no usable checkpoints) starts as soon as it is prepared, while the others are
 * still read and propagated; the rest once the plan is made. A run is checked as soon as its own
 * tasks are done, and only the ledger appends go one at a time.
 */
function runner(c: ReplayContext, engine: NonNullable<ReplayContext['engine']>, found: Findings, gitSlots: ReturnType<typeof limiter>) {
  const { repo, opts } = c;
  const progress = tracker(opts.onProgress);
  let running: TaskRunning | null = null;
  let writing: Promise<unknown> = Promise.resolve();
  const trees = new Map<string, Promise<string>>();
  const started = new Map<Prepared, { segments: PlannedSegment[]; done: Promise<void> }>();
  const runs: Array<Promise<void>> = [];
  const track = (done: Promise<void>): Promise<void> => {
    runs.push(done);
    done.catch(ignore); // an early run's failure is awaited by rest(), maybe not yet
    return done;
  };

  /** `alone`: the run's tasks are offered on their own, while the others are still prepared: handed out at once. */
  const runOne = async (p: Prepared, segments: PlannedSegment[], alone = false): Promise<void> => {
    running ??= { repo, opts, pool: engine.pool(), dispatch: dispatcher(c.workers), progress };
    const writer = engine.writer();
    writer.catch(ignore); // awaited before the first append (and by rest(), which fails the replay with it)
    let st: Staged;
    try {
      st = await stage(p, segments, found);
    } catch (e) {
      running.pool.ahead(-1); // counted as one task to come when it was found to need replaying
      for (const s of segments) progress.finished(s, { ok: false, run: p.entry.id, segment: s.index, error: 'not started', exitCode: null, signal: null, stderrTail: '', ms: 0 });
      if (isFlorError(e, 'REPLAY_REFUSED')) found.outcomes.push({ run: p.entry.id, status: 'refused', names: p.names, reason: e.message });
      else found.outcomes.push({ run: p.entry.id, status: 'failed', names: p.names, reason: (e as Error).message, failures: [] });
      return;
    }
    running.pool.ahead(segments.length - 1); // its tasks, where one was counted
    const tasks = runTasks(running, st);
    if (alone) running.dispatch.now();
    // The provenance tree is made while the tasks run, once per distinct code: after the
    // dispatcher's turn (queued by runTasks), so its object writes never hold up a task's start.
    await new Promise((r) => setImmediate(r));
    let tree = trees.get(st.snap.key);
    if (!tree) trees.set(st.snap.key, (tree = gitSlots(() => propagatedTree(repo, p.entry.codeTree, p.files))));
    tree.catch(ignore); // awaited below; a rejection must not count as unhandled meanwhile
    const results = await tasks;
    const checked = checkRun(st, results, opts);
    let r: { outcome: RunOutcome; mismatches: Mismatch[] };
    if ('outcome' in checked) r = checked;
    else {
      const done = writing.then(async () => writeRun(repo, st, checked, await tree, await writer, opts.shard?.plan.id)).catch((e: unknown) => ({
        outcome: { run: p.entry.id, status: 'failed' as const, names: p.names, reason: `cannot write the replay segment: ${(e as Error).message}`, failures: [] },
        mismatches: checked.mismatches,
      }));
      writing = done;
      r = await done;
    }
    found.outcomes.push(r.outcome);
    found.mismatches.push(...r.mismatches);
  };

  return {
    /** A run just prepared: started now when its segments are its own business (true then). */
    early: (p: Prepared): boolean => {
      if (opts.shard) return false; // a shard runs the segments its plan pins
      const segments = planAlone(planRunOf(p), c.names, p.ckpts, { workers: c.workers, startupMs: opts.startupMs, shapes: c.shapes });
      if (!segments) return false;
      started.set(p, { segments, done: track(runOne(p, segments, true)) });
      return true;
    },
    /** The other runs, by the plan; resolves when every run is checked and written. */
    async rest(prepared: Prepared[], plan: Plan): Promise<void> {
      engine.dropped(new Set(prepared.map((p) => p.entry.id)));
      if (prepared.length === 0) return;
      // The plan shows the segments the early runs run (planAlone made the same ones).
      prepared.forEach((p, i) => {
        const e = started.get(p);
        if (e) plan.runs[i] = { ...plan.runs[i]!, segments: e.segments };
      });
      progress.planned(plan);
      // This clone's writer id must be there before the other runs start, or the replay fails with why.
      await engine.writer();
      await Promise.all(prepared.map((p, i) => started.get(p)?.done ?? track(runOne(p, plan.runs[i]!.segments))));
    },
    /** Every run started has ended; the progress timer is stopped. */
    async settled(): Promise<void> {
      await Promise.allSettled(runs);
      progress.stop();
    },
  };
}
