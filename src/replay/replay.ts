/**
 * `replayMissing`: fills in names that old runs never logged. Finds the runs lacking them,
 * propagates today's statements into each run's code, plans, runs every task of every run on one
 * pool, checks fidelity and writes one replay segment per run. Runs fail or succeed on their own:
 * one version that cannot take the statements, or whose replay throws, is reported and the others
 * complete.
 *
 * The replay rules of docs/design.md, and where each is kept (search for "RULE:"):
 * - checkpoint at the end of iteration k seeds k+1 ........ plan.ts cutSegments, taskFor below
 * - args come from the original run ....................... taskFor below
 * - an inner loop is skipped only when … ................... plan.ts judgeInner
 * - segments at checkpointed boundaries, one shared pool .. plan.ts cutSegments, pool.ts
 * - existing statements re-executed and compared .......... assemble.ts checkFidelity, checkRun below
 * - replay never overwrites forward records ............... checkRun below
 * - a version that cannot take a statement or fails is
 *   reported by name, the others complete ................. propagation.ts propagateRun, checkRun below
 * - no usable checkpoints: from the start, still correct .. plan.ts planRun
 */
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { FlorError, isFlorError } from '../errors.js';
import type { RepoInfo } from '../store/git.js';
import { reader } from '../store/objects.js';
import { readableRuns, listRunsChecked, resolveIn, readRunSegments, appendSegment, readCheckpointManifest, ensureWriter, type RunEntry, type SegmentReader } from '../store/ledger.js';
import { readTrust, trustsLedger, type Trust } from '../store/trust.js';
import { ownLedgerRef } from '../store/refs.js';
import { verifyingSignatures, verifyTip, type TipSignature } from '../store/signing.js';
import { splitLoaders, type Loader } from '../store/exec-argv.js';
import { containedPaths } from './containment.js';
import { concatColumns, encodeSegment, makeSegment } from '../store/segment.js';
import { checkpointSound } from '../store/checkpoints.js';
import type { RecordColumns } from '../store/records.js';
import type { ReplaySpec, StopPoint } from '../runtime/replay-spec.js';
import { planReplay, scheduleMs, type Plan, type PlanRun, type RunCheckpoints, type PlannedSegment } from './plan.js';
import { propagateRun, readTodayFiles, type PropagatedRun, type TodayFiles } from './propagation.js';
import { checkCodeLinks, incompleteCodeNote, materialise, propagatedTree, removeRunSnapshots, resolveLoaders, type Snapshot } from './snapshot.js';
import { createPool, defaultWorkers, type TaskPool } from './pool.js';
import { dispatcher, limiter } from './dispatch.js';
import type { ReplayTask, ReplayTaskResult } from './worker.js';
import { checkFidelity, concatRecords, namesLogged, recordsEnd, type Mismatch } from './assemble.js';
import { acquireReplayLock, type LockHolder } from '../store/replay-lock.js';
import { entryRoots } from './reach.js';
import { segmentCounter, type ShardShare } from './shard.js';
import { checkMemo, liveCalls, memoEntries, writeMemoFeed, type MemoEntry } from './memo-feed.js';

/** The run's recorded memo values, beside its task specs. */
const MEMO_FEED = 'memo.msgpack';

/**
 * Names today's code memoises, in the run's entry script or a file that logs a requested name,
 * that the run has no record of: its version makes those calls without flor.memo.
 */
function liveNames(today: TodayFiles, script: string, existing: RecordColumns): string[] {
  if (today.memoSites.size === 0) return [];
  const memoised = new Set([script, ...Object.keys(today.files)].flatMap((f) => today.memoSites.get(f) ?? []));
  const have = namesLogged(existing);
  return [...memoised].filter((n) => !have.has(n)).sort();
}

function unmemoisedText(names: string[]): string {
  return `no recorded values for flor.memo ${names.map((n) => `'${n}'`).join(', ')} (this version makes those calls without flor.memo)`;
}

export interface ReplayProgress {
  done: number;
  total: number;
  failed: number;
  /** Estimated ms left (from the plan's estimates, corrected by how fast the tasks go; see tracker). */
  etaMs: number | null;
  /** Outer iterations replayed, counting those the running tasks report. */
  iterations: { done: number; total: number };
}

