/**
 * `git flor push` / `git flor fetch`, through the canonical `git` binary so every transport Git
 * knows (local paths, ssh, smart HTTP, credential helpers, insteadOf, pushurl) just works.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deleteRef, fetchRefspecsFrom, pushRefspecTo, refListing, refsUnder, refTip, remoteRefTip } from '../store/transfer.js';
import { replacedBy } from '../store/removals.js';
import { settleJournals } from '../store/settle.js';
import type { RepoInfo } from '../store/git.js';
import { FlorError, isFlorError } from '../errors.js';
import { fetchRefspecs, pushRefspec, resolveRemote } from './refspecs.js';
import { configuredRemotes, configValue } from '../store/git-config.js';
import { ownLedgerRef, REMOTES } from '../store/refs.js';
import { reapplyRewrites } from './rewrite.js';
import { configureRemoteIfInitialised } from './remote-config.js';
import { PLAN_REFSPEC } from './plans.js';


function syncDir(repo: RepoInfo): string {
  return join(repo.commonDir, 'flor', 'sync');
}

/** Same key the pre-push stub computes in shell (`tr -c 'A-Za-z0-9._-' '_'`). */
export function pushedMarkerPath(repo: RepoInfo, remoteArg: string): string {
  return join(syncDir(repo), 'pushed', remoteArg.replace(/[^A-Za-z0-9._-]/g, '_'));
}

/**
 * A remote added after `git flor init` gets flor's fetch refspecs the first time git flor talks to
 * it. `added`: the refspecs now configured; `error`: that failed (the push or fetch went on).
 */
export type RemoteConfigNote = { added: string[] } | { error: string };

/**
 * Never fails the push or fetch it runs in: the refspecs only serve later plain `git fetch`es,
 * and this command passes its own refspecs explicitly.
 */
