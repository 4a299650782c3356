/**
 * The many-machines side of `git flor replay`: `--plan --shards N` writes a pinned plan,
 * `--plan ID --shard I/N|auto` runs one shard of it (after a fetch), `--shard` alone plans on the
 * spot. docs/replay.md, "Replay on many machines".
 */
import { statSync } from 'node:fs';
import type { RepoInfo } from '../../store/git.js';
import { requireRepoSync } from '../../store/git.js';
import { FlorError } from '../../errors.js';
import { findPlan, type StoredPlan } from '../../store/plans.js';
import { replayMissing, type ReplayOptions } from '../../replay/replay.js';
import { parseShard, shardShare } from '../../replay/shard.js';
import { describePlan, describeReport, hasFindings, ms } from '../../replay/describe.js';
import type { ShardedPlan } from '../../replay/shard-plan.js';
import { ExitError, out, UsageError } from '../print.js';

export interface ShardArgs {
  names: string[] | undefined;
  run: string[] | undefined;
  workers: number | undefined;
  'dry-run': boolean;
  'accept-mismatch': boolean;
  'allow-writer': string[] | undefined;
  plan: string | undefined;
  shards: number | undefined;
  shard: string | undefined;
  from: string | undefined;
  checkpoints: string | undefined;
  fetch: boolean;
  json: boolean | undefined;
}

/** `--checkpoints DIR`: the directory shards fetch checkpoints from, which must exist. */
async function shardCheckpoints(target: string | undefined): Promise<string | undefined> {
  if (target === undefined) return undefined;
  const { checkpointRemoteDir } = await import('../../store/checkpoint-transfer.js');
  const dir = checkpointRemoteDir(String(target), process.cwd());
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new FlorError('CKPT_REMOTE_MISSING', `--checkpoints: no checkpoint directory at ${dir}`, {
      hint: `push some first, in the clone that recorded the runs: git flor checkpoints push ${target}`,
    });
  }
  return dir;
}

