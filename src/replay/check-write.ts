/**
 * Checking a run's replayed records and writing them: its tasks must all have passed and its
 * re-executed statements must match the recorded ones (unless accepted); then only the names it
 * lacked go into a new replay segment, with the code that ran as its provenance.
 */
import { rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { RepoInfo } from '../store/git.js';
import { reader, readPath } from '../store/objects.js';
import { appendSegment } from '../store/ledger.js';
import { concatColumns, encodeSegment, makeSegment } from '../store/segment.js';
import type { RecordColumns } from '../store/records.js';
import { incompleteCodeNote, propagatedTree, removeRunSnapshots } from './snapshot.js';
import type { ReplayTaskResult } from './worker.js';
import { checkFidelity, concatRecords, type Mismatch } from './assemble.js';
import { checkMemo, liveCalls, memoEntries } from './memo-feed.js';
import type { Prepared } from './prepare.js';
import type { Staged } from './tasks.js';
import type { ReplayOptions, RunOutcome, TaskFailure } from './types.js';

/** A run whose tasks all passed and whose fidelity check allows writing it. */
export interface Checked {
  cols: RecordColumns;
  mismatches: Mismatch[];
  ms: number;
  reused: number;
  live: Record<string, number>;
}

/** The outcome of a run that is not written (a task failed, or fidelity), or what to write. */
export function checkRun(st: Staged, results: ReplayTaskResult[], opts: ReplayOptions): { outcome: RunOutcome; mismatches: Mismatch[] } | Checked {
  const { p, segments, outDir } = st;
  const run = p.entry.id;
  const ms = results.reduce((a, r) => a + r.ms, 0);
  const failures: TaskFailure[] = [];
  results.forEach((r, i) => {
    if (!r.ok) failures.push({ segment: r.segment, start: segments[i]!.start, end: segments[i]!.end, error: r.error, stderrTail: r.stderrTail });
  });
  // RULE: "A version … whose replay fails is reported by name with the reason; the others still
  // complete." Nothing of a failed run is written; its finished task journals stay for a retry.
  if (failures.length) {
    const f = failures[0]!;
    // Node prints an uncaught error as `<Name>Error: message` at the start of a line, after the
    // source excerpt; that line says more than the stack under it.
    const lines = f.stderrTail.split('\n').filter((l) => /\S/.test(l));
    const lastLine = lines.find((l) => /^\w*(Error|Exception)\b/.test(l)) ?? lines.at(-1) ?? '';
    return {
      outcome: { run, status: 'failed', names: p.names, reason: `segment ${f.segment} (iterations ${f.start}..${f.end - 1}) ${f.error}${lastLine ? `: ${lastLine.trim()}` : ''}${incompleteCodeNote(p.entry.meta, f.stderrTail)}`, failures },
      mismatches: [],
    };
  }

  const parts = results.map((r) => (r as Extract<ReplayTaskResult, { ok: true }>).records);
  const replayed = concatColumns(parts);
  const memo = memoEntries(replayed);
  const memoAt = new Set(memo.map((e) => e.i));
  const mismatches = [...checkFidelity(run, p.existing, replayed, (i) => memoAt.has(i)), ...checkMemo(run, p.memo, memo)];
  // RULE: "mismatches are reported, never silently mixed": a run whose re-executed statements
  // differ is not written (unless the user accepts it), so its new column cannot look trustworthy.
  if (mismatches.length && !opts.acceptMismatch) {
    // Differences often mean the code is not deterministic: a retry runs again, reusing nothing.
    rmSync(outDir, { recursive: true, force: true });
    return { outcome: { run, status: 'mismatch', names: p.names, mismatches: mismatches.length }, mismatches };
  }
  // RULE: "Replay never overwrites forward records; replay rows are marked as such." Only the
  // names this run lacked go into a new segment of source 'replay', next to the forward one.
  const wanted = new Set(p.names);
  // So are the results of memo calls made live: the next replay of the run finds them.
  const liveAt = parts.map((c) => new Set(memoEntries(c).filter((e) => e.tag.live === true).map((e) => e.i)));
  const cols = concatRecords(parts, (n, part, i) => wanted.has(n) || liveAt[part]!.has(i));
  return { cols, mismatches, ms, reused: results.filter((r) => r.ok && r.reused).length, live: liveCalls(memo) };
}

/**
 * The provenance tree, present at the moment of the append. It was made while the tasks ran, and
 * nothing references it before the append: a `git gc --prune=now` meanwhile deletes it with the
 * propagated blobs. Checked through the shared object reader (no process), made again when gone.
 */
async function provenanceTree(repo: RepoInfo, p: Prepared, tree: string): Promise<string> {
  const cat = reader(repo);
  const found = await Promise.all([cat.read(tree), ...Object.keys(p.files).map((f) => readPath(cat, tree, f))]);
  return found.every((o) => o !== null) ? tree : propagatedTree(repo, p.entry.codeTree, p.files);
}

export async function writeRun(repo: RepoInfo, st: Staged, c: Checked, made: string, writer: string, plan?: string): Promise<{ outcome: RunOutcome; mismatches: Mismatch[] }> {
  const { p, segments } = st;
  const run = p.entry.id;
  const tree = await provenanceTree(repo, p, made);
  const seg = makeSegment(run, 'replay', c.cols, {
    statements: p.names, code: tree, time: new Date().toISOString(), writer,
    segments: segments.map((s) => [s.start, s.end] as [number, number]),
    carried: p.carried,
    ...(plan ? { plan } : {}),
  });
  const name = segmentName();
  // The code tree goes into the ledger with the segment: provenance that `git gc` cannot prune.
  await appendSegment(repo, run, name, encodeSegment(seg), { code: tree });
  await removeRunSnapshots(repo, run);
  return {
    outcome: { run, status: 'replayed', names: p.names, carried: p.carried, partial: p.partial, segment: name, records: c.cols.name.length, tasks: segments.length, reusedTasks: c.reused, ms: c.ms, live: c.live },
    mismatches: c.mismatches,
  };
}

function segmentName(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `replay-${t}-${randomBytes(3).toString('hex')}`;
}
