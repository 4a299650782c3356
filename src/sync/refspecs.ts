/**
 * Which refs travel, and where fetched ones land. One place, so push, fetch, init and the
 * pre-push guard cannot disagree about the namespaces of docs/design.md's storage section.
 *
 * Only ledgers travel. refs/flor/notes is derived (rebuilt from the union of ledgers after every
 * fetch) and shared by nobody: pushing it would make two clones' notes collide on one ref and
 * need a merge, for data any clone can recompute. Checkpoints are files under .git/flor, never refs.
 */
import { configuredRemotes, configValue, currentBranch } from '../store/git-config.js';
import type { RepoInfo } from '../store/git.js';
import { FlorError } from '../errors.js';

import { LEDGERS, ownLedgerRef, REMOTES } from '../store/refs.js';

/** Push refspec: never forced, so a clone can only fast-forward its own chain on a remote. */
export function pushRefspec(writer: string): string {
  return `${ownLedgerRef(writer)}:${ownLedgerRef(writer)}`;
}

/**
 * Fetch refspecs. The `+` only ever applies inside refs/flor/remotes/<remote>/ (a mirror of what
 * the remote holds, like refs/remotes/*), never to refs/flor/ledgers/*. The negative refspec skips
 * this clone's own ledger: we already hold it, and a second copy would only be read twice.
 */
export function fetchRefspecs(remoteKey: string, writer: string | null): string[] {
  const specs = [`+${LEDGERS}*:${REMOTES}${remoteKey}/ledgers/*`];
  if (writer) specs.push(`^${ownLedgerRef(writer)}`);
  return specs;
}

/** Remote names become one path component under refs/flor/remotes/ (store's readableRuns globs `*`). */
export function remoteKey(remoteOrUrl: string, configured: boolean): string {
  if (configured && /^[A-Za-z0-9._-]+$/.test(remoteOrUrl) && !remoteOrUrl.startsWith('.') && !remoteOrUrl.endsWith('.lock')) {
    return remoteOrUrl;
  }
  // A URL or an unusual remote name: a stable, ref-safe key derived from it.
  const safe = remoteOrUrl.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(-40);
  let h = 0x811c9dc5;
  for (let i = 0; i < remoteOrUrl.length; i++) h = Math.imul(h ^ remoteOrUrl.charCodeAt(i), 0x01000193) >>> 0;
  return `${safe || 'url'}-${h.toString(16).padStart(8, '0')}`;
}

/** The remote a plain `git push` / `git fetch` would use, following Git's own precedence. */
export function defaultRemote(repo: RepoInfo, direction: 'push' | 'fetch'): string {
  const remotes = configuredRemotes(repo);
  const branch = currentBranch(repo);
  const candidates =
    direction === 'push'
      ? [branch && configValue(repo, `branch.${branch}.pushRemote`), configValue(repo, 'remote.pushDefault'), branch && configValue(repo, `branch.${branch}.remote`)]
      : [branch && configValue(repo, `branch.${branch}.remote`)];
  for (const c of candidates) if (c && c !== '.' && remotes.includes(c)) return c;
  if (remotes.includes('origin')) return 'origin';
  if (remotes.length === 1) return remotes[0]!;
  throw new FlorError('NO_REMOTE', remotes.length ? `several remotes and none is the default: ${remotes.join(', ')}` : 'this repository has no remote', {
    hint: remotes.length ? 'name one: `git flor push <remote>`' : 'add one with `git remote add origin <url>`',
  });
}

/** Resolves a user-given remote (a configured name, a path or a URL) to the fetch/push argument and its ref key. */
export function resolveRemote(repo: RepoInfo, given: string | undefined, direction: 'push' | 'fetch'): { arg: string; key: string; configured: boolean } {
  const name = given ?? defaultRemote(repo, direction);
  const configured = configuredRemotes(repo).includes(name);
  return { arg: name, key: remoteKey(name, configured), configured };
}
