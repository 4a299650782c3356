import type { CommandModule } from 'yargs';
import { checkTag, namedRuns, writeMarks } from '../marking.js';

interface Args {
  run: string;
  tags: string[];
}

export const command: CommandModule<object, Args> = {
  command: 'tag <run> <tags..>',
  describe: "Tag a run: its tags show in runs and show, and `--where \"tag = 'x'\"` picks it",
  builder: (y) =>
    y
      .positional('run', { type: 'string', demandOption: true, describe: 'run id or unique prefix' })
      .positional('tags', { type: 'string', array: true, demandOption: true, describe: 'one word each' })
      .example('$0 tag 01JD3 baseline', 'then: git flor runs --where "tag = \'baseline\'"')
      .example('$0 tag 01JD3 best lr-sweep', 'several tags at once'),
  handler: async (argv) => {
    const tags = argv.tags.map((t) => checkTag(String(t)));
    const m = await namedRuns([argv.run]);
    await writeMarks(m, 'tag', tags, (r) => `run ${r.id} tagged ${tags.join(', ')}`);
  },
};
