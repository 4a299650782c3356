/**
 * Pinned replay plans: `refs/flor/plans/<id>`. Shards of one replay start at different times on
 * different machines and see different refs, so what they split is decided once and stored: the
 * names, today's code as a commit, the ledger tips read, the task list and which shard does each.
 *
 * The ref points at a commit whose tree holds `plan.msgpack` and whose parents are the code commit
 * and the ledger tips: fetching the plan brings everything it names, and `git gc` keeps it. The id
 * is a hash of the document, so two plans never share a ref, and a plan made twice from the same
 * input by nobody in particular (writer and time null: `--shard` without a saved plan) is the same
 * commit on every machine, so the shards' pushes of it never conflict.
 */
import { createHash } from 'node:crypto';
import { FlorError } from '../errors.js';
import { git, repoCwd, type CatFile, type RepoInfo } from './git.js';
import { refFromFiles, refListingFromFiles } from './ref-files.js';
import { pack, unpack } from './pack.js';
import { reader, writeBlob, ZERO_OID } from './objects.js';
import { PLANS } from './refs.js';
import { BoundedMap } from './bounded-map.js';
import { ensureWriter } from './writer-id.js';
import { planVouchPath, vouchForPlan } from './ledger-append.js';
import { listLedgers, type LedgerRef } from './ledger-union.js';

export { PLANS };

export interface PlanTask {
  run: string;
  /** Outer iterations [start, end). */
  start: number;
  end: number;
  /** The task also runs the code after the outer loop (the run's last task). */
  runToEnd: boolean;
  estMs: number;
  /** 0-based shard that does it. */
  shard: number;
}

export interface PlanDoc {
  format: 'flor-plan';
  version: 1;
  /** Who saved it (flor.writer), null for a plan made on the spot by a shard. */
  writer: string | null;
  time: string | null;
  /** The names requested. */
  names: string[];
  /** Today's code: the commit whose files the statements are read from (never a work tree). */
  from: string;
  /** Ledger ref -> tip, as read when planning. */
  tips: Record<string, string>;
  shards: number;
  /** The runs planned, each with the names it lacked. */
  runs: Array<{ run: string; names: string[] }>;
  tasks: PlanTask[];
}

export interface StoredPlan extends PlanDoc {
  id: string;
  /** The commit the ref points at. */
  commit: string;
}

const ID = /^[0-9a-f]{12}$/;

export function planRef(id: string): string {
  return PLANS + id;
}

function bad(where: string, what: string): FlorError {
  return new FlorError('CORRUPT_PLAN', `replay plan ${where}: ${what}`, { hint: 'make a new plan with `git flor replay NAME... --plan --shards N`' });
}

function checkPlan(x: unknown, where: string): PlanDoc {
  const o = x as Record<string, unknown> | null;
  if (!o || typeof o !== 'object' || o.format !== 'flor-plan') throw bad(where, 'not a flor plan');
  if (o.version !== 1) throw bad(where, `version ${String(o.version)} is not known to this git flor`);
  const strs = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
  const nat = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  if (!strs(o.names) || typeof o.from !== 'string' || !nat(o.shards) || (o.shards as number) < 1) throw bad(where, 'names, from or shards missing');
  if (o.writer !== null && typeof o.writer !== 'string') throw bad(where, 'writer is not a string');
  if (o.time !== null && typeof o.time !== 'string') throw bad(where, 'time is not a string');
  if (!o.tips || typeof o.tips !== 'object' || !Object.values(o.tips).every((t) => typeof t === 'string')) throw bad(where, 'tips is not a map of commits');
  if (!Array.isArray(o.runs) || !o.runs.every((r: { run?: unknown; names?: unknown }) => typeof r?.run === 'string' && strs(r.names))) throw bad(where, 'runs is not a list of {run, names}');
  const ok = (t: Record<string, unknown>): boolean =>
    typeof t?.run === 'string' && nat(t.start) && nat(t.end) && (t.end as number) >= (t.start as number) && typeof t.runToEnd === 'boolean' &&
    typeof t.estMs === 'number' && nat(t.shard) && (t.shard as number) < (o.shards as number);
  if (!Array.isArray(o.tasks) || !o.tasks.every(ok)) throw bad(where, 'a task is malformed');
  return o as unknown as PlanDoc;
}

