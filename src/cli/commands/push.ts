import type { CommandModule } from 'yargs';
import { requireRepoSync } from '../../store/git.js';
import { out } from '../print.js';
import { namedRemote } from '../remote-arg.js';

export const command: CommandModule<object, { remote?: string; json?: boolean }> = {
  command: 'push [remote]',
  describe: "Push this clone's run history (its ledger ref) to a remote; `git push` does it too once `git flor init` ran",
  builder: (y) =>
    y
      .positional('remote', { type: 'string', describe: 'remote name, path or URL (default: where `git push` goes)' })
      .option('json', { type: 'boolean', describe: 'print the result as JSON' })
      .example('$0 push origin', "send this clone's runs (and its replay plans, refs/flor/plans/*) to origin"),
  handler: async (argv) => {
    const { pushLedger, remoteConfigLine } = await import('../../sync/transport.js');
    const { pushPlans } = await import('../../sync/plans.js');
    const repo = requireRepoSync(process.cwd());
    const remote = namedRemote('push', argv);
    const r = await pushLedger(repo, remote);
    if (r.remoteConfig) process.stderr.write(remoteConfigLine(r.remote, r.remoteConfig));
    const plans = await pushPlans(repo, remote);
    if (argv.json) return out(JSON.stringify({ ...r, ...(plans.pushed.length || plans.upToDate ? { plans } : {}) }) + '\n');
    const msg = { pushed: `pushed ${r.ref} to ${r.remote}`, 'up-to-date': `${r.remote} already has ${r.ref}`, nothing: 'no run recorded in this clone yet: nothing to push' };
    const planLine = plans.pushed.length ? `pushed replay plan(s) ${plans.pushed.join(', ')}\n` : '';
    await out(msg[r.status] + '\n' + planLine);
  },
};
