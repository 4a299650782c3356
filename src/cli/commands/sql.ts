import type { CommandModule } from 'yargs';
import { requireRepoSync } from '../../store/git.js';
import { createWriteStream } from 'node:fs';
import { FlorError } from '../../errors.js';
import { formatter } from '../../query/formats.js';
import { warnBroken, writeFormatted } from '../print.js';

const FORMATS = ['table', 'json', 'ndjson', 'csv', 'md', 'parquet'] as const;

interface Args {
  query: string;
  format: string;
  output: string | undefined;
  version: string[] | undefined;
}

export const command: CommandModule<object, Args> = {
  command: 'sql <query>',
  describe: 'SQL over every run and every logged value (DuckDB: tables runs and logs)',
  builder: (y) =>
    y
      .positional('query', { type: 'string', demandOption: true, describe: 'a DuckDB SQL query over the tables runs and logs' })
      .option('format', { choices: FORMATS, default: 'table', describe: 'output format' })
      .option('output', { type: 'string', describe: 'write to this file instead of stdout (required by parquet)' })
      .option('version', { type: 'string', array: true, describe: 'only the runs of this commit in both tables: a branch, tag, rev (HEAD~2) or commit prefix; repeatable' })
      .example('$0 sql "select run, status, lr from runs order by time desc limit 5"', 'runs: one row per run, one column per arg')
      .example('$0 sql "select run, max(value) as best from logs where name = \'acc\' group by run order by best desc"', 'logs: one row per logged value')
      .example('$0 sql "select * from logs" --format parquet --output logs.parquet', 'the whole history as a Parquet file')
      .example('$0 sql "select status, count(*) as n from runs group by status" --version main', "the runs of main's head only")
      .epilog(
        'Tables:\n' +
          '  runs  run, version, commit, time, end, file, branch, dirty, status, records, then one column per arg\n' +
          '        (arg.NAME when the arg has the name of one of those columns)\n' +
          '  logs  run, name, value (DOUBLE when numeric, else NULL), value_json (the value as JSON),\n' +
          '        then one column per loop (its iteration; NULL outside that loop)\n' +
          'Needs DuckDB, an optional dependency: npm install @duckdb/node-api',
      ),
  handler: async (argv) => {
    const parquet = argv.format === 'parquet';
    if (parquet && !argv.output) {
      throw new FlorError('OUTPUT_REQUIRED', '--format parquet writes a file: name it with --output FILE', { hint: 'e.g. --format parquet --output runs.parquet' });
    }
    const f = parquet ? null : formatter(argv.format, FORMATS);
    const repo = requireRepoSync(process.cwd());
    const { runSql } = await import('../../query/sql.js');
    const { table, broken } = await runSql(repo, String(argv.query), { parquet: parquet ? argv.output : undefined, select: { version: argv.version?.map(String) } });
    warnBroken(broken);
    if (!f) return;
    if (!argv.output) return writeFormatted(f, table);
    const file = createWriteStream(argv.output);
    await new Promise<void>((resolve, reject) => {
      file.on('error', (e) => reject(new FlorError('OUTPUT_FAILED', `cannot write ${argv.output}: ${e.message}`)));
      file.on('open', async () => {
        for (const chunk of f(table)) if (!file.write(chunk)) await new Promise<void>((r) => file.once('drain', () => r()));
        file.end(() => resolve());
      });
    });
  },
};
