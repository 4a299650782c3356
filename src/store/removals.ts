/**
 * The removal record: the one way a ledger may lose runs. `doctor --repair` rewrites this clone's
 * ledger without a run whose objects are missing or corrupt (Git cannot gc while any commit reaches
 * a missing object) and appends a record saying what went, why, and which tip the new history
 * replaces. It lives at the ledger root, where v1 readers ignore entries other than `runs`:
 * `removals.msgpack` = `{ format: "flor-removals", version: 1, removals: [{ runs, why, replaces,
 * writer, time }] }`, cumulative like the rest of the tree. Readers accept a ledger that drops runs
 * only when a record by that ledger's own writer names each of them (seen.ts, doctor).
 */
import { FlorError } from '../errors.js';
import type { CatFile, RepoInfo } from './git.js';
import { commitTreeOf, readTree, reader } from './objects.js';
import { pack, unpack } from './pack.js';

export const REMOVALS_FILE = 'removals.msgpack';

export interface Removal {
  /** Run ids dropped from the ledger's whole history. */
  runs: string[];
  why: string;
  /** The ledger tip the rewritten history replaces. */
  replaces: string;
  writer: string;
  /** ISO 8601 UTC. */
  time: string;
}

function bad(what: string): FlorError {
  return new FlorError('CORRUPT_DATA', `${REMOVALS_FILE}: ${what}`, { hint: 'run `git flor doctor`' });
}

export function decodeRemovals(buf: Uint8Array): Removal[] {
  const doc = unpack(buf, REMOVALS_FILE) as Record<string, unknown> | null;
  if (!doc || typeof doc !== 'object' || doc.format !== 'flor-removals') throw bad('not a flor-removals document');
  if (doc.version !== 1) throw bad(`unknown version ${String(doc.version)}`);
  if (!Array.isArray(doc.removals)) throw bad('removals is not a list');
  return doc.removals.map((r: unknown, i) => {
    const o = r as Record<string, unknown>;
    const ok =
      o && typeof o === 'object' && Array.isArray(o.runs) && o.runs.every((x) => typeof x === 'string') &&
      typeof o.why === 'string' && typeof o.replaces === 'string' && typeof o.writer === 'string' && typeof o.time === 'string';
    if (!ok) throw bad(`entry ${i} is malformed`);
    return { runs: o.runs as string[], why: o.why as string, replaces: o.replaces as string, writer: o.writer as string, time: o.time as string };
  });
}

export function encodeRemovals(list: Removal[]): Buffer {
  return pack({ format: 'flor-removals', version: 1, removals: list });
}

/** The removal records in a ledger commit's tree (empty when it has none). */
export async function removalsAt(cat: CatFile, commit: string): Promise<Removal[]> {
  const root = commitTreeOf((await cat.readAs(commit, 'commit')).data);
  if (!root) return [];
  const e = (await readTree(cat, root)).find((x) => x.name === REMOVALS_FILE);
  if (e?.type !== 'blob') return [];
  return decodeRemovals((await cat.readAs(e.oid, 'blob')).data);
}

/** Whether a removal record by `writer` in the ledger at `ref` says its rewritten history replaces `tip`. */
export async function replacedBy(repo: RepoInfo, ref: string, writer: string, tip: string): Promise<boolean> {
  const list = await removalsAt(reader(repo), ref).catch(() => []);
  return list.some((x) => x.writer === writer && x.replaces === tip);
}
