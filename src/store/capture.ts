/**
 * Journal -> ledger. A journal is claimed by renaming it (`<id>.jrnl` -> `<id>.jrnl.claim.<pid>`):
 * rename(2) is atomic, so of two processes capturing at once exactly one gets it. A claim whose
 * process died is claimed again by the next recovery. On a transient failure the journal goes back
 * to its name for a later retry; on a journal that can never be captured it moves to `bad/`,
 * where `git flor doctor` reports it.
 */
import { mkdirSync, readdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FlorError, isFlorError, type FlorErrorCode } from '../errors.js';
import type { RepoInfo } from './git.js';
import { journalDir, listJournals, readJournal, readJournalStart, JOURNAL_EXT, type JournalContents } from './journal.js';
import { appendRun } from './ledger.js';
import { hasCheckpoint } from './checkpoints.js';
import { sweepCodeRefs, unpinCode } from './code-ref.js';
import { addNoteLines, noteLine } from './notes.js';
import { packPlain } from './msgpack-write.js';
import { checkColumns, encodeSegment, makeSegment } from './segment.js';
import { check, validateRunMeta } from './schema.js';
import { recordCount, type RecordColumns } from './records.js';
import type { CheckpointManifest, LoopInfo, RunMeta } from './types.js';
import { CLAIM, journalEnded, pidAlive } from './settle.js';
import { safeText } from '../terminal-text.js';
import { noteCaptured } from './captured-ids.js';
import { hostName } from './builtins.js';


export interface CaptureResult {
  id: string;
  status: RunMeta['status'];
  records: number;
  /** The ledger commit that holds the run. */
  commit: string;
  /** Set when the run landed but the derived notes index could not be updated (doctor repairs it). */
  notesError: string | null;
}

export { pidAlive };

function claimPath(path: string): string {
  const base = basename(path).split(CLAIM)[0]!;
  return join(dirname(path), `${base}${CLAIM}${process.pid}`);
}

function originalPath(claimed: string): string {
  return join(dirname(claimed), basename(claimed).split(CLAIM)[0]!);
}

/** Loop structure recovered from the frames, for runs that died before writing it. */
export function loopsFromRecords(c: RecordColumns): LoopInfo[] {
  const info = new Map<string, LoopInfo>();
  const n = c.frames.parent.length;
  for (let f = 0; f < n; f++) {
    const name = c.loops[c.frames.loop[f]!]!;
    const p = c.frames.parent[f]!;
    const parent = p < 0 ? null : c.loops[c.frames.loop[p]!]!;
    const seen = c.frames.iter[f]! + 1;
    const cur = info.get(name);
    if (!cur) info.set(name, { name, parent, iterations: seen });
    else if (seen > cur.iterations) cur.iterations = seen;
  }
  return [...info.values()];
}

/**
 * Why a run without an end frame ended, as far as anyone can tell: its process was killed before
 * it could write one. Node runs no handler for SIGINT/SIGTERM during a synchronous stretch (the
 * runtime lets the signal kill the process at once rather than defer Ctrl-C to the loop's end).
 */
export const ORPHAN_ERROR = 'the process ended without finishing its run: killed (kill -9, out of memory, or SIGINT/SIGTERM during a synchronous stretch of the script)';

/** A checkpoint named by a manifest must exist: replay restores from it. */
function checkpointExists(commonDir: string, key: string): boolean {
  return /^[0-9a-f]{64}$/.test(key) && hasCheckpoint(commonDir, key);
}

