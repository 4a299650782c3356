/**
 * Git's transport for the refs sync moves: push, fetch, and the ref listings it compares before
 * and after. Sync decides what travels (refspecs) and what a failure means; the store runs Git.
 */
import { gitRepo, type GitResult, type RepoInfo } from './git.js';

/** `git push --porcelain` of one refspec, hooks not run again; the caller reads the porcelain line. */
export function pushRefspecTo(repo: RepoInfo, remote: string, refspec: string): Promise<GitResult> {
  // --no-verify: this push must not run the pre-push hook again (it is how that hook pushes).
  return gitRepo(repo, ['push', '--no-verify', '--porcelain', remote, refspec], { okCodes: [1, 128] });
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
export async function refTip(repo: RepoInfo, ref: string): Promise<string | null> {
  const r = await gitRepo(repo, ['rev-parse', '-q', '--verify', ref], { okCodes: [1] });
  return r.code === 0 ? r.stdout.toString().trim() : null;
}

/** Deletes `ref` if it exists. */
export async function deleteRef(repo: RepoInfo, ref: string): Promise<void> {
  await gitRepo(repo, ['update-ref', '-d', ref], { okCodes: [1] });
}
