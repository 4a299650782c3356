/**
 * Signed ledgers, both ends, each behind its own config switch (both off by default).
 * - `flor.signLedger`: this clone's ledger commits are made with `git commit-tree -S`, so Git
 *   signs them with the user's key (`user.signingKey`, `gpg.format`: OpenPGP, SSH or X.509).
 *   `commit.gpgSign` is not used: `commit-tree` ignores it, and a ledger commit is made at the end
 *   of every run, where a passphrase prompt would stall the capture.
 * - `flor.verifyLedgerSignatures`: a replay runs another ledger's code only when the tip it read
 *   the run at passes `git verify-commit` (a good signature by a key Git trusts: the GnuPG
 *   keyring, or `gpg.ssh.allowedSignersFile`). The tip's signature covers its whole tree, so every
 *   run the tip holds is vouched for. Without it, trusting a writer is consent, not authentication.
 */
import { git, repoCwd, type RepoInfo } from './git.js';
import { configBoolValue } from './git-config.js';

export const SIGN_CONFIG = 'flor.signLedger';
export const VERIFY_CONFIG = 'flor.verifyLedgerSignatures';

async function configBool(repo: RepoInfo, key: string): Promise<boolean> {
  return configBoolValue(repo, key) === true;
}

const signFlags = new Map<string, Promise<string[]>>();

/** `commit-tree` options for a ledger commit of this clone: `-S` when `flor.signLedger` is on. */
export function ledgerSignArgs(repo: RepoInfo): Promise<string[]> {
  let p = signFlags.get(repo.commonDir);
  if (!p) signFlags.set(repo.commonDir, (p = configBool(repo, SIGN_CONFIG).then((on) => (on ? ['-S'] : []))));
  return p;
}

/** Whether replays require a good signature on other ledgers' tips. */
export function verifyingSignatures(repo: RepoInfo): Promise<boolean> {
  return configBool(repo, VERIFY_CONFIG);
}

export interface TipSignature {
  good: boolean;
  /** Who signed, as Git names the signer (an SSH principal, an OpenPGP user id), when good. */
  signer: string | null;
  /** Git's reason when not good (its last line about the signature). */
  why: string | null;
}

/** `git verify-commit` of a ledger tip. */
export async function verifyTip(repo: RepoInfo, tip: string): Promise<TipSignature> {
  const cwd = repoCwd(repo);
  const v = await git(['verify-commit', tip], { cwd, okCodes: [1, 128] });
  if (v.code !== 0) {
    const lines = v.stderr.split('\n').map((l) => l.trim()).filter(Boolean);
    return { good: false, signer: null, why: lines.length ? lines[lines.length - 1]! : 'no signature' };
  }
  const s = await git(['log', '-1', '--no-walk', '--format=%GS', tip], { cwd, okCodes: [128] });
  return { good: true, signer: s.stdout.toString().trim() || null, why: null };
}
