/**
 * Replay on many machines: which shard a process is, how a plan's tasks are split between shards,
 * what one shard still has to do, and when the segments shards wrote count as done.
 *
 * A pinned plan (store/plans.ts) lists tasks: a run, an outer-iteration range, the names, today's
 * code. Each shard writes its share to its own clone's ledger, one segment per run whose provenance
 * names the plan and lists the ranges it covers. A run has the plan's names only once every task
 * of the plan for that run is covered, so one shard's share never marks the run done for the rest.
 */
import { FlorError } from '../errors.js';
import { planVouchers, readPlan, type PlanTask, type StoredPlan } from '../store/plans.js';
import { verifyTip } from '../store/signing.js';
import { trusts, trustsLedger, type Trust } from '../store/trust.js';
import type { RepoInfo } from '../store/git.js';
import type { SegmentRef } from '../store/ledger.js';
import type { Segment } from '../store/types.js';
import { DEFAULT_STARTUP_MS, scheduleMs, type Plan, type PlannedSegment, type RunCheckpoints } from './plan.js';

export interface ShardIndex {
  index: number;
  count: number;
  /** Where it came from, for messages: `--shard`, or the environment variables read. */
  source: string;
}

const NAT = /^\d+$/;

function badShard(message: string, hint: string): FlorError {
  return new FlorError('BAD_SHARD', message, { hint });
}

function ranged(index: number, count: number, source: string): ShardIndex {
  if (count < 1) throw badShard(`${source}: the number of shards must be at least 1, not ${count}`, 'e.g. --shard 0/3');
  if (index >= count) throw badShard(`${source}: shard ${index} does not exist among ${count} (shards are numbered from 0)`, `use 0..${count - 1}`);
  return { index, count, source };
}

/**
 * `--shard I/N` (0-based I), or `auto`: the index and count from the environment of the engine
 * running the process (a Kubernetes Indexed Job, a Slurm job array, or FLOR_SHARD/FLOR_SHARDS).
 * `shards`: a count given on the command line (`--shards`), for a Job whose completions are known.
 */
export function parseShard(arg: string, env: NodeJS.ProcessEnv = process.env, shards?: number): ShardIndex {
  const m = /^(\d+)\/(\d+)$/.exec(arg.trim());
  if (m) return ranged(Number(m[1]), Number(m[2]), `--shard ${arg}`);
  if (arg !== 'auto') throw badShard(`--shard takes I/N (0-based shard I of N) or auto, not '${arg}'`, 'e.g. --shard 2/4, or --shard auto inside a Kubernetes Indexed Job or a Slurm job array');
  const num = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    if (!NAT.test(v.trim())) throw badShard(`${name}=${v} is not a whole number`, `check the environment of the job: ${name} must be 0, 1, 2, …`);
    return Number(v.trim());
  };
  const flor = { index: num('FLOR_SHARD'), count: num('FLOR_SHARDS') };
  const found: ShardIndex[] = [];
  const k8s = num('JOB_COMPLETION_INDEX');
  if (k8s !== undefined) {
    const count = flor.count ?? shards;
    if (count === undefined) {
      throw badShard('JOB_COMPLETION_INDEX is set but FLOR_SHARDS (the number of shards) is not',
        "set FLOR_SHARDS to the Job's spec.completions in the container's env (or pass --shards N)");
    }
    found.push(ranged(k8s, count, `JOB_COMPLETION_INDEX=${k8s} of ${count}`));
  }
  const slurm = num('SLURM_ARRAY_TASK_ID');
  if (slurm !== undefined) {
    const count = num('SLURM_ARRAY_TASK_COUNT');
    if (count === undefined) throw badShard('SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not', 'submit with sbatch --array=0-(N-1)');
    // An array may be numbered from 1 (--array=1-4): the index counts from its first task.
    const min = num('SLURM_ARRAY_TASK_MIN') ?? 0;
    if (slurm < min) throw badShard(`SLURM_ARRAY_TASK_ID=${slurm} is below SLURM_ARRAY_TASK_MIN=${min}`, 'check the job array');
    found.push(ranged(slurm - min, count, `SLURM_ARRAY_TASK_ID=${slurm} of ${count}`));
  }
  if (flor.index !== undefined) {
    const count = flor.count ?? shards;
    if (count === undefined) throw badShard('FLOR_SHARD is set but FLOR_SHARDS is not', 'set both: FLOR_SHARD=I FLOR_SHARDS=N');
    found.push(ranged(flor.index, count, `FLOR_SHARD=${flor.index} of ${count}`));
  }
  if (found.length === 0) {
    throw badShard('--shard auto found no shard index in the environment',
      'run it as a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with FLOR_SHARDS), a Slurm job array (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT), or set FLOR_SHARD and FLOR_SHARDS; or give --shard I/N');
  }
  const first = found[0]!;
  const other = found.find((f) => f.index !== first.index || f.count !== first.count);
  if (other) throw badShard(`the environment names two different shards: ${first.source} and ${other.source}`, 'set only one of them, or make them agree');
  if (shards !== undefined && first.count !== shards) throw badShard(`${first.source}, but --shards says ${shards}`, 'make them agree');
  return first;
}

