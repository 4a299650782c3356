/** How two code trees differ, by Git's own diff: per-file line counts and the patch. */
import { git, repoCwd, type RepoInfo } from './git.js';

export interface TreeDiff {
  files: Array<{ path: string; added: number | null; removed: number | null }>;
  /** Unified diff, no color; '' when the trees are equal. */
  patch: string;
}

/**
 * How the code a run ran differs from its commit, for `show`: Git's stat, a blank line, then the
 * patch, in one process. Without a commit, against the empty tree; with a commit this clone lacks,
 * null.
 */
export async function codeAgainstCommit(repo: RepoInfo, commit: string | null, codeTree: string): Promise<string | null> {
  const base = commit ?? (await git(['mktree'], { cwd: repoCwd(repo), input: '' })).stdout.toString().trim();
  try {
    return (await git(['diff', '--no-color', '--no-ext-diff', '--stat', '--patch', base, codeTree], { cwd: repoCwd(repo), env: { GIT_PAGER: 'cat' } })).stdout.toString();
  } catch {
    return null;
  }
}

export async function treeDiff(repo: RepoInfo, a: string, b: string): Promise<TreeDiff> {
  if (a === b) return { files: [], patch: '' };
  const opts = { cwd: repoCwd(repo), env: { GIT_PAGER: 'cat' } };
  const [num, patch] = await Promise.all([
    git(['diff', '--no-color', '--no-ext-diff', '--no-renames', '--numstat', '-z', a, b], opts),
    git(['diff', '--no-color', '--no-ext-diff', '--no-renames', '--patch', a, b], opts),
  ]);
  const files: TreeDiff['files'] = [];
  // -z: "added\tremoved\tpath\0"; binary files count as "-".
  for (const rec of num.stdout.toString().split('\0')) {
    const m = /^(\d+|-)\t(\d+|-)\t([\s\S]+)$/.exec(rec);
    if (m) files.push({ path: m[3]!, added: m[1] === '-' ? null : Number(m[1]), removed: m[2] === '-' ? null : Number(m[2]) });
  }
  return { files, patch: patch.stdout.toString() };
}