export interface ReplayOptions {
  /** Only these runs (ids or unique prefixes). Default: every run lacking a name. */
  runs?: string[];
  /** Only runs started at or after this time (ms since epoch), as `git flor log --since`. */
  since?: number;
  workers?: number;
  dryRun?: boolean;
  /** Write the replay segment even when the fidelity check found differences. */
  acceptMismatch?: boolean;
  onProgress?: (p: ReplayProgress) => void;
  /** Extra environment for the replay children. */
  env?: Record<string, string>;
  /** Per-task time limit. */
  timeoutMs?: number;
  /** What a task's start-up costs (child start and the script's setup), for sizing tasks (default: plan.ts PlanOptions.startupMs). */
  startupMs?: number;
  /** Called when another replay holds this clone's replay lock, before waiting for it (lock.ts). */
  onWait?: (holder: LockHolder) => void;
  /** Give up waiting for another replay after this long (REPLAY_LOCKED); default: wait. */
  lockTimeoutMs?: number;
  /**
   * Leave out names today's code does not log instead of failing (`log NAME --replay`, where a
   * column may be an arg or a name every run has).
   */
  skipUnknown?: boolean;
  /** Where the runs' segments are read from (a SegmentCache the caller reads again afterwards); default: Git. */
  segments?: SegmentReader;
  /**
   * Writers whose runs may be replayed besides this clone's own ('*': every writer), added to git
   * config `flor.trustedWriters` (store/trust.ts). Replaying runs the writer's code.
   */
  allowWriters?: string[];
  /** Today's code from this commit instead of the work tree (a pinned plan's `from`). */
  at?: string;
  /** Run only this shard's share of a pinned plan (shard.ts): its tasks, its names, the plan named in each segment. */
  shard?: ShardShare;
  /** A flor.memo call without a recorded value fails the replay instead of being made live (memo-feed.ts). */
  noLiveCalls?: boolean;
}

export interface TaskFailure {
  segment: number;
  start: number;
  end: number;
  error: string;
  stderrTail: string;
}

export type RunOutcome =
  /** ms: summed task time (the work done for this run, not wall time). */
  /**
   * carried: the names whose statement was carried into this version's code (the others were in it
   * already); partial: statements of replayed names that could not be placed in some file.
   */
  | { run: string; status: 'replayed'; names: string[]; carried: string[]; partial: string[]; segment: string; records: number; tasks: number; reusedTasks: number; ms: number; live: Record<string, number> }
  | { run: string; status: 'planned'; names: string[] }
  | { run: string; status: 'not-propagated'; names: string[]; reason: string }
  | { run: string; status: 'failed'; names: string[]; reason: string; failures: TaskFailure[] }
  | { run: string; status: 'mismatch'; names: string[]; mismatches: number }
  /** Not run at all: another writer's run nobody trusted, or metadata or code that would lead outside the snapshot. */
  | { run: string; status: 'refused'; names: string[]; reason: string };

/** Whose code a replay runs (or would run): one entry per writer of the runs that lack a name. */
export interface WriterUse {
  writer: string;
  runs: string[];
  /** 'own' (this clone), 'config' (flor.trustedWriters), 'option' (--allow-writer), 'all' ('*'), or null: refused. */
  trustedBy: 'own' | 'config' | 'option' | 'all' | null;
  /** Trusted, but refused: flor.verifyLedgerSignatures is on and the ledger tip holding these runs has no good signature (Git's reason). */
  unsigned?: string;
  /** The runs are in a fetched copy of this clone's own ledger only, not in the ledger itself. */
  fetchedOwn?: boolean;
  /** Who signed the ledger tips holding these runs, when signatures are verified. */
  signers?: string[];
}

export interface ReplayReport {
  names: string[];
  /** Runs that already have every name (nothing to do). */
  complete: string[];
  /**
   * Runs lacking a name whose statements are only in files their entry script never loads (runs of
   * another script): not replayed for it, and not counted as having it.
   */
  unreached: Array<{ run: string; script: string; names: string[] }>;
  plan: Plan;
  outcomes: RunOutcome[];
  mismatches: Mismatch[];
  /** Whose code runs, per writer (the dry run lists it). */
  writers: WriterUse[];
  /** What of a run's metadata was not used, per run (Node options that are not allowed loader flags). */
  notes: Array<{ run: string; text: string }>;
}

/** Checkpoints of `run` whose files are in this clone's store (a fetched run has none). */
async function usableCheckpoints(repo: RepoInfo, run: RunEntry): Promise<RunCheckpoints> {
  if (!run.ckpt) return { iters: [], keys: [] };
  let m;
  try {
    m = await readCheckpointManifest(repo, run.ckpt);
  } catch {
    return { iters: [], keys: [] }; // an unreadable manifest only costs speed
  }
  const iters: number[] = [];
  const keys: string[] = [];
  m.iters.forEach((it, i) => {
    const k = m.keys[i]!;
    // A damaged file is left out: the plan then starts from the previous sound checkpoint, or the start.
    if (checkpointSound(repo.commonDir, k)) {
      iters.push(it);
      keys.push(k);
    }
  });
  return { iters, keys };
}

