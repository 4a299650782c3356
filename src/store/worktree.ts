/**
 * The exact code that ran: a Git tree of the work tree's tracked files plus the untracked files
 * that are code (see code-select.ts). Built in a private index file, so the user's index, HEAD and
 * work tree are never touched. That index is kept between runs (`<gitDir>/flor/index`) as a stat
 * cache only: what the code is comes from `ls-files` each time, and an entry is reused only for a
 * file whose stat data still matches it, so Git hashes just the files that changed.
 */
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { childProcess } from './builtins.js';
import { repoCwd, findRepoSync, gitEnv, gitSync } from './git.js';
import type { RepoInfo } from './git.js';
import { FlorError } from '../errors.js';
import { captureMaxBytes, florConfigSync, selectCode, type CodeSelection } from './code-select.js';
import { entryStage, sortEntries, parseIndex, statMatches, writeIndex, type IndexEntry } from './index-file.js';
import type { SkippedPath } from './types.js';
import { objectPresent } from './object-present.js';
import { findRepoFromFiles } from './ref-files.js';
import { headFromFiles, rememberHeadTree } from './start-files.js';

function needTop(repo: RepoInfo): string {
  if (!repo.top) throw new FlorError('BARE_REPO', 'this repository has no work tree', { hint: 'run inside a clone with a work tree' });
  return repo.top;
}

export interface CodeSnapshot {
  tree: string;
  /** What was left out (size cap, node_modules, nested repositories), sorted by path. */
  skipped: SkippedPath[];
  /** Tracked files over the cap whose content differs from the user's index: captured, and worth a warning. */
  largeModified: Array<{ path: string; bytes: number }>;
  maxBytes: number;
  /** Files Git hashed for this snapshot (the stat cache had no valid entry for them). */
  hashed: number;
  /** The tree came from the cache (every entry as cached, the tree still stored): no git process wrote it. */
  reused: boolean;
}

let tmpCount = 0;

/** Deletes a file if it is there (unlinkSync: rmSync would load Node's rimraf at every run start). */
function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

function nul(paths: string[]): string {
  return paths.length ? paths.join('\0') + '\0' : '';
}

/** The private index kept between runs of this work tree: a stat cache, never the record of what ran. */
export function cacheIndexPath(repo: RepoInfo): string {
  return join(repo.gitDir, 'flor', 'index');
}

/** The length of object ids in `repo`, from its config: known before the code is listed. */
function oidLength(repo: RepoInfo): 20 | 32 {
  try {
    return /^\s*objectformat\s*=\s*sha256\s*$/im.test(readFileSync(join(repo.commonDir, 'config'), 'utf8')) ? 32 : 20;
  } catch {
    return 20;
  }
}

interface IndexFile {
  entries: IndexEntry[];
  mtimeNs: bigint;
  /** The file's trailing checksum (hex): names this exact index. */
  sum: string;
}

function readIndexFile(path: string, oidLen: 20 | 32): IndexFile | null {
  try {
    const st = statSync(path, { bigint: true });
    const buf = readFileSync(path);
    const entries = parseIndex(buf, oidLen);
    return entries ? { entries, mtimeNs: st.mtimeNs, sum: buf.subarray(buf.length - oidLen).toString('hex') } : null;
  } catch {
    return null;
  }
}

/**
 * `<gitDir>/flor/index.tree`: `<checksum of the cached index> <tree>`, the tree write-tree made
 * from that index. Written after the index is renamed into place; a concurrent start that
 * replaced the index in between leaves a line whose checksum names no index, which is ignored.
 */
function treeNotePath(repo: RepoInfo): string {
  return join(repo.gitDir, 'flor', 'index.tree');
}

function readTreeNote(repo: RepoInfo): { sum: string; tree: string } | null {
  try {
    const [sum, tree] = readFileSync(treeNotePath(repo), 'utf8').trim().split(' ');
    return sum && tree && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(tree) ? { sum, tree } : null;
  } catch {
    return null;
  }
}

