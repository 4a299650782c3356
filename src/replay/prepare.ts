/**
 * Preparing the runs of a replay: what each run lacks, whether its writer's code may run here,
 * today's statements propagated into its code (once per version: the propagation memo), its
 * checkpoints, and its code checked out in the background. A run that needs nothing, cannot be
 * read or is refused becomes a finding; the others go to the planner.
 */
import { isFlorError } from '../errors.js';
import type { CatFile, RepoInfo } from '../store/git.js';
import { reader, readPath } from '../store/objects.js';
import { readRunSegments, readCheckpointManifest, type RunEntry } from '../store/ledger.js';
import { readTrust, trustsLedger, type Trust } from '../store/trust.js';
import { ownLedgerRef } from '../store/refs.js';
import { verifyingSignatures, verifyTip, type TipSignature } from '../store/signing.js';
import { splitLoaders, type Loader } from '../store/exec-argv.js';
import { concatColumns } from '../store/segment.js';
import { checkpointInDir, checkpointSound } from '../store/checkpoints.js';
import type { RecordColumns } from '../store/records.js';
import type { StopPoint } from '../runtime/replay-spec.js';
import { containedPaths } from './containment.js';
import type { PlanRun, RunCheckpoints } from './plan.js';
import { propagateRun, type PropagatedRun, type TodayFiles } from './propagation.js';
import { checkCodeLinks, materialise, type Snapshot } from './snapshot.js';
import { eachLimited, limiter } from './dispatch.js';
import { namesLogged, recordsEnd } from './assemble.js';
import { entryRoots } from './reach.js';
import { segmentCounter } from './shard.js';
import { memoEntries, type MemoEntry } from './memo-feed.js';
import type { Findings } from './findings.js';
import type { ReplayOptions, WriterUse } from './types.js';

