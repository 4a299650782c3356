/**
 * Runs still recording (or ended and not yet captured), read from their journals: what a live view
 * shows before the run reaches the ledger. Read-only: a journal is never claimed or changed here,
 * so a capture in flight is never disturbed.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { listJournals, readJournal, journalDir } from './journal.js';
import { makeSegment } from './segment.js';
import type { RepoInfo } from './git.js';
import type { RunMeta, Segment } from './types.js';

export interface LiveRun {
  id: string;
  meta: RunMeta;
  segment: Segment;
}

/** Every readable journal as a run; one that cannot be read yet (a frame half written) is skipped. */
export function liveRuns(repo: RepoInfo): LiveRun[] {
  const out: LiveRun[] = [];
  const seen = new Set<string>();
  for (const path of journalsWithClaims(repo)) {
    try {
      const j = readJournal(path);
      if (!j.start) continue;
      const m = j.start.meta;
      const meta: RunMeta = {
        ...m,
        args: { ...m.args, ...j.args },
        status: j.end ? j.end.status : 'running',
        end: j.end?.end ?? null,
        loops: j.end?.loops ?? m.loops ?? [],
        records: j.records.name.length,
      };
      if (seen.has(m.id)) continue;
      seen.add(m.id);
      out.push({ id: m.id, meta, segment: makeSegment(m.id, 'forward', j.records) });
    } catch {
      // A journal is appended to while we read it; the next look sees it whole.
    }
  }
  return out;
}

/**
 * Journals, and the ones a capture has claimed (renamed `<id>.jrnl.claim.<pid>`) but not yet
 * committed: between the rename and the ledger update the run is in neither place otherwise, and
 * a live view would lose it for a moment.
 */
function journalsWithClaims(repo: RepoInfo): string[] {
  const dir = journalDir(repo.commonDir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return listJournals(repo.commonDir);
  }
  return names.filter((n) => /^[0-9A-Z]{26}\.jrnl(\.claim\.\d+)?$/.test(n)).sort().map((n) => join(dir, n));
}

/**
 * A cheap fingerprint of the history: it changes when a ledger ref moves or a journal grows.
 * Filesystem only (Git writes a ref by renaming a lock file into place, which changes the
 * directory's mtime), so a page can watch it twice a second without starting a process.
 */
export function historyStamp(repo: RepoInfo): string {
  const parts: string[] = [];
  const mtime = (p: string) => {
    try {
      return String(statSync(p).mtimeMs);
    } catch {
      return '-';
    }
  };
  const walk = (dir: string, depth: number) => {
    parts.push(`${dir}:${mtime(dir)}`);
    if (depth === 0) return;
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) walk(join(dir, n), depth - 1);
  };
  walk(join(repo.commonDir, 'refs', 'flor', 'ledgers'), 1);
  walk(join(repo.commonDir, 'refs', 'flor', 'remotes'), 3);
  parts.push(`packed:${mtime(join(repo.commonDir, 'packed-refs'))}`);
  const jd = journalDir(repo.commonDir);
  let names: string[] = [];
  try {
    names = readdirSync(jd);
  } catch {
    // no journal directory yet
  }
  for (const n of names.sort()) {
    try {
      parts.push(`${n}:${statSync(join(jd, n)).size}`);
    } catch {
      // captured between listing and stat
    }
  }
  return parts.join('|');
}
