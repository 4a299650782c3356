/**
 * The tasks of a replay: the pool and this clone's writer id, started only when a run needs
 * replaying; each run staged (snapshot, loaders, output directory, memo feed) and its planned
 * segments turned into tasks for the shared pool, longest first.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { RepoInfo } from '../store/git.js';
import { ensureWriter } from '../store/ledger.js';
import type { ReplaySpec, StopPoint } from '../runtime/replay-spec.js';
import type { PlannedSegment } from './plan.js';
import { resolveLoaders, type Snapshot } from './snapshot.js';
import { createPool, type TaskPool } from './pool.js';
import type { dispatcher } from './dispatch.js';
import type { ReplayTask, ReplayTaskResult } from './worker.js';
import { writeMemoFeed } from './memo-feed.js';
import type { Prepared } from './prepare.js';
import type { Tracker } from './progress.js';
import type { Findings } from './findings.js';
import type { ReplayOptions } from './types.js';

/** The run's recorded memo values, beside its task specs. */
const MEMO_FEED = 'memo.msgpack';

const ignore = (): void => undefined;

/**
 * The pool and the writer id, started the first time a run turns out to need replaying: the
 * writer id is read while the other runs are read, propagated and checked out, and a replay
 * with nothing to do starts none. Each run found to need replaying counts as one task to come
 * (until its plan says how many), so the pool starts processes ahead for it (warm.ts); guess()
 * counts one before any run is read, which the first such run then stands for.
 */
export function lazyStart(repo: RepoInfo, o: { workers: number; env?: Record<string, string> }): {
  guess(): void;
  start(run: string): void;
  /** Runs counted by start() that turned out to run nothing (refused, not propagated). */
  dropped(kept: ReadonlySet<string>): void;
  pool(): TaskPool;
  writer(): Promise<string>;
  close(): Promise<void>;
} {
  let pool: TaskPool | null = null;
  let writer: Promise<string> | null = null;
  const counted = new Set<string>();
  let guessed = false;
  const tasksPool = (): TaskPool => (pool ??= createPool({ workers: o.workers, top: repo.top!, env: o.env }));
  const init = (): TaskPool => {
    if (!writer) {
      writer = ensureWriter(repo);
      writer.catch(ignore); // awaited before the first segment is written
    }
    return tasksPool();
  };
  return {
    // Not the writer id: a replay with nothing to do writes none.
    guess: () => {
      if (guessed || counted.size) return;
      guessed = true;
      tasksPool().ahead(1);
    },
    start: (run) => {
      const p = init();
      if (counted.has(run)) return;
      counted.add(run);
      if (!guessed || counted.size > 1) p.ahead(1);
    },
    dropped: (kept) => {
      const gone = [...counted].filter((r) => !kept.has(r)).length + (guessed && counted.size === 0 ? 1 : 0);
      if (gone) pool?.ahead(-gone);
    },
    pool: init,
    writer: () => {
      init();
      return writer!;
    },
    close: async () => {
      await pool?.close();
    },
  };
}

/** A prepared run ready to run: its code checked out, with a directory for its task journals. */
export interface Staged {
  p: Prepared;
  segments: PlannedSegment[];
  snap: Snapshot;
  outDir: string;
}

/** Waits for the run's checkout, then resolves its loaders inside it and writes its memo feed. */
export async function stage(p: Prepared, segments: PlannedSegment[], found: Findings): Promise<Staged> {
  const snap = await p.snap!;
  const l = resolveLoaders(snap.dir, p.paths.cwd, p.loaders);
  p.execArgv = l.argv;
  if (l.dropped.length) found.note(p.entry.id, `recorded loader(s) not passed, they do not resolve inside the run's code or its node_modules: ${l.dropped.map((d: string) => JSON.stringify(d)).join(' ')}`);
  const outDir = `${snap.dir}.out`;
  mkdirSync(outDir, { recursive: true });
  if (p.memo.length) writeMemoFeed(join(outDir, MEMO_FEED), p.memo);
  return { p, segments, snap, outDir };
}

export interface TaskRunning {
  repo: RepoInfo;
  opts: ReplayOptions;
  pool: TaskPool;
  dispatch: ReturnType<typeof dispatcher>;
  progress: Tracker;
}

/** Runs every task of a staged run; a worker that dies fails its task, never the replay. */
export function runTasks(t: TaskRunning, st: Staged): Promise<ReplayTaskResult[]> {
  return Promise.all(st.segments.map((seg) => {
    const task = taskFor(t.repo, st, seg, t.opts);
    return t.dispatch(seg.estMs, (free) => {
      t.progress.started(seg, task.spec.progress!);
      return t.pool.run(task, free);
    }).then(
      (r) => r,
      (e: unknown): ReplayTaskResult => ({ ok: false, run: st.p.entry.id, segment: seg.index, error: `worker died: ${(e as Error).message}`, exitCode: null, signal: null, stderrTail: '', ms: 0 }),
    ).then((r) => {
      t.progress.finished(seg, r);
      return r;
    });
  }));
}

function specKey(s: PlannedSegment, names: string[], stop: StopPoint | null, noLive = false): string {
  // A task journal made with live calls is not reused by a replay that allows none.
  return createHash('sha256').update(JSON.stringify([s.start, s.end, s.runToEnd, s.restoreFrom, s.skipInner, s.ckptKeys, names, stop, ...(noLive ? ['no-live'] : [])])).digest('hex').slice(0, 16);
}

function taskFor(repo: RepoInfo, st: Staged, s: PlannedSegment, opts: ReplayOptions): ReplayTask {
  const run = st.p.entry.id;
  const meta = st.p.entry.meta;
  const key = specKey(s, st.p.names, s.index === st.segments.length - 1 ? st.p.end?.stop ?? null : null, opts.noLiveCalls);
  const spec: ReplaySpec = {
    runId: run,
    // RULE: "Args come from the original run, not from today's defaults or the CLI."
    args: meta.args,
    // Each flor.arg call of a name the run gave different values gets its own, as it did then.
    argCalls: meta.argCalls ?? {},
    start: s.start,
    end: s.end,
    runToEnd: s.runToEnd,
    // RULE: "A checkpoint taken at the end of iteration k seeds iteration k+1": the plan set
    // restoreFrom to the key of iteration start-1.
    restoreFrom: s.restoreFrom,
    skipInner: s.skipInner,
    ckptKeys: s.ckptKeys,
    ckptDir: repo.commonDir,
    out: join(st.outDir, `seg-${s.start}-${s.end}-${key}.jrnl`),
    // RULE: a run that did not finish is replayed only as far as it went: its last record.
    stopAfter: s.index === st.segments.length - 1 ? (st.p.end?.stop ?? null) : null,
    progress: join(st.outDir, `progress-${s.index}-${key}`),
    ...(st.p.memo.length ? { memo: join(st.outDir, MEMO_FEED) } : {}),
    ...(opts.noLiveCalls ? { noLiveCalls: true } : {}),
  };
  return {
    run, segment: s.index, spec, specPath: join(st.outDir, `spec-${s.index}-${key}.json`),
    // RULE: started the way it was originally started: argv as recorded, cwd and script inside the
    // snapshot, and of the recorded Node options only loaders that resolve inside it.
    node: process.execPath, execArgv: st.p.execArgv, script: join(st.snap.dir, st.p.paths.script), argv: meta.argv,
    cwd: join(st.snap.dir, st.p.paths.cwd), env: opts.env, timeoutMs: opts.timeoutMs,
  };
}