export async function shardHandler(argv: ShardArgs, hooks: Pick<ReplayOptions, 'onProgress' | 'onWait'>): Promise<void> {
  const repo = requireRepoSync(process.cwd());
  const names = (argv.names ?? []).map(String);
  const allowWriters = argv['allow-writer']?.map(String);
  if (argv.plan === '') {
    if (argv.shard !== undefined) throw new UsageError('--plan without an id writes a plan and runs nothing; run a shard of it with --plan ID --shard I/N', 'replay');
    if (argv.shards === undefined) throw new UsageError('--plan needs --shards N: the number of machines (or jobs) that will share the replay', 'replay');
    if (names.length === 0) throw new UsageError('name the values to replay: git flor replay NAME... --plan --shards N', 'replay');
    const { planShards } = await import('../../replay/shard-plan.js');
    const r = await planShards(repo, names, { shards: argv.shards, from: argv.from, runs: argv.run, allowWriters, checkpointsIn: await shardCheckpoints(argv.checkpoints) });
    if (argv.json) return out(JSON.stringify(r.plan) + '\n');
    for (const l of describeReport(r.report)) process.stderr.write(l + '\n');
    return out(describeShardPlan(r).join('\n') + '\n');
  }
  if (argv.shard === undefined) throw new UsageError(`--plan ${argv.plan} runs one shard of that plan: add --shard I/N (0-based) or --shard auto`, 'replay');
  const shard = parseShard(argv.shard, process.env, argv.shards);
  // Refused before the fetch: what a saved plan already decided.
  if (argv.plan !== undefined && argv.from !== undefined) throw new UsageError('--from is read when the plan is made; a saved plan keeps its own', 'replay');
  if (argv.plan !== undefined && argv.checkpoints !== undefined) {
    throw new UsageError(`--checkpoints is read when a plan is made; plan ${argv.plan} keeps its own cuts (fetch the checkpoints with git flor checkpoints fetch DIR --plan ${argv.plan})`, 'replay');
  }
  if (argv.fetch) await fetchFirst(repo);
  let plan: StoredPlan;
  if (argv.plan !== undefined) {
    const found = await findPlan(repo, argv.plan);
    if (!found) {
      throw new FlorError('PLAN_NOT_FOUND', `no replay plan ${argv.plan} in this clone`, {
        hint: 'push it from the clone that made it (`git flor push`), then `git flor fetch` here (a shard fetches by itself unless --no-fetch)',
      });
    }
    plan = found;
    if (names.length && names.join('\0') !== plan.names.join('\0')) throw new UsageError(`plan ${plan.id} replays ${plan.names.join(', ')}: leave the names out, or give exactly those`, 'replay');
  } else {
    if (names.length === 0) throw new UsageError('name the values to replay, or give a saved plan: --plan ID', 'replay');
    const { planShards } = await import('../../replay/shard-plan.js');
    plan = (await planShards(repo, names, { shards: shard.count, from: argv.from, runs: argv.run, allowWriters, anonymous: true, checkpointsIn: await shardCheckpoints(argv.checkpoints) })).plan;
  }
  if (plan.shards !== shard.count) {
    throw new FlorError('SHARD_COUNT', `plan ${plan.id} is split into ${plan.shards} shard(s), but this is shard ${shard.index} of ${shard.count} (${shard.source})`, {
      hint: `run ${plan.shards} shards (completions / array size ${plan.shards}), or make a plan with --shards ${shard.count}`,
    });
  }
  const share = shardShare(plan, shard.index);
  const mine = plan.tasks.filter((t) => t.shard === shard.index);
  process.stderr.write(`git flor: shard ${shard.index}/${shard.count} of plan ${plan.id}: ${mine.length} task(s) of ${share.runs.length} run(s), ~${ms(mine.reduce((a, t) => a + t.estMs, 0))}\n`);
  if (share.runs.length === 0) return;
  const r = await replayMissing(repo, plan.names, {
    runs: share.runs, shard: share, workers: argv.workers, dryRun: argv['dry-run'], acceptMismatch: argv['accept-mismatch'], allowWriters, ...hooks,
  });
  if (argv['dry-run']) {
    await out(describePlan(r.plan).join('\n') + '\n');
    for (const l of describeReport(r)) process.stderr.write(l + '\n');
    return;
  }
  const lines = describeReport(r);
  if (r.complete.length) lines.push(`${r.complete.length} run(s) of this shard already done (their segments are in)`);
  await out(lines.join('\n') + '\n');
  if (hasFindings(r)) throw new ExitError(1);
}

/** The shard sees what the others pushed, so a retried shard does only what is not in yet. */
async function fetchFirst(repo: RepoInfo): Promise<void> {
  const { configuredRemotes } = await import('../../store/git-config.js');
  if (configuredRemotes(repo).length === 0) return;
  const { fetchLedgers } = await import('../../sync/transport.js');
  await fetchLedgers(repo);
}

function describeShardPlan({ plan, report }: ShardedPlan): string[] {
  const runs = new Set(plan.tasks.map((t) => t.run));
  const lines = [`plan ${plan.id}: ${plan.tasks.length} task(s) of ${runs.size} run(s) in ${plan.shards} shard(s); names ${plan.names.join(', ')}; code ${plan.from.slice(0, 12)}`];
  for (let s = 0; s < plan.shards; s++) {
    const tasks = plan.tasks.filter((t) => t.shard === s);
    lines.push(`shard ${s}: ${tasks.length} task(s), ~${ms(tasks.reduce((a, t) => a + t.estMs, 0))}`);
    for (const t of tasks) lines.push(`  run ${t.run} iterations [${t.start}..${t.end})${t.runToEnd ? '+' : ''} ~${ms(t.estMs)}`);
  }
  const writers = report.writers.filter((w) => w.trustedBy !== null && w.runs.some((r) => runs.has(r))).map((w) => w.writer);
  if (writers.length) lines.push(`each shard runs code of writer(s) ${writers.join(', ')}: give it --allow-writer ${writers.join(' --allow-writer ')} (or git config flor.trustedWriters)`);
  lines.push(`next: git flor push; then on each machine: git flor replay --plan ${plan.id} --shard I/${plan.shards} (or --shard auto), then git flor push`);
  return lines;
}
