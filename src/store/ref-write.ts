/**
 * A ref moved or deleted the way `git update-ref` does it with the files backend, without
 * starting it: the ref's `.lock` file created exclusively (a lock held by anyone else is a lost
 * race, retried by the caller), the current value read under the lock and compared, the new value
 * written to the lock and renamed over the ref, its reflog entry appended first. A capture moved
 * three refs (its ledger, the notes index, its code pin), one `git update-ref` process each,
 * forked from the capturer.
 *
 * Only where that equivalence holds: refs as files (no reftable), the ref's value readable from
 * its file or packed-refs (ref-files.ts), no reference-transaction hook for Git to run and no
 * core.hooksPath to look for one in, no core.sharedRepository (Git would widen the modes), no
 * core.fsync (Git might sync refs). Anywhere else these return null and the caller runs Git.
 * Reflog entries carry flor's identity (FLOR_IDENT), as its commits do.
 */
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FLOR_IDENT, type RepoInfo } from './git.js';
import { configMatching } from './git-config.js';
import { refFromFiles } from './ref-files.js';
import { gitDate, widensModes } from './loose.js';

const SETTINGS = /^core\.(sharedrepository|fsync|hookspath|logallrefupdates)$/;
const ZERO = '0000000000000000000000000000000000000000';

interface Plain {
  /** Every ref update is logged (core.logAllRefUpdates=always). */
  logAll: boolean;
}

function plainRefs(repo: RepoInfo, ref: string): Plain | null {
  if (!/^refs\/[A-Za-z0-9._/-]+$/.test(ref) || ref.includes('..') || ref.includes('//') || /(^|\/)\.|\.lock(\/|$)|\/$/.test(ref)) return null;
  if (process.env.GIT_QUARANTINE_PATH !== undefined) return null;
  const found = configMatching(repo, SETTINGS);
  const setting = (key: string): string | null => found.get(key)?.at(-1) ?? null;
  if (widensModes(setting('core.sharedrepository'))) return null;
  if (setting('core.fsync') !== null || setting('core.hookspath') !== null) return null;
  if (existsSync(join(repo.commonDir, 'hooks', 'reference-transaction'))) return null;
  return { logAll: /^\s*always\s*$/i.test(setting('core.logallrefupdates') ?? '') };
}

/** The lock on `ref`; false when someone else holds it, null on anything else (Git says what). */
function lock(path: string): number | false | null {
  try {
    mkdirSync(dirname(path), { recursive: true });
    return openSync(`${path}.lock`, 'wx', 0o666);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EEXIST' ? false : null;
  }
}

/**
 * `git update-ref [--create-reflog] -m MESSAGE REF NEXT PREV` (PREV null: the ref must not
 * exist): true when moved, false when the ref had another value or its lock was held, null when
 * Git must do it.
 */
export function casRefFiles(repo: RepoInfo, ref: string, next: string, prev: string | null, message: string, createLog: boolean): boolean | null {
  const plain = plainRefs(repo, ref);
  if (!plain) return null;
  const path = join(repo.commonDir, ref);
  const fd = lock(path);
  if (fd === null || fd === false) return fd;
  let done = false;
  try {
    const now = refFromFiles(repo, ref);
    if (now === undefined) return null;
    if (now !== prev) return false;
    writeSync(fd, `${next}\n`);
    closeSync(fd);
    const log = join(repo.commonDir, 'logs', ref);
    if (createLog || plain.logAll || existsSync(log)) {
      mkdirSync(dirname(log), { recursive: true });
      const who = `${FLOR_IDENT.GIT_COMMITTER_NAME} <${FLOR_IDENT.GIT_COMMITTER_EMAIL}>`;
      appendFileSync(log, `${prev ?? ZERO} ${next} ${who} ${gitDate()}\t${message.replace(/\n/g, ' ')}\n`);
    }
    renameSync(`${path}.lock`, path);
    done = true;
    return true;
  } finally {
    if (!done) {
      try {
        closeSync(fd);
      } catch {
        // closed before the failure
      }
      unlinkSync(`${path}.lock`);
    }
  }
}

/**
 * `git update-ref -d REF [OLD]`: true when the ref is gone (or, without `expect`, never was);
 * false when it does not have the value `expect` names; null when Git must do it (a packed ref, a
 * symbolic one, a layout this does not know). A held lock is null too: Git waits for it a
 * moment, then fails with its own message.
 */
export function deleteRefFiles(repo: RepoInfo, ref: string, expect?: string): boolean | null {
  const plain = plainRefs(repo, ref);
  if (!plain) return null;
  const path = join(repo.commonDir, ref);
  let packed = '';
  try {
    packed = readFileSync(join(repo.commonDir, 'packed-refs'), 'utf8');
  } catch {
    // no packed refs
  }
  if (packed.includes(` ${ref}\n`) || packed.endsWith(` ${ref}`)) return null;
  const fd = lock(path);
  if (fd === null || fd === false) return null;
  closeSync(fd);
  try {
    const now = refFromFiles(repo, ref);
    if (now === undefined) return null;
    if (expect !== undefined && now !== expect) return false;
    for (const p of [path, join(repo.commonDir, 'logs', ref)]) {
      try {
        unlinkSync(p);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    return true;
  } finally {
    unlinkSync(`${path}.lock`);
  }
}