/** The checksum of the index file at `path` (its last oidLen bytes), or null. */
function indexSum(path: string, oidLen: 20 | 32): string | null {
  try {
    const buf = readFileSync(path);
    return buf.length > oidLen ? buf.subarray(buf.length - oidLen).toString('hex') : null;
  } catch {
    return null;
  }
}

/**
 * The cached tree, when the snapshot's entries are the cached index's, one for one (every
 * selected file matched its cached stat data, and no other file was cached): write-tree would
 * write that same tree again. Only while the tree is still stored (a gc may have pruned it).
 */
function reusableTree(repo: RepoInfo, cache: IndexFile | null, entries: IndexEntry[]): string | null {
  if (!cache || cache.entries.length !== entries.length) return null;
  for (let i = 0; i < entries.length; i++) if (entries[i] !== cache.entries[i]) return null;
  const note = readTreeNote(repo);
  if (!note || note.sum !== cache.sum) return null;
  return objectPresent(repo.commonDir, note.tree) ? note.tree : null;
}

const SKIP_WORKTREE = 0x4000;

/**
 * The entries of the snapshot's index that the stat cache vouches for, and the paths Git must look
 * at (`dirty`: new, changed, racy, or a submodule). A tracked file comes from the cache or the
 * user's index, whichever still matches it; an untracked one only from the cache. Null when the
 * user's index cannot be read here (split or sparse index): Git then does everything.
 */
function fromCache(repo: RepoInfo, sel: CodeSelection, indexes: Indexes, useCache: boolean, large: Large): { entries: IndexEntry[]; dirty: string[]; cache: IndexFile | null } | null {
  const top = repo.top!;
  const { user } = indexes;
  if (!user) return null;
  const cache = useCache ? indexes.cache : null;
  const cached = new Map<string, IndexEntry>();
  if (cache) for (const e of cache.entries) if (entryStage(e) === 0) cached.set(e.path, e);
  const staged = new Map<string, IndexEntry>();
  for (const e of user.entries) if (entryStage(e) === 0) staged.set(e.path, e);
  const entries: IndexEntry[] = [];
  const dirty: string[] = [];
  large.length = 0;
  const take = (path: string, userEntry: IndexEntry | undefined, tracked: boolean) => {
    let st;
    try {
      st = lstatSync(join(top, path), { bigint: true });
    } catch {
      return; // deleted: not part of the code
    }
    if (tracked && st.isFile() && st.size > large.maxBytes) large.push({ path, bytes: Number(st.size) });
    const c = cached.get(path);
    if (c && cache && statMatches(c, st, cache.mtimeNs)) entries.push(c);
    else if (userEntry && statMatches(userEntry, st, user.mtimeNs)) entries.push(userEntry);
    else {
      // Git decides whether to hash it again by comparing this entry's stat data with the file's,
      // to the second (Debian's git has no USE_NSEC): an edit of the same size within the second
      // the entry was made matched, and the run recorded the old content. Stat data of time zero
      // matches no file, so Git always hashes what this check already found changed.
      if (userEntry) entries.push({ ...userEntry, ctimeS: 0, ctimeNs: 0, mtimeS: 0, mtimeNs: 0 });
      dirty.push(path);
    }
  };
  for (const t of sel.tracked) {
    const u = staged.get(t.path);
    // Sparse checkout: the file is not in the work tree on purpose; the index has it.
    if (u && u.extFlags & SKIP_WORKTREE) entries.push(u);
    else take(t.path, u, true);
  }
  for (const p of sel.untracked) take(p, undefined, false);
  sortEntries(entries);
  return { entries, dirty, cache };
}

/** The user's index (null: unreadable here) and the stat cache (null: none usable). */
interface Indexes {
  user: IndexFile | null;
  cache: IndexFile | null;
}

function readIndexes(repo: RepoInfo, oidLen: 20 | 32): Indexes {
  const userPath = join(repo.gitDir, 'index');
  const user = existsSync(userPath) ? readIndexFile(userPath, oidLen) : { entries: [], mtimeNs: 0n, sum: '' };
  return { user, cache: readIndexFile(cacheIndexPath(repo), oidLen) };
}

