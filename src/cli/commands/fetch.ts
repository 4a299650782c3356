import type { CommandModule } from 'yargs';
import { requireRepoSync } from '../../store/git.js';
import { out, UsageError } from '../print.js';
import { namedRemote } from '../remote-arg.js';

export const command: CommandModule<object, { remote?: string; all?: boolean; json?: boolean }> = {
  command: 'fetch [remote]',
  describe: "Fetch other clones' run history into refs/flor/remotes/<remote>/ and rebuild the notes index",
  builder: (y) =>
    y
      .positional('remote', { type: 'string', describe: 'remote name, path or URL (default: the branch\'s remote, or origin)' })
      .option('all', { type: 'boolean', describe: 'fetch from every configured remote' })
      .option('json', { type: 'boolean', describe: 'print the result as JSON' })
      .example('$0 fetch', "then `git flor runs` lists teammates' runs too"),
  handler: async (argv) => {
    const { fetchLedgers, remoteConfigLine } = await import('../../sync/transport.js');
    const remote = namedRemote('fetch', argv);
    if (remote !== undefined && argv.all) throw new UsageError(`--all fetches from every remote: do not name one (${remote})`, 'fetch');
    const rs = await fetchLedgers(requireRepoSync(process.cwd()), { remote, all: argv.all });
    for (const r of rs) if (r.remoteConfig) process.stderr.write(remoteConfigLine(r.remote, r.remoteConfig));
    if (argv.json) return out(JSON.stringify(rs) + '\n');
    let t = '';
    for (const r of rs) {
      t += r.updated.length ? `${r.remote}: ${r.updated.length} ledger(s) updated in ${r.namespace}\n` : `${r.remote}: up to date\n`;
      for (const u of r.updated) t += `  ${u.ref.slice(r.namespace.length)} ${u.old ? u.old.slice(0, 7) : '(new)'} -> ${u.new ? u.new.slice(0, 7) : '(gone)'}\n`;
    }
    await out(t);
  },
};
