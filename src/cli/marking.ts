/** What `tag`, `untag`, `note` and `rm` share: runs named by id prefix (removed ones too), marks written to this clone's ledger. */
import { FlorError } from '../errors.js';
import { requireRepoSync, type RepoInfo } from '../store/git.js';
import { appendMarks, type Mark, type MarkOp } from '../store/marks.js';
import { readTrust } from '../store/trust.js';
import { resolveIn, type RunEntry } from '../store/ledger.js';
import { listHistory, type MarkedRun } from '../query/history.js';
import { out } from './print.js';

export interface Marking {
  repo: RepoInfo;
  runs: MarkedRun[];
}

/** The runs these prefixes name, among every run this clone can read (removed ones included). */
export async function namedRuns(prefixes: string[]): Promise<Marking> {
  const repo = requireRepoSync(process.cwd());
  const { runs, broken } = await listHistory(repo, { all: true });
  const named = prefixes.map((p) => resolveIn(runs, String(p), broken) as MarkedRun);
  return { repo, runs: [...new Map(named.map((r) => [r.id, r])).values()] };
}

/** A tag: one word, so that `--where "tag = 'x'"` and the table's `a,b` read back unambiguously. */
export function checkTag(tag: string): string {
  if (!/^[^\s,'"]{1,100}$/.test(tag)) {
    throw new FlorError('BAD_USAGE', `tag ${JSON.stringify(tag)} is not one word`, { hint: 'use up to 100 characters without spaces, commas or quotes, e.g. baseline or lr-sweep/2' });
  }
  return tag;
}

/** Writes the marks and says, per run of another writer, where they count. */
export async function writeMarks(m: Marking, op: MarkOp, values: Array<string | null>, said: (r: RunEntry) => string): Promise<void> {
  const time = new Date().toISOString();
  const marks: Mark[] = m.runs.flatMap((r) => values.map((value) => ({ run: r.id, op, value, time })));
  await appendMarks(m.repo, marks);
  const trust = await readTrust(m.repo);
  let text = '';
  for (const r of m.runs) {
    text += said(r) + '\n';
    if (r.writer !== trust.own) {
      process.stderr.write(
        `git flor: run ${r.id} was recorded by writer ${r.writer}: this clone's ${op} counts here; in other clones it counts only where writer ${trust.own} is trusted (git config flor.trustedWriters)\n`,
      );
    }
  }
  await out(text);
}
