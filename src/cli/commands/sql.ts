import type { CommandModule } from 'yargs';
import { requireRepoSync } from '../../store/git.js';
import { warnBroken } from '../print.js';
import { checkOutput, emitTable } from '../output.js';

const FORMATS = ['table', 'json', 'ndjson', 'csv', 'md', 'parquet'] as const;

interface Args {
  query: string;
  format: string;
  output: string | undefined;
}

export const command: CommandModule<object, Args> = {
  command: 'sql <query>',
  describe: 'SQL over every run and every logged value (DuckDB: tables runs and logs)',
  builder: (y) =>
    y
      .positional('query', { type: 'string', demandOption: true, describe: 'a DuckDB SQL query over the tables runs and logs' })
      .option('format', { choices: FORMATS, default: 'table', describe: 'output format' })
      .option('output', { type: 'string', describe: 'write to this file instead of stdout (required by parquet)' })
      .example('$0 sql "select run, status, lr from runs order by time desc limit 5"', 'runs: one row per run, one column per arg')
      .example('$0 sql "select run, max(value) as best from logs where name = \'acc\' group by run order by best desc"', 'logs: one row per logged value')
      .example('$0 sql "select * from logs" --format parquet --output logs.parquet', 'the whole history as a Parquet file')
      .epilog(
        'Tables:\n' +
          '  runs  run, version, commit, time, end, file, branch, dirty, status, records, then one column per arg\n' +
          '        (arg.NAME when the arg has the name of one of those columns)\n' +
          '  logs  run, name, value (DOUBLE when numeric, else NULL), value_json (the value as JSON),\n' +
          '        then one column per loop (its iteration; NULL outside that loop)\n' +
          'Needs DuckDB, an optional dependency: npm install @duckdb/node-api',
      ),
  handler: async (argv) => {
    checkOutput(argv.format, argv.output, FORMATS);
    const repo = requireRepoSync(process.cwd());
    const { runSql } = await import('../../query/sql.js');
    const parquet = argv.format === 'parquet' ? argv.output : undefined;
    const { table, broken } = await runSql(repo, String(argv.query), { parquet });
    warnBroken(broken);
    if (!parquet) await emitTable(table, argv.format, argv.output, FORMATS);
  },
};
