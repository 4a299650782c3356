import type { CommandModule, Options } from 'yargs';
import { requireRepoSync } from '../../store/git.js';
import { replayMissing } from '../../replay/replay.js';
import { describePlan, describeReport, describeWriters, hasFindings } from '../../replay/describe.js';
import { ExitError, UsageError, out } from '../print.js';
import { listHistory } from '../../query/history.js';
import { chosenRunIds } from '../../query/select.js';
import { printWait, progressPrinter } from '../replay-console.js';
import type { ShardArgs } from './replay-shard.js';

type Args = ShardArgs & { 'live-calls': boolean; version: string[] | undefined };

/** Also parsed without yargs (cli/fast.ts): declare every option here. */
export const options = {
  run: { type: 'string', array: true, describe: 'only this run (id or unique prefix); repeatable' },
  version: { type: 'string', array: true, describe: 'only runs of this commit: a branch, tag, rev (HEAD~2) or commit prefix; repeatable (not with --plan/--shard)' },
  workers: { type: 'number', describe: 'replay tasks run at once (default: number of cores)' },
  'dry-run': { type: 'boolean', default: false, describe: 'print the plan and its estimated cost; run nothing' },
  'accept-mismatch': { type: 'boolean', default: false, describe: 'write replayed values even when re-executed statements differ from the recorded ones' },
  'allow-writer': { type: 'string', array: true, describe: "also replay runs of this writer (another clone), which runs its code; repeatable; '*' for every writer" },
  'live-calls': { type: 'boolean', default: true, describe: 'call a flor.memo function that has no recorded value (counted per name); --no-live-calls fails such a replay, and refuses up front runs whose version calls it without flor.memo' },
  plan: { type: 'string', describe: 'without a value (with --shards N): write a plan for N machines and run nothing; with a plan id (with --shard): run one shard of it' },
  shards: { type: 'number', describe: 'how many shards share the replay (with --plan; with --shard auto, the count when the environment lacks it)' },
  shard: { type: 'string', describe: "run only shard I of N (0-based I/N), or 'auto': from JOB_COMPLETION_INDEX+FLOR_SHARDS, SLURM_ARRAY_TASK_ID/COUNT, or FLOR_SHARD/FLOR_SHARDS" },
  from: { type: 'string', describe: "the commit today's code is read from when planning for shards (default HEAD; never the work tree)" },
  checkpoints: { type: 'string', describe: 'when planning for shards: the directory (or file:// URL) the shards fetch checkpoints from; runs are cut only at checkpoints there (default: none, whole runs)' },
  fetch: { type: 'boolean', default: true, describe: 'a shard first runs git flor fetch when the clone has a remote (--no-fetch: not)' },
  json: { type: 'boolean', describe: 'with --plan --shards: print the saved plan as JSON (its id in .id)' },
} satisfies Record<string, Options>;

export const command: CommandModule<object, Args> = {
  command: 'replay [names..]',
  describe: 'Fill in names old runs never logged: propagate today\'s statements into each version and replay it from its checkpoints',
  builder: (y) =>
    y
      .positional('names', { type: 'string', array: true, describe: 'names logged by flor.log in today\'s code (a saved plan has its own)' })
      .options(options)
      .example('$0 replay grad_norm', 'every run lacking grad_norm gets it, replayed from its checkpoints')
      .example('$0 replay grad_norm acc --run 01JD3 --workers 4 --dry-run', 'what it would take for one run, and whose code would run')
      .example('$0 replay grad_norm --version HEAD~1 --dry-run', 'only the runs of the commit before HEAD')
      .example('$0 replay grad_norm --no-live-calls', 'never call a flor.memo function again (an eval\'s model): a call the run did not record fails the replay')
      .example('$0 replay grad_norm --allow-writer 3f2a9c0d1e4b5a67', "also runs fetched from that clone (replay runs their writer's code)")
      .example('$0 replay acc --plan --shards 4 && git flor push', "a pinned plan for 4 machines from HEAD's code: prints its id, each shard's tasks and time")
      .example('$0 replay --plan 1a2b3c4d5e6f --shard 2/4 && git flor push', 'on machine 2 of 4 (--shard auto in a Kubernetes Indexed Job or a Slurm array): its share, pushed to its own ledger')
      .example('$0 checkpoints push /mnt/shared/ckpt && $0 replay acc --plan --shards 4 --checkpoints /mnt/shared/ckpt', 'a plan that may cut runs at the checkpoints the shards will fetch from there')
      .epilog(
        'One replay at a time per clone: a second one says whose replay it waits for, then replays only what is still missing. ' +
          "Runs written by another clone are replayed only when their writer is trusted (--allow-writer, git config flor.trustedWriters): replay runs that writer's code. " +
          'Exit status: 0 all replayed or nothing to do; 1 a run failed, was refused, could not take a statement, or failed the fidelity check ' +
          '(the others are still written); 2 bad input. Details: docs/replay.md',
      ),
  handler: async (argv) => {
    if (argv.plan !== undefined || argv.shard !== undefined) {
      if (argv.version?.length) throw new UsageError('--version does not apply to --plan/--shard (a plan names its runs)', 'replay');
      const { shardHandler } = await import('./replay-shard.js');
      return shardHandler(argv, { onProgress: progressPrinter(), onWait: printWait });
    }
    if (argv.checkpoints !== undefined) {
      throw new UsageError("--checkpoints DIR is read when planning for shards (--plan --shards N, or --shard without a plan); a replay here uses this clone's checkpoints (git flor checkpoints fetch DIR adds others)", 'replay');
    }
    const repo = requireRepoSync(process.cwd());
    let runs = argv.run;
    if (argv.version?.length) {
      const { runs: all, broken } = await listHistory(repo);
      runs = await chosenRunIds(repo, all, broken, argv.run, { version: argv.version.map(String) });
      if (runs.length === 0) return void process.stderr.write('git flor: no run matches --run/--version: nothing to replay\n');
    }
    const r = await replayMissing(repo, (argv.names ?? []).map(String), {
      runs, workers: argv.workers, dryRun: argv['dry-run'], acceptMismatch: argv['accept-mismatch'], onProgress: progressPrinter(), onWait: printWait,
      allowWriters: argv['allow-writer']?.map(String), noLiveCalls: !argv['live-calls'],
    });
    if (argv['dry-run']) {
      await out([...describePlan(r.plan), ...describeWriters(r)].join('\n') + '\n');
      // runs that cannot take a statement or cannot be read, and the ones already complete
      for (const l of describeReport(r)) process.stderr.write(l + '\n');
      return;
    }
    const lines = describeReport(r);
    await out(lines.length ? lines.join('\n') + '\n' : '');
    if (hasFindings(r)) throw new ExitError(1);
  },
};
