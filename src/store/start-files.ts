/**
 * What a run's start reads from Git's files instead of asking git, with a fallback to git for
 * anything unusual: HEAD (its commit and branch, from HEAD and the loose or packed ref), HEAD's
 * tree (from a cache of `<commit> <tree>`: a commit's tree never changes). The flor.* settings
 * come from Git's config listing (git-config.ts), kept on disk under the config files' stamp.
 * Each answer is one Git would give, or null.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import type { RepoInfo } from './git.js';
import { refFromFiles } from './ref-files.js';

const OID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function headTreeCache(repo: RepoInfo): string {
  return join(repo.gitDir, 'flor', 'head-tree');
}

/** Remembers HEAD's tree for `commit` (after git told it). */
export function rememberHeadTree(repo: RepoInfo, commit: string, tree: string): void {
  writeFileAtomic(headTreeCache(repo), `${commit} ${tree}\n`);
}

/** HEAD's commit, tree and branch, as `git rev-parse HEAD HEAD^{tree} --abbrev-ref HEAD` gives them; null when git must be asked. */
export function headFromFiles(repo: RepoInfo): { commit: string | null; tree: string | null; branch: string | null } | null {
  const head = readText(join(repo.gitDir, 'HEAD'))?.trim();
  if (!head) return null;
  let commit: string;
  let branch: string | null = null;
  if (head.startsWith('ref: ')) {
    const ref = head.slice(5).trim();
    if (!ref.startsWith('refs/heads/')) return null;
    branch = ref.slice('refs/heads/'.length);
    const oid = refFromFiles(repo, ref);
    if (oid === undefined) return null;
    if (oid === null) return { commit: null, tree: null, branch }; // unborn branch
    commit = oid;
  } else if (OID.test(head)) commit = head;
  else return null;
  const [c, tree] = (readText(headTreeCache(repo)) ?? '').trim().split(' ');
  if (c !== commit || !tree || !OID.test(tree)) return null;
  return { commit, tree, branch };
}
