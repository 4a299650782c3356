/**
 * Writing Git objects and moving refs, through the `git` binary only: blobs with
 * `hash-object -w`, trees with one long-lived `mktree --batch` (it validates every entry exists
 * and sorts them Git's way), commits with `commit-tree`, and refs only with
 * `update-ref REF NEW OLD` — Git's own compare-and-swap. `editTree` rewrites just the trees on the
 * edited paths, so appending to a ledger never walks the code trees it holds. An update marked
 * `loose` (a replay's appends) writes its trees and commit as loose objects (loose.ts) and moves
 * the ref in the repository's `update-ref --stdin` session (ref-session.ts): the same objects and
 * the same compare-and-swap, without a process each.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { childProcess, uniqueSuffix } from './builtins.js';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FlorError } from '../errors.js';
import { CatFile, FLOR_IDENT, git, gitEnv, parseTree, repoCwd, type GitObject, type RepoInfo, type TreeEntry } from './git.js';
import { LEDGERS } from './refs.js';
import { ledgerSignArgs } from './signing.js';
import { looseWriter } from './loose.js';
import { refFromFiles } from './ref-files.js';
import { casRefFiles } from './ref-write.js';
import { looseReader } from './loose-read.js';
import { closeRefSessions, sessionUpdate } from './ref-session.js';

export const ZERO_OID = '0000000000000000000000000000000000000000';

const readers = new Map<string, CatFile>();

/** The process-wide object reader of a repository (loose objects from their files, the rest from one `cat-file --batch`, unref'd). */
export function reader(repo: RepoInfo): CatFile {
  const cwd = repoCwd(repo);
  let r = readers.get(cwd);
  if (!r || (r as unknown as { closed: boolean }).closed) {
    r = new CatFile(cwd, looseReader(repo));
    readers.set(cwd, r);
  }
  return r;
}

/** Ends the reader of one repository (a closed query handle); the next read opens a new one. */
export function closeReader(repo: RepoInfo): Promise<void> {
  const cwd = repoCwd(repo);
  const r = readers.get(cwd);
  readers.delete(cwd);
  return r ? r.close() : Promise.resolve();
}

/** Ends every reader (and ref session) this process opened and waits until they are gone (call it before exiting). */
export async function closeReaders(): Promise<void> {
  const all = [...readers.values()];
  readers.clear();
  await Promise.all([...all.map((r) => r.close()), closeRefSessions()]);
}

export async function writeBlob(repo: RepoInfo, data: Uint8Array): Promise<string> {
  const r = await git(['hash-object', '-w', '--stdin'], { cwd: repoCwd(repo), input: Buffer.from(data.buffer, data.byteOffset, data.byteLength) });
  return r.stdout.toString().trim();
}

/**
 * Many blobs with one process: `hash-object --stdin-paths` over temp files (a process per blob
 * costs ~6 ms, which a notes rebuild over hundreds of commits would feel).
 */
