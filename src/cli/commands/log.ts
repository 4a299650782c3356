import type { CommandModule, Options } from 'yargs';
import { requireRepoSync } from '../../store/git.js';
import { resolveIn } from '../../store/run-id.js';
import { segmentCache } from '../../store/segment-read.js';
import { gitSegments, listHistory, memoSegments } from '../../query/history.js';
import { loggedNames, logView, segmentsOf } from '../../query/runs.js';
import { parseExpr } from '../../query/expr.js';
import { filterRuns, queryView, runLevelPart } from '../../query/viewquery.js';
import { unknownName } from '../../query/names.js';
import { tableTypes } from '../../query/coltypes.js';
import { rowObjects } from '../../query/table.js';
import { jsonValue } from '../../query/run-values.js';
import { checkOutput, writeParquetOutput } from '../output.js';
import { parseSince } from '../../query/since.js';
import { formatter, styledTable } from '../../query/formats.js';
import { runFilter } from '../../query/select.js';
import { abbreviateIds, terminalStyle } from '../table-style.js';
import { noRunsHint } from '../hints.js';
import { warnBroken, writeFormatted, ExitError } from '../print.js';

const FORMATS = ['table', 'csv', 'json', 'ndjson', 'md', 'parquet'] as const;

interface Args {
  names: string[];
  format: string;
  run: string[] | undefined;
  since: string | undefined;
  replay: boolean;
  workers: number | undefined;
  where: string | undefined;
  sort: string[] | undefined;
  limit: number | undefined;
  output: string | undefined;
  'allow-writer': string[] | undefined;
  version: string[] | undefined;
  all: boolean;
  'live-calls': boolean;
}

/** Also parsed without yargs (cli/fast.ts): declare every option here. */
export const options = {
  where: { type: 'string', describe: "keep the rows where this holds, e.g. \"loss < 0.5 and lr >= 0.01\" (see git flor runs --help)" },
  sort: { type: 'string', array: true, describe: 'sort rows by a column, -COL for descending; repeatable' },
  limit: { alias: 'n', type: 'number', describe: 'at most N rows (after sorting)' },
  format: { choices: FORMATS, default: 'table', describe: 'output format (parquet needs --output)' },
  output: { alias: 'o', type: 'string', describe: 'write to this file instead of stdout' },
  run: { type: 'string', array: true, describe: 'only this run (id or unique prefix); repeatable' },
  since: { type: 'string', describe: "only runs started since this date ('2026-01-31', '3 days ago')" },
  version: { type: 'string', array: true, describe: 'only runs of this commit: a branch, tag, rev (HEAD~2) or commit prefix; repeatable' },
  all: { type: 'boolean', default: false, describe: 'also the runs removed with `git flor rm`' },
  replay: { type: 'boolean', default: false, describe: 'first replay old runs that lack a name today\'s code logs (see `git flor replay`)' },
  workers: { type: 'number', describe: 'with --replay: replay tasks run at once (default: number of cores)' },
  'allow-writer': { type: 'string', array: true, describe: "with --replay: also replay runs of this writer (another clone), which runs its code; repeatable; '*' for every writer" },
  'live-calls': { type: 'boolean', default: true, describe: 'with --replay: --no-live-calls fails a replay that would call a flor.memo function with no recorded value' },
} satisfies Record<string, Options>;