/** RunMeta, forward segment and manifest from a journal. `orphan`: its process died without an end frame. */
export function buildCapture(repo: RepoInfo, j: JournalContents, orphan: boolean): { meta: RunMeta; codeTree: string; forward: Buffer; ckpt: Buffer | undefined } {
  if (!j.start) throw new FlorError('CORRUPT_JOURNAL', `journal ${j.path} has no start frame`, { hint: 'it cannot be captured; see `git flor doctor`' });
  const start = check<typeof j.start>('startFrame', j.start, `journal ${j.path} start frame`, 'CORRUPT_JOURNAL');
  const end = j.end ? check<NonNullable<typeof j.end>>('endFrame', j.end, `journal ${j.path} end frame`, 'CORRUPT_JOURNAL') : null;
  // Defaults for what a start frame may leave out; appendRun validates the finished metadata.
  const m: RunMeta = { format: 'flor-run', version: 1, writer: '', end: null, loops: [], outerMs: [], checkpointing: [], exitCode: null, error: null, records: 0, ...(start.meta as Partial<RunMeta>) } as RunMeta;
  const loops = end?.loops.length ? end.loops : m.loops.length ? m.loops : loopsFromRecords(j.records);
  // A damaged journal keeps what was written before the damage: the run is captured as crashed
  // with those records (and its code), never set aside whole.
  const damage = j.damaged
    ? `journal damaged at frame ${j.damaged.frame + 1} of ${j.damaged.frames} (${safeText(j.damaged.error).slice(0, 160)}): the ${j.damaged.frame} frame(s) before it were captured`
    : null;
  const meta: RunMeta = {
    ...m,
    args: { ...m.args, ...j.args },
    ...(Object.keys(j.argCalls).length ? { argCalls: j.argCalls } : {}),
    status: end && !damage ? end.status : 'crashed',
    end: end?.end ?? (orphan ? safeMtime(j.path) : new Date().toISOString()),
    exitCode: end ? end.exitCode : null,
    error: damage ?? (end ? end.error : orphan ? ORPHAN_ERROR : null),
    loops,
    outerMs: end?.outerMs ?? m.outerMs,
    ...(end?.memoMs?.length ? { memoMs: end.memoMs } : {}),
    ...(end?.memoSetupMs ? { memoSetupMs: end.memoSetupMs } : {}),
    checkpointing: end?.checkpointing.length ? end.checkpointing : m.checkpointing,
    records: recordCount(j.records),
  };
  validateRunMeta({ ...meta, writer: meta.writer || 'w' }, `run ${meta.id}`);
  // Segments are never replaced: a journal whose indices point outside their tables is set aside
  // (bad/) now, rather than committed as a run that no reader can decode.
  checkColumns(j.records, `journal of run ${meta.id}`);
  const forward = encodeSegment(makeSegment(meta.id, 'forward', j.records));
  let ckpt: Buffer | undefined;
  // By iteration: the journal has them in the order writes finished, and the last iteration's,
  // written on the main thread while the writer thread still boots, can precede earlier ones.
  const usable = j.ckpts.filter((c) => checkpointExists(repo.commonDir, c.key)).sort((a, b) => a.iter - b.iter);
  if (usable.length) {
    const outer = loops.find((l) => l.parent === null)?.name ?? '';
    const manifest: CheckpointManifest = {
      format: 'flor-ckpt',
      version: 1,
      loop: outer,
      iters: usable.map((c) => c.iter),
      keys: usable.map((c) => c.key),
      bytes: usable.map((c) => c.bytes),
    };
    ckpt = packPlain(manifest); // plain data: msgpackr's bytes without loading it (run-meta.ts)
  }
  return { meta, codeTree: start.codeTree, forward, ckpt };
}

function safeMtime(path: string): string {
  try {
    return statSync(path).mtime.toISOString();
  } catch {
    return new Date().toISOString();
  }
}

/** Errors that retrying cannot fix: the journal itself is bad. */
function permanent(e: unknown): boolean {
  return isFlorError(e) && /^(CORRUPT_|BAD_)/.test(e.code);
}

/**
 * Captures one journal into this clone's ledger and the notes index, then deletes it. `path` may
 * be a journal or a dead process's claim on one. JOURNAL_CLAIMED when another process has it.
 */
export async function captureJournal(repo: RepoInfo, path: string, opts: { orphan?: boolean } = {}): Promise<CaptureResult> {
  const claimed = claimPath(path);
  try {
    renameSync(path, claimed);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new FlorError('JOURNAL_CLAIMED', `journal ${path} is gone (another process captured it)`, { hint: 'nothing to do', data: { path } });
    }
    throw e;
  }
  let built: ReturnType<typeof buildCapture>;
  try {
    built = buildCapture(repo, readJournal(claimed, { salvage: true }), opts.orphan === true);
  } catch (e) {
    release(claimed, path, permanent(e));
    throw e;
  }
  const { meta } = built;
  // The notes index is derived and its line depends only on the (validated) metadata, so it is
  // written alongside the ledger append rather than after it. Should the append fail, the
  // journal is captured again later and the line, already there, is not repeated.
  const notes = meta.commit
    ? addNoteLines(repo, [{ commit: meta.commit, line: noteLine(meta) }]).then(
        () => null,
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
      )
    : Promise.resolve(null);
  let landed: string;
  try {
    landed = await appendRun(repo, { meta, codeTree: built.codeTree, segments: { forward: built.forward }, ckpt: built.ckpt });
  } catch (e) {
    await notes;
    // A failed append says nothing about the journal (a bad flor.writer, a damaged ref, a full
    // disk): keep it for the next capture or doctor, never set it aside as bad.
    release(claimed, path, false);
    throw e;
  }
  // The ledger now references the code tree; the pin goes before the journal (see code-ref.ts).
  await unpinCode(repo, meta.id).catch(() => {});
  noteCaptured(repo.commonDir, meta.id);
  removeClaim(claimed);
  return { id: meta.id, status: meta.status, records: meta.records, commit: landed, notesError: await notes };
}

