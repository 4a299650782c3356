import type { CommandModule, Options } from 'yargs';
import { requireRepoSync } from '../../store/git.js';
import { repoHistory } from '../../query/runs.js';
import { nameIndex } from '../../query/name-index.js';
import { runFilter } from '../../query/select.js';
import { formatter, styledTable } from '../../query/formats.js';
import { tableFromObjects } from '../../query/table.js';
import type { Value } from '../../store/records.js';
import { warnBroken, writeFormatted } from '../print.js';
import { terminalStyle } from '../table-style.js';
import { noRunsYet } from '../hints.js';

const FORMATS = ['table', 'json', 'ndjson', 'csv', 'md'] as const;

interface Args {
  format: string;
  version: string[] | undefined;
  since: string | undefined;
  all: boolean;
}

/** Also parsed without yargs (cli/fast.ts): declare every option here. */
export const options = {
  format: { choices: FORMATS, default: 'table', describe: 'output format' },
  version: { type: 'string', array: true, describe: 'only runs of this commit: a branch, tag, rev or commit prefix; repeatable' },
  since: { type: 'string', describe: "only runs started since this date ('2026-01-31', '3 days ago')" },
  all: { type: 'boolean', default: false, describe: 'also the runs removed with `git flor rm`' },
} satisfies Record<string, Options>;

export const command: CommandModule<object, Args> = {
  command: 'names',
  describe: 'Every name the runs logged and every arg they took: in how many runs, how many values, in which loops',
  builder: (y) =>
    y
      .options(options)
      .example('$0 names', 'what `git flor log`, `runs --col` and `plot` can show')
      .example('$0 names --version main --format json', "the names of the runs of main's head, for scripts")
      .example('$0 names --all', 'the removed runs (`git flor rm`) counted too'),
  handler: async (argv) => {
    const f = formatter(argv.format, FORMATS);
    const repo = requireRepoSync(process.cwd());
    const history = await repoHistory(repo, undefined, { all: argv.all });
    const keep = await runFilter(repo, { version: argv.version?.map(String), since: argv.since }, history.runs);
    const chosen = keep ? history.runs.filter((r) => keep(r.meta)) : history.runs;
    const broken = [...history.broken];
    const loaded = await Promise.all(
      chosen.map(async (r) => {
        try {
          return { meta: r.meta, segments: await history.segments(r) };
        } catch (e) {
          broken.push({ id: r.id, ledger: r.ledgers[0] ?? '', code: 'UNREADABLE', error: e instanceof Error ? e.message : String(e) });
          return null;
        }
      }),
    );
    warnBroken(broken);
    if (history.runs.length === 0) return noRunsYet(repo);
    const rows = nameIndex(loaded.filter((r) => r !== null));
    const json = argv.format === 'json' || argv.format === 'ndjson';
    const anyReplayed = rows.some((r) => r.replayedOnly > 0);
    const objects = rows.map((r): Record<string, Value> => ({
      name: r.name,
      kind: r.kind,
      runs: r.runs,
      records: r.records,
      loops: json ? r.loops : r.loops.join(' '),
      ...(json ? { replayedOnly: r.replayedOnly } : anyReplayed ? { replayed: r.replayedOnly ? `only in ${r.replayedOnly} run(s)` : null } : {}),
    }));
    const columns = Object.keys(objects[0] ?? { name: 0, kind: 0, runs: 0, records: 0, loops: 0 });
    const table = tableFromObjects(columns, objects);
    if (argv.format === 'table') {
      if (rows.length === 0) return void process.stderr.write(`git flor: the ${chosen.length} run(s) chosen logged nothing\n`);
      // Too narrow a terminal loses the replay note first, then the loops.
      return writeFormatted(styledTable(terminalStyle(['replayed', 'loops'])), table);
    }
    await writeFormatted(f, table);
  },
};
