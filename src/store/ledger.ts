/**
 * Run ledgers: `refs/flor/ledgers/<writer>` (this clone's, the only one it writes) and
 * `refs/flor/remotes/<remote>/ledgers/<writer>` (fetched). Each commit's tree is cumulative:
 * `runs/<id[0:2]>/<id>/{run.msgpack, code, logs/<segment>.msgpack, ckpt.msgpack}`.
 * Readers take the union of all ledgers by run id. Reads go through the one long-lived
 * `cat-file` of the repository, issued all at once level by level, so listing hundreds of runs
 * costs a few round trips, not a process per run.
 */
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FlorError, isFlorError, type FlorErrorCode } from '../errors.js';
import { LEDGERS, ownLedgerRef, REMOTES } from './refs.js';
import { git, repoCwd, type CatFile, type GitObject, type RepoInfo, type TreeEntry } from './git.js';
import { pack, unpack, encodeValue, decodeValue, noteDamage } from './pack.js';
import { validateRunMeta, validateCheckpointManifest, ULID_PATTERN } from './schema.js';
import { decodeSegment } from './segment.js';
import { blobEntry, treeEntry, editTree, reader, readTree, updateRefWithRetry, writeBlob, commitTreeOf, type TreeEdits } from './objects.js';
import type { CheckpointManifest, RunMeta, Segment } from './types.js';
import { settleJournals } from './settle.js';
import type { Value } from './records.js';
import { readTrust, trusts, type Trust } from './trust.js';
import { checkSeen } from './seen.js';
import { objectState } from './object-state.js';
import { keepBroken } from './broken-ref.js';


export interface SegmentRef {
  name: string;
  oid: string;
  /** The ledger ref it was found in. */
  ledger: string;
  /** The writer of that ledger (named by its ref). */
  writer: string;
}

export interface RunEntry {
  id: string;
  /** The writer of the ledger holding the run's metadata (named by its ref, never `meta.writer`). */
  writer: string;
  meta: RunMeta;
  codeTree: string;
  /** `forward` first, then the others by name. */
  segments: SegmentRef[];
  ckpt: string | null;
  /** Every ledger ref holding part of this run, own ledger first. */
  ledgers: string[];
  /**
   * The ledger whose copy of the metadata and code is used, and the tip it was read at (an older
   * tip than the ref's when that ledger lost or changed the run since it was first read: seen.ts).
   */
  source: { ledger: string; tip: string };
}

/** Part of a run in a ledger that readers leave out, because only the run's own writer may write it. */
export interface IgnoredPart {
  id: string;
  ledger: string;
  problem: string;
}

export interface BrokenRun {
  /** The run id, or '' when a whole ledger could not be read. */
  id: string;
  ledger: string;
  code: FlorErrorCode;
  error: string;
}

const ULID = new RegExp(ULID_PATTERN);
const SEGMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function runDir(id: string): string {
  return `runs/${id.slice(0, 2)}/${id}`;
}

// ---------------------------------------------------------------------------------------------
// Writer id

function validWriter(w: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(w);
}

async function configWriter(repo: RepoInfo): Promise<string | null> {
  const r = await git(['config', '--get', 'flor.writer'], { cwd: repoCwd(repo), okCodes: [1] });
  const w = r.stdout.toString().trim();
  return r.code === 0 && w ? w : null;
}

/**
 * This clone's writer id (`flor.writer` in config), made when missing. Concurrent first runs must
 * agree on one id, so the id is first claimed with an atomic link(2) of a file under
 * `.git/flor/`; every racer then writes the same value into config.
 */