export async function writeBlobs(repo: RepoInfo, blobs: Uint8Array[]): Promise<string[]> {
  if (blobs.length <= 2) return Promise.all(blobs.map((b) => writeBlob(repo, b)));
  const dir = join(repo.commonDir, 'flor', 'tmp', `blobs-${uniqueSuffix()}`);
  mkdirSync(dir, { recursive: true });
  try {
    const paths = blobs.map((b, i) => {
      const p = join(dir, String(i));
      writeFileSync(p, b);
      return p;
    });
    const r = await git(['hash-object', '-w', '--no-filters', '--stdin-paths'], { cwd: repoCwd(repo), input: paths.join('\n') + '\n' });
    const oids = r.stdout.toString().trim().split('\n');
    if (oids.length !== blobs.length) throw new FlorError('GIT_FAILED', `git hash-object wrote ${oids.length} of ${blobs.length} blobs`);
    return oids;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Blobs written as loose objects where loose.ts can (a capture wrote its three blobs with a
 * `hash-object` process each), else through Git's processes. A failure is a rejection, as theirs is.
 */
export async function putBlobs(repo: RepoInfo, blobs: Uint8Array[]): Promise<string[]> {
  const loose = looseWriter(repo);
  return loose ? blobs.map((b) => loose.blob(b)) : writeBlobs(repo, blobs);
}

/** What writes trees: a TreeWriter, or a LooseWriter's (loose.ts) in the same shape. */
export interface TreeSink {
  write(entries: TreeEntry[]): Promise<string>;
}

/** One `git mktree --batch`: each tree is its entries then a blank line; Git answers one oid per tree. */
export class TreeWriter implements TreeSink {
  private child: ChildProcessWithoutNullStreams;
  private buf = '';
  private err = '';
  private pending: Array<{ resolve: (oid: string) => void; reject: (e: Error) => void }> = [];
  private dead: Error | null = null;

  constructor(cwd: string) {
    this.child = childProcess().spawn('git', ['mktree', '--batch'], { cwd, env: gitEnv() });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.pending.shift()?.resolve(line.trim());
      }
    });
    this.child.stderr.on('data', (d: Buffer) => (this.err += d.toString()));
    this.child.stdin.on('error', () => {});
    const fail = (why: string) => {
      this.dead = new FlorError('GIT_FAILED', `git mktree ${why}: ${this.err.trim().split('\n')[0] ?? ''}`, {
        hint: 'a tree entry names an object that is missing; run `git flor doctor`',
      });
      for (const p of this.pending.splice(0)) p.reject(this.dead);
    };
    this.child.on('error', (e) => fail(e.message));
    this.child.on('close', (code) => fail(`exited (${code})`));
  }

  write(entries: TreeEntry[]): Promise<string> {
    if (this.dead) return Promise.reject(this.dead);
    if (entries.length === 0) return Promise.reject(new FlorError('INTERNAL', 'refusing to write an empty tree'));
    let text = '';
    for (const e of entries) {
      if (/[\n\t\0/]/.test(e.name) || e.name === '' || e.name === '.' || e.name === '..') {
        return Promise.reject(new FlorError('BAD_NAME', `invalid tree entry name ${JSON.stringify(e.name)}`));
      }
      text += `${e.mode} ${e.type} ${e.oid}\t${e.name}\n`;
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.child.stdin.write(text + '\n');
    });
  }

  /** Ends the process and resolves once it is reaped (see CatFile.close). */
  close(): Promise<void> {
    this.child.stdin.end();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => this.child.once('exit', () => resolve()));
  }
}

export type EntryValue = Omit<TreeEntry, 'name'>;

export const blobEntry = (oid: string): EntryValue => ({ mode: '100644', type: 'blob', oid });
export const treeEntry = (oid: string): EntryValue => ({ mode: '040000', type: 'tree', oid });

/** path (split on '/') -> new entry, or null to remove it. */
export type TreeEdits = Map<string, EntryValue | null>;

export async function readTree(cat: CatFile, oid: string): Promise<TreeEntry[]> {
  return parseTree((await cat.readAs(oid, 'tree')).data);
}

/**
 * The object at `path` in `tree` (a tree or a commit), as `cat-file` reads `<tree>:<path>` (a
 * link's blob, not its target), or null where there is none. The trees on the way are read by
 * id: loose objects come from their files (loose-read.ts), and a replay whose objects are all
 * loose starts no `cat-file` process for them. A path Git reads otherwise (an empty, `.` or `..`
 * component) is Git's to read.
 */
export async function readPath(cat: CatFile, tree: string, path: string): Promise<GitObject | null> {
  const parts = path.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return cat.read(`${tree}:${path}`);
  let cur = tree;
  for (let i = 0; ; i++) {
    let o = await cat.read(cur);
    if (o && o.type === 'commit' && i === 0) {
      const t = commitTreeOf(o.data);
      o = t ? await cat.read(t) : null;
    }
    if (o?.type !== 'tree') return null;
    const e = parseTree(o.data).find((x) => x.name === parts[i]);
    if (!e) return null;
    if (i === parts.length - 1) return cat.read(e.oid);
    cur = e.oid;
  }
}

