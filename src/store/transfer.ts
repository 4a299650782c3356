/**
 * Git's transport for the refs sync moves: push, fetch, and the ref listings it compares before
 * and after. Sync decides what travels (refspecs) and what a failure means; the store runs Git.
 */
import { gitRepo, type GitResult, type RepoInfo } from './git.js';
import { readRef } from './objects.js';

/**
 * `git push --porcelain` of one refspec, hooks not run again; the caller reads the porcelain line.
 * With `lease`, the remote's `lease.ref` is replaced only while it is exactly `lease.oid`.
 */
export function pushRefspecTo(repo: RepoInfo, remote: string, refspec: string, lease?: { ref: string; oid: string }): Promise<GitResult> {
  // --no-verify: this push must not run the pre-push hook again (it is how that hook pushes).
  const force = lease ? [`--force-with-lease=${lease.ref}:${lease.oid}`] : [];
  return gitRepo(repo, ['push', '--no-verify', '--porcelain', ...force, remote, refspec], { okCodes: [1, 128] });
}

/** The oid `ref` names on `remote` (`git ls-remote`), or null when it has none or cannot be reached. */
export async function remoteRefTip(repo: RepoInfo, remote: string, ref: string): Promise<string | null> {
  const r = await gitRepo(repo, ['ls-remote', remote, ref], { okCodes: [1, 2, 128] });
  return /^([0-9a-f]{40,64})\t/.exec(r.stdout.toString())?.[1] ?? null;
}

/** Fetches `specs` from `remote`, without tags and without FETCH_HEAD. */
export async function fetchRefspecsFrom(repo: RepoInfo, remote: string, specs: string[]): Promise<void> {
  // No tags, no FETCH_HEAD: this fetch must not change anything a user's `git pull` relies on.
  await gitRepo(repo, ['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', remote, ...specs]);
}

/** ref -> oid for every ref under `prefix`. */
export async function refsUnder(repo: RepoInfo, prefix: string): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  for (const l of (await refListing(repo, prefix)).split('\n')) {
    const i = l.indexOf(' ');
    if (i > 0) m.set(l.slice(i + 1), l.slice(0, i));
  }
  return m;
}

/** `<oid> <ref>` lines of every ref under `prefix`, as Git lists them (the hooks compare this text). */
export async function refListing(repo: RepoInfo, prefix: string): Promise<string> {
  const out = await gitRepo(repo, ['for-each-ref', '--format=%(objectname) %(refname)', prefix]);
  return out.stdout.toString().replace(/\n$/, '');
}

/** The oid `ref` names, or null. */
export function refTip(repo: RepoInfo, ref: string): Promise<string | null> {
  return readRef(repo, ref);
}

/** Deletes `ref` if it exists. */
export async function deleteRef(repo: RepoInfo, ref: string): Promise<void> {
  await gitRepo(repo, ['update-ref', '-d', ref], { okCodes: [1] });
}
