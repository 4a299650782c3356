/**
 * `refs/flor/tmp/<runId>` -> the code tree of a run that is still running. The tree is written at
 * run start but referenced by the ledger only at capture, possibly hours later; in between
 * `git gc --prune=now` (or an auto gc after the grace period) would delete it and the capture
 * would fail. The ref keeps it reachable (a ref may name a tree; `git log --all` skips it).
 *
 * Lifetime: pinned right after the run's journal has its start frame, unpinned by capture before
 * the journal is deleted, so a pin always has a journal beside it (waiting, claimed) except for a
 * pin whose journal was set aside as bad or removed by hand: `sweepCodeRefs` drops those.
 * Never pushed or fetched: the pre-push guard refuses every refs/flor/ ref but the own ledger,
 * and fetch refspecs name only refs/flor/ledgers/*.
 */
import { CODE_REFS } from './refs.js';
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoCwd, git, gitSync, type RepoInfo } from './git.js';
import { journalDir, JOURNAL_EXT } from './journal.js';
import { deleteRefFiles } from './ref-write.js';


export function codeRef(runId: string): string {
  return CODE_REFS + runId;
}


/**
 * Pins `tree` for run `runId` (synchronous: run start). In a repository whose refs are files, the
 * ref is written as Git writes a loose ref (a `.lock` file created exclusively, then renamed):
 * one git process less at every start. The run id is new, so no other writer can hold the ref; a
 * reftable repository gets `git update-ref`.
 */
export function pinCodeSync(repo: RepoInfo, runId: string, tree: string): void {
  const ref = codeRef(runId);
  if (existsSync(join(repo.commonDir, 'reftable'))) {
    gitSync(['update-ref', '-m', 'git flor: code of a running run', ref, tree], { cwd: repoCwd(repo) });
    return;
  }
  const path = join(repo.commonDir, ref);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.lock`, `${tree}\n`, { flag: 'wx' });
  renameSync(`${path}.lock`, path);
}

/** Drops the pin of a captured run; a pin already gone is fine. */
export async function unpinCode(repo: RepoInfo, runId: string): Promise<void> {
  if (deleteRefFiles(repo, codeRef(runId))) return;
  await git(['update-ref', '-d', codeRef(runId)], { cwd: repoCwd(repo), okCodes: [1] });
}

/** Run ids that have a pin. */
export async function pinnedRuns(repo: RepoInfo): Promise<string[]> {
  const r = await git(['for-each-ref', '--format=%(refname)', CODE_REFS], { cwd: repoCwd(repo) });
  return r.stdout
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((ref) => ref.slice(CODE_REFS.length));
}

/**
 * Drops pins whose run has no journal waiting or claimed. Refs are listed before the journal
 * directory is read: a run pins after creating its journal, so a pin seen first and then found
 * without a journal belongs to no run in progress. Returns the dropped run ids.
 */
export async function sweepCodeRefs(repo: RepoInfo): Promise<string[]> {
  const pinned = await pinnedRuns(repo);
  if (!pinned.length) return [];
  let names: string[] = [];
  try {
    names = readdirSync(journalDir(repo.commonDir));
  } catch {
    // no journal directory: every pin is stale
  }
  const live = new Set(names.filter((n) => n.includes(JOURNAL_EXT)).map((n) => n.slice(0, n.indexOf(JOURNAL_EXT))));
  const stale = pinned.filter((id) => !live.has(id));
  for (const id of stale) await unpinCode(repo, id);
  return stale;
}
