/**
 * `git flor doctor`'s engine: recover orphaned journals, verify every run of every ledger
 * (objects present, every blob decodes and matches its schema), and check the derived notes
 * index against the ledgers. It repairs what is derived or recoverable (journals, notes) and
 * reports the rest; history in a ledger is never rewritten.
 */
import { NOTES_REF, ownLedgerRef } from './refs.js';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { git, repoCwd, type RepoInfo } from './git.js';
import { pidAlive, recoverJournals } from './capture.js';
import { damagedCheckpoints } from './checkpoints.js';
import { journalDir } from './journal.js';
import { listLedgers, listRunsChecked, readCheckpointManifest, readSegment, segmentProblem, type LedgerRef } from './ledger.js';
import { badObjects, damagedRuns, lostTip, refetchOrDrop, restoreLostTip, rewriteWithout, setAsideCorrupt, type BadObject, type Repair } from './repair.js';

export type { Repair, RepairKind } from './repair.js';
import { objectState } from './object-state.js';
import { runIdsAt } from './seen.js';
import { removalsAt } from './removals.js';
import { reader } from './objects.js';
import { addNoteLines, missingNoteLines, notesJunk, rebuildNotes } from './notes.js';
import { readRef } from './objects.js';
import { damageOf } from './pack.js';

export interface Problem {
  run?: string;
  ref?: string;
  path?: string;
  problem: string;
}

