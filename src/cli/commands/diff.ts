import type { CommandModule } from 'yargs';
import { requireRepoSync } from '../../store/git.js';
import { diffRuns, type RunDiff } from '../../query/diff.js';
import { render } from '../../query/formats.js';
import { tableFromObjects } from '../../query/table.js';
import type { Value } from '../../store/records.js';
import { out } from '../print.js';
import { FlorError } from '../../errors.js';

const FORMATS = ['text', 'json'] as const;

interface Args {
  a: string;
  b: string;
  format: string;
}

function ms(d: number | null): string {
  if (d === null) return '-';
  return d < 10_000 ? `${d} ms` : `${(d / 1000).toFixed(1)} s`;
}

/** Numbers as `log`'s table shows them: 6 significant digits once they get long. */
function num(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') {
    const s = String(v);
    return s.length > 10 && Number.isFinite(v) && !Number.isInteger(v) ? String(Number(v.toPrecision(6))) : s;
  }
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function signed(v: number | null): string {
  return v === null ? '' : (v > 0 ? '+' : '') + num(v);
}

export function renderDiff(d: RunDiff): string {
  const side = (k: 'a' | 'b') => {
    const r = d[k];
    return { '': k.toUpperCase(), run: r.run, version: r.version ? r.version + (r.dirty ? '+dirty' : '') : '-', status: r.status, duration: ms(r.duration), time: r.time, records: r.records };
  };
  let s = render('table', tableFromObjects(['', 'run', 'version', 'status', 'duration', 'time', 'records'], [side('a'), side('b')] as Array<Record<string, Value>>));
  const dd = d.a.duration !== null && d.b.duration !== null ? d.b.duration - d.a.duration : null;
  const what = [...d.changed.filter((c) => c !== 'commit' && c !== 'dirty'), ...(d.changed.includes('dirty') && !d.changed.includes('version') ? ['dirty'] : [])];
  s += `\n${what.length ? `differ in: ${what.join(', ')}` : 'same version, status and file'}${dd !== null ? `; B took ${dd >= 0 ? ms(dd) + ' longer' : ms(-dd) + ' less'}` : ''}\n`;
  s += '\nargs';
  if (d.args.length === 0) s += ': the same\n';
  else s += '\n' + render('table', tableFromObjects(['name', 'A', 'B'], d.args.map((x) => ({ name: x.name, A: num(x.a), B: num(x.b) }))));
  s += '\nnames';
  if (d.names.length === 0) s += ': none logged\n';
  else {
    const rows = d.names.map((n) => ({
      name: n.name,
      'last A': num(n.a?.last), 'last B': num(n.b?.last), 'Δlast': signed(n.delta.last),
      'min A': num(n.a?.min), 'min B': num(n.b?.min), 'Δmin': signed(n.delta.min),
      'max A': num(n.a?.max), 'max B': num(n.b?.max), 'Δmax': signed(n.delta.max),
    }));
    s += '\n' + render('table', tableFromObjects(Object.keys(rows[0]!), rows));
  }
  s += '\ncode';
  if (d.code.same) s += `: the same tree (${d.code.a.slice(0, 12)})\n`;
  else {
    const add = d.code.files.reduce((t, f) => t + (f.added ?? 0), 0);
    const del = d.code.files.reduce((t, f) => t + (f.removed ?? 0), 0);
    s += `: ${d.code.files.length} file${d.code.files.length === 1 ? '' : 's'} changed, +${add} -${del} (tree ${d.code.a.slice(0, 12)} -> ${d.code.b.slice(0, 12)})\n`;
    for (const f of d.code.files) s += `  ${f.path}  +${f.added ?? '?'} -${f.removed ?? '?'}\n`;
    s += '\n' + d.code.patch;
  }
  return s;
}

export const command: CommandModule<object, Args> = {
  command: 'diff <a> <b>',
  describe: 'Compare two runs: args, the code that ran, status, duration, and every logged name',
  builder: (y) =>
    y
      .positional('a', { type: 'string', demandOption: true, describe: 'run id or unique prefix' })
      .positional('b', { type: 'string', demandOption: true, describe: 'run id or unique prefix' })
      .option('format', { choices: FORMATS, default: 'text', describe: 'output format' })
      .example('$0 diff 01JD3 01JD4', 'args that differ, last/min/max of each name side by side, then the code diff')
      .example('$0 diff 01JD3 01JD4 --format json', 'the same as one JSON object'),
  handler: async (argv) => {
    if (!(FORMATS as readonly string[]).includes(argv.format)) throw new FlorError('BAD_FORMAT', `unknown format '${argv.format}'`, { hint: 'use text or json' });
    const repo = requireRepoSync(process.cwd());
    const d = await diffRuns(repo, String(argv.a), String(argv.b));
    await out(argv.format === 'json' ? JSON.stringify(d, null, 2) + '\n' : renderDiff(d));
  },
};