/** The document as stored: keys in a fixed order, so equal plans encode to equal bytes. */
function encode(doc: PlanDoc): Buffer {
  return pack({
    format: 'flor-plan', version: 1, writer: doc.writer, time: doc.time, names: doc.names, from: doc.from,
    tips: Object.fromEntries(Object.entries(doc.tips).sort(([a], [b]) => (a < b ? -1 : 1))), shards: doc.shards,
    runs: doc.runs.map((r) => ({ run: r.run, names: r.names })),
    tasks: doc.tasks.map((t) => ({ run: t.run, start: t.start, end: t.end, runToEnd: t.runToEnd, estMs: t.estMs, shard: t.shard })),
  });
}

/** Only the commit's date varies between two saves of one document: it is fixed, so the commit is too. */
const FIXED_DATE = '1970-01-01T00:00:00Z';

/** Stores `doc` under refs/flor/plans/<id>; returns it with its id. Saving the same document again is a no-op. */
export async function savePlan(repo: RepoInfo, doc: PlanDoc): Promise<StoredPlan> {
  const bytes = encode(doc);
  const id = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
  const cwd = repoCwd(repo);
  const blob = await writeBlob(repo, bytes);
  const tree = (await git(['mktree'], { cwd, input: `100644 blob ${blob}\tplan.msgpack\n` })).stdout.toString().trim();
  // Parents keep the code and the ledgers the plan read reachable (and fetched with it).
  const parents = [...new Set([doc.from, ...Object.values(doc.tips).sort()])];
  const args = ['commit-tree', tree];
  for (const p of parents) args.push('-p', p);
  const env = { GIT_AUTHOR_NAME: 'git flor', GIT_AUTHOR_EMAIL: 'flor@localhost', GIT_COMMITTER_NAME: 'git flor', GIT_COMMITTER_EMAIL: 'flor@localhost', GIT_AUTHOR_DATE: FIXED_DATE, GIT_COMMITTER_DATE: FIXED_DATE };
  const commit = (await git(args, { cwd, input: `replay plan ${id}\n`, env })).stdout.toString().trim();
  const r = await git(['update-ref', planRef(id), commit, ZERO_OID], { cwd, okCodes: [1, 128] });
  if (r.code !== 0) {
    const now = await git(['rev-parse', '-q', '--verify', planRef(id)], { cwd, okCodes: [1] });
    if (now.stdout.toString().trim() !== commit) throw new FlorError('GIT_FAILED', `cannot write ${planRef(id)}: ${r.stderr.trim().split('\n')[0]}`);
  }
  // The saver vouches for its plan in its own ledger, which `git flor push` and a plain `git push`
  // carry; a plan naming another writer is saved but not vouched for (planVouchers finds nothing).
  if (doc.writer !== null && doc.writer === (await ensureWriter(repo))) await vouchForPlan(repo, id, blob);
  return { ...doc, id, commit };
}

/**
 * The ledgers of the plan's `writer` that vouch for it (hold its bytes at planVouchPath). The
 * `writer` field is the saver's word, like a run's `meta.writer`: a clone that trusts that writer
 * believes it only when the writer's own ledger (named by its ref, format.md §3) says so. [] for a
 * plan of nobody (`--shard` planning on the spot).
 */
export async function planVouchers(repo: RepoInfo, plan: StoredPlan): Promise<LedgerRef[]> {
  if (plan.writer === null) return [];
  const cat = reader(repo);
  const doc = await cat.read(`${plan.commit}:plan.msgpack`);
  if (!doc) return [];
  const ledgers = (await listLedgers(repo)).filter((l) => l.writer === plan.writer);
  const held = await Promise.all(ledgers.map((l) => cat.read(`${l.tip}:${planVouchPath(plan.id)}`)));
  return ledgers.filter((_, i) => held[i]?.type === 'blob' && held[i]!.oid === doc.oid);
}