export interface DoctorReport {
  /** Run ids captured from orphaned journals. */
  recovered: string[];
  /** Damage found and not repaired. */
  problems: Problem[];
  /** What was repaired. */
  repaired: Repair[];
  /** Runs that were checked and are sound. */
  checked: number;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Scratch files (`<name>-<pid>-<random>` under `.git/flor/tmp`: private index files, blob
 * staging) left by processes that died; a living process's files are never touched.
 */
function removeDeadScratch(repo: RepoInfo): Repair[] {
  const dir = join(repo.commonDir, 'flor', 'tmp');
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const dead = names.filter((n) => {
    const pid = Number(/^[a-z]+-(\d+)-[0-9a-f]+$/.exec(n)?.[1]);
    return Number.isInteger(pid) && pid > 0 && !pidAlive(pid);
  });
  for (const n of dead) rmSync(join(dir, n), { recursive: true, force: true });
  return dead.length ? [{ kind: 'scratch-removed', text: `removed ${dead.length} scratch file(s) of dead processes from ${dir}` }] : [];
}

/**
 * Runs a ledger's history held that its tip does not, and that no removal record by the ledger's
 * own writer accounts for: one `git log` over the first-parent history lists every deleted
 * `run.msgpack`. Ledgers are append-only, so any such run was hidden (an empty tree committed on
 * top, a rewritten history).
 */
async function droppedRuns(repo: RepoInfo, l: LedgerRef): Promise<{ runs: string[]; by: string } | null> {
  const r = await git(['log', '--first-parent', '--no-renames', '--diff-filter=D', '--name-only', '--format=%x01%H', l.tip, '--', 'runs'], { cwd: repoCwd(repo), okCodes: [128] });
  if (r.code !== 0) return null; // unreadable history: the missing-object check names it
  const gone = new Map<string, string>();
  let commit = '';
  for (const line of r.stdout.toString().split('\n')) {
    if (line.startsWith('\x01')) commit = line.slice(1);
    const m = /^runs\/[^/]+\/([^/]+)\/run\.msgpack$/.exec(line);
    if (m && !gone.has(m[1]!)) gone.set(m[1]!, commit);
  }
  if (!gone.size) return null;
  const cat = reader(repo);
  const now = (await runIdsAt(cat, l.tip)) ?? new Set<string>();
  const removed = new Set<string>();
  for (const rec of await removalsAt(cat, l.tip).catch(() => [])) if (rec.writer === l.writer) for (const id of rec.runs) removed.add(id);
  const hidden = [...gone.keys()].filter((id) => !now.has(id) && !removed.has(id)).sort();
  return hidden.length ? { runs: hidden, by: gone.get(hidden[0]!)! } : null;
}

function badText(b: BadObject): string {
  return `object ${b.oid} is ${b.state}${b.path ? ` (${b.path})` : ''}`;
}

/**
 * The ledgers' objects and refs: this clone's ledger ref (a lost tip is restored from the reflog),
 * runs of this clone's ledger whose objects are missing or corrupt (the history is rewritten
 * without them, with a removal record), fetched ledgers that reach damaged objects (fetched again
 * or dropped). Without `repair` each is reported with the command that repairs it.
 */
async function checkHistory(repo: RepoInfo, report: DoctorReport, repair: boolean): Promise<void> {
  const w = await git(['config', '--get', 'flor.writer'], { cwd: repoCwd(repo), okCodes: [1] });
  const writer = w.stdout.toString().trim();
  const own = writer ? ownLedgerRef(writer) : null;
  if (own) {
    const lost = await lostTip(repo, own);
    if (lost && repair) {
      const t = await restoreLostTip(repo, own, lost);
      report.repaired.push({ kind: 'tip-restored', text: `restored ${own} to its last good tip ${lost.lost.slice(0, 12)} from the reflog${t !== lost.lost ? `, joined with the runs captured since (${t.slice(0, 12)})` : ''}` });
    } else if (lost) {
      const now = lost.tip ? `${lost.tip.slice(0, 12)} (${await objectState(repo, lost.tip) === 'present' ? 'a new chain started over a damaged tip' : 'missing or not a commit'})` : 'nothing';
      report.problems.push({ ref: own, problem: `points at ${now}; the last good tip ${lost.lost.slice(0, 12)} is only in the reflog: \`git flor doctor --repair\` restores it` });
    }
  }
  const ledgers = await listLedgers(repo);
  const setAside: string[] = [];
  for (const l of ledgers) {
    const tip = await readRef(repo, l.ref);
    if (!tip || (await objectState(repo, tip)) !== 'present') continue; // a damaged tip: the reflog check above, or the listing, names it
    const bad = await badObjects(repo, [tip]);
    if (!bad.length) continue;
    if (l.ref !== own) {
      if (repair) report.repaired.push(await refetchOrDrop(repo, l, bad));
      else report.problems.push({ ref: l.ref, problem: `reaches ${bad.length} damaged object(s): ${badText(bad[0]!)}: \`git flor doctor --repair\` fetches it again or drops it` });
      continue;
    }
    const runs = await damagedRuns(repo, tip);
    if (!runs.size) {
      report.problems.push({ ref: l.ref, problem: `ledger history reaches ${badText(bad[0]!)} outside any run` });
      continue;
    }
    const why = [...runs].map(([id, b]) => `run ${id}: ${badText(b[0]!)}`).join('; ');
    if (!repair) {
      for (const [id, b] of runs) report.problems.push({ run: id, ref: l.ref, problem: `${badText(b[0]!)}${b.length > 1 ? ` and ${b.length - 1} more` : ''}: \`git flor doctor --repair\` drops this run from the ledger's history (every other run is kept)` });
      continue;
    }
    const next = await rewriteWithout(repo, l.ref, writer, tip, [...runs.keys()].sort(), why);
    for (const [id, b] of runs) {
      report.repaired.push({ kind: 'run-dropped', text: `dropped run ${id} from ${l.ref}: ${badText(b[0]!)}; history rewritten with a removal record (${next.slice(0, 12)} replaces ${tip.slice(0, 12)})` });
      // Flor's own blobs (metadata, segments, manifests) nothing else shares: out of the object store, so fsck and gc pass.
      for (const x of b) if (x.state === 'corrupt' && /^(run\.msgpack|ckpt\.msgpack|logs\/[^/]+\.msgpack)$/.test(x.path)) setAside.push(x.oid);
    }
  }
  const moved = setAsideCorrupt(repo, setAside);
  if (moved.length) report.repaired.push({ kind: 'objects-set-aside', text: `moved ${moved.length} corrupt object file(s) to ${join(repo.commonDir, 'flor', 'broken-objects')}` });
}

export interface DoctorOptions {
  /** Also repair what needs a decision the user asked for: damaged checkpoints, broken ledger history. */
  repair?: boolean;
}

export async function doctor(repo: RepoInfo, opts: DoctorOptions = {}): Promise<DoctorReport> {
  const report: DoctorReport = { recovered: [], problems: [], repaired: [], checked: 0 };

  const rec = await recoverJournals(repo, { sweep: true });
  report.recovered = rec.recovered.map((r) => r.id);
  for (const f of rec.failed) report.problems.push({ path: f.path, problem: `orphaned journal not captured: ${f.error}` });
  for (const r of rec.recovered) if (r.notesError) report.problems.push({ run: r.id, problem: `notes not updated: ${r.notesError}` });
  let bad: string[] = [];
  try {
    bad = readdirSync(join(journalDir(repo.commonDir), 'bad'));
  } catch {
    // none ever set aside
  }
  for (const n of bad) {
    report.problems.push({ path: join(journalDir(repo.commonDir), 'bad', n), problem: 'journal that cannot be captured (set aside; inspect or delete it)' });
  }

  report.repaired.push(...removeDeadScratch(repo));

  for (const c of damagedCheckpoints(repo.commonDir, { remove: opts.repair })) {
    if (opts.repair) report.repaired.push({ kind: 'checkpoint-removed', text: `removed damaged checkpoint ${c.key.slice(0, 12)} (${c.error}); replay starts from an earlier one` });
    else report.problems.push({ path: c.file, problem: `damaged checkpoint: ${c.error} (\`git flor doctor --repair\` removes it; replay already skips it)` });
  }

  await checkHistory(repo, report, opts.repair === true);
  const ledgers = await listLedgers(repo);

  for (const l of ledgers) {
    const d = await droppedRuns(repo, l);
    if (d) {
      const ids = d.runs.slice(0, 3).join(', ') + (d.runs.length > 3 ? ', …' : '');
      report.problems.push({ ref: l.ref, problem: `tip holds fewer runs than an ancestor: ${d.runs.length} run(s) dropped (${ids}, first by commit ${d.by.slice(0, 12)}) without a removal record by its writer` });
    }
  }

  const { runs, broken, ignored } = await listRunsChecked(repo);
  for (const b of broken) report.problems.push({ run: b.id || undefined, ref: b.ledger, problem: b.error });
  // Parts of runs written where only the run's writer may write them: readers leave them out.
  for (const g of ignored) report.problems.push({ run: g.id, ref: g.ledger, problem: `${g.ledger}: ${g.problem}` });
  await Promise.all(
    runs.map(async (run) => {
      let ok = true;
      for (const d of damageOf(run.meta)) report.problems.push({ run: run.id, ref: run.ledgers[0], problem: `run.msgpack: damaged value (${d})` });
      for (const s of run.segments) {
        try {
          const seg = await readSegment(repo, s.oid);
          for (const d of damageOf(seg)) report.problems.push({ run: run.id, ref: s.ledger, problem: `segment ${s.name}: damaged ${d}` });
          const wrong = segmentProblem(run, s, seg);
          if (wrong) throw new Error(`${wrong} (ignored by readers)`);
          if (s.name === 'forward' && seg.name.length !== run.meta.records) {
            throw new Error(`forward segment has ${seg.name.length} records, run.msgpack says ${run.meta.records}`);
          }
        } catch (e) {
          ok = false;
          report.problems.push({ run: run.id, ref: s.ledger, problem: message(e) });
        }
      }
      if (run.ckpt) {
        try {
          await readCheckpointManifest(repo, run.ckpt);
        } catch (e) {
          ok = false;
          report.problems.push({ run: run.id, ref: run.ledgers[0], problem: message(e) });
        }
      }
      if (ok) report.checked++;
    }),
  );

  try {
    // Junk in the derived index (entries no ledger implies, fake "flor run" lines) is shown by
    // `git log`: the index is rebuilt from the ledgers whenever it differs from them.
    const junk = await notesJunk(repo);
    if (junk.length) {
      const n = await rebuildNotes(repo);
      report.repaired.push({ kind: 'notes-rebuilt', text: `notes index: rebuilt ${NOTES_REF} from the ledgers (${n} commits), removing ${junk.length} thing(s) no ledger implies: ${junk.slice(0, 3).join('; ')}${junk.length > 3 ? '; …' : ''}` });
    }
    const missing = await missingNoteLines(repo);
    if (missing.length) {
      await addNoteLines(repo, missing);
      report.repaired.push({ kind: 'notes-completed', text: `notes index: added ${missing.length} missing line(s)` });
    }
  } catch (e) {
    // An unreadable notes index is derived data: rebuild it from the ledgers.
    try {
      const n = await rebuildNotes(repo);
      report.repaired.push({ kind: 'notes-rebuilt', text: `notes index: rebuilt ${NOTES_REF} from the ledgers (${n} commits) after: ${message(e)}` });
    } catch (e2) {
      report.problems.push({ ref: NOTES_REF, problem: `cannot repair the notes index: ${message(e2)}` });
    }
  }
  report.problems.sort((a, b) => ((a.run ?? a.path ?? a.ref ?? '') < (b.run ?? b.path ?? b.ref ?? '') ? -1 : 1));
  return report;
}
