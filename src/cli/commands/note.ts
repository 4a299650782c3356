import type { CommandModule } from 'yargs';
import { namedRuns, writeMarks } from '../marking.js';

interface Args {
  run: string;
  text: string;
}

export const command: CommandModule<object, Args> = {
  command: 'note <run> <text>',
  describe: 'Give a run a note (replacing its note; "" clears it): shown in runs and show',
  builder: (y) =>
    y
      .positional('run', { type: 'string', demandOption: true, describe: 'run id or unique prefix' })
      .positional('text', { type: 'string', demandOption: true, describe: 'the note (one line); "" clears it' })
      .example('$0 note 01JD3 "diverged after epoch 3: lr too high"', 'the note shows in git flor runs and git flor show')
      .example('$0 note 01JD3 ""', 'clears the note'),
  handler: async (argv) => {
    const text = String(argv.text).replace(/[\r\n]+/g, ' ').trim();
    const m = await namedRuns([argv.run]);
    await writeMarks(m, 'note', [text], (r) => (text ? `run ${r.id} noted` : `run ${r.id}: note cleared`));
  },
};
