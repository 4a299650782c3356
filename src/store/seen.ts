/**
 * Fetched ledgers are append-only, and a reader makes them behave that way. A plain `git fetch`
 * force-updates `refs/flor/remotes/*` (the `+` refspec) without flor running, so the check lives
 * where ledgers are read: the last tip seen of each fetched ledger is kept at
 * `refs/flor/seen/<remote>/<writer>`. A new tip that holds every run the seen one held moves it
 * on. One that drops runs (an empty tree on top of the real tip, a force-push of other history, a
 * ledger pruned from the remote) or changes a run it held (other metadata, code or segment under
 * the same run id) does not: readers take the union of the seen tip's runs with the new tip's,
 * prefer the copy seen first, and the change is reported. The one drop accepted is a removal
 * record (removals.ts) by the ledger's own writer naming every run that went.
 */
import { git, repoCwd, type CatFile, type RepoInfo } from './git.js';
import { commitTreeOf, readTree, ZERO_OID } from './objects.js';
import { removalsAt } from './removals.js';
import { SEEN } from './refs.js';
import { refListingFromFiles } from './ref-files.js';

/** A ledger as the reader sees it (the shape of ledger.ts's LedgerRef). */
export interface SeenLedger {
  ref: string;
  tip: string;
  remote: string;
  writer: string;
  /** Set on the older tips checkSeen returns. */
  seen?: boolean;
}

export interface SeenAlert {
  ledger: string;
  code: 'LEDGER_REWRITTEN' | 'LEDGER_SHRANK' | 'LEDGER_GONE';
  error: string;
}

export function seenRef(remote: string, writer: string): string {
  return `${SEEN}${remote}/${writer}`;
}

/** Run ids in a ledger commit's tree (`runs/<aa>/<id>`); null when the commit cannot be read. */
export async function runIdsAt(cat: CatFile, commit: string): Promise<Set<string> | null> {
  try {
    const o = await cat.read(commit);
    if (o?.type !== 'commit') return null;
    const root = commitTreeOf(o.data);
    if (!root) return null;
    const runs = (await readTree(cat, root)).find((e) => e.name === 'runs' && e.type === 'tree');
    const ids = new Set<string>();
    if (!runs) return ids;
    for (const fan of await readTree(cat, runs.oid)) {
      if (fan.type !== 'tree') continue;
      for (const e of await readTree(cat, fan.oid)) if (e.type === 'tree') ids.add(e.name);
    }
    return ids;
  } catch {
    return null;
  }
}

export async function isAncestor(repo: RepoInfo, a: string, b: string): Promise<boolean> {
  const r = await git(['merge-base', '--is-ancestor', a, b], { cwd: repoCwd(repo), okCodes: [1, 128] });
  return r.code === 0;
}

async function moveSeen(repo: RepoInfo, ref: string, next: string, prev: string | null): Promise<void> {
  // Compare-and-swap like every flor ref; losing the race to another reader is fine.
  await git(['update-ref', '-m', 'flor: ledger tip seen', ref, next, prev ?? ZERO_OID], { cwd: repoCwd(repo), okCodes: [1, 128] });
}

/**
 * Checks every fetched ledger against the tip last seen of it. Returns the old tips whose runs must
 * still be read (`extra`, same ref and writer, older tip) and what to report. Own ledgers are not
 * tracked: only this clone writes them (doctor checks their history).
 */