export const command: CommandModule<object, Args> = {
  command: 'log <names..>',
  describe: 'One table of logged values across every run of every version',
  builder: (y) =>
    y
      .positional('names', { type: 'string', array: true, demandOption: true, describe: 'logged names (or args) to show, one column each' })
      .options(options)
      .example('$0 log loss acc', 'rows keyed by run, version, time, file and loop iterations')
      .example('$0 log lr loss --format csv > runs.csv', 'args can be columns too')
      .example('$0 log loss --run 01JD3 --since "2 days ago" --format json', 'one run, as JSON rows')
      .example("$0 log loss acc --where \"lr > 0.01 and epoch >= 5\" --sort loss -n 10", 'the ten lowest losses of late epochs, fast runs only')
      .example("$0 log loss --where \"max(acc) > 0.9\"", 'the loss curves of the runs that reached 90% accuracy'),
  handler: async (argv) => {
    checkOutput(argv.format, argv.output);
    const f = argv.format === 'parquet' ? null : formatter(argv.format, FORMATS);
    const since = argv.since === undefined ? undefined : parseSince(argv.since);
    const names = argv.names.map(String);
    // Syntax first: a typo in --where must not cost a replay.
    const where = argv.where === undefined ? null : parseExpr(argv.where);
    const repo = requireRepoSync(process.cwd());
    // The listing is read here only when run-level choices need it (logView reads it anyway).
    const listed = where || argv.version?.length ? (await listHistory(repo, { all: argv.all })).runs : [];
    const byVersion = await runFilter(repo, { version: argv.version?.map(String) }, listed);
    const whereLevel = where ? runLevelPart(where, names, listed) : null;
    // --version chooses runs as a run-level condition does: for the replay and for the view.
    const runLevel = whereLevel || byVersion ? { where: whereLevel, byVersion } : null;
    const accepts = (r: (typeof listed)[number]) => (!byVersion || byVersion(r.meta)) && (!whereLevel || filterRuns(whereLevel, [r]).length === 1);
    // The replay reads every chosen run's segments to see what is missing; the table needs the
    // same ones again (plus any segment the replay added, which is a new oid). A query that reads
    // run-level values of logged names (max(acc)) reads them a second time too.
    // A replay reads every run: its in-memory cache is bounded. Otherwise the derived cache on disk
    // (kept in memory for the second read) serves both reads.
    const segments = argv.replay ? segmentCache(repo) : where || argv.sort ? memoSegments(gitSegments(repo)) : undefined;
    let replayStatus = 0;
    if (argv.replay) {
      // Run-level conditions choose the runs to replay, as --run and --since do.
      let runs = argv.run;
      if (runLevel) {
        const { runs: all, broken } = await listHistory(repo, { all: argv.all });
        const named = argv.run?.length ? new Set(argv.run.map((p) => resolveIn(all, p, broken).id)) : null;
        runs = all.filter((r) => (!named || named.has(r.id)) && accepts(r)).map((r) => r.id);
      }
      // Loaded only when asked for: the replay machinery would add to every `git flor log` start.
      if (!runs || runs.length > 0) replayStatus = await (await import('../replay-console.js')).replayForLog(repo, names, { runs, since, workers: argv.workers, segments, allowWriters: argv['allow-writer']?.map(String), noLiveCalls: !argv['live-calls'] });
      else process.stderr.write('git flor: no run matches --where: nothing to replay\n');
    }
    const view = await logView(repo, { names, runs: argv.run, since, segments, filter: runLevel ? accepts : undefined, all: argv.all });
    warnBroken(view.broken);
    // Every name any run logged, read only when a name has to be explained.
    const known = async (): Promise<string[]> => {
      if (view.runs.length === view.all.length) return view.known;
      const args = view.all.flatMap((r) => Object.keys(r.meta.args ?? {}));
      return [...new Set([...(await loggedNames(repo, view.all, segments)), ...args])].sort();
    };
    if (view.missing.length > 0) {
      const everywhere = await known();
      const never = view.missing.filter((n) => !everywhere.includes(n));
      // A name nothing logged is a typo or, with --replay, what the replay could not fill.
      if (never.length > 0 && !argv.replay && view.all.length > 0) throw unknownName(never[0]!, everywhere);
      process.stderr.write(
        view.runCount === 0
          ? argv.run || argv.since || runLevel
            ? 'git flor: no run matches --run/--since/--where/--version\nhint: `git flor runs` lists them all\n'
            : `git flor: no runs recorded yet\nhint: ${noRunsHint(repo)}\n`
          : `git flor: ${view.missing.map((n) => `'${n}'`).join(', ')} ${view.missing.length === 1 ? 'was' : 'were'} never logged by ${view.runCount === 1 ? 'this run' : `these ${view.runCount} runs`}\n` +
              `hint: known names: ${view.known.length ? view.known.join(', ') : '(none)'}\n`,
      );
    }
    const history = { runs: view.runs, segments: (r: (typeof view.runs)[number]) => segmentsOf(repo, r, segments) };
    const table = await queryView(view.table, history, { where: argv.where, sort: argv.sort?.map(String), limit: argv.limit, argScope: view.unfiltered }, known);
    if (!f) {
      await writeParquetOutput(rowObjects(table).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, jsonValue(v)]))), tableTypes(table), argv.output!);
    } else if (argv.format === 'table') {
      // Too narrow a terminal loses the file, then the start time, then the version.
      await writeFormatted(styledTable(terminalStyle(['file', 'time', 'version'], argv.output !== undefined)), abbreviateIds(table, view.readable), argv.output);
    } else await writeFormatted(f, table, argv.output);
    if (replayStatus !== 0) throw new ExitError(replayStatus);
  },
};
