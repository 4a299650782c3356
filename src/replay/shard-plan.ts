/**
 * `git flor replay NAME... --plan --shards N [--from REV]`: what a replay would do (a dry run that
 * reads today's code from a commit, never from the work tree), cut for N shards, assigned, and
 * stored as a pinned plan (store/plans.ts) that every shard reads instead of planning again.
 */
import { FlorError } from '../errors.js';
import type { RepoInfo } from '../store/git.js';
import { ensureWriter, listLedgers } from '../store/ledger.js';
import { resolveCommit, savePlan, type PlanDoc, type StoredPlan } from '../store/plans.js';
import { replayMissing, type ReplayOptions, type ReplayReport } from './replay.js';
import { assignShards } from './shard.js';

export interface PlanShardsOptions extends Pick<ReplayOptions, 'runs' | 'since' | 'allowWriters' | 'startupMs'> {
  shards: number;
  /**
   * Where the shards get checkpoints from (`git flor checkpoints push DIR`; they fetch them with
   * `checkpoints fetch DIR --plan ID`): runs are cut only at checkpoints there. Without it, none:
   * checkpoints stay in the clone that recorded them, and a shard without the one its range starts
   * from runs every iteration before it, so a cut planned at this clone's checkpoints would
   * cost the shards more than it saves.
   */
  checkpointsIn?: string;
  /** Today's code (default HEAD). */
  from?: string;
  /**
   * Saved by this clone's writer, with the time (`--plan`), or by nobody (`--shard` without a
   * plan: every shard that sees the same refs makes the same plan, with the same id).
   */
  anonymous?: boolean;
}

export interface ShardedPlan {
  plan: StoredPlan;
  /** The dry run it came from (runs complete, refused, not propagated; whose code runs). */
  report: ReplayReport;
}

export async function planShards(repo: RepoInfo, names: string[], opts: PlanShardsOptions): Promise<ShardedPlan> {
  const shards = opts.shards;
  if (!Number.isInteger(shards) || shards < 1) throw new FlorError('BAD_SHARDS', `--shards must be a whole number >= 1, not ${shards}`, { hint: 'e.g. --plan --shards 4' });
  const from = await resolveCommit(repo, opts.from ?? 'HEAD');
  // Read before the runs are listed: a tip is never older than what the plan saw of it.
  const tips = Object.fromEntries((await listLedgers(repo)).map((l) => [l.ref, l.tip]));
  const report = await replayMissing(repo, names, {
    dryRun: true, workers: shards, at: from, runs: opts.runs, since: opts.since, allowWriters: opts.allowWriters, startupMs: opts.startupMs,
    checkpointsIn: opts.checkpointsIn ?? null,
  });
  const planned = report.outcomes.filter((o) => o.status === 'planned');
  const ids = new Set(planned.map((o) => o.run));
  const segs = report.plan.runs.filter((r) => ids.has(r.run)).flatMap((r) => r.segments);
  // Estimates are rounded: a plan made twice from the same refs must encode to the same bytes.
  const costs = segs.map((s) => Math.round(s.estMs));
  const shardOf = assignShards(costs, shards, segs.map((s) => `${s.run}:${String(s.start).padStart(10, '0')}`));
  const doc: PlanDoc = {
    format: 'flor-plan', version: 1,
    writer: opts.anonymous ? null : await ensureWriter(repo),
    time: opts.anonymous ? null : new Date().toISOString(),
    names: report.names, from, tips, shards,
    runs: planned.map((o) => ({ run: o.run, names: o.names })),
    tasks: segs.map((s, i) => ({ run: s.run, start: s.start, end: s.end, runToEnd: s.runToEnd, estMs: costs[i]!, shard: shardOf[i]! })),
  };
  return { plan: await savePlan(repo, doc), report };
}
