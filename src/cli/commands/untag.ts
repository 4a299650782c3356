import type { CommandModule } from 'yargs';
import { checkTag, namedRuns, writeMarks } from '../marking.js';

interface Args {
  run: string;
  tags: string[];
}

export const command: CommandModule<object, Args> = {
  command: 'untag <run> <tags..>',
  describe: 'Take tags off a run',
  builder: (y) =>
    y
      .positional('run', { type: 'string', demandOption: true, describe: 'run id or unique prefix' })
      .positional('tags', { type: 'string', array: true, demandOption: true, describe: 'tags to take off' })
      .example('$0 untag 01JD3 baseline', 'the run is no longer tagged baseline'),
  handler: async (argv) => {
    const tags = argv.tags.map((t) => checkTag(String(t)));
    const m = await namedRuns([argv.run]);
    await writeMarks(m, 'untag', tags, (r) => `run ${r.id} untagged ${tags.join(', ')}`);
  },
};