/**
 * Applies `edits` to tree `base` (null = empty) and returns the new root, or null when nothing is
 * left. Only trees on edited paths are read and rewritten; directories emptied by removals vanish.
 */
export async function editTree(cat: CatFile, mk: TreeSink, base: string | null, edits: TreeEdits): Promise<string | null> {
  const here = new Map<string, EntryValue | null>();
  const below = new Map<string, TreeEdits>();
  for (const [path, v] of edits) {
    const slash = path.indexOf('/');
    if (slash < 0) here.set(path, v);
    else {
      const head = path.slice(0, slash);
      let sub = below.get(head);
      if (!sub) below.set(head, (sub = new Map()));
      sub.set(path.slice(slash + 1), v);
    }
  }
  const entries = new Map<string, TreeEntry>();
  if (base) for (const e of await readTree(cat, base)) entries.set(e.name, e);
  await Promise.all(
    [...below].map(async ([name, sub]) => {
      const cur = entries.get(name);
      const oid = await editTree(cat, mk, cur?.type === 'tree' ? cur.oid : null, sub);
      if (oid) entries.set(name, { name, ...treeEntry(oid) });
      else entries.delete(name);
    }),
  );
  for (const [name, v] of here) {
    if (v) entries.set(name, { name, ...v });
    else entries.delete(name);
  }
  if (entries.size === 0) return null;
  return mk.write([...entries.values()]);
}

/** `git commit-tree`; `sign` are its signing options (signing.ts: `-S` for a signed ledger). */
export async function commitTree(repo: RepoInfo, tree: string, parents: string[], message: string, sign: string[] = []): Promise<string> {
  const args = ['commit-tree', ...sign, tree];
  for (const p of parents) args.push('-p', p);
  const r = await git(args, { cwd: repoCwd(repo), input: message + '\n', env: FLOR_IDENT });
  return r.stdout.toString().trim();
}

/** Current oid of `ref`, or null when it does not exist. */
export async function readRef(repo: RepoInfo, ref: string): Promise<string | null> {
  // Read from the ref files where their layout is plain: a capture reads two refs, and a process each was a tenth of it.
  const known = refFromFiles(repo, ref);
  if (known !== undefined) return known;
  const r = await git(['rev-parse', '--verify', '-q', ref], { cwd: repoCwd(repo), okCodes: [1, 128] });
  return r.code === 0 ? r.stdout.toString().trim() : null;
}

/** The ref's reflog file exists, or was made empty now (never with reftable, whose logs are its own). */
function reflogReady(repo: RepoInfo, ref: string): boolean {
  const log = join(repo.commonDir, 'logs', ...ref.split('/'));
  if (existsSync(log)) return true;
  if (existsSync(join(repo.commonDir, 'reftable'))) return false;
  try {
    mkdirSync(dirname(log), { recursive: true });
    writeFileSync(log, '', { flag: 'a' });
    return true;
  } catch {
    return false;
  }
}

/**
 * `update-ref ref new old`: false when another writer moved the ref first or holds its lock for
 * the moment (both worth retrying). Any other failure (permissions, a name clash with another ref)
 * would fail forever, so it is thrown at once.
 */
