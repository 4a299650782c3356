import type { CommandModule } from 'yargs';
import { requireRepoSync } from '../../store/git.js';
import { listRuns } from '../../query/runs.js';
import { formatter } from '../../query/formats.js';
import { warnBroken, writeFormatted } from '../print.js';

const FORMATS = ['table', 'json', 'csv'] as const;

interface Args {
  format: string;
}

export const command: CommandModule<object, Args> = {
  command: 'runs',
  describe: 'List every captured run (all versions, all clones fetched)',
  builder: (y) =>
    y
      .option('format', { choices: FORMATS, default: 'table', describe: 'output format' })
      .example('$0 runs', 'one line per run, oldest first')
      .example('$0 runs --format json', 'for scripts: args stay an object, dirty a boolean'),
  handler: async (argv) => {
    const repo = requireRepoSync(process.cwd());
    const { table, broken } = await listRuns(repo);
    warnBroken(broken);
    if (table.length === 0 && argv.format === 'table') {
      process.stderr.write('no runs recorded yet\nhint: run a script that does `import { flor } from \'git-flor\'`\n');
      return;
    }
    await writeFormatted(formatter(argv.format, FORMATS), table);
  },
};