function configureLaterRemote(repo: RepoInfo, r: { arg: string; configured: boolean }): RemoteConfigNote | undefined {
  if (!r.configured) return undefined; // a URL or path: no remote section to configure
  try {
    const c = configureRemoteIfInitialised(repo, r.arg, { configured: true });
    return c?.added ? { added: c.addedRefspecs } : undefined;
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/** The one stderr line `git flor push` / `fetch` print about it. */
export function remoteConfigLine(remote: string, note: RemoteConfigNote): string {
  return 'added' in note
    ? `git flor: remote ${remote}: added fetch refspecs ${note.added.join(' ')} so a plain \`git fetch ${remote}\` brings other clones' run history\n`
    : `git flor: warning: could not configure fetch refspecs for remote ${remote} (a plain \`git fetch ${remote}\` will not bring run history; \`git flor init\` retries): ${note.error}\n`;
}

export interface PushResult {
  remote: string;
  ref: string | null;
  /** 'nothing': this clone has no ledger yet (no run captured). */
  status: 'pushed' | 'up-to-date' | 'nothing';
  tip: string | null;
  remoteConfig?: RemoteConfigNote;
}

function gitErrorLine(e: unknown): string {
  if (isFlorError(e) && typeof e.data.stderr === 'string') {
    const lines = e.data.stderr.split('\n').map((l) => l.trim()).filter(Boolean);
    return lines.find((l) => /^(fatal|error):/.test(l)) ?? lines[0] ?? e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

/** Pushes this clone's ledger (only it: see refspecs.ts) to `remote` (default: where `git push` goes). */
export async function pushLedger(repo: RepoInfo, remote?: string): Promise<PushResult> {
  const r = resolveRemote(repo, remote, 'push');
  // Before the push: Git's push also updates the tracking ref a fetch refspec maps to (see below).
  const remoteConfig = configureLaterRemote(repo, r);
  const extra = remoteConfig ? { remoteConfig } : {};
  // A run that just ended may still be landing (its capture runs after its process exits): a push
  // right after it must carry it, as a reader right after it shows it. (A first run also sets the writer.)
  await settleJournals(repo);
  const writer = configValue(repo, 'flor.writer');
  const tip = writer ? await refTip(repo, ownLedgerRef(writer)) : null;
  if (!writer || !tip) return { remote: r.arg, ref: null, status: 'nothing', tip: null, ...extra };
  let res = await pushRefspecTo(repo, r.arg, pushRefspec(writer));
  const lease = res.code !== 0 ? await rewrittenOver(repo, r.arg, writer) : null;
  // The one non-fast-forward a ledger makes: `doctor --repair` rewrote it without a damaged run, and
  // its removal record names the tip the remote still has. Forced only against exactly that tip.
  if (lease) res = await pushRefspecTo(repo, r.arg, `+${pushRefspec(writer)}`, { ref: ownLedgerRef(writer), oid: lease });
  const out = res.stdout.toString();
  const line = out.split('\n').find((l) => l.includes(`\t${ownLedgerRef(writer)}:`));
  const flag = line?.[0];
  if (res.code !== 0 || !line || flag === '!') {
    const why = line?.split('\t')[2] ?? res.stderr.trim().split('\n').find((l) => /^(fatal|error):/.test(l)) ?? res.stderr.trim();
    throw new FlorError('PUSH_FAILED', `could not push ${ownLedgerRef(writer)} to ${r.arg}: ${why}`, {
      hint: /non-fast-forward|fetch first|stale/.test(why)
        ? "another clone pushed under this clone's writer id (a copied .git?): see \"Writer id clash\" in git-flor's docs/sync.md"
        : 'check the remote with `git push --dry-run`; your branches were not affected',
      data: { stderr: res.stderr },
    });
  }
  if (r.configured) {
    // Git's push updates the remote-tracking ref its fetch refspecs map to, ignoring the negative
    // refspec that keeps this clone's own ledger out of refs/flor/remotes/ (seen with git 2.39).
    const tracking = `${REMOTES}${r.key}/ledgers/${writer}`;
    await deleteRef(repo, tracking);
  }
  mkdirSync(join(syncDir(repo), 'pushed'), { recursive: true });
  writeFileSync(pushedMarkerPath(repo, r.arg), tip);
  return { remote: r.arg, ref: ownLedgerRef(writer), status: flag === '=' ? 'up-to-date' : 'pushed', tip, ...extra };
}

/** The remote's tip of this clone's ledger, when a removal record of the local ledger says it replaced it. */
async function rewrittenOver(repo: RepoInfo, remote: string, writer: string): Promise<string | null> {
  const theirs = await remoteRefTip(repo, remote, ownLedgerRef(writer));
  return theirs && (await replacedBy(repo, ownLedgerRef(writer), writer, theirs)) ? theirs : null;
}

export interface LedgerUpdate {
  ref: string;
  old: string | null;
  new: string | null;
}

export interface FetchResult {
  remote: string;
  namespace: string;
  updated: LedgerUpdate[];
  remoteConfig?: RemoteConfigNote;
}

/** Fetches other clones' ledgers from one remote into refs/flor/remotes/<remote>/ledgers/*. */
async function fetchOne(repo: RepoInfo, remote: string | undefined): Promise<FetchResult> {
  const r = resolveRemote(repo, remote, 'fetch');
  const remoteConfig = configureLaterRemote(repo, r);
  const ns = `${REMOTES}${r.key}/ledgers/`;
  const before = await refsUnder(repo, ns);
  // Replay plans keep their names: a plan's id is its content's hash (sync/plans.ts).
  const specs = [...fetchRefspecs(r.key, configValue(repo, 'flor.writer')), PLAN_REFSPEC];
  try {
    await fetchRefspecsFrom(repo, r.arg, specs);
  } catch (e) {
    throw new FlorError('FETCH_FAILED', `could not fetch run history from ${r.arg}: ${gitErrorLine(e)}`, {
      hint: 'check the remote with `git ls-remote ' + r.arg + '`',
      cause: e,
    });
  }
  const after = await refsUnder(repo, ns);
  const updated: LedgerUpdate[] = [];
  for (const [ref, oid] of after) if (before.get(ref) !== oid) updated.push({ ref, old: before.get(ref) ?? null, new: oid });
  for (const [ref, oid] of before) if (!after.has(ref)) updated.push({ ref, old: oid, new: null });
  return { remote: r.arg, namespace: ns, updated, ...(remoteConfig ? { remoteConfig } : {}) };
}

export function remotesStampPath(repo: RepoInfo): string {
  return join(syncDir(repo), 'remotes.stamp');
}

/** The shell stubs compare this with `git for-each-ref` output to know a rebuild is due. */
export async function remotesStamp(repo: RepoInfo): Promise<string> {
  return refListing(repo, REMOTES);
}

/**
 * Rebuilds refs/flor/notes from the union of ledgers (store), puts rewritten commits back, and
 * records which remote ledgers the index now reflects.
 */
export async function refreshNotes(repo: RepoInfo): Promise<void> {
  const stamp = await remotesStamp(repo);
  const { rebuildNotes } = await import('../store/notes.js');
  await rebuildNotes(repo);
  await reapplyRewrites(repo);
  mkdirSync(syncDir(repo), { recursive: true });
  // The stub reads it with $(cat), which drops trailing newlines: store it without one.
  writeFileSync(remotesStampPath(repo), stamp);
}

/** `git flor fetch [REMOTE] [--all]`: fetch, then rebuild the notes index once. */
export async function fetchLedgers(repo: RepoInfo, opts: { remote?: string; all?: boolean } = {}): Promise<FetchResult[]> {
  const remotes = opts.all ? configuredRemotes(repo) : [opts.remote];
  if (opts.all && !remotes.length) throw new FlorError('NO_REMOTE', 'this repository has no remote', { hint: 'add one with `git remote add origin <url>`' });
  const results: FetchResult[] = [];
  for (const rm of remotes) results.push(await fetchOne(repo, rm));
  await refreshNotes(repo);
  return results;
}
