/**
 * Before a reader lists runs, every run that has ended is in the ledger. A run's process only
 * writes its journal; a detached capturer moves it into the ledger after the process exits
 * (runtime/run.ts). A reader that starts in between must still show the run, so it
 *  - waits while a living process holds a claim on a journal (a capture in flight), and
 *  - captures itself every journal no living process will: its writer is gone (its end frame
 *    says how the run ended, `ok` included; none means it crashed) and nobody claims it, or its
 *    claimer died (the capturer was killed with the script's container).
 * A run lands in the ledger in one ref update, so a reader never sees part of one. Journals of
 * runs still going are left alone. The common case, an empty journal directory, costs one readdir.
 */
import { readdirSync } from 'node:fs';
import { JOURNAL_EXT, journalDir } from './journal.js';
import type { RepoInfo } from './git.js';

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

export interface Settled {
  /** Runs this call captured. */
  captured: string[];
  /** Journals that could not be captured (left for doctor), by path. */
  failed: Array<{ path: string; code: string; error: string }>;
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

let inflight: Promise<Settled> | null = null;

/** Waits for captures in flight and captures ended runs nobody will; see the module comment. */
export function settleJournals(repo: RepoInfo): Promise<Settled> {
  const dir = journalDir(repo.commonDir);
  if (!entries(dir).some((n) => n.endsWith(JOURNAL_EXT) || claimPid(n) !== null)) return Promise.resolve(NOTHING);
  // Several listings in one process share one settling (each would otherwise wait on the others' claims).
  inflight ??= settle(repo, dir).finally(() => {
    inflight = null;
  });
  return inflight;
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
