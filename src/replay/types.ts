/** What a replay is asked (ReplayOptions) and what it reports (ReplayReport, ReplayProgress). */
import type { LockHolder } from '../store/replay-lock.js';
import type { SegmentReader } from '../store/ledger.js';
import type { Plan } from './plan.js';
import type { Mismatch } from './assemble.js';
import type { ShardShare } from './shard.js';

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
  /**
   * The checkpoints a plan may cut runs at and restore from: this clone's store (undefined), none
   * (null: shards on other machines, which do not have this clone's), or those in a directory of
   * the store's layout that the shards fetch from (`git flor checkpoints push DIR`).
   */
  checkpointsIn?: string | null;
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