export async function ensureWriter(repo: RepoInfo): Promise<string> {
  const have = await configWriter(repo);
  if (have) {
    if (!validWriter(have)) {
      throw new FlorError('BAD_WRITER', `flor.writer ${JSON.stringify(have)} is not a valid writer id`, {
        hint: 'use letters, digits, - and _ (`git config flor.writer <id>`), or unset it and delete .git/flor/writer to get a new one',
      });
    }
    return have;
  }
  const dir = join(repo.commonDir, 'flor');
  mkdirSync(dir, { recursive: true });
  const claim = join(dir, 'writer');
  const tmp = join(dir, `writer.${process.pid}.${randomBytes(4).toString('hex')}`);
  writeFileSync(tmp, randomBytes(8).toString('hex') + '\n');
  try {
    linkSync(tmp, claim);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
  const id = readFileSync(claim, 'utf8').trim();
  if (!validWriter(id)) throw new FlorError('BAD_WRITER', `${claim} holds an invalid writer id`, { hint: `remove ${claim} and run again` });
  for (let i = 0; ; i++) {
    try {
      await git(['config', 'flor.writer', id], { cwd: repoCwd(repo) });
      return id;
    } catch (e) {
      // Another process holds config.lock for a moment; same value either way.
      if (i >= 20) throw e;
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 40));
      const now = await configWriter(repo);
      if (now === id) return id;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

export function encodeRunMeta(meta: RunMeta): Buffer {
  return pack({ ...meta, args: encodeValue(meta.args), ...(meta.argCalls ? { argCalls: encodeValue(meta.argCalls) } : {}) });
}

export function decodeRunMeta(buf: Uint8Array, where: string): RunMeta {
  const raw = unpack(buf, where);
  const meta = validateRunMeta(raw, where);
  const calls = (raw as { argCalls?: unknown }).argCalls;
  const hurt: string[] = [];
  // Optional (a reader of older runs finds none); anything but a map of arrays is ignored.
  const argCalls = calls && typeof calls === 'object' ? (decodeValue(calls, (why) => hurt.push(`argCalls: ${why}`)) as Record<string, Value>) : null;
  const lists = argCalls ? Object.fromEntries(Object.entries(argCalls).filter(([, v]) => Array.isArray(v))) : null;
  const given = meta.args as Record<string, unknown>;
  let args: Record<string, Value> = {};
  // Arg by arg, so a damaged value is named; an args map that is itself tagged (it had a `$flor` key) decodes whole.
  if ('$flor' in given) args = decodeValue(given, (why) => hurt.push(`args: ${why}`)) as Record<string, Value>;
  else for (const [k, v] of Object.entries(given)) args[k] = decodeValue(v, (why) => hurt.push(`arg ${k}: ${why}`));
  const out = { ...meta, args, ...(lists ? { argCalls: lists as Record<string, Value[]> } : {}) };
  noteDamage(out, hurt);
  return out;
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
  // The segments are the big objects (zlib in `git hash-object` is most of a capture): start them
  // first, while the writer id is looked up.
  const blobs = Promise.all([run.ckpt ? writeBlob(repo, run.ckpt) : Promise.resolve(null), ...Object.values(run.segments).map((b) => writeBlob(repo, b))]);
  blobs.catch(() => {}); // awaited below; never an unhandled rejection meanwhile
  const writer = await ensureWriter(repo);
  // The runtime starts a run synchronously and may not know the writer yet: the ledger decides it.
  const meta = validateRunMeta({ ...run.meta, writer }, `run ${run.meta.id}`);
  const [metaOid, [ckptOid, ...segOids]] = await Promise.all([writeBlob(repo, encodeRunMeta(meta)), blobs]);
  const dir = runDir(meta.id);
  const edits: TreeEdits = new Map();
  edits.set(`${dir}/run.msgpack`, blobEntry(metaOid));
  edits.set(`${dir}/code`, treeEntry(run.codeTree));
  Object.keys(run.segments).forEach((name, i) => edits.set(`${dir}/logs/${name}.msgpack`, blobEntry(segOids[i]!)));
  if (ckptOid) edits.set(`${dir}/ckpt.msgpack`, blobEntry(ckptOid));
  const message = `run ${meta.id} ${meta.status} ${meta.script} (${meta.records} records)`;
  const commit = await updateRefWithRetry(repo, ownLedgerRef(writer), {
    message,
    tree: (root, { cat, mk }) => editTree(cat, mk, root, edits),
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
  const oid = await writeBlob(repo, buf);
  const path = `${runDir(runId)}/logs/${segName}.msgpack`;
  const edits: TreeEdits = new Map([[path, blobEntry(oid)]]);
  if (opts.code) edits.set(replayCodePath(runId, segName), treeEntry(opts.code));
  const commit = await updateRefWithRetry(repo, ownLedgerRef(writer), {
    message: `segment ${segName} of run ${runId}`,
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

// ---------------------------------------------------------------------------------------------
// Reading

export interface LedgerRef {
  ref: string;
  tip: string;
  /** 'local' for this clone's own namespace, else the remote's name. */
  remote: string;
  writer: string;
  /** An older tip of the ref, read because the new one dropped or changed runs (seen.ts). */
  seen?: boolean;
}

/** Every ledger ref: own namespace first, then fetched ones by remote. */
export async function listLedgers(repo: RepoInfo): Promise<LedgerRef[]> {
  const r = await git(['for-each-ref', '--format=%(objectname) %(refname)', LEDGERS, REMOTES], { cwd: repoCwd(repo) });
  const out: LedgerRef[] = [];
  for (const line of r.stdout.toString().split('\n')) {
    if (!line) continue;
    const sp = line.indexOf(' ');
    const tip = line.slice(0, sp);
    const ref = line.slice(sp + 1);
    if (ref.startsWith(LEDGERS)) {
      const writer = ref.slice(LEDGERS.length);
      if (!writer.includes('/')) out.push({ ref, tip, remote: 'local', writer });
    } else {
      const m = /^refs\/flor\/remotes\/([^/]+)\/ledgers\/([^/]+)$/.exec(ref);
      if (m) out.push({ ref, tip, remote: m[1]!, writer: m[2]! });
    }
  }
  return out.sort((a, b) => (a.remote === b.remote ? (a.ref < b.ref ? -1 : 1) : a.remote === 'local' ? -1 : b.remote === 'local' ? 1 : a.remote < b.remote ? -1 : 1));
}

/** One `runs/<aa>/<id>` directory of one ledger, before the union. */
interface RunDirRef {
  id: string;
  ledger: string;
  writer: string;
  /** The ledger tip the directory was read at, and whether it is an older tip kept by seen.ts. */
  tip: string;
  seen: boolean;
  meta: string | null;
  code: string | null;
  ckpt: string | null;
  logs: string | null;
  /** Anything in the directory that the format does not allow. */
  problem: string | null;
}

/** The run directories of one ledger tip; throws only when the ledger's own skeleton is unreadable. */
async function runDirsOf(cat: CatFile, l: LedgerRef, broken: BrokenRun[]): Promise<RunDirRef[]> {
  const commit = await cat.readAs(l.tip, 'commit');
  const root = commitTreeOf(commit.data);
  if (!root) throw new FlorError('CORRUPT_REF', `ledger ${l.ref}: tip ${l.tip} has no tree`);
  const runs = (await readTree(cat, root)).find((e) => e.name === 'runs');
  if (!runs) return [];
  if (runs.type !== 'tree') throw new FlorError('CORRUPT_REF', `ledger ${l.ref}: runs is not a tree`);
  const fans = (await skeletonTree(cat, runs.oid)).filter((e) => {
    if (e.type === 'tree' && /^[0-9A-Z]{2}$/.test(e.name)) return true;
    broken.push({ id: e.name, ledger: l.ref, code: 'CORRUPT_RUN', error: `ledger ${l.ref}: unexpected entry runs/${e.name}` });
    return false;
  });
  const perFan = await Promise.all(fans.map((f) => skeletonTree(cat, f.oid).then((es) => es.map((e) => ({ fan: f.name, e })))));
  const dirs = perFan.flat();
  return Promise.all(
    dirs.map(async ({ fan, e }): Promise<RunDirRef> => {
      const d: RunDirRef = { id: e.name, ledger: l.ref, writer: l.writer, tip: l.tip, seen: l.seen === true, meta: null, code: null, ckpt: null, logs: null, problem: null };
      if (!ULID.test(e.name) || e.name.slice(0, 2) !== fan || e.type !== 'tree') {
        d.problem = `unexpected entry runs/${fan}/${e.name}`;
        return d;
      }
      let entries: TreeEntry[];
      try {
        entries = await skeletonTree(cat, e.oid);
      } catch (err) {
        d.problem = (err as Error).message;
        return d;
      }
      for (const x of entries) {
        if (x.name === 'run.msgpack' && x.type === 'blob') d.meta = x.oid;
        else if (x.name === 'code' && x.type === 'tree') d.code = x.oid;
        else if (x.name === 'ckpt.msgpack' && x.type === 'blob') d.ckpt = x.oid;
        else if (x.name === 'logs' && x.type === 'tree') d.logs = x.oid;
        else d.problem = `unexpected entry ${x.name} (${x.type})`;
      }
      return d;
    }),
  );
}

/** Content-addressed, so never stale: decoded metadata and the ledger's own small trees by oid. */
const metaCache = new Map<string, RunMeta>();
const treeCache = new Map<string, TreeEntry[]>();
/** oid -> "run X segment Y", so a corrupt segment read by oid alone is still named. */
const segmentLabels = new Map<string, string>();

async function readMeta(cat: CatFile, oid: string, where: string): Promise<RunMeta> {
  const key = `${cat.cwd}\0${oid}`;
  const hit = metaCache.get(key);
  if (hit) return hit;
  const meta = decodeRunMeta((await cat.readAs(oid, 'blob')).data, where);
  metaCache.set(key, meta);
  return meta;
}

/** A ledger skeleton tree (runs/, runs/<aa>/, a run directory, logs/); never a code tree. */
async function skeletonTree(cat: CatFile, oid: string): Promise<TreeEntry[]> {
  const key = `${cat.cwd}\0${oid}`; // same content everywhere, but presence is per repository
  const hit = treeCache.get(key);
  if (hit) return hit;
  const es = await readTree(cat, oid);
  treeCache.set(key, es);
  return es;
}

function errText(e: unknown): { code: FlorErrorCode; error: string } {
  return isFlorError(e) ? { code: e.code, error: e.message } : { code: 'INTERNAL', error: e instanceof Error ? e.message : String(e) };
}

/**
 * The union of every ledger: valid runs, every run that could not be read with its reason, and the
 * parts of runs that other writers' ledgers hold and readers ignore (see unionRun).
 */
export async function listRunsChecked(repo: RepoInfo): Promise<{ runs: RunEntry[]; broken: BrokenRun[]; ignored: IgnoredPart[] }> {
  const cat = reader(repo);
  const broken: BrokenRun[] = [];
  // Runs that ended but are still journals (capture in flight, or its capturer killed) first.
  for (const f of (await settleJournals(repo)).failed) {
    broken.push({ id: basename(f.path).split('.')[0]!, ledger: '(journal)', code: f.code, error: `its journal could not be captured: ${f.error}` });
  }
  const ignored: IgnoredPart[] = [];
  const [listed, trust] = await Promise.all([listLedgers(repo), readTrust(repo)]);
  // Runs a fetched ledger held when last seen are read too: a ledger never loses runs by a fetch.
  const seen = await checkSeen(repo, cat, listed);
  for (const a of seen.alerts) broken.push({ id: '', ledger: a.ledger, code: a.code, error: a.error });
  // An older tip goes just before its ref: of two copies of a run, the one read first is kept.
  const ledgers = [...listed.flatMap((l) => [...seen.extra.filter((x) => x.ref === l.ref), l]), ...seen.extra.filter((x) => !listed.some((l) => l.ref === x.ref))];
  const dirLists = await Promise.all(
    ledgers.map((l) =>
      runDirsOf(cat, l, broken).catch((e) => {
        broken.push({ id: '', ledger: l.ref, ...errText(e) });
        return [] as RunDirRef[];
      }),
    ),
  );
  const byId = new Map<string, RunDirRef[]>();
  for (const list of dirLists) {
    for (const d of list) {
      if (d.problem && !ULID.test(d.id)) {
        broken.push({ id: d.id, ledger: d.ledger, code: 'CORRUPT_RUN', error: `ledger ${d.ledger}: ${d.problem}` });
        continue;
      }
      let a = byId.get(d.id);
      if (!a) byId.set(d.id, (a = []));
      a.push(d);
    }
  }
  const ids = [...byId.keys()].sort();
  const results = await Promise.all(ids.map((id) => unionRun(cat, id, byId.get(id)!, trust, ignored)));
  const runs: RunEntry[] = [];
  for (const r of results) {
    if ('meta' in r) runs.push(r);
    else broken.push(r);
  }
  ignored.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.ledger < b.ledger ? -1 : 1));
  return { runs, broken, ignored };
}

/**
 * One run from its directories in several ledgers. Its metadata, code, forward segment and
 * checkpoint manifest come from its writer's ledger only: the copy of `run.msgpack` whose ledger's
 * writer is the writer it names, else (a forged claim, or an older copy) the one of this clone's
 * own writer, of a writer trusted in config, or the first ledger, in that order. A different copy
 * elsewhere, a forward segment or manifest in another writer's ledger, and a damaged directory in
 * another writer's ledger are ignored and listed in `ignored` (doctor reports them); other
 * writers' replay segments join the run, each with its writer.
 */
async function unionRun(cat: CatFile, id: string, dirs: RunDirRef[], trust: Trust, ignored: IgnoredPart[]): Promise<RunEntry | BrokenRun> {
  const withMeta = dirs.filter((d) => d.meta && !d.problem);
  if (!withMeta.length) {
    const bad = dirs.find((d) => d.problem);
    if (bad) return { id, ledger: bad.ledger, code: 'CORRUPT_RUN', error: `run ${id} in ${bad.ledger}: ${bad.problem}` };
    return {
      id,
      ledger: dirs[0]!.ledger,
      code: 'RUN_INCOMPLETE',
      error: `run ${id}: ${dirs[0]!.ledger} has segments for it but no ledger has its metadata (fetch the clone that captured it)`,
    };
  }
  const copies = await Promise.all(
    withMeta.map(async (d) => {
      try {
        if (!d.code) throw new FlorError('CORRUPT_RUN', `run ${id} in ${d.ledger}: no code tree`);
        const meta = await readMeta(cat, d.meta!, `run ${id} (${d.ledger})`);
        if (meta.id !== id) throw new FlorError('CORRUPT_RUN', `run ${id} in ${d.ledger}: run.msgpack names run ${meta.id}`);
        return { d, meta, err: null };
      } catch (e) {
        return { d, meta: null, err: e };
      }
    }),
  );
  const rank = (c: (typeof copies)[number]): number =>
    c.meta === null ? 9 : c.meta.writer === c.d.writer ? (c.d.writer === trust.own ? 0 : trusts(trust, c.d.writer) ? 1 : 2) : c.d.writer === trust.own ? 3 : trusts(trust, c.d.writer) ? 4 : 5;
  const chosen = copies.reduce((best, c) => (rank(c) < rank(best) ? c : best));
  if (chosen.meta === null) return { id, ledger: chosen.d.ledger, ...errText(chosen.err) };
  const meta = chosen.meta;
  const writer = chosen.d.writer;
  const same = (d: RunDirRef) => d.meta === chosen.d.meta && d.code === chosen.d.code;
  // The writer's ledgers: every ref of that writer holding the same copy (or only segments).
  const own = (d: RunDirRef) => d.writer === writer && (!d.meta || same(d));
  for (const d of dirs) {
    if (d.problem) {
      if (d.writer === writer) return { id, ledger: d.ledger, code: 'CORRUPT_RUN', error: `run ${id} in ${d.ledger}: ${d.problem}` };
      ignored.push({ id, ledger: d.ledger, problem: `damaged copy ignored (${d.problem})` });
    } else if (d.meta && !same(d)) {
      const c = copies.find((x) => x.d === d)!;
      const why = c.err ? `unreadable (${errText(c.err).error})` : 'different';
      const at = chosen.d.seen ? ` as first read (${chosen.d.tip.slice(0, 12)})` : '';
      ignored.push({ id, ledger: d.ledger, problem: `a ${why} copy of the run's metadata or code; the copy in ${chosen.d.ledger}${at} (writer ${writer}) is used` });
    }
  }
  try {
    const segments: SegmentRef[] = [];
    const seen = new Set<string>();
    const ordered = [...dirs.filter((d) => !d.problem && own(d)), ...dirs.filter((d) => !d.problem && !own(d))];
    for (const d of ordered) {
      if (!d.logs) continue;
      const mine = own(d);
      for (const e of await skeletonTree(cat, d.logs)) {
        if (e.type !== 'blob' || !e.name.endsWith('.msgpack')) {
          if (mine) throw new FlorError('CORRUPT_RUN', `run ${id} in ${d.ledger}: unexpected entry logs/${e.name}`);
          ignored.push({ id, ledger: d.ledger, problem: `unexpected entry logs/${e.name} ignored` });
          continue;
        }
        const name = e.name.slice(0, -'.msgpack'.length);
        if (name === 'forward' && !mine) {
          // Only the run's writer records it; another ledger's "forward" would pass for recorded values.
          if (e.oid !== segments.find((s) => s.name === 'forward')?.oid) ignored.push({ id, ledger: d.ledger, problem: `forward segment ignored: only the run's writer (${writer}) records it` });
          continue;
        }
        if (seen.has(name)) continue; // the same segment seen again in a fetched copy of a ledger
        seen.add(name);
        segments.push({ name, oid: e.oid, ledger: d.ledger, writer: d.writer });
        segmentLabels.set(e.oid, `run ${id} segment ${name}`);
      }
    }
    segments.sort((a, b) => (a.name === 'forward' ? -1 : b.name === 'forward' ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const ckpt = dirs.find((d) => d.ckpt && !d.problem && own(d))?.ckpt ?? null;
    for (const d of dirs) {
      if (d.ckpt && !d.problem && !own(d) && d.ckpt !== ckpt) ignored.push({ id, ledger: d.ledger, problem: `checkpoint manifest ignored: only the run's writer (${writer}) records it` });
    }
    if (ckpt) segmentLabels.set(ckpt, `run ${id} checkpoint manifest`);
    return { id, writer, meta, codeTree: chosen.d.code!, segments, ckpt, ledgers: [...new Set(dirs.map((d) => d.ledger))], source: { ledger: chosen.d.ledger, tip: chosen.d.tip } };
  } catch (e) {
    return { id, ledger: chosen.d.ledger, ...errText(e) };
  }
}

/**
 * Why a decoded segment of `run` must not be read as part of it, or null: the one named `forward`
 * (which the listing takes from the run's writer only) is the forward record, every other one a
 * replay, and each belongs to this run.
 */
export function segmentProblem(run: RunEntry, ref: SegmentRef, seg: Segment): string | null {
  if (seg.run !== run.id) return `segment ${ref.name} belongs to run ${seg.run}`;
  const want = ref.name === 'forward' ? 'forward' : 'replay';
  if (seg.source !== want) return `segment ${ref.name} (${ref.ledger}) says source '${seg.source}'; only the run's writer's 'forward' segment holds recorded values`;
  return null;
}

/**
 * The segments of `run` that readers use, decoded, in `run.segments` order; those segmentProblem
 * rejects are left out and returned in `dropped`.
 */
export async function readRunSegments(
  repo: RepoInfo, run: RunEntry, from?: SegmentReader,
): Promise<{ segments: Array<{ ref: SegmentRef; seg: Segment }>; dropped: Array<{ ref: SegmentRef; problem: string }> }> {
  const segs = await Promise.all(run.segments.map((s) => (from ? from.read(s.oid) : readSegment(repo, s.oid))));
  return checkRunSegments(run, segs);
}

/** readRunSegments on segments already read (`segs[i]` decoded from `run.segments[i]`). */
export function checkRunSegments(run: RunEntry, segs: Segment[]): { segments: Array<{ ref: SegmentRef; seg: Segment }>; dropped: Array<{ ref: SegmentRef; problem: string }> } {
  const segments: Array<{ ref: SegmentRef; seg: Segment }> = [];
  const dropped: Array<{ ref: SegmentRef; problem: string }> = [];
  run.segments.forEach((ref, i) => {
    const problem = segmentProblem(run, ref, segs[i]!);
    if (problem) dropped.push({ ref, problem });
    else segments.push({ ref, seg: segs[i]! });
  });
  return { segments, dropped };
}

/** Every readable run, oldest first (broken ones are left out; see listRunsChecked). */
export async function listRuns(repo: RepoInfo): Promise<RunEntry[]> {
  return (await listRunsChecked(repo)).runs;
}

/** An object read for a reader of runs: a corrupt one (Git cannot read its body) is named with its run. */
async function readBlobOf(repo: RepoInfo, oid: string, label: string): Promise<GitObject | null> {
  try {
    return await reader(repo).read(oid);
  } catch (e) {
    if (!isFlorError(e, 'OBJECT_UNREADABLE')) throw e;
    throw new FlorError('OBJECT_CORRUPT', `${label}: object ${oid} is corrupt`, { hint: 'run `git flor doctor` (`--repair` drops what cannot be read)' });
  }
}

export async function readSegment(repo: RepoInfo, oid: string): Promise<Segment> {
  return (await readSegmentSized(repo, oid)).seg;
}

async function readSegmentSized(repo: RepoInfo, oid: string): Promise<{ seg: Segment; bytes: number }> {
  const label = segmentLabels.get(oid) ?? `segment ${oid}`;
  const o = await readBlobOf(repo, oid, label);
  if (o?.type !== 'blob') {
    throw new FlorError('OBJECT_MISSING', `${label}: object ${oid} is ${o ? `a ${o.type}` : await objectState(repo, oid)}`, { hint: 'run `git flor doctor` (`--repair` drops what cannot be read)' });
  }
  return { seg: decodeSegment(o.data, label), bytes: o.data.byteLength };
}

/** Where a reader of many runs gets decoded segments: `readSegment`, or a SegmentCache shared with an earlier reader. */
export interface SegmentReader {
  read(oid: string): Promise<Segment>;
}

export interface SegmentCache extends SegmentReader {
  readonly stats: { hits: number; misses: number; bytes: number; entries: number };
}

/** Default budget of a SegmentCache, in encoded segment bytes (decoded numeric columns take about as much; `other` values more). */
export const SEGMENT_CACHE_BYTES = 128 * 1024 * 1024;

/**
 * Decoded segments of one repository kept by blob oid, for one command that reads the same runs
 * twice (`log --replay`: the replay decides what is missing, then the table is built). A segment is
 * content-addressed and never rewritten, so an entry cannot go stale; a segment a replay added is
 * a new oid. Callers share the returned objects and must not modify them. Memory stays bounded:
 * once `maxBytes` of segments are held, further ones are read but not kept — not evicting keeps
 * the earliest runs, which a second pass in the same order reads first, instead of churning.
 * Failed reads are not kept, so the second reader meets the same error.
 */
export function segmentCache(repo: RepoInfo, maxBytes: number = SEGMENT_CACHE_BYTES): SegmentCache {
  const held = new Map<string, Segment>();
  const stats = { hits: 0, misses: 0, bytes: 0, entries: 0 };
  return {
    stats,
    async read(oid: string): Promise<Segment> {
      const hit = held.get(oid);
      if (hit) {
        stats.hits++;
        return hit;
      }
      stats.misses++;
      const { seg, bytes } = await readSegmentSized(repo, oid);
      if (!held.has(oid) && stats.bytes + bytes <= maxBytes) {
        held.set(oid, seg);
        stats.bytes += bytes;
        stats.entries++;
      }
      return seg;
    },
  };
}

export async function readCheckpointManifest(repo: RepoInfo, oid: string): Promise<CheckpointManifest> {
  const label = segmentLabels.get(oid) ?? `checkpoint manifest ${oid}`;
  const o = await readBlobOf(repo, oid, label);
  if (o?.type !== 'blob') {
    throw new FlorError('OBJECT_MISSING', `${label}: object ${oid} is ${o ? `a ${o.type}` : await objectState(repo, oid)}`, { hint: 'run `git flor doctor` (`--repair` drops what cannot be read)' });
  }
  return validateCheckpointManifest(unpack(o.data, label), label);
}

/** The run id a user typed, as ids are stored (upper-case Crockford base32); empty is an error. */
function wantedId(idOrPrefix: string): string {
  const want = idOrPrefix.trim().toUpperCase();
  if (!want) throw new FlorError('RUN_NOT_FOUND', 'no run id given', { hint: 'list runs with `git flor runs`' });
  return want;
}

/** A run by full id or unique prefix (case-insensitive: ids are upper-case Crockford base32). */
export async function resolveRun(repo: RepoInfo, idOrPrefix: string): Promise<RunEntry> {
  wantedId(idOrPrefix); // before listing: an empty id needs no ledger read
  const { runs, broken } = await listRunsChecked(repo);
  return resolveIn(runs, idOrPrefix, broken);
}

/**
 * resolveRun against a listing the caller already has, so several prefixes cost one listing.
 * `broken` (from listRunsChecked) turns "no such run" into the reason a matching run is unreadable.
 */
export function resolveIn(runs: RunEntry[], idOrPrefix: string, broken: BrokenRun[] = []): RunEntry {
  const want = wantedId(idOrPrefix);
  const exact = runs.find((r) => r.id === want);
  if (exact) return exact;
  const hurt = broken.find((b) => b.id === want);
  if (hurt) throw new FlorError(hurt.code, hurt.error, { hint: 'run `git flor doctor`', data: { id: want } });
  const matches = runs.filter((r) => r.id.startsWith(want));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    const shown = matches.slice(0, 5).map((r) => r.id).join(', ');
    throw new FlorError('RUN_AMBIGUOUS', `run prefix ${idOrPrefix} matches ${matches.length} runs: ${shown}${matches.length > 5 ? ', …' : ''}`, {
      hint: 'give more characters of the id',
      data: { candidates: matches.map((r) => r.id) },
    });
  }
  const hurtPrefix = broken.filter((b) => b.id?.startsWith(want));
  if (hurtPrefix.length === 1) throw new FlorError(hurtPrefix[0]!.code, hurtPrefix[0]!.error, { hint: 'run `git flor doctor`' });
  throw new FlorError('RUN_NOT_FOUND', `no run matches ${idOrPrefix}`, { hint: 'list runs with `git flor runs`' });
}
