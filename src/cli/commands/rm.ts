import type { CommandModule } from 'yargs';
import { namedRuns, writeMarks } from '../marking.js';

interface Args {
  runs: string[];
  undo: boolean;
}

export const command: CommandModule<object, Args> = {
  command: 'rm <runs..>',
  describe: 'Hide runs from every view (`--all` shows them); nothing is deleted, `rm --undo` restores them',
  builder: (y) =>
    y
      .positional('runs', { type: 'string', array: true, demandOption: true, describe: 'run ids or unique prefixes' })
      .option('undo', { type: 'boolean', default: false, describe: 'restore runs removed before' })
      .example('$0 rm 01JD3 01JD4', 'two runs no view shows any more (git flor runs --all still lists them)')
      .example('$0 rm --undo 01JD3', 'back in every view')
      .epilog('A removal is a record in this clone\'s ledger: it travels with push and fetch, and counts in another clone when you wrote the run or that clone trusts you. `git flor gc` then deletes the local checkpoints of removed runs.'),
  handler: async (argv) => {
    const m = await namedRuns(argv.runs.map(String));
    const undo = argv.undo;
    await writeMarks(m, undo ? 'unrm' : 'rm', [null], (r) => (undo ? `run ${r.id} restored` : `run ${r.id} removed (git flor rm --undo ${r.id.slice(0, 10)} restores it)`));
  },
};
