import type { CommandModule, Options } from 'yargs';
import { requireRepoSync, type RepoInfo } from '../../store/git.js';
import { codeAgainstCommit } from '../../store/tree-diff.js';
import { runDetail, type RunDetail } from '../../query/runs.js';
import { toJson } from '../../query/json-rows.js';
import type { LoopInfo } from '../../store/types.js';
import type { Value } from '../../store/records.js';
import { readCheckpointManifest } from '../../store/segment-read.js';
import { sizeText } from '../../store/code-select.js';
import { out } from '../print.js';
import { NO_MARKS, type RunMarks } from '../../query/marks.js';
import { paint, paintDiff, statusStyle } from '../color.js';
import { safeText } from '../../terminal-text.js';
import { damageOf } from '../../store/pack.js';

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
  const { hasCheckpoint } = await import('../../store/checkpoints.js');
  return { loop: m.loop, iters: m.iters, bytes: m.bytes, local: m.iters.filter((_, i) => hasCheckpoint(repo.commonDir, m.keys[i]!)) };
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
  'full-diff': boolean;
}

/** A dirty diff longer than this is cut to its stat and first lines, unless --full-diff. */
export const DIFF_LINES = 500;
const STAT_LINES = 200;
const PATCH_HEAD = 100;

/** The diff as printed: whole when short (or asked for), else the stat (itself capped) and the patch's first lines. */
export function cutDiff(text: string, runId: string, full: boolean): string {
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  if (full || lines.length <= DIFF_LINES) return text;
  let p = lines.findIndex((l) => l.startsWith('diff --git '));
  if (p < 0) p = lines.length;
  let stat = lines.slice(0, p);
  if (stat.length > STAT_LINES) {
    // The last stat line is the summary (`N files changed, …`): keep it.
    const filled = stat.filter((l) => /\S/.test(l));
    const summary = filled.at(-1) ?? '';
    stat = [...stat.slice(0, STAT_LINES), ` … ${filled.length - 1 - STAT_LINES} more file(s)`, summary, ''];
  }
  const patch = lines.slice(p, p + PATCH_HEAD);
  const left = lines.length - p - patch.length;
  return [...stat, ...patch, `… ${left} more line(s) of diff (${lines.length} in all): \`git flor show ${runId} --full-diff\` prints it whole, --no-diff leaves it out`, ''].join('\n');
}

/** The row that says a run's code is incomplete, with what was left out. */
function skippedRow(m: RunDetail['run']['meta']): string | null {
  const s = m.skipped;
  if (!s || s.count === 0) return null;
  const named = s.paths.slice(0, 5).map((p) => `${p.path} (${p.why === 'size' ? sizeText(p.bytes ?? 0) : p.why === 'node_modules' ? 'dependencies' : 'nested repository'})`);
  const more = s.count > named.length ? `, and ${s.count - named.length} more` : '';
  const size = s.bytes > 0 ? `, ${sizeText(s.bytes)} in files` : '';
  return `incomplete: ${s.count} untracked path(s) not captured${size}: ${named.join(', ')}${more}`;
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
  const d = await codeAgainstCommit(repo, commit, codeTree);
  return d ?? `(commit ${commit} is not in this clone: cannot show the difference; \`git fetch\` it first)\n`;
}

/** The marks on the run: those that count, and those that do not (a stranger's tag or removal). */
function markRows(marks: RunMarks): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  if (marks.removed) rows.push(['removed', `yes: hidden from every view but --all (git flor rm --undo restores it)`]);
  if (marks.tags.length) rows.push(['tags', marks.tags.join(', ')]);
  if (marks.note) rows.push(['note', marks.note]);
  for (const m of marks.ignored) {
    const what = m.op === 'note' ? `note ${JSON.stringify(m.value)}` : m.op === 'tag' || m.op === 'untag' ? `${m.op} ${m.value}` : m.op === 'rm' ? 'removal' : 'restore';
    rows.push(['ignored', `${what} by writer ${m.writer} (${m.time}): that writer neither recorded this run nor is trusted (git config flor.trustedWriters)`]);
  }
  return rows;
}