/** Tracked files over the cap (captured all the same: the caller warns when one was modified). */
type Large = Array<{ path: string; bytes: number }> & { maxBytes: number };

/** The snapshot through Git alone, in a copy of the user's index: every tracked and selected path is looked at. */
function snapshotByGit(repo: RepoInfo, sel: CodeSelection, idx: string, large: Large): number {
  large.length = 0;
  for (const t of sel.tracked) {
    try {
      const st = lstatSync(join(repo.top!, t.path));
      if (st.isFile() && st.size > large.maxBytes) large.push({ path: t.path, bytes: st.size });
    } catch {
      // deleted: captured as deleted
    }
  }
  const userIndex = join(repo.gitDir, 'index');
  removeFile(idx);
  if (existsSync(userIndex)) copyFileSync(userIndex, idx);
  const paths = [...sel.tracked.map((t) => t.path), ...sel.untracked];
  gitSync(['update-index', '--add', '--remove', '-z', '--stdin'], { cwd: repo.top!, env: { GIT_INDEX_FILE: idx }, input: nul(paths) });
  return paths.length;
}

/**
 * Snapshot of the work tree's code (synchronous: used at run start). Git processes: `ls-files`
 * (what the code is; `listed` gives its output when another process ran it for this start),
 * `update-index` only when the stat cache misses a file, `write-tree`.
 */
export function snapshotCodeSync(repo: RepoInfo, opts: { config?: Map<string, string>; warn?: (line: string) => void; listed?: () => string | null } = {}): CodeSnapshot {
  const top = needTop(repo);
  const maxBytes = captureMaxBytes(opts.config ?? florConfigSync(repo), opts.warn);
  const oidLen = oidLength(repo);
  // Read while the listing may still be on its way (opts.listed).
  const indexes = readIndexes(repo, oidLen);
  const sel = selectCode(repo, maxBytes, opts.listed?.());
  const cachePath = cacheIndexPath(repo);
  mkdirSync(dirname(cachePath), { recursive: true });
  // Built under tmp/ (doctor removes what a dead process left there), then renamed into place.
  const tmp = join(repo.commonDir, 'flor', 'tmp');
  mkdirSync(tmp, { recursive: true });
  // pid and time name it uniquely among live processes (node:crypto is not loaded for this).
  const idx = join(tmp, `index-${process.pid}-${Date.now().toString(36)}-${(tmpCount++).toString(36)}`);
  const env = { GIT_INDEX_FILE: idx };
  try {
    let hashed = 0;
    let tree: string | null = null;
    // A cached entry whose blob was pruned since (its run never reached the ledger) fails
    // write-tree: then once more without the cache.
    const large = Object.assign([] as Array<{ path: string; bytes: number }>, { maxBytes });
    for (const useCache of [true, false]) {
      const built = fromCache(repo, sel, indexes, useCache, large);
      const same = built && built.dirty.length === 0 ? reusableTree(repo, built.cache, built.entries) : null;
      if (same) {
        const largeModified = large.filter((l) => built!.entries.find((e) => e.path === l.path)?.oid.toString('hex') !== sel.tracked.find((t) => t.path === l.path)?.oid);
        return { tree: same, skipped: sortSkipped(sel.skipped), largeModified, maxBytes, hashed: 0, reused: true };
      }
      if (!built) {
        hashed = snapshotByGit(repo, sel, idx, large);
      } else {
        writeFileSync(idx, writeIndex(built.entries, oidLen));
        if (built.dirty.length) gitSync(['update-index', '--add', '--remove', '-z', '--stdin'], { cwd: top, env, input: nul(built.dirty) });
        hashed = built.dirty.length;
      }
      const r = gitSync(['write-tree'], { cwd: top, env, okCodes: useCache && built ? [128] : [] });
      if (r.code === 0) {
        tree = r.stdout.toString().trim();
        break;
      }
    }
    let largeModified: CodeSnapshot['largeModified'] = [];
    if (large.length) {
      const now = new Map((readIndexFile(idx, oidLen)?.entries ?? []).map((e) => [e.path, e.oid.toString('hex')]));
      const was = new Map(sel.tracked.map((t) => [t.path, t.oid]));
      largeModified = large.filter((l) => now.get(l.path) !== was.get(l.path));
    }
    try {
      const sum = indexSum(idx, oidLen);
      renameSync(idx, cachePath); // the next run's stat cache; a concurrent run's is as good
      if (sum) writeFileSync(treeNotePath(repo), `${sum} ${tree}\n`);
    } catch {
      // only the next run is slower
    }
    return { tree: tree!, skipped: sortSkipped(sel.skipped), largeModified, maxBytes, hashed, reused: false };
  } finally {
    removeFile(idx);
    removeFile(`${idx}.lock`);
  }
}

