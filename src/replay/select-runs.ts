/** Which runs a replay considers: every readable run, or the ones named; then those since a time. */
import type { RepoInfo } from '../store/git.js';
import { readableRuns, listRunsChecked, resolveIn, type RunEntry } from '../store/ledger.js';

/** Every run, or the ones named (each must resolve), started at or after `since` (ms) when given. */
export async function selectRuns(repo: RepoInfo, ids: string[] | undefined, since?: number): Promise<RunEntry[]> {
  const runs = await namedRuns(repo, ids);
  return since === undefined ? runs : runs.filter((r) => Date.parse(r.meta.start) >= since);
}

async function namedRuns(repo: RepoInfo, ids: string[] | undefined): Promise<RunEntry[]> {
  if (!ids || ids.length === 0) return readableRuns(repo);
  const { runs, broken } = await listRunsChecked(repo);
  const out = new Map<string, RunEntry>();
  for (const id of ids) {
    const r = resolveIn(runs, id, broken);
    out.set(r.id, r);
  }
  return [...out.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
}
