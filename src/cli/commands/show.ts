import type { CommandModule } from 'yargs';
import { git, requireRepoSync, type RepoInfo } from '../../store/git.js';
import { runDetail, type RunDetail } from '../../query/runs.js';
import { toJson } from '../../query/formats.js';
import type { LoopInfo } from '../../store/types.js';
import type { Value } from '../../store/records.js';
import { out } from '../print.js';

interface Args {
  run: string;
  format: string;
  diff: boolean;
}

function loopsLine(loops: LoopInfo[]): string {
  if (loops.length === 0) return '(none)';
  return loops.map((l) => `${l.name} (${l.iterations} iteration${l.iterations === 1 ? '' : 's'}${l.parent ? `, inside ${l.parent}` : ''})`).join(', ');
}

function valueText(v: Value): string {
  return typeof v === 'string' ? v : JSON.stringify(toJson(v));
}

function duration(start: string, end: string | null): string {
  if (!end) return '';
  const ms = Date.parse(end) - Date.parse(start);
  return Number.isFinite(ms) ? ` (${ms < 10_000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`})` : '';
}

/** How the code that ran differs from its commit, by the git binary (stat, then the patch). */
async function codeDiff(repo: RepoInfo, commit: string | null, codeTree: string): Promise<string> {
  const cwd = repo.top ?? repo.gitDir;
  let base = commit;
  if (!base) base = (await git(['mktree'], { cwd, input: '' })).stdout.toString().trim();
  const opts = { cwd, env: { GIT_PAGER: 'cat' } };
  try {
    const stat = (await git(['diff', '--no-color', '--stat', base, codeTree], opts)).stdout.toString();
    const patch = (await git(['diff', '--no-color', base, codeTree], opts)).stdout.toString();
    return stat + (patch ? '\n' + patch : '');
  } catch {
    return `(commit ${base} is not in this clone: cannot show the difference; \`git fetch\` it first)\n`;
  }
}

function render(d: RunDetail): string {
  const m = d.run.meta;
  const rows: Array<[string, string]> = [
    ['run', d.run.id],
    ['status', `${m.status}${m.exitCode !== null ? ` (exit ${m.exitCode})` : ''}${m.error ? `: ${m.error}` : ''}`],
    ['start', m.start],
    ['end', (m.end ?? '(unfinished)') + duration(m.start, m.end)],
    ['script', m.script + (m.cwd ? `   (cwd ${m.cwd})` : '')],
    ['command', ['node', ...m.execArgv, m.script, ...m.argv].join(' ')],
    ['commit', `${m.commit ?? '(none: unborn branch)'}${m.branch ? ` (${m.branch})` : ''}${m.dirty ? '  dirty: code differs from the commit' : ''}`],
    ['code', d.run.codeTree],
    ['node', m.node],
    ['writer', m.writer],
    ['ledgers', d.run.ledgers.join(', ')],
  ];
  const argNames = Object.keys(m.args);
  rows.push(['args', argNames.length ? argNames.map((k) => `${k}=${valueText(m.args[k]!)}`).join('  ') : '(none)']);
  rows.push(['loops', loopsLine(m.loops)]);
  if (m.checkpointing.length) rows.push(['checkpoint', m.checkpointing.join(', ')]);
  const names = new Set<string>();
  for (const s of d.segments) for (const n of s.names) names.add(n);
  rows.push(['names', names.size ? [...names].join(', ') : '(nothing logged)']);
  rows.push(['records', String(m.records)]);
  const w = Math.max(...rows.map(([k]) => k.length));
  let text = rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n';
  text += 'segments\n';
  for (const s of d.segments) {
    const prov = s.provenance ? `  replayed ${s.provenance.time} for ${s.provenance.statements.join(', ')}` : '';
    text += `  ${s.name}${s.source !== s.name ? ` (${s.source})` : ''}  ${s.records} records: ${s.names.join(', ') || '-'}${prov}\n`;
  }
  return text;
}

export const command: CommandModule<object, Args> = {
  command: 'show <run>',
  describe: 'Show one run: metadata, args, loops, names logged, and its code changes when it ran dirty',
  builder: (y) =>
    y
      .positional('run', { type: 'string', demandOption: true, describe: 'run id or a unique prefix of it' })
      .option('format', { choices: ['text', 'json'] as const, default: 'text', describe: 'output format' })
      .option('diff', { type: 'boolean', default: true, describe: 'show the code diff of a dirty run (--no-diff to skip)' })
      .example('$0 show 01JD3', 'a run by a prefix of its id (see `git flor runs`)')
      .example('$0 show 01JD3 --format json', 'metadata and segments for scripts'),
  handler: async (argv) => {
    const repo = requireRepoSync(process.cwd());
    const d = await runDetail(repo, argv.run);
    if (argv.format === 'json') {
      const o = { id: d.run.id, meta: toJson(d.run.meta as unknown as Value), codeTree: d.run.codeTree, segments: d.segments.map((s) => ({ ...s, provenance: s.provenance })) };
      await out(JSON.stringify(o, null, 2) + '\n');
      return;
    }
    let text = render(d);
    if (d.run.meta.dirty && argv.diff) {
      text += `\ncode that ran vs ${d.run.meta.commit ? d.run.meta.commit.slice(0, 7) : 'an empty tree'}:\n`;
      text += await codeDiff(repo, d.run.meta.commit, d.run.codeTree);
    }
    await out(text);
  },
};
