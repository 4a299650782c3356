/**
 * When this clone's ledger ref no longer names a readable commit (it points at a blob, or its tip
 * object is gone), new runs are still captured: the next append starts a new chain (a root commit)
 * in place of the damaged tip, which is kept for inspection at `refs/flor/broken/<writer>/<time>`
 * when it is still an object. The last good tip stays in the ledger's reflog, from which
 * `git flor doctor --repair` joins the two chains again.
 */
import { git, repoCwd, type RepoInfo } from './git.js';
import { BROKEN } from './refs.js';

export async function keepBroken(repo: RepoInfo, ref: string, tip: string): Promise<void> {
  const cwd = repoCwd(repo);
  const exists = await git(['cat-file', '-e', tip], { cwd, okCodes: [1, 128] });
  if (exists.code !== 0) return; // nothing left to keep; the reflog still names it
  const writer = ref.slice(ref.lastIndexOf('/') + 1);
  const stamp = new Date().toISOString().replace(/[-:.]/g, '');
  await git(['update-ref', '-m', `flor: damaged tip of ${ref}`, `${BROKEN}${writer}/${stamp}`, tip], { cwd, okCodes: [1, 128] });
}
