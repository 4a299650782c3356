/**
 * Before a reader lists runs, every run that has ended is in the ledger. A run's process only
 * writes its journal; a detached capturer moves it into the ledger after the process exits
 * (runtime/start.ts). A reader that starts in between must still show the run, so it
 *  - waits while a living process holds a claim on a journal (a capture in flight), and
 *  - captures itself every journal no living process will: its writer is gone (its end frame
 *    says how the run ended, `ok` included; none means it crashed) and nobody claims it, or its
 *    claimer died (the capturer was killed with the script's container).
 * A run lands in the ledger in one ref update, so a reader never sees part of one. Journals of
 * runs still going are left alone. The common case, an empty journal directory, costs one readdir.
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { JOURNAL_EXT, journalDir } from './journal.js';
import { unpack } from './pack.js';
import type { RepoInfo } from './git.js';
import type { FlorErrorCode } from '../errors.js';

/** `<id>.jrnl.claim.<pid>`: the journal, renamed by the process capturing it. */
export const CLAIM = '.claim.';
/** How long a reader waits for a capture in flight (a million records take ~2 s) before listing without it. */
const WAIT_MS = 60_000;
const POLL_MS = 10;

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** An end frame is small (loops, per-iteration times): a larger last frame is records. */
const END_FRAME_MAX = 16 << 20;

/**
 * The journal's last complete frame is its end frame: its run has finished, whatever its pid says
 * now. Pids are reused, and on a busy machine a finished run's pid can belong to another process
 * within seconds, which would make the run look alive. Walks the frame lengths (one read per
 * frame; chunks are large) and decodes only the last frame.
 */
export function journalEnded(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(4);
    let pos = 0;
    let last = -1;
    let lastLen = 0;
    while (pos + 4 <= size && readSync(fd, head, 0, 4, pos) === 4) {
      const len = head.readUInt32LE(0);
      if (pos + 4 + len > size) break; // a cut last frame: the writer died mid-append
      last = pos + 4;
      lastLen = len;
      pos += 4 + len;
    }
    if (last < 0 || lastLen > END_FRAME_MAX) return false;
    const body = Buffer.alloc(lastLen);
    if (readSync(fd, body, 0, lastLen, last) < lastLen) return false;
    const o = unpack(body, `journal ${path}`);
    return typeof o === 'object' && o !== null && (o as { t?: unknown }).t === 'end';
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

export interface Settled {
  /** Runs this call captured. */
  captured: string[];
  /** Journals that could not be captured (left for doctor), by path. */
  failed: Array<{ path: string; code: FlorErrorCode; error: string }>;
}

const NOTHING: Settled = { captured: [], failed: [] };

function claimPid(name: string): number | null {
  const i = name.indexOf(JOURNAL_EXT + CLAIM);
  if (i < 0) return null;
  const pid = Number(name.slice(i + JOURNAL_EXT.length + CLAIM.length));
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return []; // no journal directory: nothing was ever recorded here
  }
}

/** Claims held by other living processes: captures in flight. */
function liveClaims(dir: string): number {
  let n = 0;
  for (const name of entries(dir)) {
    const pid = claimPid(name);
    if (pid !== null && pid !== process.pid && pidAlive(pid)) n++;
  }
  return n;
}

/** Settlings in flight, by journal directory. */
const inflight = new Map<string, Promise<Settled>>();

/** Waits for captures in flight and captures ended runs nobody will; see the module comment. */
export function settleJournals(repo: RepoInfo): Promise<Settled> {
  const dir = journalDir(repo.commonDir);
  if (!entries(dir).some((n) => n.endsWith(JOURNAL_EXT) || claimPid(n) !== null)) return Promise.resolve(NOTHING);
  // Several listings of one repository in one process share one settling (each would otherwise
  // wait on the others' claims); another repository's settling says nothing about this one's.
  let p = inflight.get(dir);
  if (!p) {
    p = settle(repo, dir).finally(() => inflight.delete(dir));
    inflight.set(dir, p);
  }
  return p;
}

async function settle(repo: RepoInfo, dir: string): Promise<Settled> {
  const deadline = Date.now() + WAIT_MS;
  const waitClaims = async (): Promise<void> => {
    while (liveClaims(dir) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, POLL_MS));
  };
  await waitClaims();
  const { orphanedJournals, recoverJournals } = await import('./capture.js');
  let out = NOTHING;
  if (orphanedJournals(repo).length > 0) {
    const r = await recoverJournals(repo);
    out = { captured: r.recovered.map((c) => c.id), failed: r.failed };
  }
  // A journal claimed since the first look (by its capturer, or by another reader) is landing now.
  await waitClaims();
  return out;
}