/**
 * Balanced and deterministic: the longest task first to the shard with the least estimated work
 * (the lowest index on a tie), ties between tasks broken by `order`. Every shard computes the same.
 */
export function assignShards(costs: number[], shards: number, order: string[]): number[] {
  const idx = costs.map((_, i) => i).sort((a, b) => costs[b]! - costs[a]! || (order[a]! < order[b]! ? -1 : order[a]! > order[b]! ? 1 : 0));
  const load = new Array<number>(shards).fill(0);
  const out = new Array<number>(costs.length).fill(0);
  for (const i of idx) {
    let m = 0;
    for (let s = 1; s < shards; s++) if (load[s]! < load[m]!) m = s;
    out[i] = m;
    load[m]! += costs[i]!;
  }
  return out;
}

const rangeKey = (start: number, end: number): string => `${start}:${end}`;

/** What counts of a run's segments: the ones a replay may treat as recorded, and the ranges of the pinned plan done. */
export interface Counted {
  segments: Segment[];
  /** Ranges (`start:end`) of the pinned plan covered by its segments, complete or not. */
  done: Set<string>;
}

/**
 * The completion rule. A forward segment counts; a replay segment of a trusted writer counts. A
 * segment naming a plan counts when its writer is trusted, or the writer who saved the plan is
 * (the shards of one's own plan write under writer ids of their own), or it is the plan this shard
 * runs; and then only when every task of that plan for the run is covered by such segments. A
 * segment whose plan this clone does not have counts for nothing: it may hold only part of a run.
 * The plan's saver is the writer its `writer` field names only when a ledger of that writer that
 * this clone believes (trustsLedger; with `verify`, under a good signature on its tip) vouches for
 * the plan (store/plans.ts planVouchers): anyone can push a plan naming a trusted writer.
 */
