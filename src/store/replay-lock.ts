/**
 * One replay at a time per clone. Two replays of the same runs at once would both do the work and
 * both append a replay segment; the second, waiting for the first and only then looking at what is
 * missing, finds the first's segments and replays nothing twice. Replays of different runs could
 * overlap, but each already takes every core.
 *
 * The lock is the ref `refs/flor/locks/replay` naming a blob that says who holds it. Git's own
 * compare-and-swap makes both steps atomic: taking it creates the ref only when absent, and
 * breaking a dead holder's lock deletes the ref only while it still names that holder's blob, so
 * two processes breaking the same stale lock cannot delete the lock one of them just took. Never
 * pushed or fetched (the pre-push guard refuses refs/flor/ refs but the own ledger; fetch refspecs
 * name only ledgers); `git log --all` skips a ref to a blob.
 */
import { REPLAY_LOCK_REF } from './refs.js';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { FlorError } from '../errors.js';
import { gitRepo, type RepoInfo } from './git.js';
import { reader, readRef, writeBlob } from './objects.js';
import { check } from './schema.js';
import { looseWriter } from './loose.js';
import { sessionDelete, sessionUpdate } from './ref-session.js';
import { casRefFiles, deleteRefFiles } from './ref-write.js';


export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the holder took the lock. */
  since: string;
  /** What it replays (names), for the waiting message. */
  names: string[];
}

export interface LockOptions {
  /** Called once when the lock is held by another live process, before waiting for it. */
  onWait?: (holder: LockHolder) => void;
  /** Give up after this long (ms); default: wait as long as the holder lives. */
  timeoutMs?: number;
  /** How often to look again (ms). */
  pollMs?: number;
}

/** A holder on another host cannot be checked; after this long its lock is taken as abandoned. */
const FOREIGN_STALE_MS = 24 * 3600_000;

/** The holder a lock blob names, or null when it is not one (damaged: the lock is then broken). */
function parseHolder(data: Buffer): LockHolder | null {
  try {
    const h = check<LockHolder>('lockHolder', JSON.parse(data.toString('utf8')), REPLAY_LOCK_REF, 'CORRUPT_LOCK');
    return { pid: h.pid, host: h.host, since: h.since, names: h.names };
  } catch {
    return null;
  }
}

function alive(h: LockHolder): boolean {
  if (h.host !== hostname()) return Date.now() - Date.parse(h.since) < FOREIGN_STALE_MS;
  try {
    process.kill(h.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

/**
 * Takes the replay lock, waiting while a live process holds it. Returns the release function
 * (idempotent). A holder that died (killed, crashed) is detected by its pid and its lock broken.
 */
export async function acquireReplayLock(repo: RepoInfo, names: string[], opts: LockOptions = {}): Promise<() => Promise<void>> {
  const me: LockHolder & { nonce: string } = { pid: process.pid, host: hostname(), since: new Date().toISOString(), names, nonce: randomBytes(8).toString('hex') };
  const holder = Buffer.from(JSON.stringify(me) + '\n');
  const mine = looseWriter(repo)?.blob(holder) ?? (await writeBlob(repo, holder));
  const poll = opts.pollMs ?? 250;
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  let told = false;
  let odd = 0;
  for (;;) {
    const failure = await tryCreate(repo, mine);
    if (failure === null) break;
    const cur = await currentHolder(repo);
    if (!cur) {
      // Released between the two looks, or another process's update-ref held the ref's .lock file
      // for a moment: try again at once. Only a failure that keeps happening with no holder is real.
      if (++odd >= ODD_FAILURES) {
        throw new FlorError('GIT_FAILED', `git update-ref ${REPLAY_LOCK_REF} failed: ${failure.trim().split('\n')[0]}`, {
          hint: 'check that this is a healthy Git repository (`git fsck`) and that .git is writable',
        });
      }
      await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    odd = 0;
    if (!cur.holder || !alive(cur.holder)) {
      // Deletes only while it still names the dead holder's blob (see the module comment).
      await gitRepo(repo, ['update-ref', '-d', REPLAY_LOCK_REF, cur.oid], { okCodes: [1, 128] });
      continue;
    }
    if (!told) {
      told = true;
      opts.onWait?.(cur.holder);
    }
    if (Date.now() >= deadline) {
      throw new FlorError('REPLAY_LOCKED', `another replay (pid ${cur.holder.pid} on ${cur.holder.host}, since ${cur.holder.since}) is still running`, {
        hint: 'wait for it to finish, then run this again: it replays only what is still missing',
        data: { ...cur.holder },
      });
    }
    await new Promise((r) => setTimeout(r, poll));
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    if (deleteRefFiles(repo, REPLAY_LOCK_REF, mine) === null) await sessionDelete(repo, REPLAY_LOCK_REF, mine);
  };
}

/**
 * Creates the lock ref only when absent; the failure's stderr when it is not created. Not casRef,
 * which tells a lost race from a real failure by reading the ref again: a lock ref can be
 * released (deleted) in between.
 */
async function tryCreate(repo: RepoInfo, oid: string): Promise<string | null> {
  // From the ref's files where the layout is plain (ref-write.ts), else in the repository's
  // update-ref session (ref-session.ts): the ledger appends and the release that follow then
  // start no process of their own either.
  const direct = casRefFiles(repo, REPLAY_LOCK_REF, oid, null, 'git flor: replay lock', false);
  if (direct !== null) return direct ? null : `${REPLAY_LOCK_REF} is held or moved`;
  const r = await sessionUpdate(repo, REPLAY_LOCK_REF, oid, null);
  return r.ok ? null : r.stderr;
}

/** Failed creations with no holder to show for it before giving up (Git's messages are localised, so state decides, not text). */
const ODD_FAILURES = 20;

/** Who holds the lock now (holder null when its blob is unreadable), or null when nobody does. */
export async function currentHolder(repo: RepoInfo): Promise<{ oid: string; holder: LockHolder | null } | null> {
  const oid = await readRef(repo, REPLAY_LOCK_REF);
  if (oid === null) return null;
  const o = await reader(repo).read(oid);
  return { oid, holder: o && o.type === 'blob' ? parseHolder(o.data) : null };
}

/**
 * For `git flor doctor`: removes the lock of a holder that died (as the next replay would), and
 * says who holds it otherwise. `removed`: the dead holder whose lock was removed.
 */
export async function clearDeadLock(repo: RepoInfo): Promise<{ removed: LockHolder | null; live: LockHolder | null }> {
  const cur = await currentHolder(repo);
  if (!cur) return { removed: null, live: null };
  if (cur.holder && alive(cur.holder)) return { removed: null, live: cur.holder };
  await gitRepo(repo, ['update-ref', '-d', REPLAY_LOCK_REF, cur.oid], { okCodes: [1, 128] });
  const unknown: LockHolder = { pid: 0, host: '?', since: '?', names: [] };
  return { removed: cur.holder ?? unknown, live: null };
}
