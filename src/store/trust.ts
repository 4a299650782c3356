/**
 * Whose code a replay may run. A run's writer is the ledger that holds it (named by its ref, never
 * the `writer` field of its metadata). Runs of this clone's own writer replay as they always did;
 * another writer's runs only when the user says so: `--allow-writer ID` (repeatable, '*' for every
 * writer) or `git config --add flor.trustedWriters ID`. Without signed ledger commits this is
 * consent, not authentication: anyone who can push to a shared remote can update any ledger ref
 * there, so a trusted name only says which ledger the user chose to believe.
 */
import type { RepoInfo } from './git.js';
import { ownLedgerRef } from './refs.js';
import { configValue, configValues } from './git-config.js';

export interface Trust {
  /** This clone's writer id (`flor.writer`), null before its first run. */
  own: string | null;
  /** Writers trusted besides the own one. */
  writers: ReadonlySet<string>;
  /** '*' was given: every writer is trusted. */
  all: boolean;
  /** Where each trusted writer came from, for messages: 'config' or 'option'. */
  from: ReadonlyMap<string, 'config' | 'option'>;
}

export const TRUST_CONFIG = 'flor.trustedWriters';

/** Splits config values and options: several ids may share one value, separated by commas or spaces. */
function ids(values: string[]): string[] {
  return values.flatMap((v) => v.split(/[\s,]+/)).filter(Boolean);
}

/** This clone's trust: its own writer, `flor.trustedWriters`, and the writers `allow` adds. */
export async function readTrust(repo: RepoInfo, allow: readonly string[] = []): Promise<Trust> {
  const own = configValue(repo, 'flor.writer')?.trim() || null;
  const fromConfig = configValues(repo, 'flor.trustedWriters').map((v) => v.trim());
  const from = new Map<string, 'config' | 'option'>();
  for (const w of ids(fromConfig)) from.set(w, 'config');
  for (const w of ids([...allow])) if (!from.has(w)) from.set(w, 'option');
  return { own, writers: new Set(from.keys()), all: from.has('*'), from };
}

export function trusts(t: Trust, writer: string): boolean {
  return t.all || writer === t.own || t.writers.has(writer);
}

/**
 * Whether what `ledger` (a ledger of `writer`) holds may be believed as `writer`'s. A fetched copy
 * of this clone's own ledger is not this clone's writing (anyone who can push to the remote can
 * add to it): only `refs/flor/ledgers/<own>` is, unless the own id is trusted like another writer's.
 */
export function trustsLedger(t: Trust, writer: string, ledger: string): boolean {
  if (writer === t.own && ledger !== ownLedgerRef(writer)) return t.all || t.writers.has(writer);
  return trusts(t, writer);
}
