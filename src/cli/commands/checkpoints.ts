import type { CommandModule } from 'yargs';
import { requireRepoSync, type RepoInfo } from '../../store/git.js';
import { FlorError } from '../../errors.js';
import { ExitError, out, UsageError } from '../print.js';

interface Args {
  action: string;
  dir: string;
  run: string[] | undefined;
  plan: string | undefined;
  json: boolean | undefined;
}

/** The checkpoint keys of some runs (their manifests, read from the ledgers). */
async function keysOf(repo: RepoInfo, runs: string[]): Promise<string[]> {
  const { resolveRun, readCheckpointManifest } = await import('../../store/ledger.js');
  const keys = new Set<string>();
  for (const id of runs) {
    const r = await resolveRun(repo, id);
    if (r.ckpt) for (const k of (await readCheckpointManifest(repo, r.ckpt)).keys) keys.add(k);
  }
  return [...keys].sort();
}

export const command: CommandModule<object, Args> = {
  command: 'checkpoints <action> <dir>',
  describe: 'Copy checkpoints between this clone and a shared directory (push or fetch), so replays elsewhere can start from them',
  builder: (y) =>
    y
      .positional('action', { type: 'string', choices: ['push', 'fetch'], demandOption: true, describe: 'push: this clone -> DIR; fetch: DIR -> this clone' })
      .positional('dir', { type: 'string', demandOption: true, describe: 'a directory (shared disk, NFS, mounted bucket) or a file:// URL' })
      .option('run', { type: 'string', array: true, describe: 'only the checkpoints of this run (id or unique prefix); repeatable' })
      .option('plan', { type: 'string', describe: 'only the checkpoints of the runs of this replay plan' })
      .option('json', { type: 'boolean', describe: 'print the result as JSON' })
      .example('$0 checkpoints push /mnt/shared/flor-ckpt', "every checkpoint of this clone, into the shared directory (only what it lacks)")
      .example('$0 checkpoints fetch /mnt/shared/flor-ckpt --plan 1a2b3c4d5e6f', "on a shard's machine: the checkpoints its plan's runs need, before replaying")
      .epilog(
        'Checkpoints are files under .git/flor/ckpt/, named by the hash of their content: git push never carries them. ' +
          'Both directions only add files, so many clones may push into one directory at once; fetched files are checked against their names. ' +
          'Details: docs/replay.md, "Checkpoints on other machines"',
      ),
  handler: async (argv) => {
    const repo = requireRepoSync(process.cwd());
    const { checkpointRemoteDir, pushCheckpoints, fetchCheckpoints } = await import('../../store/checkpoint-transfer.js');
    const dir = checkpointRemoteDir(String(argv.dir), process.cwd());
    if (argv.run?.length && argv.plan !== undefined) throw new UsageError('give --run or --plan, not both', 'checkpoints');
    let keys: string[] | undefined;
    if (argv.run?.length) keys = await keysOf(repo, argv.run.map(String));
    else if (argv.plan !== undefined) {
      const { findPlan } = await import('../../store/plans.js');
      const plan = await findPlan(repo, String(argv.plan));
      if (!plan) throw new FlorError('PLAN_NOT_FOUND', `no replay plan ${argv.plan} in this clone`, { hint: '`git flor fetch` first' });
      keys = await keysOf(repo, plan.runs.map((r) => r.run));
    }
    const t = argv.action === 'push' ? await pushCheckpoints(repo.commonDir, dir, keys) : await fetchCheckpoints(repo.commonDir, dir, keys);
    if (argv.json) return out(JSON.stringify({ dir, ...t }) + '\n');
    const mb = (t.bytes / 1048576).toFixed(1);
    const lines = [`${argv.action === 'push' ? 'pushed' : 'fetched'} ${t.copied} checkpoint(s) (${mb} MiB) ${argv.action === 'push' ? 'to' : 'from'} ${dir}; ${t.present} already there`];
    if (t.missing.length) lines.push(`${t.missing.length} checkpoint(s) not found at the source (${argv.action === 'push' ? 'this clone' : dir}): replay goes without them`);
    if (t.damaged.length) lines.push(`${t.damaged.length} checkpoint(s) in ${dir} do not match their names and were not fetched: ${t.damaged.map((k) => k.slice(0, 12)).join(', ')}`);
    await out(lines.join('\n') + '\n');
    if (t.damaged.length) throw new ExitError(1);
  },
};
