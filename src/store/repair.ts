/**
 * `git flor doctor --repair`: history that broke, made whole with one command.
 * - This clone's ledger ref broke (points at a blob, or its tip is gone) and captures started a new
 *   chain: the last good tip is found in the ledger's reflog and joined with the new chain by a
 *   commit that has both as parents, so no run of either is lost.
 * - A run of this clone's ledger whose objects are missing or corrupt: Git cannot gc while any
 *   commit reaches them, so the ledger's history is rewritten without that run (every other run,
 *   message and date kept) and a removal record (removals.ts) is appended saying what went, why,
 *   and which tip the new history replaces. The ledger's reflog, which still reaches the old
 *   history, is expired; corrupt loose objects left unreachable are moved out of the object store.
 * - A fetched ledger that reaches a missing or corrupt object is fetched again; failing that, its
 *   remote-tracking ref (and its seen tip) is dropped, and the report says so.
 */
import { appendFileSync, mkdirSync, readFileSync, renameSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { git, repoCwd, type CatFile, type RepoInfo } from './git.js';
import { blobEntry, commitTreeOf, editTree, readRef, readTree, reader, TreeWriter, writeBlob, ZERO_OID, type EntryValue, type TreeEdits } from './objects.js';
import { isAncestor, seenRef } from './seen.js';
import { loosePath, objectState, type ObjectState } from './object-state.js';
import { decodeRemovals, encodeRemovals, REMOVALS_FILE, type Removal } from './removals.js';
import { encodeMarks, marksAt, MARKS_FILE } from './marks.js';
import type { LedgerRef } from './ledger.js';
import { ledgerSignArgs } from './signing.js';

/**
 * What a repair did. Callers branch on `kind` (the command re-applies rewrites after a rebuilt
 * notes index); `text` is for people.
 */
export type RepairKind =
  | 'checkpoint-removed'
  | 'ledger-dropped'
  | 'ledger-refetched'
  | 'notes-completed'
  | 'notes-rebuilt'
  | 'objects-set-aside'
  | 'replay-lock-removed'
  | 'run-dropped'
  | 'scratch-removed'
  | 'tip-restored';

export interface Repair {
  kind: RepairKind;
  /** One line saying what was done. */
  text: string;
}

export interface RepairFinding {
  /** What is wrong, for the report. */
  problem: string;
  ref: string;
  run?: string;
}

// ---------------------------------------------------------------------------------------------
// A broken own ledger ref: reflog

interface ReflogEntry {
  old: string;
  next: string;
}

function reflogOf(repo: RepoInfo, ref: string): ReflogEntry[] {
  let text = '';
  try {
    text = readFileSync(join(repo.commonDir, 'logs', ref), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => /^([0-9a-f]{40,64}) ([0-9a-f]{40,64}) /.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ old: m[1]!, next: m[2]! }));
}

async function readableCommit(cat: CatFile, oid: string): Promise<{ tree: string; parents: string[] } | null> {
  try {
    const o = await cat.read(oid);
    if (o?.type !== 'commit') return null;
    const tree = commitTreeOf(o.data);
    if (!tree || !(await cat.read(tree))) return null;
    const parents = [...o.data.toString('latin1').split('\n\n')[0]!.matchAll(/^parent ([0-9a-f]+)$/gm)].map((m) => m[1]!);
    return { tree, parents };
  } catch {
    return null;
  }
}

/**
 * The last good tip of this clone's ledger that its current tip no longer reaches, from the
 * reflog: the chain broke where an entry's new commit does not have the old value as a parent
 * (a new chain started over a damaged tip, or the ref was moved by hand). null when nothing is lost.
 */
