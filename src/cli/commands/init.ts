import type { CommandModule } from 'yargs';
import { requireRepoSync } from '../../store/git.js';
import type { InitReport } from '../../sync/install.js';
import { out } from '../print.js';

export function initText(r: InitReport): string {
  let t = `writer ${r.writer}${r.writerCreated ? ' (new)' : ''}\n`;
  t += `git log shows runs: notes.displayRef refs/flor/notes ${r.displayRef === 'added' ? 'added' : 'already set'}\n`;
  for (const f of r.fetch) t += `remote ${f.remote}: plain \`git fetch\` brings other clones' ledgers ${f.added ? '(refspec added)' : '(already set)'}\n`;
  if (r.place.husky) t += `husky detected (core.hooksPath=${r.place.hooksPath}): flor's block goes in ${r.place.dir}/<hook>, which husky runs\n`;
  else if (r.place.hooksPath) t += `core.hooksPath=${r.place.hooksPath}: hooks in ${r.place.dir}\n`;
  const how = { created: 'installed', block: 'added a flor block to your hook', wrapped: 'wrapped your hook (kept as <hook>.pre-flor)', updated: 'up to date' };
  for (const h of r.hooks) t += `hook ${h.name}: ${how[h.action]} (${h.path})\n`;
  for (const n of r.notes) t += `note: ${n}\n`;
  return t;
}

export const command: CommandModule<object, { json?: boolean }> = {
  command: 'init',
  describe: 'Set up this clone: writer id, hooks, `git log` display of runs, fetch of other clones\' run history (idempotent)',
  builder: (y) =>
    y
      .option('json', { type: 'boolean', describe: 'print what was done as JSON' })
      .example('$0 init', 'once per clone; safe to re-run (after moving git-flor); remotes added later are set up on their first push or fetch'),
  handler: async (argv) => {
    const r = await (await import('../../sync/install.js')).init(requireRepoSync(process.cwd()));
    await out(argv.json ? JSON.stringify(r, null, 2) + '\n' : initText(r));
  },
};
