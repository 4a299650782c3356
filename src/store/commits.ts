/**
 * Commit subjects for the runs' versions, read through the shared `cat-file`: a view groups runs
 * by version and names each group by what its commit says, without a `git log` per version.
 */
import type { RepoInfo } from './git.js';
import { reader } from './objects.js';

/** sha -> first line of the commit message; a commit this clone lacks (a fetched run's) is absent. */
export async function commitSubjects(repo: RepoInfo, shas: Iterable<string>): Promise<Map<string, string>> {
  const cat = reader(repo);
  const out = new Map<string, string>();
  await Promise.all(
    [...new Set(shas)].map(async (sha) => {
      if (!/^[0-9a-f]{40}$/.test(sha)) return;
      const o = await cat.read(sha).catch(() => null);
      if (o?.type !== 'commit') return;
      const text = o.data.toString('utf8');
      const body = text.indexOf('\n\n');
      out.set(sha, body < 0 ? '' : (text.slice(body + 2).split('\n', 1)[0] ?? ''));
    }),
  );
  return out;
}