export async function lostTip(repo: RepoInfo, ref: string): Promise<{ tip: string | null; lost: string } | null> {
  const cat = reader(repo);
  const tip = await readRef(repo, ref);
  const log = reflogOf(repo, ref);
  const tipOk = tip ? await readableCommit(cat, tip) : null;
  // The newest entry where the chain broke; log.length when the ref itself names no readable commit.
  let breakAt = tipOk ? -1 : log.length;
  for (let i = log.length - 1; tipOk && i >= 0; i--) {
    const e = log[i]!;
    if (e.old === ZERO_OID) continue;
    const c = await readableCommit(cat, e.next);
    if (!c?.parents.includes(e.old)) {
      breakAt = i;
      break;
    }
  }
  if (breakAt < 0) return null;
  const older = log.slice(0, Math.min(breakAt, log.length)).reverse().map((e) => e.next);
  const candidates = breakAt < log.length ? [log[breakAt]!.old, ...older] : older;
  for (const c of candidates) {
    if (c === tip || !(await readableCommit(cat, c))) continue;
    if (tipOk && tip && (await isAncestor(repo, c, tip))) return null;
    return { tip, lost: c };
  }
  return null;
}

/** Every file of every run directory (and replay code) of a ledger tree, as edits that add them to another tree. */
async function runEntries(cat: CatFile, root: string): Promise<TreeEdits> {
  const edits: TreeEdits = new Map();
  const walk = async (tree: string, path: string, depth: number): Promise<void> => {
    for (const e of await readTree(cat, tree)) {
      const p = `${path}/${e.name}`;
      const entry: EntryValue = { mode: e.mode, type: e.type, oid: e.oid };
      // runs/<aa>/<id>/{run.msgpack,code,ckpt.msgpack,logs/<seg>}; replays/<aa>/<id>/<name>/code
      if (e.type === 'tree' && (depth < 3 || (depth === 3 && e.name === 'logs' && path.startsWith('runs/')))) await walk(e.oid, p, depth + 1);
      else edits.set(p, entry);
    }
  };
  for (const top of await readTree(cat, root)) if ((top.name === 'runs' || top.name === 'replays') && top.type === 'tree') await walk(top.oid, top.name, 1);
  return edits;
}

/** Joins the lost tip with what the ref holds now (a new chain, or nothing usable). */
export async function restoreLostTip(repo: RepoInfo, ref: string, found: { tip: string | null; lost: string }): Promise<string> {
  const cat = reader(repo);
  const cwd = repoCwd(repo);
  const current = found.tip ? await readableCommit(cat, found.tip) : null;
  let next = found.lost;
  if (current) {
    const lost = (await readableCommit(cat, found.lost))!;
    const mk = new TreeWriter(cwd);
    try {
      const edits = await runEntries(cat, current.tree);
      // Marks made while the ref was broken went onto the new chain; the restored tip keeps its own.
      const since = await marksAt(cat, found.tip!);
      if (since.length) {
        const before = await marksAt(cat, found.lost);
        const seen = new Set(before.map((m) => JSON.stringify(m)));
        const joined = [...before, ...since.filter((m) => !seen.has(JSON.stringify(m)))].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
        edits.set(MARKS_FILE, blobEntry(await writeBlob(repo, encodeMarks(joined))));
      }
      const tree = await editTree(cat, mk, lost.tree, edits);
      const msg = `restore ${found.lost} from the reflog, joined with the chain started at ${found.tip} after the ledger ref broke`;
      next = (await git(['commit-tree', ...(await ledgerSignArgs(repo)), tree!, '-p', found.lost, '-p', found.tip!], { cwd, input: msg + '\n', env: FLOR_ENV })).stdout.toString().trim();
    } finally {
      mk.close();
    }
  }
  await git(['update-ref', '--create-reflog', '-m', 'flor: doctor --repair restored the last good tip', ref, next, found.tip ?? ZERO_OID], { cwd });
  // Its entries name the damaged values (fsck rejects an entry naming a missing object); the
  // ledger's own history now holds everything they led to.
  await resetReflog(repo, ref, next, 'flor: doctor --repair restored the last good tip');
  return next;
}

/**
 * Empties the ledger's reflog and starts it again at `tip`, so it names no damaged object and the
 * next repair still finds a good tip to restore (Git logs nothing for an update to the same value).
 */
