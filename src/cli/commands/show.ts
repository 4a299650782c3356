import type { CommandModule } from 'yargs';
import { git, requireRepoSync, type RepoInfo } from '../../store/git.js';
import { runDetail, type RunDetail } from '../../query/runs.js';
import { toJson } from '../../query/formats.js';
import type { LoopInfo } from '../../store/types.js';
import type { Value } from '../../store/records.js';
import { readCheckpointManifest } from '../../store/ledger.js';
import { hasCheckpoint } from '../../store/checkpoints.js';
import { out } from '../print.js';

/** What replay can start from: the run's checkpoints, and how many this clone's store holds. */
interface CheckpointInfo {
  loop: string;
  iters: number[];
  bytes: number[];
  /** Of `iters`, the ones whose file is in this clone's store (a fetched run has none). */
  local: number[];
}

async function checkpointInfo(repo: RepoInfo, d: RunDetail): Promise<CheckpointInfo | null> {
  if (!d.run.ckpt) return null;
  const m = await readCheckpointManifest(repo, d.run.ckpt);
  return { loop: m.loop, iters: m.iters, bytes: m.bytes, local: m.iters.filter((_, i) => hasCheckpoint(repo.commonDir, m.keys[i]!)) };
}

function sizeText(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KB` : `${n} B`;
}

function checkpointLine(names: string[], c: CheckpointInfo | null): string {
  if (!c || c.iters.length === 0) return `${names.join(', ')}; no checkpoint taken`;
  const its = c.iters.length <= 8 ? c.iters.join(', ') : `${c.iters.slice(0, 3).join(', ')}, … ${c.iters.slice(-3).join(', ')}`;
  const size = sizeText(Math.max(...c.bytes));
  const here = c.local.length === c.iters.length ? 'all in this clone' : c.local.length === 0 ? 'none in this clone: replay starts from the beginning' : `${c.local.length} in this clone`;
  return `${names.join(', ')}; ${c.iters.length} taken at the end of ${c.loop} ${its} (up to ${size}); ${here}`;
}

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
    // One process: the stat, a blank line, then the patch.
    return (await git(['diff', '--no-color', '--stat', '--patch', base, codeTree], opts)).stdout.toString();
  } catch {
    return `(commit ${base} is not in this clone: cannot show the difference; \`git fetch\` it first)\n`;
  }
}

function render(d: RunDetail, ckpt: CheckpointInfo | null): string {
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
  // A name flor.arg gave different values shows every call's, in call order.
  const argText = (k: string) => (m.argCalls?.[k] ? `${k}=${m.argCalls[k]!.map((v) => valueText(v)).join(', then ')}` : `${k}=${valueText(m.args[k]!)}`);
  rows.push(['args', argNames.length ? argNames.map(argText).join('  ') : '(none)']);
  rows.push(['loops', loopsLine(m.loops)]);
  if (m.checkpointing.length) rows.push(['checkpoint', checkpointLine(m.checkpointing, ckpt)]);
  const names = new Set<string>();
  for (const s of d.segments) for (const n of s.names) names.add(n);
  rows.push(['names', names.size ? [...names].join(', ') : '(nothing logged)']);
  rows.push(['records', String(m.records)]);
  const w = Math.max(...rows.map(([k]) => k.length));
  let text = rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n';
  text += 'segments\n';
  for (const s of d.segments) {
    const p = s.provenance;
    // Which statements propagation carried into this version, and which it had already.
    const had = p?.carried ? p.statements.filter((n) => !p.carried!.includes(n)) : [];
    const origin = p?.carried ? ` (${[p.carried.length ? `carried into this version: ${p.carried.join(', ')}` : '', had.length ? `already in it: ${had.join(', ')}` : ''].filter(Boolean).join('; ')})` : '';
    const prov = p ? `  replayed ${p.time} for ${p.statements.join(', ')}${origin}` : '';
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
    const ckpt = await checkpointInfo(repo, d);
    if (argv.format === 'json') {
      const o = { id: d.run.id, meta: toJson(d.run.meta as unknown as Value), codeTree: d.run.codeTree, segments: d.segments.map((s) => ({ ...s, provenance: s.provenance })), checkpoints: ckpt };
      await out(JSON.stringify(o, null, 2) + '\n');
      return;
    }
    let text = render(d, ckpt);
    if (d.run.meta.dirty && argv.diff) {
      text += `\ncode that ran vs ${d.run.meta.commit ? d.run.meta.commit.slice(0, 7) : 'an empty tree'}:\n`;
      text += await codeDiff(repo, d.run.meta.commit, d.run.codeTree);
    }
    await out(text);
  },
};