function segmentName(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `replay-${t}-${randomBytes(3).toString('hex')}`;
}

/** Ids of the runs to consider: all, or the ones named (each must resolve). */
async function selectRuns(repo: RepoInfo, ids: string[] | undefined): Promise<RunEntry[]> {
  if (!ids || ids.length === 0) return readableRuns(repo);
  const { runs, broken } = await listRunsChecked(repo);
  const out = new Map<string, RunEntry>();
  for (const id of ids) {
    const r = resolveIn(runs, id, broken);
    out.set(r.id, r);
  }
  return [...out.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
}

interface Prepared {
  entry: RunEntry;
  names: string[];
  /** Propagated files (old path -> text), written over the run's code. */
  files: Record<string, string>;
  /** What the planner parses: those files, the other statement files and the entry script. */
  code: Record<string, string>;
  existing: RecordColumns;
  ckpts: RunCheckpoints;
  /** Checked out as soon as the run is propagated, while the others are still read (null in a dry run). */
  snap: Promise<Snapshot> | null;
  carried: string[];
  partial: string[];
  /** A run that did not finish: where its records end, and how far its replay goes. */
  end: { stop: StopPoint; reached: NonNullable<PlanRun['reached']> } | null;
  /** The recorded cwd and script, checked to lie inside the code. */
  paths: { cwd: string; script: string };
  /** Loader flags the metadata may pass (store/exec-argv.ts); `execArgv` is what of them resolves inside the snapshot. */
  loaders: Loader[];
  execArgv: string[];
  /** The run's recorded flor.memo values, fed to its replay children. */
  memo: MemoEntry[];
}

/**
 * The pool, started the first time a run turns out to need replaying: its threads boot while the
 * other runs are read, propagated and checked out, and a replay with nothing to do starts none.
 */
function lazyPool(workers: number): { get(): TaskPool; close(): Promise<void> } {
  let pool: TaskPool | null = null;
  return {
    get: () => (pool ??= createPool(workers)),
    close: async () => {
      await pool?.close();
    },
  };
}

const ignore = (): void => undefined;

export async function replayMissing(repo: RepoInfo, names: string[], opts: ReplayOptions = {}): Promise<ReplayReport> {
  if (names.length === 0) throw new FlorError('REPLAY_NO_NAMES', 'name at least one logged name to replay', { hint: 'git flor replay grad_norm' });
  if (!repo.top) throw new FlorError('BARE_REPO', 'replay needs a work tree: today\'s statements come from it', { hint: 'run inside a clone with a work tree' });
  // Checked here, not in one command: `replay --workers` and `log --replay --workers` both land here.
  if (opts.workers !== undefined && !(Number.isInteger(opts.workers) && opts.workers >= 1)) {
    throw new FlorError('BAD_WORKERS', `--workers must be a whole number >= 1, not ${opts.workers}`, { hint: 'e.g. --workers 4' });
  }
  const workers = opts.workers ?? Math.max(1, defaultWorkers());
  // What is missing is decided under the lock, so a replay that waited sees the other's segments.
  // A dry run writes nothing and takes no lock.
  const release = opts.dryRun ? null : await acquireReplayLock(repo, names, { onWait: opts.onWait, timeoutMs: opts.lockTimeoutMs });
  try {
    return await replayLocked(repo, names, workers, opts);
  } finally {
    await release?.();
  }
}

async function replayLocked(repo: RepoInfo, names: string[], workers: number, opts: ReplayOptions): Promise<ReplayReport> {
  // The runs are listed while today's files are read: neither needs the other.
  const since = opts.since;
  const listing = selectRuns(repo, opts.runs).then((rs) => (since === undefined ? rs : rs.filter((r) => Date.parse(r.meta.start) >= since)));
  listing.catch(ignore); // awaited below, unless today's code already fails the request
  const today: TodayFiles = await readTodayFiles(repo, names, opts.at ?? opts.shard?.plan.from);
  const unknown = names.filter((n) => !today.namesFound.has(n));
  if (unknown.length && opts.skipUnknown) names = names.filter((n) => today.namesFound.has(n));
  else if (unknown.length) {
    throw new FlorError('REPLAY_NOT_IN_CODE', `today's code does not log ${unknown.map((n) => `'${n}'`).join(', ')}`, {
      hint: `add flor.log('${unknown[0]}', …) to the script in the working tree first; replay propagates it into each old version`,
    });
  }

  if (names.length === 0) return { names, complete: [], unreached: [], plan: planReplay([], [], new Map(), { workers }), outcomes: [], mismatches: [], writers: [], notes: [] };

  const pool = opts.dryRun ? null : lazyPool(workers);
  try {
    return await replayWith(repo, names, today, await listing, workers, pool, opts);
  } finally {
    await pool?.close();
  }
}

async function replayWith(
  repo: RepoInfo, names: string[], today: TodayFiles, entries: RunEntry[], workers: number, lazy: { get(): TaskPool } | null, opts: ReplayOptions,
): Promise<ReplayReport> {
  const outcomes: RunOutcome[] = [];
  const complete: string[] = [];
  const unreached: ReplayReport['unreached'] = [];
  const prepared: Prepared[] = [];
  const cat = reader(repo);
  let writer: Promise<string> | null = null;
  const trust = await readTrust(repo, opts.allowWriters);
  const counted = segmentCounter(repo, trust, opts.shard?.plan);
  const notes: Array<{ run: string; text: string }> = [];
  const verify = await verifyingSignatures(repo);
  const signatures = new Map<string, Promise<TipSignature>>();
  const signatureOf = (tip: string): Promise<TipSignature> => {
    let s = signatures.get(tip);
    if (!s) signatures.set(tip, (s = verifyTip(repo, tip)));
    return s;
  };
  const writers = new Map<string, WriterUse>();
  const noteWriter = (w: string, run: string, by: WriterUse['trustedBy'], more: Partial<WriterUse> = {}): void => {
    const key = JSON.stringify([w, by, more.unsigned ?? null, more.fetchedOwn ?? false]);
    const u = writers.get(key) ?? { writer: w, runs: [], trustedBy: by, ...more, ...(more.signers ? { signers: [] } : {}) };
    u.runs.push(run);
    for (const s of more.signers ?? []) if (!u.signers!.includes(s)) u.signers!.push(s);
    writers.set(key, u);
  };
  const report = (o: Omit<ReplayReport, 'writers' | 'notes'>): ReplayReport => ({
    ...o, writers: [...writers.values()].map((u) => ({ ...u, runs: u.runs.sort() })).sort((a, b) => (a.writer < b.writer ? -1 : 1)),
    notes: notes.sort((a, b) => (a.run < b.run ? -1 : 1)),
  });
  // Checkouts and provenance trees run in the background, but never more than a few at once.
  const gitSlots = limiter(PARALLEL_GIT);
  // Runs of one version (same code tree, same missing names) get the same propagated code.
  const propagations = new Map<string, Promise<PropagatedRun>>();
  const propagate = (codeTree: string, missing: string[], roots: string[]): Promise<PropagatedRun> => {
    const key = JSON.stringify([codeTree, missing, roots]);
    let p = propagations.get(key);
    if (!p) propagations.set(key, (p = propagateRun(repo, cat, codeTree, today, missing, roots)));
    return p;
  };

  async function prepareRun(entry: RunEntry): Promise<Prepared | null> {
    // What the run has: its writer's forward segment, and replay segments of trusted writers only,
    // so another clone's segment can neither answer "already have NAME" nor fail the fidelity check.
    const read = await readRunSegments(repo, entry, opts.segments);
    const { segments: segs, done } = await counted(read.segments);
    const existing = concatColumns(segs);
    const have = namesLogged(existing);
    // A name an earlier replay of this run was asked for is done even where it logged nothing (a
    // statement behind a condition, or after the loop of a run that stopped early): replaying it
    // again would find the same, and append another empty segment each time.
    for (const sg of segs) for (const n of sg.provenance?.statements ?? []) have.add(n);
    // A shard does its plan's tasks that no segment covers yet, whatever else the run has.
    const missing = opts.shard ? opts.shard.take(entry.id, done) : names.filter((n) => !have.has(n));
    if (missing.length === 0) {
      complete.push(entry.id);
      return null;
    }
    // RULE: replaying runs the code of the run's writer: this clone's own, or one the user trusts.
    const fetchedOwn = entry.writer === trust.own && entry.source.ledger !== ownLedgerRef(entry.writer);
    const by = trustedBy(trust, entry.writer, entry.source.ledger);
    // With flor.verifyLedgerSignatures, another ledger's code runs only under a good signature on the tip it was read at.
    const sig = by !== null && by !== 'own' && verify ? await signatureOf(entry.source.tip) : null;
    noteWriter(entry.writer, entry.id, by, { ...(fetchedOwn ? { fetchedOwn } : {}), ...(sig && !sig.good ? { unsigned: sig.why ?? 'no good signature' } : {}), ...(sig?.signer ? { signers: [sig.signer] } : {}) });
    if (by === null) {
      outcomes.push({
        run: entry.id, status: 'refused', names: missing,
        reason: fetchedOwn
          ? `only in ${entry.source.ledger}, a fetched copy of this clone's own ledger: this clone did not write it, and replaying it runs its code (trust it with --allow-writer ${entry.writer})`
          : `written by writer ${entry.writer}, not by this clone: replaying it runs that writer's code (trust it with --allow-writer ${entry.writer})`,
      });
      return null;
    }
    if (sig && !sig.good) {
      outcomes.push({
        run: entry.id, status: 'refused', names: missing,
        reason: `the tip ${entry.source.tip.slice(0, 12)} of ${entry.source.ledger} has no good signature (flor.verifyLedgerSignatures is on): ${sig.why}`,
      });
      return null;
    }
    const unmemoised = liveNames(today, entry.meta.script, existing);
    if (unmemoised.length && opts.noLiveCalls) {
      outcomes.push({ run: entry.id, status: 'refused', names: missing, reason: `${unmemoisedText(unmemoised)}: its replay would make them live (--no-live-calls)` });
      return null;
    }
    if (unmemoised.length) notes.push({ run: entry.id, text: `${unmemoisedText(unmemoised)}: its replay makes them live` });
    const paths = containedPaths(entry.id, entry.meta);
    const { loaders, refused } = splitLoaders(entry.meta.execArgv, paths.cwd);
    if (refused.length) notes.push({ run: entry.id, text: `recorded Node option(s) not passed (only loader flags of modules in the code or its node_modules are): ${refused.map((r) => JSON.stringify(r)).join(' ')}` });
    if (lazy) {
      lazy.get();
      writer ??= ensureWriter(repo);
      writer.catch(ignore); // awaited before the first task
    }
    const ckpts = usableCheckpoints(repo, entry);
    const end = entry.meta.status === 'ok' ? null : runEnd(entry.meta, concatColumns(segs.filter((s) => s.source === 'forward')));
    const prop = await propagate(entry.codeTree, missing, entryRoots(entry.meta));
    if (prop.unreached.length) unreached.push({ run: entry.id, script: entry.meta.script, names: prop.unreached });
    if (prop.failed.length) {
      outcomes.push({ run: entry.id, status: 'not-propagated', names: prop.failed.map((f) => f.name), reason: prop.failed.map((f) => `${f.name}: ${f.reason}`).join('; ') });
    }
    const ok = missing.filter((n) => !prop.failed.some((f) => f.name === n) && !prop.unreached.includes(n));
    if (ok.length === 0) return null;
    // The planner reads the entry script (the outer loop) and every file a statement went into.
    const code = { ...prop.oldFiles, ...prop.files };
    if (code[entry.meta.script] === undefined) {
      const o = await cat.read(`${entry.codeTree}:${entry.meta.script}`);
      if (o && o.type === 'blob') code[entry.meta.script] = o.data.toString('utf8');
    }
    // A dry run checks out nothing, but says now what the checkout would refuse.
    if (!lazy) await checkCodeLinks(repo, entry.id, entry.codeTree, Object.keys(prop.files));
    const snap = lazy ? gitSlots(() => materialise(repo, entry.id, entry.codeTree, prop.files, [paths.cwd, posixDir(paths.script)])) : null;
    snap?.catch(ignore); // awaited once the plan is made
    return {
      entry, names: ok, files: prop.files, code, existing, ckpts: await ckpts, snap,
      carried: prop.carried.filter((n) => ok.includes(n)),
      end, paths, loaders, execArgv: [], memo: memoEntries(existing),
      partial: prop.partial.filter((f) => ok.includes(f.name)).map((f) => `${f.name}: ${f.reason}`),
    };
  }

  const ready: Array<Prepared | null> = new Array(entries.length).fill(null);
  await eachLimited(entries, PARALLEL_GIT, async (entry, i) => {
    try {
      ready[i] = await prepareRun(entry);
    } catch (e) {
      // One unreadable run (a corrupt segment, a missing code tree) does not stop the others.
      if (isFlorError(e, 'REPLAY_REFUSED')) outcomes.push({ run: entry.id, status: 'refused', names, reason: e.message });
      else outcomes.push({ run: entry.id, status: 'failed', names, reason: (e as Error).message, failures: [] });
    }
  });
  for (const p of ready) if (p) prepared.push(p);
  complete.sort();
  unreached.sort((a, b) => (a.run < b.run ? -1 : 1));

  const planRuns: PlanRun[] = prepared.map((p) => ({ id: p.entry.id, meta: p.entry.meta, files: p.code, names: p.names, reached: p.end?.reached ?? null }));
  const ckpts = new Map(prepared.map((p) => [p.entry.id, p.ckpts]));
  const planned = planReplay(planRuns, names, ckpts, { workers, startupMs: opts.startupMs });
  const plan = opts.shard ? opts.shard.pin(planned, ckpts) : planned;
  if (!lazy) {
    for (const p of prepared) outcomes.push({ run: p.entry.id, status: 'planned', names: p.names });
    return report({ names, complete, unreached, plan, outcomes: sortOutcomes(outcomes), mismatches: [] });
  }

  const mismatches: Mismatch[] = [];
  if (prepared.length === 0) return report({ names, complete, unreached, plan, outcomes: sortOutcomes(outcomes), mismatches });
  const pool = lazy.get();
  const writerId = await writer!;
  const progress = tracker(plan, opts.onProgress);

  // Each run's tasks go to the dispatcher as soon as its snapshot is checked out (started while
  // the runs were prepared); it is checked as soon as its own tasks are done, and only the ledger
  // appends go one at a time.
  const dispatch = dispatcher(workers);
  let writing: Promise<unknown> = Promise.resolve();
  const trees = new Map<string, Promise<string>>();
  try {
    await Promise.all(prepared.map(async (p, i) => {
      const segments = plan.runs[i]!.segments;
      let st: Staged;
      try {
        const snap = await p.snap!;
        const l = resolveLoaders(snap.dir, p.paths.cwd, p.loaders);
        p.execArgv = l.argv;
        if (l.dropped.length) notes.push({ run: p.entry.id, text: `recorded loader(s) not passed, they do not resolve inside the run's code or its node_modules: ${l.dropped.map((d: string) => JSON.stringify(d)).join(' ')}` });
        const outDir = `${snap.dir}.out`;
        mkdirSync(outDir, { recursive: true });
        if (p.memo.length) writeMemoFeed(join(outDir, MEMO_FEED), p.memo);
        st = { p, segments, snap, outDir };
      } catch (e) {
        for (const s of segments) progress.finished(s, { ok: false, run: p.entry.id, segment: s.index, error: 'not started', exitCode: null, signal: null, stderrTail: '', ms: 0 });
        if (isFlorError(e, 'REPLAY_REFUSED')) outcomes.push({ run: p.entry.id, status: 'refused', names: p.names, reason: e.message });
        else outcomes.push({ run: p.entry.id, status: 'failed', names: p.names, reason: (e as Error).message, failures: [] });
        return;
      }
      // The provenance tree is made while the tasks run, once per distinct code.
      let tree = trees.get(st.snap.key);
      if (!tree) trees.set(st.snap.key, (tree = gitSlots(() => propagatedTree(repo, p.entry.codeTree, p.files))));
      tree.catch(ignore); // awaited below; a rejection must not count as unhandled meanwhile
      const results = await Promise.all(segments.map((seg) => {
        const task = taskFor(repo, st, seg, opts);
        return dispatch(seg.estMs, () => {
          progress.started(seg, task.spec.progress!);
          return pool.run(task);
        }).then(
          (r) => r,
          (e: unknown): ReplayTaskResult => ({ ok: false, run: p.entry.id, segment: seg.index, error: `worker died: ${(e as Error).message}`, exitCode: null, signal: null, stderrTail: '', ms: 0 }),
        ).then((r) => {
          progress.finished(seg, r);
          return r;
        });
      }));
      const checked = checkRun(st, results, opts);
      let r: { outcome: RunOutcome; mismatches: Mismatch[] };
      if ('outcome' in checked) r = checked;
      else {
        const done = writing.then(async () => writeRun(repo, st, checked, await tree, writerId, opts.shard?.plan.id)).catch((e: unknown) => ({
          outcome: { run: p.entry.id, status: 'failed' as const, names: p.names, reason: `cannot write the replay segment: ${(e as Error).message}`, failures: [] },
          mismatches: checked.mismatches,
        }));
        writing = done;
        r = await done;
      }
      outcomes.push(r.outcome);
      mismatches.push(...r.mismatches);
    }));
  } finally {
    progress.stop(); // also when something above throws: the timer must not outlive the replay
  }
  return report({ names, complete, unreached, plan, outcomes: sortOutcomes(outcomes), mismatches });
}

interface Staged {
  p: Prepared;
  segments: PlannedSegment[];
  snap: Snapshot;
  outDir: string;
}

/** Git plumbing calls in flight at once while preparing runs: they mostly wait on the disk. */
const PARALLEL_GIT = 4;

/** Runs `fn` over `items`, at most `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}


function sortOutcomes(o: RunOutcome[]): RunOutcome[] {
  return o.sort((a, b) => (a.run < b.run ? -1 : a.run > b.run ? 1 : 0));
}

/**
 * Progress and the time left. Before anything runs the plan's estimate is all there is (recorded
 * iteration times, each task's start-up: a process start and the script's own setup). Then it is
 * corrected by how fast the work goes: finished tasks (real time against their estimate), running
 * tasks by the outer iteration their child reports (ReplaySpec.progress), and a start-up that takes
 * longer than priced. Emitted at each task's end and, while tasks run, every PROGRESS_POLL_MS.
 */
function tracker(plan: Plan, onProgress: ReplayOptions['onProgress']) {
  const all = plan.runs.flatMap((r) => r.segments);
  const total = all.length;
  const iterTotal = all.reduce((a, s) => a + (s.end - s.start), 0);
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
    if (!onProgress) return;
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
  emit();
  return {
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
      if (finished.size === total) stop();
      emit();
    },
    stop,
  };
}