function sortSkipped(skipped: SkippedPath[]): SkippedPath[] {
  return skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Tree id of the current work tree's code (synchronous). */
export function snapshotWorkTreeSync(repo: RepoInfo): string {
  return snapshotCodeSync(repo).tree;
}

/** The same for callers on the event loop (rename detection against today's code). */
export async function snapshotWorkTree(repo: RepoInfo): Promise<string> {
  return snapshotCodeSync(repo).tree;
}

/** HEAD's commit and tree, or nulls on an unborn branch. */
export function headSync(repo: RepoInfo): { commit: string | null; tree: string | null; branch: string | null } {
  const cwd = repoCwd(repo);
  // One process at every run start: commit, tree and branch together ('HEAD' when detached).
  const r = gitSync(['rev-parse', 'HEAD', 'HEAD^{tree}', '--abbrev-ref', 'HEAD'], { cwd, okCodes: [128] });
  if (r.code === 0) {
    const [commit, tree, abbrev] = r.stdout.toString().trim().split('\n');
    return { commit: commit ?? null, tree: tree ?? null, branch: abbrev && abbrev !== 'HEAD' ? abbrev : null };
  }
  // Unborn branch: no commit yet, but HEAD already names the branch.
  const b = gitSync(['symbolic-ref', '-q', '--short', 'HEAD'], { cwd, okCodes: [1, 128] });
  return { commit: null, tree: null, branch: b.code === 0 ? b.stdout.toString().trim() : null };
}

export type Head = ReturnType<typeof headSync>;

/**
 * The repository containing `cwd` and its HEAD, in one git process (a run start's first): the
 * work tree, git dirs, HEAD's commit and tree and the branch. Null outside a repository; a bare
 * repository or an unborn branch take a second process, as findRepoSync and headSync would.
 */
export function findRunRepoSync(cwd: string): { repo: RepoInfo; head: Head | null } | null {
  // The common layout from Git's files, no process: the repository, HEAD, and HEAD's tree as
  // cached for its commit (start-files.ts).
  const known = findRepoFromFiles(cwd);
  if (known?.top) {
    const head = headFromFiles(known);
    if (head) return { repo: known, head };
  }
  const r = childProcess().spawnSync('git', ['rev-parse', '--path-format=absolute', '--show-toplevel', '--git-dir', '--git-common-dir', 'HEAD', 'HEAD^{tree}', '--abbrev-ref', 'HEAD'], { cwd, env: gitEnv() });
  if (r.error) throw new FlorError('GIT_MISSING', `could not run git: ${r.error.message}`, { hint: 'install git and put it on PATH' });
  const lines = r.stdout.toString().split('\n');
  if (r.status === 0 && lines.length >= 6) {
    const [top, gitDir, commonDir, commit, tree, abbrev] = lines;
    const repo = { top: top!, gitDir: gitDir!, commonDir: commonDir! };
    if (known && commit && tree) rememberHeadTree(repo, commit, tree);
    return { repo: { top: top!, gitDir: gitDir!, commonDir: commonDir! }, head: { commit: commit!, tree: tree!, branch: abbrev && abbrev !== 'HEAD' ? abbrev : null } };
  }
  if (lines.length >= 4 && lines[0]!.length > 0) return { repo: { top: lines[0]!, gitDir: lines[1]!, commonDir: lines[2]! }, head: null }; // unborn branch
  const repo = findRepoSync(cwd);
  return repo ? { repo, head: null } : null;
}
