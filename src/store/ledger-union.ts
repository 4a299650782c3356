/**
 * The union of every ledger by run id: this clone's `refs/flor/ledgers/<writer>` and the fetched
 * `refs/flor/remotes/<remote>/ledgers/<writer>`. Which copy of a run counts is decided by its
 * writer and the trust rule (unionRun). Reads go through the one long-lived `cat-file` of the
 * repository, issued all at once level by level, so listing hundreds of runs costs a few round
 * trips, not a process per run.
 */
import { basename } from 'node:path';
import { FlorError, isFlorError, type FlorErrorCode } from '../errors.js';
import { LEDGERS, REMOTES } from './refs.js';
import { git, repoCwd, type CatFile, type RepoInfo, type TreeEntry } from './git.js';
import { ULID_PATTERN } from './schema.js';
import { reader, readTree, commitTreeOf } from './objects.js';
import type { RunMeta, Segment } from './types.js';
import { settleJournals } from './settle.js';
import { readTrust, trusts, type Trust } from './trust.js';
import { checkSeen } from './seen.js';
import { BoundedMap } from './bounded-map.js';
import { refListingFromFiles } from './ref-files.js';
import { decodeRunMeta } from './run-meta.js';
import { labelObject, readSegment, type SegmentReader } from './segment-read.js';

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
  // Read from Git's files where the layout is plain (ref-files.ts): no git process.
  const files = [LEDGERS, REMOTES].map((prefix) => refListingFromFiles(repo, prefix));
  const text = files.every((t) => t !== null) ? files.join('\n') : (await git(['for-each-ref', '--format=%(objectname) %(refname)', LEDGERS, REMOTES], { cwd: repoCwd(repo) })).stdout.toString();
  const out: LedgerRef[] = [];
  for (const line of text.split('\n')) {
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

/**
 * Decoded metadata and the ledger's own small trees by repository and oid: content-addressed, so
 * never stale. They live as long as the process, so that a process that lists again and again (the
 * UI server after every new run, `log --replay` before and after its replay) reads only what
 * changed; bounded, because every new ledger commit brings new `runs/` and fan-out trees, and
 * such a process would otherwise grow with every run it sees. The bounds hold the skeleton of a
 * history of tens of thousands of runs (a run directory, its logs/ tree and its metadata each);
 * past them the least recently used entries go and are read again when needed.
 */
const metaCache = new BoundedMap<string, RunMeta>(50_000);
const treeCache = new BoundedMap<string, TreeEntry[]>(150_000);

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
        labelObject(e.oid, `run ${id} segment ${name}`);
      }
    }
    segments.sort((a, b) => (a.name === 'forward' ? -1 : b.name === 'forward' ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const ckpt = dirs.find((d) => d.ckpt && !d.problem && own(d))?.ckpt ?? null;
    for (const d of dirs) {
      if (d.ckpt && !d.problem && !own(d) && d.ckpt !== ckpt) ignored.push({ id, ledger: d.ledger, problem: `checkpoint manifest ignored: only the run's writer (${writer}) records it` });
    }
    if (ckpt) labelObject(ckpt, `run ${id} checkpoint manifest`);
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
export async function readableRuns(repo: RepoInfo): Promise<RunEntry[]> {
  return (await listRunsChecked(repo)).runs;
}
