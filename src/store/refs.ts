/**
 * Every ref name flor uses, in one module with no imports, so the store, sync and the pre-push
 * hook's entry (which must not load the store's codecs to name a ref) agree by construction.
 * hooks/lib.sh restates the ledger and remote prefixes in shell; test/architecture.test.ts checks it.
 */
export const FLOR_REFS = 'refs/flor/';
/** `refs/flor/ledgers/<writer>`: each clone's run history; the only refs that travel. */
export const LEDGERS = 'refs/flor/ledgers/';
/** `refs/flor/remotes/<remote>/ledgers/<writer>`: other clones' ledgers, as fetched. */
export const REMOTES = 'refs/flor/remotes/';
/** Derived index for `git log` (Git's notes format), rebuilt locally, never pushed. */
export const NOTES_REF = 'refs/flor/notes';
/** `refs/flor/tmp/<runId>`: the code tree of a run that is still running. */
export const CODE_REFS = 'refs/flor/tmp/';
/** `refs/flor/seen/<remote>/<writer>`: the last tip read of a fetched ledger (readers keep ledgers append-only). */
export const SEEN = 'refs/flor/seen/';
/** `refs/flor/broken/<writer>/<time>`: a damaged value this clone's ledger ref held, kept for inspection. */
export const BROKEN = 'refs/flor/broken/';
/** One replay at a time per clone: a blob saying who holds the lock. */
export const REPLAY_LOCK_REF = 'refs/flor/locks/replay';
/** `refs/flor/plans/<id>`: pinned replay plans for many machines; travel under the same name. */
export const PLANS = 'refs/flor/plans/';

export function ownLedgerRef(writer: string): string {
  return LEDGERS + writer;
}
