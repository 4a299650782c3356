/** Names a user gives (commits, branches, paths in a tree) resolved to objects, and files read from a tree. */
import { gitRepo, type RepoInfo } from './git.js';
import { commitTreeOf, reader } from './objects.js';

/** The commit and tree a commit-ish names, or null when it names none in this clone. */
export async function resolveRev(repo: RepoInfo, rev: string): Promise<{ commit: string; tree: string } | null> {
  // A leading '-' would be taken as an option; --end-of-options alone is not enough for rev-parse's
  // own flags on old Gits, so such a name is simply not a revision.
  if (rev.startsWith('-')) return null;
  // A full commit id (a pinned plan's `from`) is read through the shared reader; anything else Git resolves.
  if (/^[0-9a-f]{40}$/.test(rev)) {
    const o = await reader(repo).read(rev);
    const tree = o?.type === 'commit' ? commitTreeOf(o.data) : null;
    if (tree) return { commit: rev, tree };
  }
  const c = await gitRepo(repo, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`], { okCodes: [1, 128] });
  if (c.code !== 0) return null;
  const commit = c.stdout.toString().trim();
  const tree = (await gitRepo(repo, ['rev-parse', `${commit}^{tree}`])).stdout.toString().trim();
  return { commit, tree };
}

/** The text of the file at `path` in `tree`, or null when the tree has no file there. */
export async function readAt(repo: RepoInfo, tree: string, path: string): Promise<string | null> {
  const o = await reader(repo).read(`${tree}:${path}`);
  return o && o.type === 'blob' ? o.data.toString('utf8') : null;
}

/** Paths of the work tree's files Git would see: tracked, plus untracked ones that are not ignored. */
export async function workTreePaths(repo: RepoInfo): Promise<string[]> {
  const r = await gitRepo(repo, ['ls-files', '-co', '--exclude-standard', '-z']);
  return r.stdout.toString('utf8').split('\0').filter(Boolean);
}

/** Every blob (and link) of `tree`, recursively, with its mode and path. */
export async function treeBlobs(repo: RepoInfo, tree: string): Promise<Array<{ path: string; mode: string; oid: string }>> {
  const r = await gitRepo(repo, ['ls-tree', '-r', '-z', tree]);
  return r.stdout.toString('utf8').split('\0').filter(Boolean).flatMap((line) => {
    const tab = line.indexOf('\t');
    const [mode, type, oid] = line.slice(0, tab).split(' ');
    return type === 'blob' ? [{ path: line.slice(tab + 1), mode: mode!, oid: oid! }] : [];
  });
}
