import type { CommandModule } from 'yargs';
import { requireRepoSync } from '../../store/git.js';
import { segmentCache } from '../../store/ledger.js';
import { logView } from '../../query/runs.js';
import { parseSince } from '../../query/since.js';
import { formatter } from '../../query/formats.js';
import { warnBroken, writeFormatted, ExitError } from '../print.js';

const FORMATS = ['table', 'csv', 'json', 'ndjson', 'md'] as const;

interface Args {
  names: string[];
  format: string;
  run: string[] | undefined;
  since: string | undefined;
  replay: boolean;
  workers: number | undefined;
}

export const command: CommandModule<object, Args> = {
  command: 'log <names..>',
  describe: 'One table of logged values across every run of every version',
  builder: (y) =>
    y
      .positional('names', { type: 'string', array: true, demandOption: true, describe: 'logged names (or args) to show, one column each' })
      .option('format', { choices: FORMATS, default: 'table', describe: 'output format' })
      .option('run', { type: 'string', array: true, describe: 'only this run (id or unique prefix); repeatable' })
      .option('since', { type: 'string', describe: "only runs started since this date ('2026-01-31', '3 days ago')" })
      .option('replay', { type: 'boolean', default: false, describe: 'first replay old runs that lack a name today\'s code logs (see `git flor replay`)' })
      .option('workers', { type: 'number', describe: 'with --replay: worker threads (default: number of cores)' })
      .example('$0 log loss acc', 'rows keyed by run, version, time, file and loop iterations')
      .example('$0 log lr loss --format csv > runs.csv', 'args can be columns too')
      .example('$0 log loss --run 01JD3 --since "2 days ago" --format json', 'one run, as JSON rows'),
  handler: async (argv) => {
    const f = formatter(argv.format, FORMATS);
    const since = argv.since === undefined ? undefined : parseSince(argv.since);
    const repo = requireRepoSync(process.cwd());
    // The replay reads every chosen run's segments to see what is missing; the table needs the
    // same ones again (plus any segment the replay added, which is a new oid).
    const segments = argv.replay ? segmentCache(repo) : undefined;
    // Loaded only when asked for: the replay machinery would add to every `git flor log` start.
    const replayStatus = argv.replay ? await (await import('./replay.js')).replayForLog(repo, argv.names.map(String), { runs: argv.run, since, workers: argv.workers, segments }) : 0;
    const view = await logView(repo, { names: argv.names.map(String), runs: argv.run, since, segments });
    warnBroken(view.broken);
    if (view.missing.length > 0) {
      const which = view.missing.map((n) => `'${n}'`).join(', ');
      process.stderr.write(
        view.runCount === 0
          ? argv.run || argv.since
            ? 'git flor: no run matches --run/--since\nhint: `git flor runs` lists them all\n'
            : "git flor: no runs recorded yet\nhint: run a script that does `import { flor } from 'git-flor'`\n"
          : `git flor: ${which} ${view.missing.length === 1 ? 'was' : 'were'} never logged by ${view.runCount === 1 ? 'this run' : `these ${view.runCount} runs`}\n` +
              `hint: known names: ${view.known.length ? view.known.join(', ') : '(none)'}\n`,
      );
    }
    await writeFormatted(f, view.table);
    if (replayStatus !== 0) throw new ExitError(replayStatus);
  },
};
