/**
 * Files renamed between two trees, by Git's own rename detection (`diff-tree -M`, content
 * similarity >= 50%), so propagation follows today's `train.ts` back to an old `main.ts`.
 */
import { repoCwd, git, type RepoInfo } from './git.js';

/** today's path -> old path, for every file Git sees as renamed from `oldTree` to `newTree`. */
export async function findRenames(repo: RepoInfo, oldTree: string, newTree: string): Promise<Map<string, string>> {
  const cwd = repoCwd(repo);
  const res = await git(['diff-tree', '-r', '-M', '--name-status', '-z', '--no-commit-id', oldTree, newTree], { cwd });
  // -z output: `R<score>\0<old>\0<new>\0` for a rename, `<status>\0<path>\0` otherwise.
  const parts = res.stdout.toString('utf8').split('\0');
  const renames = new Map<string, string>();
  for (let i = 0; i < parts.length; ) {
    const status = parts[i]!;
    if (status === '') break;
    if (status.startsWith('R') || status.startsWith('C')) {
      if (status.startsWith('R')) renames.set(parts[i + 2]!, parts[i + 1]!);
      i += 3;
    } else i += 2;
  }
  return renames;
}