export async function casRef(repo: RepoInfo, ref: string, next: string, prev: string | null, message: string, session = false): Promise<boolean> {
  // This clone's ledger keeps a reflog (only it: core.logAllRefUpdates=always would log every ref
  // of the user's repository), so `doctor --repair` can restore the last good tip if the ref breaks.
  const ledger = ref.startsWith('refs/flor/ledgers/');
  const direct = casRefFiles(repo, ref, next, prev, message, ledger);
  if (direct !== null) return direct;
  // The session (ref-session.ts) logs to a reflog that exists but creates none: with the files
  // backend, an empty reflog file is where Git's --create-reflog starts it.
  const r = session && (!ledger || reflogReady(repo, ref))
    ? await sessionUpdate(repo, ref, next, prev)
    : await git(['update-ref', ...(ledger ? ['--create-reflog'] : []), '-m', message, ref, next, prev ?? ZERO_OID], { cwd: repoCwd(repo), okCodes: [1, 128] }).then((x) => ({ ok: x.code === 0, stderr: x.stderr }));
  if (r.ok) return true;
  if (/\.lock': File exists/.test(r.stderr)) return false;
  if ((await readRef(repo, ref)) !== prev) return false;
  throw new FlorError('GIT_FAILED', `git update-ref ${ref} failed: ${r.stderr.trim().split('\n')[0]}`, { hint: 'check that this is a healthy Git repository (`git fsck`)' });
}

export interface Update {
  /** The new root tree from the current root (null when the ref is new); null means "no change". */
  tree(root: string | null, io: { cat: CatFile; mk: TreeSink; tip: string | null }): Promise<string | null>;
  message: string;
  /**
   * For derived refs (the notes index): a tip that is not a readable commit is replaced by a new
   * root commit (still compare-and-swapped against that tip) instead of failing.
   */
  replaceDamaged?: boolean;
  /** With replaceDamaged: called with the damaged tip before it is replaced (to keep it for inspection). */
  onDamaged?: (tip: string) => Promise<void>;
  /** Trees and the commit written as loose objects where loose.ts can (no mktree, no commit-tree process). */
  loose?: boolean;
  /** The ref moved in the repository's update-ref session (ref-session.ts), whose reflog entries carry the session's message: for a process that moves refs many times (a replay). */
  session?: boolean;
}

/**
 * Moves `ref` to a new commit whose tree `u.tree` computes from the current tip, retrying from a
 * fresh tip whenever another process got there first — so N concurrent writers all land.
 * Returns the new commit (or the unchanged tip when `u.tree` made no change).
 */
export async function updateRefWithRetry(repo: RepoInfo, ref: string, u: Update, attempts = 200): Promise<string | null> {
  const cat = reader(repo);
  const sign = ref.startsWith(LEDGERS) ? await ledgerSignArgs(repo) : [];
  const loose = u.loose && sign.length === 0 ? looseWriter(repo) : null;
  const mk = loose?.sink ?? new TreeWriter(repoCwd(repo));
  try {
    for (let i = 0; i < attempts; i++) {
      const tip = await readRef(repo, ref);
      let root: string | null = null;
      let damaged = false;
      if (tip) {
        try {
          root = commitTreeOf((await cat.readAs(tip, 'commit')).data);
        } catch (e) {
          if (!u.replaceDamaged) throw e;
        }
        if (!root && !u.replaceDamaged) throw new FlorError('CORRUPT_REF', `${ref} points at a commit without a tree`, { hint: 'run `git flor doctor`' });
        damaged = !root;
      }
      const tree = await u.tree(root, { cat, mk, tip });
      if (tree === null || (tree === root && !damaged)) return tip;
      if (damaged && tip) await u.onDamaged?.(tip);
      const parents = tip && !damaged ? [tip] : [];
      const commit = loose?.commit ? loose.commit(tree, parents, u.message) : await commitTree(repo, tree, parents, u.message, sign);
      if (await casRef(repo, ref, commit, tip, u.message, u.session)) return commit;
      // Lost the race: back off a little (jittered, growing) so contenders spread out, then rebuild.
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(5 + i * 5, 100)));
    }
  } finally {
    await mk.close();
  }
  throw new FlorError('REF_CONTENDED', `could not update ${ref}: it kept changing under ${attempts} attempts`, {
    hint: `try again; if no other git or flor process is running, a crashed git may have left ${ref}.lock under the git dir: remove it`,
  });
}

/** The tree a commit object names. */
export function commitTreeOf(data: Buffer): string | null {
  return /^tree ([0-9a-f]{40,64})/.exec(data.toString('latin1', 0, 80))?.[1] ?? null;
}