export interface Prepared {
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

/** Git plumbing calls in flight at once while preparing runs: they mostly wait on the disk. */
export const PARALLEL_GIT = 4;

const ignore = (): void => undefined;

/** What preparing one run needs to know, shared by every run of the replay. */
interface Preparation {
  repo: RepoInfo;
  names: string[];
  today: TodayFiles;
  opts: ReplayOptions;
  found: Findings;
  cat: CatFile;
  trust: Trust;
  counted: ReturnType<typeof segmentCounter>;
  verify: boolean;
  signatureOf(tip: string): Promise<TipSignature>;
  propagate(codeTree: string, missing: string[], roots: string[]): Promise<PropagatedRun>;
  /** One run at a time from its propagation to its checkout (and its first tasks, when it starts at once). */
  turn: ReturnType<typeof limiter>;
  gitSlots: ReturnType<typeof limiter>;
  /** Called when a run needs replaying (starts the pool and the writer id); absent in a dry run, which checks nothing out. */
  start?: (run: string) => void;
  onPrepared?: PrepareOptions['onPrepared'];
}

export interface PrepareOptions {
  repo: RepoInfo;
  names: string[];
  today: TodayFiles;
  opts: ReplayOptions;
  found: Findings;
  /** As in Preparation; absent in a dry run. */
  start?: (run: string) => void;
  /** Shared with the task phase: checkouts and provenance trees never run more than a few at once. */
  gitSlots: ReturnType<typeof limiter>;
  /**
   * Called with each run to replay as soon as it is checked out, while the others still are
   * prepared; true when it starts its tasks now.
   */
  onPrepared?: (p: Prepared) => boolean;
}

/** Prepares every run (a few at once); the ones to replay, in the order of `entries`. */
export async function prepareRuns(o: PrepareOptions, entries: RunEntry[]): Promise<Prepared[]> {
  const { repo, opts } = o;
  const cat = reader(repo);
  const trust = await readTrust(repo, opts.allowWriters);
  const verify = await verifyingSignatures(repo);
  const counted = segmentCounter(repo, trust, opts.shard?.plan, verify);
  const signatures = new Map<string, Promise<TipSignature>>();
  // Runs of one version (same code tree, same missing names) get the same propagated code.
  const propagations = new Map<string, Promise<PropagatedRun>>();
  const c: Preparation = {
    ...o, cat, trust, counted, verify,
    // One run at a time, in the order asked, from its propagation to its checkout: propagation is
    // mostly parsing on this thread, and checkouts interleaved with the next versions' propagation
    // all finished last (the eval-loop's first task waited for all three runs). One after
    // another, the first run's task runs while the next version is propagated.
    turn: limiter(1),
    signatureOf: (tip) => {
      let s = signatures.get(tip);
      if (!s) signatures.set(tip, (s = verifyTip(repo, tip)));
      return s;
    },
    propagate: (codeTree, missing, roots) => {
      const key = JSON.stringify([codeTree, missing, roots]);
      let p = propagations.get(key);
      if (!p) propagations.set(key, (p = propagateRun(repo, cat, codeTree, o.today, missing, roots)));
      return p;
    },
  };
  const { names, found } = o;
  const outcomes = found.outcomes;
  const ready: Array<Prepared | null> = new Array(entries.length).fill(null);
  await eachLimited(entries, PARALLEL_GIT, async (entry, i) => {
    try {
      ready[i] = await prepareRun(c, entry);
    } catch (e) {
      // One unreadable run (a corrupt segment, a missing code tree) does not stop the others.
      if (isFlorError(e, 'REPLAY_REFUSED')) outcomes.push({ run: entry.id, status: 'refused', names, reason: e.message });
      else outcomes.push({ run: entry.id, status: 'failed', names, reason: (e as Error).message, failures: [] });
    }
  });
  return ready.filter((p): p is Prepared => p !== null);
}

async function prepareRun(c: Preparation, entry: RunEntry): Promise<Prepared | null> {
  const { repo, opts, today, found } = c;
  // What the run has: its writer's forward segment, and replay segments of trusted writers only,
  // so another clone's segment can neither answer "already have NAME" nor fail the fidelity check.
  const read = await readRunSegments(repo, entry, opts.segments);
  const { segments: segs, done } = await c.counted(read.segments);
  const existing = concatColumns(segs);
  const have = namesLogged(existing);
  // A name an earlier replay of this run was asked for is done even where it logged nothing (a
  // statement behind a condition, or after the loop of a run that stopped early): replaying it
  // again would find the same, and append another empty segment each time.
  for (const sg of segs) for (const n of sg.provenance?.statements ?? []) have.add(n);
  // A shard does its plan's tasks that no segment covers yet, whatever else the run has.
  const missing = opts.shard ? opts.shard.take(entry.id, done) : c.names.filter((n) => !have.has(n));
  if (missing.length === 0) {
    found.complete.push(entry.id);
    return null;
  }
  // RULE: replaying runs the code of the run's writer: this clone's own, or one the user trusts.
  const fetchedOwn = entry.writer === c.trust.own && entry.source.ledger !== ownLedgerRef(entry.writer);
  const by = trustedBy(c.trust, entry.writer, entry.source.ledger);
  // With flor.verifyLedgerSignatures, another ledger's code runs only under a good signature on the tip it was read at.
  const sig = by !== null && by !== 'own' && c.verify ? await c.signatureOf(entry.source.tip) : null;
  found.writerOf(entry.writer, entry.id, by, { ...(fetchedOwn ? { fetchedOwn } : {}), ...(sig && !sig.good ? { unsigned: sig.why ?? 'no good signature' } : {}), ...(sig?.signer ? { signers: [sig.signer] } : {}) });
  if (by === null) {
    found.outcomes.push({
      run: entry.id, status: 'refused', names: missing,
      reason: fetchedOwn
        ? `only in ${entry.source.ledger}, a fetched copy of this clone's own ledger: this clone did not write it, and replaying it runs its code (trust it with --allow-writer ${entry.writer})`
        : `written by writer ${entry.writer}, not by this clone: replaying it runs that writer's code (trust it with --allow-writer ${entry.writer})`,
    });
    return null;
  }
  if (sig && !sig.good) {
    found.outcomes.push({
      run: entry.id, status: 'refused', names: missing,
      reason: `the tip ${entry.source.tip.slice(0, 12)} of ${entry.source.ledger} has no good signature (flor.verifyLedgerSignatures is on): ${sig.why}`,
    });
    return null;
  }
  const unmemoised = liveNames(today, entry.meta.script, existing);
  if (unmemoised.length && opts.noLiveCalls) {
    found.outcomes.push({ run: entry.id, status: 'refused', names: missing, reason: `${unmemoisedText(unmemoised)}: its replay would make them live (--no-live-calls)` });
    return null;
  }
  if (unmemoised.length) found.note(entry.id, `${unmemoisedText(unmemoised)}: its replay makes them live`);
  const paths = containedPaths(entry.id, entry.meta);
  const { loaders, refused } = splitLoaders(entry.meta.execArgv, paths.cwd);
  if (refused.length) found.note(entry.id, `recorded Node option(s) not passed (only loader flags of modules in the code or its node_modules are): ${refused.map((r) => JSON.stringify(r)).join(' ')}`);
  c.start?.(entry.id);
  const ckpts = usableCheckpoints(repo, entry, opts.checkpointsIn);
  const end = entry.meta.status === 'ok' ? null : runEnd(entry.meta, concatColumns(segs.filter((s) => s.source === 'forward')));
  return c.turn(() => propagateAndCheckOut(c, entry, { missing, existing, ckpts, end, paths, loaders }));
}

/** The part of preparing a run that runs one run at a time (Preparation.turn). */
async function propagateAndCheckOut(
  c: Preparation, entry: RunEntry,
  r: { missing: string[]; existing: RecordColumns; ckpts: Promise<RunCheckpoints>; end: Prepared['end']; paths: Prepared['paths']; loaders: Loader[] },
): Promise<Prepared | null> {
  const { repo, found } = c;
  const { missing, existing, end, paths, loaders } = r;
  const prop = await c.propagate(entry.codeTree, missing, entryRoots(entry.meta));
  if (prop.unreached.length) found.unreached.push({ run: entry.id, script: entry.meta.script, names: prop.unreached });
  if (prop.failed.length) {
    found.outcomes.push({ run: entry.id, status: 'not-propagated', names: prop.failed.map((f) => f.name), reason: prop.failed.map((f) => `${f.name}: ${f.reason}`).join('; ') });
  }
  const ok = missing.filter((n) => !prop.failed.some((f) => f.name === n) && !prop.unreached.includes(n));
  if (ok.length === 0) return null;
  // The planner reads the entry script (the outer loop) and every file a statement went into.
  const code = { ...prop.oldFiles, ...prop.files };
  if (code[entry.meta.script] === undefined) {
    const o = await readPath(c.cat, entry.codeTree, entry.meta.script);
    if (o && o.type === 'blob') code[entry.meta.script] = o.data.toString('utf8');
  }
  // A dry run checks out nothing, but says now what the checkout would refuse.
  if (!c.start) await checkCodeLinks(repo, entry.id, entry.codeTree, Object.keys(prop.files));
  const snap = c.start ? c.gitSlots(() => materialise(repo, entry.id, entry.codeTree, prop.files, [paths.cwd, posixDir(paths.script)])) : null;
  snap?.catch(ignore); // awaited once the plan is made
  const prepared: Prepared = {
    entry, names: ok, files: prop.files, code, existing, ckpts: await r.ckpts, snap,
    carried: prop.carried.filter((n) => ok.includes(n)),
    end, paths, loaders, execArgv: [], memo: memoEntries(existing),
    partial: prop.partial.filter((f) => ok.includes(f.name)).map((f) => `${f.name}: ${f.reason}`),
  };
  if (snap && c.onPrepared?.(prepared)) {
    // Its tasks are handed out once its code is there (tasks.ts stage, then the dispatcher at
    // once): only microtasks from there, all run before the next turn of the event loop, and
    // only then may the next run's propagation hold this thread.
    await snap.then(ignore, ignore);
    await new Promise((res) => setImmediate(res));
  }
  return prepared;
}

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

/**
 * Checkpoints of `run` whose files are in this clone's store (a fetched run has none), or, when
 * planning for shards (`within`), in the directory they fetch from, or none.
 */
async function usableCheckpoints(repo: RepoInfo, run: RunEntry, within?: string | null): Promise<RunCheckpoints> {
  if (!run.ckpt || within === null) return { iters: [], keys: [] };
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
    if (within === undefined ? checkpointSound(repo.commonDir, k) : checkpointInDir(within, k)) {
      iters.push(it);
      keys.push(k);
    }
  });
  return { iters, keys };
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
