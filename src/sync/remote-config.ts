/**
 * flor's fetch refspecs on one remote, so a plain `git fetch <remote>` brings other clones' ledgers.
 *
 * init sets them on every remote it sees; a remote added later gets them the first time git flor
 * touches it anyway (the pre-push hook, `git flor push`, `git flor fetch`), so nobody has to
 * remember to re-run init. Kept apart from install.ts so the pre-push hook loads only this and
 * refspecs.ts, not the hook installer.
 */
import { existsSync } from 'node:fs';
import type { RepoInfo } from '../store/git.js';
import { fetchRefspecs, remoteKey } from './refspecs.js';
import { configuredRemotes, configValue, configValues, setConfig } from '../store/git-config.js';
import { installStateFile } from '../store/once.js';

export function installStatePath(repo: RepoInfo): string {
  return installStateFile(repo.commonDir);
}

/**
 * `git flor init` ran here and `git flor uninstall` has not undone it. A writer id alone does not
 * say so: recording a run creates one too, and uninstall keeps it once runs were recorded with it.
 */
export function florInitialised(repo: RepoInfo): boolean {
  return existsSync(installStatePath(repo));
}

export interface RefspecResult {
  remote: string;
  refspecs: string[];
  /** Some of `refspecs` were missing and are now configured. */
  added: boolean;
  /** Those that were missing. */
  addedRefspecs: string[];
  /** Why nothing was configured (a mirror remote). */
  skipped?: string;
}

const config = setConfig;

/**
 * Makes `remote.<remote>.fetch` hold flor's two refspecs for `writer`. `remote` must be a configured
 * remote's name (a URL has no config section to write to). Idempotent; costs two `git config`
 * reads when nothing is missing.
 */
export function ensureFetchRefspecs(repo: RepoInfo, remote: string, writer: string | null): RefspecResult {
  const have = configValues(repo, `remote.${remote}.fetch`);
  const mirror = ['true', 'yes', 'on', '1'].includes((configValue(repo, `remote.${remote}.mirror`) ?? '').toLowerCase());
  if (mirror || have.some((s) => /^\+?refs\/\*:refs\/\*$/.test(s))) {
    return {
      remote,
      refspecs: [],
      added: false,
      addedRefspecs: [],
      skipped: `remote ${remote} mirrors every ref (fetch refs/*:refs/*): flor adds no refspec there; a plain fetch from it could overwrite this clone's ledger`,
    };
  }
  const specs = fetchRefspecs(remoteKey(remote, true), writer);
  // A negative refspec for a former writer id of this clone would now hide another clone's ledger.
  for (const s of have) if (/^\^refs\/flor\/ledgers\/[^/*]+$/.test(s) && !specs.includes(s)) config(repo, ['--fixed-value', '--unset-all', `remote.${remote}.fetch`, s]);
  const missing = specs.filter((s) => !have.includes(s));
  for (const s of missing) config(repo, ['--add', `remote.${remote}.fetch`, s]);
  return { remote, refspecs: specs, added: missing.length > 0, addedRefspecs: missing };
}

/**
 * For the places git flor runs anyway: configures `remote` when init ran here and `remote` is a
 * configured remote. null when neither applies (a URL, or a repository flor was never set up in,
 * whose config git flor must not start writing to).
 */
export function configureRemoteIfInitialised(repo: RepoInfo, remote: string, known?: { configured: boolean }): RefspecResult | null {
  if (!florInitialised(repo)) return null;
  const configured = known?.configured ?? configuredRemotes(repo).includes(remote);
  if (!configured) return null;
  const writer = configValue(repo, 'flor.writer');
  // init always sets one; without it the negative refspec cannot be written, so wait for init.
  if (!writer) return null;
  return ensureFetchRefspecs(repo, remote, writer);
}