/** The claim, gone already or not: unlinkSync, since rmSync loads Node's rimraf module and walks the path first. */
function removeClaim(claimed: string): void {
  try {
    unlinkSync(claimed);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** Gives a claimed journal back, or sets it aside under bad/ when its own content is unusable. */
function release(claimed: string, path: string, journalIsBad: boolean): void {
  try {
    if (journalIsBad) {
      const bad = join(dirname(path), 'bad');
      mkdirSync(bad, { recursive: true });
      renameSync(claimed, join(bad, basename(originalPath(claimed))));
    } else {
      renameSync(claimed, originalPath(claimed));
    }
  } catch {
    // leave the claim: a recovery takes it over once this process is gone
  }
}

/** Journals and claims that belong to no living process on this host. */
export function orphanedJournals(repo: RepoInfo): string[] {
  // Read as the runtime reads it for the start frame, without node:os, which a capture needs for nothing else.
  const host = hostName();
  const out: string[] = [];
  for (const path of listJournals(repo.commonDir)) {
    let start;
    try {
      start = readJournalStart(path);
    } catch {
      out.push(path); // undecodable start: capture reports it and moves it to bad/
      continue;
    }
    if (!start) {
      // No start frame yet: a process is between creating the file and its first write, or died
      // there. Only an old, empty-of-start file is an orphan.
      if (Date.now() - statSafe(path) > 60_000) out.push(path);
      continue;
    }
    // Ended (its end frame is written) or its writer is gone: either way no process will add to it.
    if (start.host === host && (!pidAlive(start.pid) || journalEnded(path))) out.push(path);
  }
  let names: string[] = [];
  try {
    names = readdirSync(journalDir(repo.commonDir));
  } catch {
    // no journal directory yet
  }
  for (const n of names) {
    const i = n.indexOf(JOURNAL_EXT + CLAIM);
    if (i < 0) continue;
    const pid = Number(n.slice(i + JOURNAL_EXT.length + CLAIM.length));
    if (Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid)) out.push(join(journalDir(repo.commonDir), n));
  }
  return out;
}

function statSafe(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return Date.now();
  }
}

export interface Recovery {
  recovered: CaptureResult[];
  failed: Array<{ path: string; code: FlorErrorCode; error: string }>;
}

/** Captures every orphaned journal: `crashed` when it has no end frame, else the status it recorded. */
export async function recoverJournals(repo: RepoInfo, opts: { sweep?: boolean } = {}): Promise<Recovery> {
  const out: Recovery = { recovered: [], failed: [] };
  for (const path of orphanedJournals(repo)) {
    try {
      out.recovered.push(await captureJournal(repo, path, { orphan: true }));
    } catch (e) {
      if (isFlorError(e, 'JOURNAL_CLAIMED')) continue;
      out.failed.push({ path, code: isFlorError(e) ? e.code : 'INTERNAL', error: e instanceof Error ? e.message : String(e) });
    }
  }
  // Pins of journals set aside or removed by hand. Not on every run's exit (one more git process
  // each time for a rare case): only when a recovery happened, and always for doctor.
  if (opts.sweep || out.recovered.length || out.failed.length) await sweepCodeRefs(repo).catch(() => {});
  return out;
}

/**
 * Ids of the runs recovered from orphaned journals. A journal that fails does not stop the others;
 * failures are thrown together afterwards (JOURNAL_RECOVERY, `data.recovered` keeps the ids).
 */
export async function recoverOrphans(repo: RepoInfo): Promise<string[]> {
  const r = await recoverJournals(repo);
  const ids = r.recovered.map((c) => c.id);
  if (r.failed.length) {
    const f = r.failed[0]!;
    throw new FlorError('JOURNAL_RECOVERY', `could not capture ${r.failed.length} orphaned journal(s): ${f.error}`, {
      hint: 'run `git flor doctor` for details',
      data: { recovered: ids, failed: r.failed },
    });
  }
  return ids;
}
