/**
 * Marks: what a person says about runs after the fact — tags, a note, a removal (tombstone) and
 * its undo. They are records at the root of the writer's own ledger, never entries in run
 * directories (a reader reports anything unexpected there as damage), so another clone's ledger
 * is never rewritten and marks travel with push and fetch like the runs themselves:
 * `marks.msgpack` = `{ format: "flor-marks", version: 1, marks: [{ run, op, value, time }] }`,
 * cumulative (each commit's file holds every mark of that ledger so far), appended in time order.
 * Who made a mark is the writer of the ledger holding it (named by its ref, as for runs); whether
 * it counts is the reader's decision (query/marks.ts: the run's own writer, or a trusted one).
 */
import { FlorError } from '../errors.js';
import type { CatFile, RepoInfo } from './git.js';
import { ensureWriter, listLedgers, type LedgerRef } from './ledger.js';
import { ownLedgerRef } from './refs.js';
import { blobEntry, commitTreeOf, editTree, reader, readTree, updateRefWithRetry, writeBlob } from './objects.js';
import { pack, unpack } from './pack.js';
import { ULID_PATTERN } from './schema.js';

export const MARKS_FILE = 'marks.msgpack';

export type MarkOp = 'tag' | 'untag' | 'note' | 'rm' | 'unrm';
const OPS: readonly MarkOp[] = ['tag', 'untag', 'note', 'rm', 'unrm'];

export interface Mark {
  run: string;
  op: MarkOp;
  /** The tag (tag, untag), the note's text (note; '' clears it), null for rm/unrm. */
  value: string | null;
  /** ISO 8601 UTC. */
  time: string;
}

/** A mark as read: with the writer and ledger that hold it. */
export interface ReadMark extends Mark {
  writer: string;
  ledger: string;
}

const ULID = new RegExp(ULID_PATTERN);

function bad(what: string): FlorError {
  return new FlorError('CORRUPT_DATA', `${MARKS_FILE}: ${what}`, { hint: 'run `git flor doctor`' });
}

export function decodeMarks(buf: Uint8Array): Mark[] {
  const doc = unpack(buf, MARKS_FILE) as Record<string, unknown> | null;
  if (!doc || typeof doc !== 'object' || doc.format !== 'flor-marks') throw bad('not a flor-marks document');
  if (doc.version !== 1) throw bad(`unknown version ${String(doc.version)}`);
  if (!Array.isArray(doc.marks)) throw bad('marks is not a list');
  return doc.marks.map((m: unknown, i) => {
    const o = m as Record<string, unknown>;
    const ok =
      o && typeof o === 'object' && typeof o.run === 'string' && ULID.test(o.run) && OPS.includes(o.op as MarkOp) &&
      (o.value === null || typeof o.value === 'string') && typeof o.time === 'string';
    if (!ok) throw bad(`entry ${i} is malformed`);
    return { run: o.run as string, op: o.op as MarkOp, value: o.value as string | null, time: o.time as string };
  });
}

export function encodeMarks(list: Mark[]): Buffer {
  return pack({ format: 'flor-marks', version: 1, marks: list });
}

/** The marks in a ledger commit's tree (empty when it has none). */
export async function marksAt(cat: CatFile, commit: string): Promise<Mark[]> {
  const root = commitTreeOf((await cat.readAs(commit, 'commit')).data);
  if (!root) return [];
  const e = (await readTree(cat, root)).find((x) => x.name === MARKS_FILE);
  if (e?.type !== 'blob') return [];
  return decodeMarks((await cat.readAs(e.oid, 'blob')).data);
}

/**
 * Every ledger's marks. A ledger whose marks cannot be read is reported in `problems` and adds
 * none: its runs still list.
 */
export async function readMarks(repo: RepoInfo, ledgers?: LedgerRef[]): Promise<{ marks: ReadMark[]; problems: Array<{ ledger: string; error: string }> }> {
  const cat = reader(repo);
  const problems: Array<{ ledger: string; error: string }> = [];
  const per = await Promise.all(
    (ledgers ?? (await listLedgers(repo))).map(async (l) => {
      try {
        return (await marksAt(cat, l.tip)).map((m) => ({ ...m, writer: l.writer, ledger: l.ref }));
      } catch (e) {
        problems.push({ ledger: l.ref, error: `its marks: ${e instanceof Error ? e.message : String(e)}` });
        return [];
      }
    }),
  );
  return { marks: per.flat(), problems };
}

/** Appends marks to this clone's own ledger, in one commit. Returns the new ledger commit. */
export async function appendMarks(repo: RepoInfo, add: Mark[]): Promise<string> {
  for (const m of add) if (!ULID.test(m.run) || !OPS.includes(m.op)) throw new FlorError('BAD_RUN_ID', `cannot mark ${JSON.stringify(m.run)}`);
  const writer = await ensureWriter(repo);
  const what = [...new Set(add.map((m) => m.op))].join(', ');
  const commit = await updateRefWithRetry(repo, ownLedgerRef(writer), {
    message: `marks: ${what} on ${add.length === 1 ? `run ${add[0]!.run}` : `${add.length} runs`}`,
    tree: async (root, { cat, mk, tip }) => {
      const have = tip ? await marksAt(cat, tip) : [];
      const oid = await writeBlob(repo, encodeMarks([...have, ...add]));
      return editTree(cat, mk, root, new Map([[MARKS_FILE, blobEntry(oid)]]));
    },
  });
  return commit!;
}
