import type { CommandModule, Options } from 'yargs';
import { requireRepoSync } from '../../store/git.js';
import { repoHistory } from '../../query/runs.js';
import { summarizeRuns, summaryTable } from '../../query/summary.js';
import { formatter, styledTable } from '../../query/formats.js';
import { runFilter, STATUSES } from '../../query/select.js';
import { abbreviateIds, terminalStyle } from '../table-style.js';
import { noRunsHint } from '../hints.js';
import { warnBroken, writeFormatted } from '../print.js';
import { checkOutput, writeParquetOutput } from '../output.js';

const FORMATS = ['table', 'json', 'ndjson', 'csv', 'md', 'parquet'] as const;

interface Args {
  format: string;
  col: string[] | undefined;
  where: string | undefined;
  sort: string[] | undefined;
  limit: number | undefined;
  'only-changed': boolean;
  output: string | undefined;
  version: string[] | undefined;
  status: string[] | undefined;
  script: string[] | undefined;
  since: string | undefined;
  all: boolean;
}

/** Also parsed without yargs (cli/fast.ts): declare every option here. */
export const options = {
  col: { type: 'string', array: true, describe: 'a column: NAME (last value), last|first|min|max|mean|count(NAME), NAME@LOOP=K, an arg, arg.NAME; repeatable' },
  where: { type: 'string', describe: "keep the runs where this holds, e.g. \"max(acc) > 0.9 and status = 'ok'\"" },
  sort: { type: 'string', array: true, describe: 'sort by a column, -COL for descending; repeatable (later ones break ties)' },
  limit: { alias: 'n', type: 'number', describe: 'at most N rows (after sorting)' },
  'only-changed': { type: 'boolean', default: false, describe: 'hide the columns whose value is the same in every row' },
  format: { choices: FORMATS, default: 'table', describe: 'output format (parquet needs --output)' },
  output: { alias: 'o', type: 'string', describe: 'write to this file instead of stdout' },
  version: { type: 'string', array: true, describe: 'only runs of this commit: a branch, tag, rev (HEAD~2) or commit prefix; repeatable' },
  status: { type: 'string', array: true, choices: STATUSES, describe: 'only runs that ended so; repeatable' },
  script: { type: 'string', array: true, describe: 'only runs of this entry script (its path, or its last part: train.mjs); repeatable' },
  since: { type: 'string', describe: "only runs started since this date ('2026-01-31', '3 days ago')" },
  all: { type: 'boolean', default: false, describe: 'also the runs removed with `git flor rm`' },
} satisfies Record<string, Options>;

export const command: CommandModule<object, Args> = {
  command: 'runs',
  describe: 'One row per run of every version: args and logged values, filtered and sorted',
  builder: (y) =>
    y
      .options(options)
      .example('$0 runs', 'args and the last value of each name logged outside an inner loop')
      .example('$0 runs --sort -acc -n 3', 'the three runs with the best final accuracy')
      .example("$0 runs --col lr --col 'max(acc)' --col 'loss@epoch=1' --where \"max(acc) > 0.5\"", 'chosen columns, filtered')
      .example("$0 runs --where \"version = 'a1b2c3' and status = 'ok'\" --only-changed", 'one commit: only what differs between its runs')
      .example('$0 runs --version main --status ok --since yesterday', "the runs of main's head that ended well, started since yesterday")
      .example('$0 runs --format json', 'for scripts: args stay one object'),
  handler: async (argv) => {
    checkOutput(argv.format, argv.output);
    const f = argv.format === 'parquet' ? null : formatter(argv.format, FORMATS);
    const repo = requireRepoSync(process.cwd());
    const history = await repoHistory(repo, undefined, { all: argv.all });
    const all = history.runs;
    const keep = await runFilter(repo, { version: argv.version?.map(String), status: argv.status, script: argv.script?.map(String), since: argv.since }, all);
    if (keep) history.runs = all.filter((r) => keep(r.meta));
    const sum = await summarizeRuns(history, { cols: argv.col?.map(String), where: argv.where, sort: argv.sort?.map(String), limit: argv.limit, onlyChanged: argv['only-changed'] });
    warnBroken([...history.broken, ...sum.broken.map((b) => ({ ...b, ledger: '' }))]);
    for (const n of sum.notes) process.stderr.write(`git flor: ${n}\n`);
    if (!f) return writeParquetOutput(sum.rows, sum.jsonColumns, argv.output!);
    if (sum.rows.length === 0 && argv.format === 'table') {
      process.stderr.write(
        all.length === 0
          ? `no runs recorded yet\nhint: ${noRunsHint(repo)}\n`
          : `no run matches (${all.length} recorded${history.removed.length && !argv.all ? `, ${history.removed.length} removed: --all shows them` : ''})\n`,
      );
      return;
    }
    if (argv.format !== 'table') return writeFormatted(f, summaryTable(sum, argv.format), argv.output);
    // Too narrow a terminal loses the start time first, then the version, then logged values and
    // args from the right; explicit --col columns are only cut, never left out.
    const byKind = (k: string) => sum.columns.filter((c) => c.kind === k && !c.detail).map((c) => c.name).reverse();
    const drop = argv.col?.length ? [] : ['time', 'version', ...byKind('value'), ...byKind('arg')];
    await writeFormatted(styledTable(terminalStyle(drop, argv.output !== undefined)), abbreviateIds(summaryTable(sum, 'table'), [...all, ...(argv.all ? [] : history.removed)]), argv.output);
  },
};