/** Ids of the plans in this clone (saved here or fetched). */
export async function listPlanIds(repo: RepoInfo): Promise<string[]> {
  const listed = refListingFromFiles(repo, PLANS)?.split('\n').map((l) => l.slice(l.indexOf(' ') + 1));
  const refs = listed ?? (await git(['for-each-ref', '--format=%(refname)', PLANS], { cwd: repoCwd(repo) })).stdout.toString().split('\n');
  return refs.filter(Boolean).map((ref) => ref.slice(PLANS.length)).filter((id) => ID.test(id)).sort();
}

/** The plan with this id (or unique prefix of at least 4 characters); null when no plan has it. */
export async function findPlan(repo: RepoInfo, idOrPrefix: string): Promise<StoredPlan | null> {
  const want = idOrPrefix.toLowerCase();
  if (!/^[0-9a-f]{4,12}$/.test(want)) throw new FlorError('BAD_PLAN_ID', `'${idOrPrefix}' is not a plan id (12 hex digits, or a unique prefix of 4 or more)`, { hint: 'the id `git flor replay NAME --plan --shards N` printed' });
  const ids = (await listPlanIds(repo)).filter((id) => id.startsWith(want));
  if (ids.length > 1) throw new FlorError('AMBIGUOUS_PLAN', `plan id prefix ${idOrPrefix} matches ${ids.join(', ')}`, { hint: 'give more digits' });
  if (ids.length === 0) return null;
  return readPlan(repo, ids[0]!);
}

// Bounded: the UI server lives for days, and every plan saved or fetched meanwhile is a new id.
const plansRead = new BoundedMap<string, Promise<StoredPlan | null>>(64);

/** The plan `id` (exact), or null when this clone does not have it. Read once per process: a plan never changes. */
export function readPlan(repo: RepoInfo, id: string): Promise<StoredPlan | null> {
  const key = `${repo.commonDir}\0${id}`;
  let p = plansRead.get(key);
  if (!p) {
    p = (async () => {
      if (!ID.test(id)) return null;
      const cat = reader(repo);
      const oid = await planCommit(repo, cat, id);
      if (oid === null) return null;
      const blob = await cat.read(`${oid}:plan.msgpack`);
      if (blob?.type !== 'blob') throw bad(id, 'no plan.msgpack in its commit');
      return { ...checkPlan(unpack(blob.data, `plan ${id}`), id), id, commit: oid };
    })();
    // A plan that is absent now may be fetched later in this process.
    p.then((v) => (v ? undefined : plansRead.delete(key)), () => plansRead.delete(key));
    plansRead.set(key, p);
  }
  return p;
}

/** The commit `refs/flor/plans/<id>` names: from the ref files and the object reader when it names a commit, else as Git peels it. */
async function planCommit(repo: RepoInfo, cat: CatFile, id: string): Promise<string | null> {
  const tip = refFromFiles(repo, planRef(id));
  if (tip === null) return null;
  if (tip !== undefined && (await cat.read(tip))?.type === 'commit') return tip;
  const commit = await git(['rev-parse', '-q', '--verify', `${planRef(id)}^{commit}`], { cwd: repoCwd(repo), okCodes: [1, 128] });
  return commit.code === 0 ? commit.stdout.toString().trim() : null;
}

/** The commit `rev` names (for `--from`), as a full oid. */
export async function resolveCommit(repo: RepoInfo, rev: string): Promise<string> {
  const r = await git(['rev-parse', '-q', '--verify', '--end-of-options', `${rev}^{commit}`], { cwd: repoCwd(repo), okCodes: [1, 128] });
  if (r.code !== 0) throw new FlorError('BAD_REVISION', `'${rev}' does not name a commit`, { hint: '--from takes a commit, branch or tag (default HEAD): the plan reads today\'s code from it, never from the work tree' });
  return r.stdout.toString().trim();
}
