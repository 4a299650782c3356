/** Run ids as users type them: a full id or a unique prefix, any case. */
import { FlorError } from '../errors.js';
import type { RepoInfo } from './git.js';
import { listRunsChecked, type BrokenRun, type RunEntry } from './ledger-union.js';

/** The run id a user typed, as ids are stored (upper-case Crockford base32); empty is an error. */
function wantedId(idOrPrefix: string): string {
  const want = idOrPrefix.trim().toUpperCase();
  if (!want) throw new FlorError('RUN_NOT_FOUND', 'no run id given', { hint: 'list runs with `git flor runs`' });
  return want;
}

/** A run by full id or unique prefix (case-insensitive: ids are upper-case Crockford base32). */
export async function resolveRun(repo: RepoInfo, idOrPrefix: string): Promise<RunEntry> {
  wantedId(idOrPrefix); // before listing: an empty id needs no ledger read
  const { runs, broken } = await listRunsChecked(repo);
  return resolveIn(runs, idOrPrefix, broken);
}

/**
 * resolveRun against a listing the caller already has, so several prefixes cost one listing.
 * `broken` (from listRunsChecked) turns "no such run" into the reason a matching run is unreadable.
 */
export function resolveIn(runs: RunEntry[], idOrPrefix: string, broken: BrokenRun[] = []): RunEntry {
  const want = wantedId(idOrPrefix);
  const exact = runs.find((r) => r.id === want);
  if (exact) return exact;
  const hurt = broken.find((b) => b.id === want);
  if (hurt) throw new FlorError(hurt.code, hurt.error, { hint: 'run `git flor doctor`', data: { id: want } });
  const matches = runs.filter((r) => r.id.startsWith(want));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    const shown = matches.slice(0, 5).map((r) => r.id).join(', ');
    throw new FlorError('RUN_AMBIGUOUS', `run prefix ${idOrPrefix} matches ${matches.length} runs: ${shown}${matches.length > 5 ? ', …' : ''}`, {
      hint: 'give more characters of the id',
      data: { candidates: matches.map((r) => r.id) },
    });
  }
  const hurtPrefix = broken.filter((b) => b.id?.startsWith(want));
  if (hurtPrefix.length === 1) throw new FlorError(hurtPrefix[0]!.code, hurtPrefix[0]!.error, { hint: 'run `git flor doctor`' });
  throw new FlorError('RUN_NOT_FOUND', `no run matches ${idOrPrefix}`, { hint: 'list runs with `git flor runs`' });
}
