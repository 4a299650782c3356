/**
 * Appends to this clone's own ledger, the only one it writes: a captured run, and a replay's
 * segment for any run (readers join segments to their run by id, whoever captured it).
 */
import { FlorError } from '../errors.js';
import { ownLedgerRef } from './refs.js';
import type { CatFile, RepoInfo, TreeEntry } from './git.js';
import { validateRunMeta, ULID_PATTERN } from './schema.js';
import { blobEntry, treeEntry, editTree, putBlobs, readTree, updateRefWithRetry, writeBlob, type TreeEdits } from './objects.js';
import type { RunMeta } from './types.js';
import { keepBroken } from './broken-ref.js';
import { ensureWriter } from './writer-id.js';
import { encodeRunMeta } from './run-meta.js';
import { looseWriter } from './loose.js';
import { objectPresent } from './object-present.js';

const ULID = new RegExp(ULID_PATTERN);
const SEGMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function runDir(id: string): string {
  return `runs/${id.slice(0, 2)}/${id}`;
}

export interface RunCapture {
  meta: RunMeta;
  codeTree: string;
  /** segment name -> encoded segment (`forward` for a captured run). */
  segments: Record<string, Buffer>;
  ckpt?: Buffer;
}

/** Adds one captured run to this clone's ledger; returns the new ledger commit. */
export async function appendRun(repo: RepoInfo, run: RunCapture): Promise<string> {
  // Everything but the writer is checked before any object is written.
  validateRunMeta({ ...run.meta, writer: run.meta?.writer || 'w' }, `run ${run.meta?.id}`);
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(run.codeTree)) throw new FlorError('BAD_TREE', `run ${run.meta.id}: code tree ${run.codeTree} is not an object id`);
  for (const name of Object.keys(run.segments)) checkSegmentName(name);
  const writer = await ensureWriter(repo);
  // The runtime starts a run synchronously and may not know the writer yet: the ledger decides it.
  const meta = validateRunMeta({ ...run.meta, writer }, `run ${run.meta.id}`);
  const segments = Object.values(run.segments);
  const [metaOid, ...segOids] = await putBlobs(repo, [encodeRunMeta(meta), ...segments, ...(run.ckpt ? [run.ckpt] : [])]);
  const ckptOid = run.ckpt ? segOids.pop()! : null;
  const dir = runDir(meta.id);
  const edits: TreeEdits = new Map();
  edits.set(`${dir}/run.msgpack`, blobEntry(metaOid!));
  edits.set(`${dir}/code`, treeEntry(run.codeTree));
  Object.keys(run.segments).forEach((name, i) => edits.set(`${dir}/logs/${name}.msgpack`, blobEntry(segOids[i]!)));
  if (ckptOid) edits.set(`${dir}/ckpt.msgpack`, blobEntry(ckptOid));
  const message = `run ${meta.id} ${meta.status} ${meta.script} (${meta.records} records)`;
  const commit = await updateRefWithRetry(repo, ownLedgerRef(writer), {
    message,
    loose: true,
    tree: async (root, { cat, mk }) => {
      // Loose trees are written without the look-up mktree makes of every entry: the code tree is
      // the one object here that this process did not write, so it is looked up once.
      if (!objectPresent(repo.commonDir, run.codeTree)) await cat.readAs(run.codeTree, 'tree');
      return editTree(cat, mk, root, edits);
    },
    ...newChainOnDamage(repo, ownLedgerRef(writer)),
  });
  return commit!;
}

/** A damaged own ledger tip never stops a capture: a new chain starts, the damaged tip is kept (broken-ref.ts). */
function newChainOnDamage(repo: RepoInfo, ref: string): { replaceDamaged: true; onDamaged: (tip: string) => Promise<void> } {
  return { replaceDamaged: true, onDamaged: (tip) => keepBroken(repo, ref, tip) };
}

function checkSegmentName(name: string): void {
  if (!SEGMENT_NAME.test(name)) {
    throw new FlorError('BAD_SEGMENT_NAME', `segment name ${JSON.stringify(name)} is not allowed`, { hint: 'use letters, digits, ".", "-" and "_"' });
  }
}

/** Where a replay segment's code tree is kept reachable (format.md §3): outside `runs/`, which v1 readers check strictly. */
export function replayCodePath(runId: string, segName: string): string {
  return `replays/${runId.slice(0, 2)}/${runId}/${segName}/code`;
}

/**
 * Where a writer vouches, in its own ledger, for a replay plan it saved (format.md §10): the plan's
 * own bytes, outside `runs/`. A plan's `writer` field is only its saver's word; this entry in the
 * ledger of that writer (named by its ref) is what makes the plan that writer's.
 */
export function planVouchPath(planId: string): string {
  return `plans/${planId}.msgpack`;
}

/** Records in this clone's own ledger that its writer saved the plan `planId`, whose bytes are blob `oid`. */
export async function vouchForPlan(repo: RepoInfo, planId: string, oid: string): Promise<void> {
  const writer = await ensureWriter(repo);
  await updateRefWithRetry(repo, ownLedgerRef(writer), {
    message: `plan ${planId}`,
    ...newChainOnDamage(repo, ownLedgerRef(writer)),
    tree: (root, { cat, mk }) => editTree(cat, mk, root, new Map([[planVouchPath(planId), blobEntry(oid)]])),
  });
}

export interface SegmentOptions {
  /**
   * Tree the replay ran (its provenance `code`). Stored in the same commit at
   * replayCodePath(runId, segName), so `git gc` never prunes it and a push carries it.
   */
  code?: string;
}

/**
 * Adds a segment (a replay's records) to run `runId` in this clone's ledger, even when another
 * clone captured the run: readers join them by run id. Never replaces an existing segment.
 */
export async function appendSegment(repo: RepoInfo, runId: string, segName: string, buf: Buffer, opts: SegmentOptions = {}): Promise<string> {
  if (!ULID.test(runId)) throw new FlorError('BAD_RUN_ID', `${JSON.stringify(runId)} is not a run id`);
  checkSegmentName(segName);
  if (opts.code !== undefined && !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(opts.code)) throw new FlorError('BAD_TREE', `segment ${segName} of run ${runId}: code tree ${opts.code} is not an object id`);
  const writer = await ensureWriter(repo);
  const oid = looseWriter(repo)?.blob(buf) ?? (await writeBlob(repo, buf));
  const path = `${runDir(runId)}/logs/${segName}.msgpack`;
  const edits: TreeEdits = new Map([[path, blobEntry(oid)]]);
  if (opts.code) edits.set(replayCodePath(runId, segName), treeEntry(opts.code));
  const commit = await updateRefWithRetry(repo, ownLedgerRef(writer), {
    message: `segment ${segName} of run ${runId}`,
    loose: true,
    session: true,
    ...newChainOnDamage(repo, ownLedgerRef(writer)),
    tree: async (root, { cat, mk }) => {
      if (root && (await lookupPath(cat, root, path))) {
        throw new FlorError('SEGMENT_EXISTS', `run ${runId} already has a segment ${segName}`, { hint: 'segments are never overwritten; use a new name' });
      }
      return editTree(cat, mk, root, edits);
    },
  });
  return commit!;
}

async function lookupPath(cat: CatFile, root: string, path: string): Promise<TreeEntry | null> {
  let tree = root;
  const parts = path.split('/');
  for (let i = 0; i < parts.length; i++) {
    const e = (await readTree(cat, tree)).find((x) => x.name === parts[i]);
    if (!e) return null;
    if (i === parts.length - 1) return e;
    if (e.type !== 'tree') return null;
    tree = e.oid;
  }
  return null;
}