export function segmentCounter(repo: RepoInfo, trust: Trust, pinned?: StoredPlan, verify = false): (segs: Array<{ ref: SegmentRef; seg: Segment }>) => Promise<Counted> {
  const savers = new Map<string, Promise<boolean>>(); // plan id -> saved by a trusted writer
  const savedByTrusted = (p: StoredPlan): Promise<boolean> => {
    let v = savers.get(p.id);
    if (!v) {
      const w = p.writer;
      v = w !== null && trusts(trust, w)
        ? planVouchers(repo, p).then(async (ls) => {
          for (const l of ls) if (trustsLedger(trust, w, l.ref) && (!verify || (await verifyTip(repo, l.tip)).good)) return true;
          return false;
        })
        : Promise.resolve(false);
      savers.set(p.id, v);
    }
    return v;
  };
  const tasksOf = new Map<string, Map<string, Set<string>>>(); // plan -> run -> ranges
  const rangesOf = (p: StoredPlan, run: string): Set<string> => {
    let m = tasksOf.get(p.id);
    if (!m) {
      m = new Map();
      for (const t of p.tasks) {
        const s = m.get(t.run) ?? new Set<string>();
        s.add(rangeKey(t.start, t.end));
        m.set(t.run, s);
      }
      tasksOf.set(p.id, m);
    }
    return m.get(run) ?? new Set();
  };
  return async (segs) => {
    const out: Segment[] = [];
    const byPlan = new Map<string, Segment[]>();
    for (const { ref, seg } of segs) {
      const planId = seg.provenance?.plan;
      if (ref.name === 'forward') out.push(seg);
      else if (planId) byPlan.set(planId, [...(byPlan.get(planId) ?? []), seg]);
      else if (trustsLedger(trust, ref.writer, ref.ledger)) out.push(seg);
    }
    const writers = new Map(segs.map(({ ref, seg }) => [seg, ref.writer]));
    const done = new Set<string>();
    for (const [id, list] of byPlan) {
      const p = pinned?.id === id ? pinned : await readPlan(repo, id);
      if (!p) continue;
      const byPlanWriter = await savedByTrusted(p);
      const eligible = list.filter((s) => p === pinned || byPlanWriter || trusts(trust, writers.get(s)!));
      const covered = new Set(eligible.flatMap((s) => s.provenance!.segments.map(([a, b]) => rangeKey(a, b))));
      if (p === pinned) for (const r of covered) done.add(r);
      const run = eligible[0]?.run;
      if (run === undefined) continue;
      const need = rangesOf(p, run);
      if (need.size > 0 && [...need].every((r) => covered.has(r))) out.push(...eligible);
    }
    return { segments: out, done };
  };
}

/** One shard's share of a plan, as the replay takes it (ReplayOptions.shard). */
export interface ShardShare {
  plan: StoredPlan;
  index: number;
  /** The runs with tasks of this shard. */
  runs: string[];
  /** The plan's names for `run` when this shard still has tasks of it not in `done`, else []; remembers those tasks. */
  take(run: string, done: Set<string>): string[];
  /** The plan with each run's segments replaced by this shard's remaining tasks of it. */
  pin(plan: Plan, checkpoints: Map<string, RunCheckpoints>): Plan;
}

export function shardShare(plan: StoredPlan, index: number): ShardShare {
  const mine = new Map<string, PlanTask[]>();
  for (const t of plan.tasks) if (t.shard === index) mine.set(t.run, [...(mine.get(t.run) ?? []), t]);
  const namesOf = new Map(plan.runs.map((r) => [r.run, r.names]));
  const pending = new Map<string, PlanTask[]>();
  return {
    plan,
    index,
    runs: [...mine.keys()].sort(),
    take(run, done) {
      const left = (mine.get(run) ?? []).filter((t) => !done.has(rangeKey(t.start, t.end))).sort((a, b) => a.start - b.start);
      pending.set(run, left);
      return left.length ? namesOf.get(run) ?? plan.names : [];
    },
    pin(p, checkpoints) {
      const runs = p.runs.map((rp) => {
        const ck = new Map<number, string>();
        const c = checkpoints.get(rp.run);
        c?.iters.forEach((it, i) => ck.set(it, c.keys[i]!));
        const startupMs = rp.segments[0]?.startupMs ?? DEFAULT_STARTUP_MS;
        // The plan's ranges, with whatever checkpoints this clone has: a range whose start has none
        // runs the iterations before it muted (the runtime's rule), slower but the same values.
        const segments: PlannedSegment[] = (pending.get(rp.run) ?? []).map((t, index) => {
          const ckptKeys: Record<string, string> = {};
          if (rp.skipInner.length) for (let i = t.start; i < t.end; i++) { const k = ck.get(i); if (k) ckptKeys[String(i)] = k; }
          return {
            run: rp.run, index, start: t.start, end: t.end, runToEnd: t.runToEnd,
            restoreFrom: t.start === 0 ? null : ck.get(t.start - 1) ?? null,
            skipInner: rp.skipInner, ckptKeys, estMs: t.estMs, startupMs,
          };
        });
        return { ...rp, segments, estMs: segments.reduce((a, s) => a + s.estMs, 0) };
      });
      const costs = runs.flatMap((r) => r.segments.map((s) => s.estMs));
      return { ...p, runs, tasks: costs.length, estSerialMs: costs.reduce((a, b) => a + b, 0), estWallMs: scheduleMs(costs, p.workers) };
    },
  };
}
