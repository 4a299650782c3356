/**
 * What a replay found about each run, gathered while the runs are prepared, run and written, in
 * the order they finish, and sorted once into the report.
 */
import type { Plan } from './plan.js';
import type { Mismatch } from './assemble.js';
import type { ReplayReport, RunOutcome, WriterUse } from './types.js';

export class Findings {
  readonly outcomes: RunOutcome[] = [];
  /** Runs that already have every name. */
  readonly complete: string[] = [];
  readonly unreached: ReplayReport['unreached'] = [];
  readonly mismatches: Mismatch[] = [];
  private readonly notes: Array<{ run: string; text: string }> = [];
  private readonly writers = new Map<string, WriterUse>();

  note(run: string, text: string): void {
    this.notes.push({ run, text });
  }

  /** Whose code `run` needs, and how that writer is trusted (one entry per writer and kind of trust). */
  writerOf(w: string, run: string, by: WriterUse['trustedBy'], more: Partial<WriterUse> = {}): void {
    const key = JSON.stringify([w, by, more.unsigned ?? null, more.fetchedOwn ?? false]);
    const u = this.writers.get(key) ?? { writer: w, runs: [], trustedBy: by, ...more, ...(more.signers ? { signers: [] } : {}) };
    u.runs.push(run);
    for (const s of more.signers ?? []) if (!u.signers!.includes(s)) u.signers!.push(s);
    this.writers.set(key, u);
  }

  report(names: string[], plan: Plan): ReplayReport {
    const byRun = <T extends { run: string }>(a: T, b: T): number => (a.run < b.run ? -1 : a.run > b.run ? 1 : 0);
    return {
      names,
      complete: [...this.complete].sort(),
      unreached: [...this.unreached].sort(byRun),
      plan,
      outcomes: [...this.outcomes].sort(byRun),
      mismatches: this.mismatches,
      writers: [...this.writers.values()].map((u) => ({ ...u, runs: u.runs.sort() })).sort((a, b) => (a.writer < b.writer ? -1 : 1)),
      notes: [...this.notes].sort(byRun),
    };
  }
}