export async function checkSeen(repo: RepoInfo, cat: CatFile, ledgers: SeenLedger[]): Promise<{ extra: SeenLedger[]; alerts: SeenAlert[] }> {
  const text = refListingFromFiles(repo, SEEN) ?? (await git(['for-each-ref', '--format=%(objectname) %(refname)', SEEN], { cwd: repoCwd(repo) })).stdout.toString();
  const seen = new Map<string, string>();
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp > 0) seen.set(line.slice(sp + 1), line.slice(0, sp));
  }
  const extra: SeenLedger[] = [];
  const alerts: SeenAlert[] = [];
  const fetched = ledgers.filter((l) => l.remote !== 'local');
  await Promise.all(
    fetched.map(async (l) => {
      const ref = seenRef(l.remote, l.writer);
      const s = seen.get(ref);
      seen.delete(ref);
      if (!s) return moveSeen(repo, ref, l.tip, null);
      if (s === l.tip) return;
      const [before, now] = await Promise.all([runIdsAt(cat, s), runIdsAt(cat, l.tip)]);
      if (!before) return moveSeen(repo, ref, l.tip, s); // the old tip is gone from this clone: nothing left to keep
      if (!now) return; // the new tip is unreadable: listing reports it; keep what was seen
      const dropped = [...before].filter((id) => !now.has(id));
      const [ff, changed] = await Promise.all([isAncestor(repo, s, l.tip), changedRuns(repo, s, l.tip, now)]);
      if (ff && dropped.length === 0 && changed.length === 0) return moveSeen(repo, ref, l.tip, s);
      if (changed.length === 0 && (dropped.length > 0 || !ff)) {
        const removed = await removedBy(cat, l.tip, l.writer);
        if (dropped.every((id) => removed.has(id))) return moveSeen(repo, ref, l.tip, s);
      }
      extra.push({ ...l, tip: s, seen: true });
      const what = [
        ff ? (dropped.length ? `dropped ${dropped.length} run(s) without a removal record by its writer` : '') : `is not a fast-forward of the tip seen before${dropped.length ? ` and drops ${dropped.length} run(s)` : ''}`,
        changed.length ? `changed ${changed.length} run(s) it held (${changed.slice(0, 3).join(', ')}${changed.length > 3 ? ', …' : ''}; the copies seen first are read)` : '',
      ].filter(Boolean).join(' and ');
      alerts.push({
        ledger: l.ref,
        code: ff && dropped.length ? 'LEDGER_SHRANK' : 'LEDGER_REWRITTEN',
        error: `ledger ${l.ref} ${what} (${s.slice(0, 12)} -> ${l.tip.slice(0, 12)}); the runs seen before are kept (${ref}; \`git update-ref -d ${ref}\` accepts the new tip)`,
      });
    }),
  );
  // A seen ledger whose remote-tracking ref is gone (pruned by `git fetch --prune`, or deleted).
  for (const [ref, s] of seen) {
    const m = /^refs\/flor\/seen\/([^/]+)\/([^/]+)$/.exec(ref);
    if (!m || !(await runIdsAt(cat, s))) continue;
    const ledger = `refs/flor/remotes/${m[1]}/ledgers/${m[2]}`;
    extra.push({ ref: ledger, tip: s, remote: m[1]!, writer: m[2]!, seen: true });
    alerts.push({ ledger, code: 'LEDGER_GONE', error: `ledger ${ledger} is gone; the runs seen before are kept (delete ${ref} to forget them)` });
  }
  return { extra, alerts };
}

/**
 * Runs both tips hold whose files differ: a run directory is written once, and later only gains
 * segments, so a file of it that changed or went (while the run stays) was rewritten.
 */
async function changedRuns(repo: RepoInfo, from: string, to: string, now: Set<string>): Promise<string[]> {
  const r = await git(['diff-tree', '-r', '--no-renames', '--name-only', '--diff-filter=DMT', from, to, '--', 'runs'], { cwd: repoCwd(repo), okCodes: [128] });
  if (r.code !== 0) return [];
  const ids = new Set<string>();
  for (const line of r.stdout.toString().split('\n')) {
    const id = /^runs\/[^/]+\/([^/]+)\//.exec(line)?.[1];
    if (id && now.has(id)) ids.add(id);
  }
  return [...ids].sort();
}

/** Run ids that removal records written by `writer` in the ledger at `tip` say were removed. */
async function removedBy(cat: CatFile, tip: string, writer: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const r of await removalsAt(cat, tip).catch(() => [])) if (r.writer === writer) for (const id of r.runs) out.add(id);
  return out;
}
