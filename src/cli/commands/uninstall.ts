import type { CommandModule } from 'yargs';
import { requireRepoSync } from '../../store/git.js';
import { out } from '../print.js';

export const command: CommandModule<object, { json?: boolean }> = {
  command: 'uninstall',
  describe: 'Remove the hooks and config that `git flor init` added (run history in refs/flor is kept)',
  builder: (y) =>
    y.option('json', { type: 'boolean', describe: 'print what was removed as JSON' }).example('$0 uninstall', 'restores your own hooks and config exactly'),
  handler: async (argv) => {
    const r = await (await import('../../sync/install.js')).uninstall(requireRepoSync(process.cwd()));
    if (argv.json) return out(JSON.stringify(r, null, 2) + '\n');
    const how = { deleted: 'removed', unblocked: 'flor block removed', unwrapped: 'your original hook restored', absent: '' };
    let t = '';
    for (const h of r.hooks) t += `hook ${h.path}: ${how[h.action]}\n`;
    for (const c of r.config) t += `config removed: ${c}\n`;
    if (r.writerRemoved) t += 'config removed: flor.writer (no run was recorded with it)\n';
    if (!t) t = 'nothing to remove: git flor is not installed here\n';
    t += 'run history (refs/flor/*, .git/flor) is kept\n';
    await out(t);
  },
};