function render(d: RunDetail, ckpt: CheckpointInfo | null, marks: RunMarks): string {
  const m = d.run.meta;
  const rows: Array<[string, string]> = [
    ['run', d.run.id],
    ...markRows(marks),
    // Escaped here, before its colour: the other rows are escaped below.
    ['status', `${paint(statusStyle(m.status) ?? 'bold', safeText(m.status))}${m.exitCode !== null ? ` (exit ${m.exitCode})` : ''}${m.error ? `: ${safeText(m.error)}` : ''}`],
    ['start', m.start],
    ['end', (m.end ?? '(unfinished)') + duration(m.start, m.end)],
    ['script', m.script + (m.cwd ? `   (cwd ${m.cwd})` : '')],
    ['command', ['node', ...m.execArgv, m.script, ...m.argv].join(' ')],
    ['commit', `${m.commit ?? '(none: unborn branch)'}${m.branch ? ` (${m.branch})` : ''}${m.dirty ? '  dirty: code differs from the commit' : ''}`],
    ['code', d.run.codeTree],
    ...(skippedRow(m) ? [['capture', skippedRow(m)!] as [string, string]] : []),
    ['node', m.node],
    // The ledger holding the run says who wrote it; the metadata's own field is only a claim.
    ['writer', d.run.writer],
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
  // Every value may come from another clone's ledger: escape before it reaches the terminal.
  let text = rows.map(([k, v]) => `${paint('bold', k.padEnd(w))}  ${k === 'status' ? v : safeText(v)}`).join('\n') + '\n';
  text += paint('bold', 'segments') + '\n';
  for (const s of d.segments) {
    const p = s.provenance;
    // Which statements propagation carried into this version, and which it had already.
    const had = p?.carried ? p.statements.filter((n) => !p.carried!.includes(n)) : [];
    const origin = p?.carried ? ` (${[p.carried.length ? `carried into this version: ${p.carried.join(', ')}` : '', had.length ? `already in it: ${had.join(', ')}` : ''].filter(Boolean).join('; ')})` : '';
    const by = s.writer !== d.run.writer ? ` by writer ${s.writer}` : '';
    const prov = p ? `  replayed ${p.time}${by} for ${p.statements.join(', ')}${origin}` : by;
    text += safeText(`  ${s.name}${s.source !== s.name ? ` (${s.source})` : ''}  ${s.records} records: ${s.names.join(', ') || '-'}${prov}`) + '\n';
  }
  return text;
}

/** Also parsed without yargs (cli/fast.ts): declare every option here. */
export const options = {
  format: { choices: ['text', 'json'] as const, default: 'text', describe: 'output format' },
  diff: { type: 'boolean', default: true, describe: 'show the code diff of a dirty run (--no-diff to skip)' },
  'full-diff': { type: 'boolean', default: false, describe: `print the whole diff even past ${DIFF_LINES} lines (longer ones are cut to their stat and first lines)` },
} satisfies Record<string, Options>;

export const command: CommandModule<object, Args> = {
  command: 'show <run>',
  describe: 'Show one run: metadata, args, loops, names logged, and its code changes when it ran dirty',
  builder: (y) =>
    y
      .positional('run', { type: 'string', demandOption: true, describe: 'run id or a unique prefix of it' })
      .options(options)
      .example('$0 show 01JD3', 'a run by a prefix of its id (see `git flor runs`)')
      .example('$0 show 01JD3 --format json', 'metadata and segments for scripts')
      .example('$0 show 01JD3 --full-diff', 'the whole code diff of a dirty run, however long'),
  handler: async (argv) => {
    const repo = requireRepoSync(process.cwd());
    const d = await runDetail(repo, argv.run);
    const ckpt = await checkpointInfo(repo, d);
    const marks = d.run.marks ?? NO_MARKS;
    const hurt = [...damageOf(d.run.meta), ...d.segments.flatMap((s) => s.damaged.map((w) => `segment ${s.name} ${w}`))];
    for (const h of hurt) process.stderr.write(safeText(`git flor: run ${d.run.id}: damaged value, shown as [damaged value: …]: ${h}`) + '\n');
    if (argv.format === 'json') {
      const o = { id: d.run.id, writer: d.run.writer, marks, meta: toJson(d.run.meta as unknown as Value), codeTree: d.run.codeTree, segments: d.segments.map((s) => ({ ...s, provenance: s.provenance })), checkpoints: ckpt };
      await out(JSON.stringify(o, null, 2) + '\n');
      return;
    }
    let text = render(d, ckpt, marks);
    if (d.run.meta.dirty && argv.diff) {
      text += `\ncode that ran vs ${d.run.meta.commit ? d.run.meta.commit.slice(0, 7) : 'an empty tree'}:\n`;
      text += paintDiff(cutDiff(await codeDiff(repo, d.run.meta.commit, d.run.codeTree), d.run.id, argv['full-diff']));
    }
    await out(text);
  },
};
