/**
 * The exact code that ran: a Git tree of the work tree's tracked files plus untracked files that
 * are not ignored. Built in a private index file (a copy of the user's, so Git's stat cache makes
 * it fast), so the user's index, HEAD and work tree are never touched.
 */
import { copyFileSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { gitSync, git } from './git.js';
import type { RepoInfo } from './git.js';
import { FlorError } from '../errors.js';

function tempIndex(repo: RepoInfo): string {
  const dir = join(repo.commonDir, 'flor', 'tmp');
  mkdirSync(dir, { recursive: true });
  const idx = join(dir, `index-${process.pid}-${randomBytes(4).toString('hex')}`);
  const userIndex = join(repo.gitDir, 'index');
  if (existsSync(userIndex)) {
    try {
      copyFileSync(userIndex, idx);
    } catch {
      // a concurrent git may be replacing it; an empty index is only slower
    }
  }
  return idx;
}

function needTop(repo: RepoInfo): string {
  if (!repo.top) throw new FlorError('BARE_REPO', 'this repository has no work tree', { hint: 'run inside a clone with a work tree' });
  return repo.top;
}

/** Tree id of the current work tree (synchronous: used at run start). */
export function snapshotWorkTreeSync(repo: RepoInfo): string {
  const top = needTop(repo);
  const idx = tempIndex(repo);
  try {
    const env = { GIT_INDEX_FILE: idx };
    gitSync(['add', '-A', '--', '.'], { cwd: top, env });
    return gitSync(['write-tree'], { cwd: top, env }).stdout.toString().trim();
  } finally {
    rmSync(idx, { force: true });
  }
}

export async function snapshotWorkTree(repo: RepoInfo): Promise<string> {
  const top = needTop(repo);
  const idx = tempIndex(repo);
  try {
    const env = { GIT_INDEX_FILE: idx };
    await git(['add', '-A', '--', '.'], { cwd: top, env });
    return (await git(['write-tree'], { cwd: top, env })).stdout.toString().trim();
  } finally {
    rmSync(idx, { force: true });
  }
}

/** HEAD's commit and tree, or nulls on an unborn branch. */
export function headSync(repo: RepoInfo): { commit: string | null; tree: string | null; branch: string | null } {
  const cwd = repo.top ?? repo.gitDir;
  // One process at every run start: commit, tree and branch together ('HEAD' when detached).
  const r = gitSync(['rev-parse', 'HEAD', 'HEAD^{tree}', '--abbrev-ref', 'HEAD'], { cwd, okCodes: [128] });
  if (r.code === 0) {
    const [commit, tree, abbrev] = r.stdout.toString().trim().split('\n');
    return { commit: commit ?? null, tree: tree ?? null, branch: abbrev && abbrev !== 'HEAD' ? abbrev : null };
  }
  // Unborn branch: no commit yet, but HEAD already names the branch.
  const b = gitSync(['symbolic-ref', '-q', '--short', 'HEAD'], { cwd, okCodes: [1, 128] });
  return { commit: null, tree: null, branch: b.code === 0 ? b.stdout.toString().trim() : null };
}
