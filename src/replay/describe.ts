/** Plain-text renderings of a plan and of a replay's outcome (the CLI prints them). Pure. */
import type { Plan } from './plan.js';
import type { ReplayReport, ReplayProgress } from './replay.js';
import type { Value } from '../store/records.js';

export function ms(n: number): string {
  if (!Number.isFinite(n)) return '?';
  if (n < 1000) return `${Math.round(n)} ms`;
  if (n < 120_000) return `${(n / 1000).toFixed(1)} s`;
  return `${Math.floor(n / 60_000)} min ${Math.round((n % 60_000) / 1000)} s`;
}

export function describePlan(plan: Plan): string[] {
  const lines: string[] = [];
  let rerun = 0;
  for (const r of plan.runs) {
    rerun += r.rerunMs;
    const where = r.statements.map((s) => `${s.name} (${s.where}${s.loop ? ` '${s.loop}'` : ''}, ${s.file}:${s.line})`).join(', ');
    lines.push(`run ${r.run}: ${r.iterations} iteration(s) of '${r.outerLoop ?? '-'}', ${r.checkpoints} checkpoint(s), ${r.segments.length} segment(s), ~${ms(r.estMs)} (re-run: ${ms(r.rerunMs)})`);
    lines.push(`  statements: ${where || '(none found in this version)'}`);
    if (r.skipInner.length) lines.push(`  skipped loops: ${r.skipInner.join(', ')}`);
    for (const k of r.kept) lines.push(`  loop '${k.loop}' runs: ${k.reason}`);
    for (const n of r.notes) lines.push(`  note: ${n}`);
    lines.push(`  segments: ${r.segments.map((s) => `[${s.start}..${s.end})${s.restoreFrom ? '*' : ''}${s.runToEnd ? '+' : ''}`).join(' ')}`);
  }
  lines.push(`${plan.runs.length} run(s), ${plan.tasks} task(s) on ${plan.workers} worker(s): ~${ms(plan.estWallMs)} (serial ~${ms(plan.estSerialMs)}; re-running them all: ${ms(rerun)})`);
  if (plan.tasks) lines.push('(* restores a checkpoint, + runs to the end of the script)');
  return lines;
}

function show(v: Value | undefined): string {
  if (v === undefined) return '(none)';
  if (typeof v === 'bigint') return `${v}n`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<unknown>).length})`;
  const s = JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

export function describeReport(r: ReplayReport): string[] {
  const lines: string[] = [];
  for (const o of r.outcomes) {
    // whole ids: they are what `--run` takes (a ULID's first 10 characters are only its time)
    const id = o.run;
    switch (o.status) {
      case 'replayed':
        lines.push(`run ${id}: replayed ${o.names.join(', ')} — ${o.records} record(s) in ${o.tasks} task(s)${o.reusedTasks ? ` (${o.reusedTasks} reused)` : ''}, ${ms(o.ms)}`);
        lines.push(`  ${statementOrigin(o.names, o.carried)}`);
        for (const p of o.partial) lines.push(`  not carried: ${p}`);
        if (Object.keys(o.live).length) lines.push(`  live calls (flor.memo without a recorded value): ${Object.entries(o.live).sort().map(([n, k]) => `${n} ${k}`).join(', ')}`);
        break;
      case 'planned':
        break;
      case 'not-propagated':
        lines.push(`run ${id}: cannot take ${o.names.join(', ')}: ${o.reason}`);
        break;
      case 'failed':
        lines.push(`run ${id}: replay failed: ${o.reason}`);
        break;
      case 'mismatch':
        lines.push(`run ${id}: NOT written: ${o.mismatches} replayed value(s) differ from the recorded ones (fidelity check)`);
        break;
      case 'refused':
        lines.push(`run ${id}: refused: ${o.reason}`);
        break;
    }
  }
  for (const n of r.notes) lines.push(`run ${n.run}: note: ${n.text}`);
  const shown = r.mismatches.slice(0, 20);
  for (const m of shown) lines.push(`  mismatch run ${m.run} ${m.name} at ${m.at || '(top)'}${m.occurrence ? ` #${m.occurrence + 1}` : ''}: recorded ${show(m.recorded)}, replayed ${show(m.replayed)}`);
  if (r.mismatches.length > shown.length) lines.push(`  … and ${r.mismatches.length - shown.length} more mismatch(es)`);
  for (const [names, runs] of group(r.unreached)) {
    const scripts = [...new Set(runs.map((u) => u.script))].sort();
    lines.push(`${runs.length} run(s) of ${scripts.join(', ')} never load the code that logs ${names}: not replayed for it`);
  }
  if (r.complete.length) lines.push(`${r.complete.length} run(s) already have ${r.names.join(', ')}`);
  if (r.outcomes.length === 0 && r.complete.length === 0 && r.unreached.length === 0) lines.push('no runs to replay');
  return lines;
}

/** Which statements were carried into the run's version, and which that version already had. */
function statementOrigin(names: string[], carried: string[]): string {
  const had = names.filter((n) => !carried.includes(n));
  const parts: string[] = [];
  if (carried.length) parts.push(`statement carried into this version: ${carried.join(', ')}`);
  if (had.length) parts.push(`statement already in this version: ${had.join(', ')}`);
  return parts.join('; ');
}

function group(unreached: ReplayReport['unreached']): Map<string, ReplayReport['unreached']> {
  const out = new Map<string, ReplayReport['unreached']>();
  for (const u of unreached) {
    const k = u.names.join(', ');
    out.set(k, [...(out.get(k) ?? []), u]);
  }
  return out;
}

export function describeProgress(p: ReplayProgress): string {
  const its = p.iterations.total ? `, ${p.iterations.done}/${p.iterations.total} iteration(s)` : '';
  return `replay: ${p.done}/${p.total} task(s)${its}${p.failed ? `, ${p.failed} failed` : ''}${p.etaMs !== null && p.done < p.total ? `, ETA ${ms(p.etaMs)}` : ''}`;
}

/** Whether the report deserves a findings exit status (1). */
export function hasFindings(r: ReplayReport): boolean {
  return r.outcomes.some((o) => o.status === 'failed' || o.status === 'not-propagated' || o.status === 'mismatch' || o.status === 'refused') || r.mismatches.length > 0;
}

const TRUSTED_BY = { own: 'this clone', config: 'trusted in git config flor.trustedWriters', option: 'allowed by --allow-writer', all: "allowed by --allow-writer '*'" } as const;

/** Whose code the replay runs (or would run): one line per writer, refused ones with what would allow them. */
export function describeWriters(r: ReplayReport): string[] {
  return r.writers.map((w) => {
    const runs = `${w.runs.length} run(s)`;
    const where = w.fetchedOwn ? " found only in a fetched copy of this clone's own ledger" : '';
    const signed = w.signers?.length ? `, signed by ${w.signers.join(', ')}` : '';
    if (w.trustedBy && w.unsigned) return `code of writer ${w.writer} is NOT run for ${runs}${where}: its ledger tip has no good signature (flor.verifyLedgerSignatures): ${w.unsigned}`;
    return w.trustedBy
      ? `code of writer ${w.writer} runs for ${runs}${where} (${TRUSTED_BY[w.trustedBy]}${signed})`
      : `code of writer ${w.writer} is NOT run for ${runs}${where}: not trusted (--allow-writer ${w.writer}, or git config --add flor.trustedWriters ${w.writer})`;
  });
}