async function resetReflog(repo: RepoInfo, ref: string, tip: string, message: string): Promise<void> {
  await git(['reflog', 'expire', '--expire=now', '--expire-unreachable=now', ref], { cwd: repoCwd(repo), okCodes: [1, 128] });
  const file = join(repo.commonDir, 'logs', ref);
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${ZERO_OID} ${tip} git flor <flor@localhost> ${Math.floor(Date.now() / 1000)} +0000\t${message}\n`);
}

const FLOR_ENV = { GIT_AUTHOR_NAME: 'git flor', GIT_AUTHOR_EMAIL: 'flor@localhost', GIT_COMMITTER_NAME: 'git flor', GIT_COMMITTER_EMAIL: 'flor@localhost' };

// ---------------------------------------------------------------------------------------------
// Damaged objects

export interface BadObject {
  oid: string;
  state: Exclude<ObjectState, 'present'>;
  /** Path in the tree it was found under, when known. */
  path: string;
}

/**
 * Objects reachable from `rev` (a commit or tree) that are missing or corrupt. `rev-list` finds
 * the missing ones; `cat-file --batch-check` answers "missing" for the ones it lists but cannot
 * read, which are corrupt.
 */
export async function badObjects(repo: RepoInfo, revs: string[]): Promise<BadObject[]> {
  if (!revs.length) return [];
  const cwd = repoCwd(repo);
  const r = await git(['rev-list', '--objects', '--missing=print', ...revs, '--'], { cwd, okCodes: [128] });
  if (r.code !== 0) {
    // The walk itself hit damage (a corrupt tree or commit): name what stopped it.
    const m = /([0-9a-f]{40,64})/.exec(r.stderr);
    return m ? [{ oid: m[1]!, state: await objectState(repo, m[1]!) === 'missing' ? 'missing' : 'corrupt', path: '' }] : [{ oid: '', state: 'corrupt', path: r.stderr.trim().split('\n')[0] ?? '' }];
  }
  const out: BadObject[] = [];
  const present: Array<{ oid: string; path: string }> = [];
  for (const line of r.stdout.toString().split('\n')) {
    if (!line) continue;
    if (line.startsWith('?')) out.push({ oid: line.slice(1).trim(), state: 'missing', path: '' });
    else {
      const sp = line.indexOf(' ');
      present.push(sp < 0 ? { oid: line, path: '' } : { oid: line.slice(0, sp), path: line.slice(sp + 1) });
    }
  }
  if (present.length) {
    const c = await git(['cat-file', '--batch-check'], { cwd, input: present.map((p) => p.oid).join('\n') + '\n', okCodes: [128] });
    const lines = c.stdout.toString().split('\n');
    const cat = reader(repo);
    await Promise.all(
      present.map(async (p, i) => {
        if (lines[i]?.endsWith(' missing')) return void out.push({ oid: p.oid, state: 'corrupt', path: p.path });
        // A header can read while the body is damaged: flor's own files (never the code trees,
        // which can be large) are read whole.
        if (/(^|\/)code(\/|$)/.test(p.path) || !p.path.endsWith('.msgpack')) return;
        try {
          if (!(await cat.read(p.oid))) out.push({ oid: p.oid, state: 'corrupt', path: p.path });
        } catch {
          out.push({ oid: p.oid, state: 'corrupt', path: p.path });
        }
      }),
    );
  }
  return out;
}

/** Runs of a ledger tip whose objects (metadata, code, segments, replay code) are missing or corrupt. */
export async function damagedRuns(repo: RepoInfo, tip: string): Promise<Map<string, BadObject[]>> {
  const cat = reader(repo);
  const out = new Map<string, BadObject[]>();
  const root = commitTreeOf((await cat.readAs(tip, 'commit')).data)!;
  const dirs: Array<{ id: string; oid: string }> = [];
  for (const top of await readTree(cat, root)) {
    if ((top.name !== 'runs' && top.name !== 'replays') || top.type !== 'tree') continue;
    for (const fan of await readTree(cat, top.oid)) {
      if (fan.type !== 'tree') continue;
      for (const e of await readTree(cat, fan.oid)) if (e.type === 'tree') dirs.push({ id: e.name, oid: e.oid });
    }
  }
  // A damaged run is rare and a run directory is small next to the rest: one walk per run, four at a time.
  for (let i = 0; i < dirs.length; i += 4) {
    await Promise.all(
      dirs.slice(i, i + 4).map(async (d) => {
        const bad = await badObjects(repo, [d.oid]);
        // rev-list names no path for a missing object: the run directory's own files say which it is.
        if (bad.some((b) => !b.path)) {
          const names = new Map<string, string>();
          for (const e of await readTree(cat, d.oid)) {
            names.set(e.oid, e.name);
            if (e.name === 'logs' && e.type === 'tree') for (const x of await readTree(cat, e.oid).catch(() => [])) names.set(x.oid, `logs/${x.name}`);
          }
          for (const b of bad) if (!b.path) b.path = names.get(b.oid) ?? '';
        }
        if (bad.length) out.set(d.id, [...(out.get(d.id) ?? []), ...bad]);
      }),
    );
  }
  return out;
}

interface CommitInfo {
  oid: string;
  tree: string;
  parents: string[];
  message: string;
  authorDate: string;
  committerDate: string;
}

async function commitInfo(cat: CatFile, oid: string): Promise<CommitInfo> {
  const text = (await cat.readAs(oid, 'commit')).data.toString();
  const cut = text.indexOf('\n\n');
  const head = text.slice(0, cut);
  const date = (who: string): string => {
    const m = new RegExp(`^${who} .* (\\d+ [+-]\\d{4})$`, 'm').exec(head);
    return m ? `@${m[1]}` : '';
  };
  return {
    oid,
    tree: /^tree ([0-9a-f]+)$/m.exec(head)![1]!,
    parents: [...head.matchAll(/^parent ([0-9a-f]+)$/gm)].map((m) => m[1]!),
    message: text.slice(cut + 2),
    authorDate: date('author'),
    committerDate: date('committer'),
  };
}

/**
 * Rewrites `ref`'s history without the runs `ids` and appends a removal record. Commits that only
 * added those runs disappear; every other commit keeps its message and dates. Returns the new tip.
 */
export async function rewriteWithout(repo: RepoInfo, ref: string, writer: string, tip: string, ids: string[], why: string): Promise<string> {
  const cat = reader(repo);
  const cwd = repoCwd(repo);
  const sign = await ledgerSignArgs(repo);
  const order = (await git(['rev-list', '--reverse', '--topo-order', tip], { cwd })).stdout.toString().split('\n').filter(Boolean);
  const drop: TreeEdits = new Map();
  for (const id of ids) {
    drop.set(`runs/${id.slice(0, 2)}/${id}`, null);
    drop.set(`replays/${id.slice(0, 2)}/${id}`, null);
  }
  const mapped = new Map<string, string | null>(); // old commit -> new commit (null: nothing left)
  const newTree = new Map<string, string | null>();
  const mk = new TreeWriter(cwd);
  try {
    for (const oid of order) {
      const c = await commitInfo(cat, oid);
      const tree = await editTree(cat, mk, c.tree, drop);
      const parents = [...new Set(c.parents.map((p) => mapped.get(p) ?? null).filter((p): p is string => p !== null))];
      // A commit that only added a dropped run leaves its parent's tree: it goes too.
      if (parents.length <= 1 && tree === (parents[0] ? newTree.get(parents[0]) : null)) {
        mapped.set(oid, parents[0] ?? null);
        continue;
      }
      const t = tree ?? (await git(['hash-object', '-w', '-t', 'tree', '--stdin'], { cwd, input: '' })).stdout.toString().trim();
      const args = ['commit-tree', ...sign, t];
      for (const p of parents) args.push('-p', p);
      const env = { ...FLOR_ENV, GIT_AUTHOR_DATE: c.authorDate || undefined, GIT_COMMITTER_DATE: c.committerDate || undefined } as Record<string, string>;
      const made = (await git(args, { cwd, input: c.message, env })).stdout.toString().trim();
      mapped.set(oid, made);
      newTree.set(made, t);
    }
    const base = mapped.get(tip) ?? null;
    const baseTree = base ? newTree.get(base)! : null;
    let prior: Removal[] = [];
    if (baseTree) {
      const e = (await readTree(cat, baseTree)).find((x) => x.name === REMOVALS_FILE);
      if (e) prior = decodeRemovals((await cat.readAs(e.oid, 'blob')).data);
    }
    const record: Removal = { runs: ids, why, replaces: tip, writer, time: new Date().toISOString() };
    const blob = await writeBlob(repo, encodeRemovals([...prior, record]));
    const tree = await editTree(cat, mk, baseTree, new Map([[REMOVALS_FILE, blobEntry(blob)]]));
    const msg = `remove run${ids.length > 1 ? 's' : ''} ${ids.join(' ')}: ${why} (replaces ${tip})`;
    const args = ['commit-tree', ...sign, tree!];
    if (base) args.push('-p', base);
    const next = (await git(args, { cwd, input: msg + '\n', env: FLOR_ENV })).stdout.toString().trim();
    await git(['update-ref', '--create-reflog', '-m', 'flor: doctor --repair removed damaged runs', ref, next, tip], { cwd });
    // The reflog still reaches the old history (and so the damaged objects): gc would fail on it.
    await resetReflog(repo, ref, next, 'flor: doctor --repair removed damaged runs');
    return next;
  } finally {
    mk.close();
  }
}

/** Moves corrupt loose objects out of the object store (once nothing reaches them): fsck and gc read every loose file. */
export function setAsideCorrupt(repo: RepoInfo, oids: string[]): string[] {
  const moved: string[] = [];
  const dir = join(repo.commonDir, 'flor', 'broken-objects');
  for (const oid of oids) {
    const p = loosePath(repo, oid);
    if (!existsSync(p)) continue;
    mkdirSync(dir, { recursive: true });
    renameSync(p, join(dir, oid));
    moved.push(oid);
  }
  return moved;
}

/** For a fetched ledger that reaches damaged objects: fetch it again, or drop it (and its seen tip). */
export async function refetchOrDrop(repo: RepoInfo, l: LedgerRef, bad: BadObject[]): Promise<Repair> {
  const cwd = repoCwd(repo);
  setAsideCorrupt(repo, bad.filter((b) => b.state === 'corrupt').map((b) => b.oid));
  const spec = `+refs/flor/ledgers/${l.writer}:${l.ref}`;
  const f = await git(['fetch', '--refetch', '--no-write-fetch-head', l.remote, spec], { cwd, okCodes: [1, 128] });
  const tip = await readRef(repo, l.ref);
  if (f.code === 0 && tip && (await badObjects(repo, [tip])).length === 0) {
    const seen = seenRef(l.remote, l.writer);
    const s = await readRef(repo, seen);
    if (s && (await badObjects(repo, [s])).length) await git(['update-ref', '-d', seen], { cwd, okCodes: [1, 128] });
    return { kind: 'ledger-refetched', text: `fetched ${l.ref} again from ${l.remote}: its objects are whole now` };
  }
  await git(['update-ref', '-d', l.ref], { cwd, okCodes: [1, 128] });
  await git(['update-ref', '-d', seenRef(l.remote, l.writer)], { cwd, okCodes: [1, 128] });
  const why = f.code === 0 ? 'the remote could not supply the damaged objects' : `fetching it again failed: ${f.stderr.trim().split('\n').pop() ?? ''}`;
  return { kind: 'ledger-dropped', text: `dropped ${l.ref} (and its seen tip): ${why}; \`git flor fetch ${l.remote}\` brings it back once the remote is whole` };
}