/** How often progress is emitted while tasks run. */
const PROGRESS_POLL_MS = 250;

function specKey(s: PlannedSegment, names: string[], stop: StopPoint | null, noLive = false): string {
  // A task journal made with live calls is not reused by a replay that allows none.
  return createHash('sha256').update(JSON.stringify([s.start, s.end, s.runToEnd, s.restoreFrom, s.skipInner, s.ckptKeys, names, stop, ...(noLive ? ['no-live'] : [])])).digest('hex').slice(0, 16);
}

/**
 * Where the records of a run that did not finish end, and what its replay must cover: up to the
 * outer iteration of its last record, or past the outer loop when that record was logged after it.
 * null when it logged nothing (the replay then goes as far as the recorded timings say).
 */
function runEnd(meta: RunEntry['meta'], forward: RecordColumns): Prepared['end'] {
  const e = recordsEnd(forward);
  if (!e) return null;
  const outer = meta.loops.find((l) => l.parent === null);
  const where = `${e.name}${e.at.length ? ` at ${e.at.map(([l, i]) => `${l}=${i}`).join('/')}` : ''}${e.occurrence ? ` #${e.occurrence + 1}` : ''}`;
  const stop: StopPoint = { name: e.name, at: e.at, occurrence: e.occurrence };
  const all = Math.max(meta.outerMs.length, outer?.iterations ?? 0);
  // Inside the outer loop: up to that iteration. In a later top-level loop, or after the loops:
  // every iteration and the code after them. Before the outer loop: none of it.
  if (e.at.length && outer && e.at[0]![0] === outer.name) return { stop, reached: { iterations: e.at[0]![1] + 1, runToEnd: false, where } };
  if (e.at.length || e.afterLoops) return { stop, reached: { iterations: all, runToEnd: true, where } };
  return { stop, reached: { iterations: 0, runToEnd: true, where } };
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

/** A run whose tasks all passed and whose fidelity check allows writing it. */
interface Checked {
  cols: RecordColumns;
  mismatches: Mismatch[];
  ms: number;
  reused: number;
  live: Record<string, number>;
}

/** The outcome of a run that is not written (a task failed, or fidelity), or what to write. */
function checkRun(st: Staged, results: ReplayTaskResult[], opts: ReplayOptions): { outcome: RunOutcome; mismatches: Mismatch[] } | Checked {
  const { p, segments, outDir } = st;
  const run = p.entry.id;
  const ms = results.reduce((a, r) => a + r.ms, 0);
  const failures: TaskFailure[] = [];
  results.forEach((r, i) => {
    if (!r.ok) failures.push({ segment: r.segment, start: segments[i]!.start, end: segments[i]!.end, error: r.error, stderrTail: r.stderrTail });
  });
  // RULE: "A version … whose replay fails is reported by name with the reason; the others still
  // complete." Nothing of a failed run is written; its finished task journals stay for a retry.
  if (failures.length) {
    const f = failures[0]!;
    // Node prints an uncaught error as `<Name>Error: message` at the start of a line, after the
    // source excerpt; that line says more than the stack under it.
    const lines = f.stderrTail.split('\n').filter((l) => /\S/.test(l));
    const lastLine = lines.find((l) => /^\w*(Error|Exception)\b/.test(l)) ?? lines.at(-1) ?? '';
    return {
      outcome: { run, status: 'failed', names: p.names, reason: `segment ${f.segment} (iterations ${f.start}..${f.end - 1}) ${f.error}${lastLine ? `: ${lastLine.trim()}` : ''}${incompleteCodeNote(p.entry.meta, f.stderrTail)}`, failures },
      mismatches: [],
    };
  }

  const parts = results.map((r) => (r as Extract<ReplayTaskResult, { ok: true }>).records);
  const replayed = concatColumns(parts);
  const memo = memoEntries(replayed);
  const memoAt = new Set(memo.map((e) => e.i));
  const mismatches = [...checkFidelity(run, p.existing, replayed, (i) => memoAt.has(i)), ...checkMemo(run, p.memo, memo)];
  // RULE: "mismatches are reported, never silently mixed": a run whose re-executed statements
  // differ is not written (unless the user accepts it), so its new column cannot look trustworthy.
  if (mismatches.length && !opts.acceptMismatch) {
    // Differences often mean the code is not deterministic: a retry runs again, reusing nothing.
    rmSync(outDir, { recursive: true, force: true });
    return { outcome: { run, status: 'mismatch', names: p.names, mismatches: mismatches.length }, mismatches };
  }
  // RULE: "Replay never overwrites forward records; replay rows are marked as such." Only the
  // names this run lacked go into a new segment of source 'replay', next to the forward one.
  const wanted = new Set(p.names);
  // So are the results of memo calls made live: the next replay of the run finds them.
  const liveAt = parts.map((c) => new Set(memoEntries(c).filter((e) => e.tag.live === true).map((e) => e.i)));
  const cols = concatRecords(parts, (n, part, i) => wanted.has(n) || liveAt[part]!.has(i));
  return { cols, mismatches, ms, reused: results.filter((r) => r.ok && r.reused).length, live: liveCalls(memo) };
}

/**
 * The provenance tree, present at the moment of the append. It was made while the tasks ran, and
 * nothing references it before the append: a `git gc --prune=now` meanwhile deletes it with the
 * propagated blobs. Checked through the shared object reader (no process), made again when gone.
 */
async function provenanceTree(repo: RepoInfo, p: Prepared, tree: string): Promise<string> {
  const cat = reader(repo);
  const found = await Promise.all([cat.read(tree), ...Object.keys(p.files).map((f) => cat.read(`${tree}:${f}`))]);
  return found.every((o) => o !== null) ? tree : propagatedTree(repo, p.entry.codeTree, p.files);
}

async function writeRun(repo: RepoInfo, st: Staged, c: Checked, made: string, writer: string, plan?: string): Promise<{ outcome: RunOutcome; mismatches: Mismatch[] }> {
  const { p, segments } = st;
  const run = p.entry.id;
  const tree = await provenanceTree(repo, p, made);
  const seg = makeSegment(run, 'replay', c.cols, {
    statements: p.names, code: tree, time: new Date().toISOString(), writer,
    segments: segments.map((s) => [s.start, s.end] as [number, number]),
    carried: p.carried,
    ...(plan ? { plan } : {}),
  });
  const name = segmentName();
  // The code tree goes into the ledger with the segment: provenance that `git gc` cannot prune.
  await appendSegment(repo, run, name, encodeSegment(seg), { code: tree });
  removeRunSnapshots(repo, run);
  return {
    outcome: { run, status: 'replayed', names: p.names, carried: p.carried, partial: p.partial, segment: name, records: c.cols.name.length, tasks: segments.length, reusedTasks: c.reused, ms: c.ms, live: c.live },
    mismatches: c.mismatches,
  };
}

/** How `writer` is trusted to run its code here, or null. */
function trustedBy(t: Trust, writer: string, ledger: string): WriterUse['trustedBy'] {
  if (writer === t.own && ledger === ownLedgerRef(writer)) return 'own';
  const from = t.from.get(writer);
  if (from) return from;
  return t.all ? 'all' : trustsLedger(t, writer, ledger) ? 'config' : null;
}

function posixDir(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}
