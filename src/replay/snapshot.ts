/**
 * Materialised code of one old version, with today's statements propagated into it: a Git tree
 * (the replay's provenance) checked out under `<commonDir>/flor/replay/<run>-<tree>/`.
 *
 * RULE: "Each old version runs from its own materialised snapshot (never the user's
 * working tree, index or HEAD), resolving imports to the user's current node_modules." The tree is
 * built in a private index file and checked out with `checkout-index --prefix`, so the user's
 * index and work tree are never touched; node_modules is a symlink to today's install.
 */
import { existsSync, mkdirSync, rm, rmSync, renameSync, symlinkSync, writeFileSync, lstatSync, readdirSync, openSync, writeSync, closeSync, realpathSync, statSync, constants as fsc } from 'node:fs';
import { join, posix, relative, isAbsolute } from 'node:path';
import { loaderArgv, packageOf, type Loader } from '../store/exec-argv.js';
import { randomBytes, createHash } from 'node:crypto';
import { repoCwd, type CatFile, type RepoInfo } from '../store/git.js';
import { checkoutTree, treeLinks } from '../store/checkout.js';
import { blobEntry, editTree, reader, readTree, TreeWriter, writeBlobs, type TreeEdits } from '../store/objects.js';
import { looseWriter } from '../store/loose.js';
import { FlorError } from '../errors.js';
import type { RunMeta } from '../store/types.js';
import { escapingLinks, insideRel, linkedWrites, shownTarget } from './containment.js';

export interface Snapshot {
  /** Content key of (code tree, propagated files): names the directory, so a re-run reuses it. */
  key: string;
  /** Directory holding it. */
  dir: string;
}

/** Key of the code a replay runs: the run's tree plus the files written over it. */
export function snapshotKey(codeTree: string, files: Record<string, string>): string {
  // 'v2': snapshots made before links and paths were checked are never reused.
  const h = createHash('sha256').update('v2\0').update(codeTree);
  for (const p of Object.keys(files).sort()) h.update('\0').update(p).update('\0').update(files[p]!);
  return h.digest('hex').slice(0, 16);
}

export function replayRoot(repo: RepoInfo): string {
  return join(repo.commonDir, 'flor', 'replay');
}

/**
 * Tree `codeTree` with `files` written over it (paths '/'-separated, relative to the top), each
 * keeping its mode. Loose objects written here where the store can (store/loose.ts), else two git
 * processes (one `hash-object` for the blobs, one `mktree --batch`); the old trees through the
 * shared object reader. It is made while the tasks run, on the cores they use.
 */
export async function propagatedTree(repo: RepoInfo, codeTree: string, files: Record<string, string>): Promise<string> {
  const paths = Object.keys(files);
  if (paths.length === 0) return codeTree;
  const cat = reader(repo);
  const loose = looseWriter(repo);
  const blobs = paths.map((p) => Buffer.from(files[p]!, 'utf8'));
  const [oids, modes] = await Promise.all([
    loose ? blobs.map((b) => loose.blob(b)) : writeBlobs(repo, blobs),
    Promise.all(paths.map((p) => modeAt(cat, codeTree, p))),
  ]);
  const edits: TreeEdits = new Map(paths.map((p, i) => [p, { ...blobEntry(oids[i]!), mode: modes[i] ?? '100644' }]));
  const mk = loose?.sink ?? new TreeWriter(repoCwd(repo));
  try {
    const tree = await editTree(cat, mk, codeTree, edits);
    if (!tree) throw new FlorError('INTERNAL', `propagated code of tree ${codeTree} came out empty`);
    return tree;
  } finally {
    await mk.close();
  }
}

/** Mode of the blob at `path` in `tree`, or null when there is none. */
async function modeAt(cat: CatFile, tree: string, path: string): Promise<string | null> {
  const parts = path.split('/');
  let cur = tree;
  for (let i = 0; i < parts.length; i++) {
    const e = (await readTree(cat, cur)).find((x) => x.name === parts[i]);
    if (!e) return null;
    if (i === parts.length - 1) return e.type === 'blob' ? e.mode : null;
    if (e.type !== 'tree') return null;
    cur = e.oid;
  }
  return null;
}

/**
 * Checks the run's code tree out for run `runId` with `files` written over it (reused when a
 * previous replay already did), and links node_modules of the work tree into it, at the top and
 * at every directory on the way to the script and the run's cwd that has its own node_modules
 * today. The Git tree of the same content (provenance) is made separately by propagatedTree, off
 * the path to the first task.
 */
export async function materialise(repo: RepoInfo, runId: string, codeTree: string, files: Record<string, string>, linkDirs: string[]): Promise<Snapshot> {
  const key = snapshotKey(codeTree, files);
  const dir = join(replayRoot(repo), `${runId}-${key}`);
  const done = join(dir, '.flor-snapshot');
  if (!existsSync(done)) {
    await checkCodeLinks(repo, runId, codeTree, Object.keys(files));
    rmSync(dir, { recursive: true, force: true });
    const part = `${dir}.part-${process.pid}-${randomBytes(3).toString('hex')}`;
    mkdirSync(part, { recursive: true });
    try {
      await checkoutTree(repo, codeTree, part);
      for (const [p, text] of Object.entries(files)) writeInside(part, p, text);
      linkNodeModules(repo, part, linkDirs);
      writeFileSync(join(part, '.flor-snapshot'), `${runId} ${codeTree} ${key}\n`);
      renameSync(part, dir);
    } catch (e) {
      rmSync(part, { recursive: true, force: true });
      // A concurrent replay of the same run made the same snapshot first: same key, same content.
      if (existsSync(done)) return { key, dir };
      if (e instanceof FlorError) throw e;
      throw new FlorError('REPLAY_SNAPSHOT', `cannot materialise the code of run ${runId}: ${(e as Error).message}`, {
        hint: 'check free disk space under .git/flor/replay', cause: e,
      });
    }
  }
  return { key, dir };
}

function linkNodeModules(repo: RepoInfo, dir: string, linkDirs: string[]): void {
  if (!repo.top) return;
  const rels = new Set<string>(['']);
  for (const d of linkDirs) {
    // The caller checked them (containment.ts); a path that climbs out is never followed here.
    let cur = insideRel(d);
    if (cur === null) throw new FlorError('REPLAY_REFUSED', `directory ${shownTarget(d)} is not inside the code; refusing to replay it`);
    while (cur) {
      rels.add(cur);
      cur = posix.dirname(cur) === '.' ? '' : posix.dirname(cur);
    }
  }
  for (const rel of rels) {
    const src = join(repo.top, rel, 'node_modules');
    if (!existsSync(src)) continue;
    const parent = dirInside(dir, rel);
    if (parent === null) continue; // behind a link of the code: nothing is made through it
    const dst = join(parent, 'node_modules');
    if (lstatExists(dst)) continue;
    symlinkSync(src, dst, 'dir');
  }
}

/**
 * Directory `rel` under `root`, made where missing, never through a symbolic link: null when a
 * component on the way is a link (or not a directory).
 */
function dirInside(root: string, rel: string): string | null {
  let cur = root;
  for (const c of rel ? rel.split('/') : []) {
    if (c === '' || c === '.' || c === '..') return null;
    cur = join(cur, c);
    let st;
    try {
      st = lstatSync(cur);
    } catch {
      mkdirSync(cur);
      continue;
    }
    if (!st.isDirectory()) return null;
  }
  return cur;
}

/**
 * Writes propagated source `text` to `rel` inside the snapshot `root`, never through a link: no
 * directory on the way may be one, and the file itself is opened with O_NOFOLLOW.
 */
function writeInside(root: string, rel: string, text: string): void {
  const parts = rel.split('/');
  const parent = insideRel(rel) === rel ? dirInside(root, parts.slice(0, -1).join('/')) : null;
  if (parent === null) throw new FlorError('REPLAY_REFUSED', `will not write ${shownTarget(rel)}: the path leads through a symbolic link or out of the code`);
  const f = join(parent, parts.at(-1)!);
  let fd: number;
  try {
    fd = openSync(f, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW, 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw new FlorError('REPLAY_REFUSED', `will not write ${shownTarget(rel)}: it is a symbolic link`);
    throw e;
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/**
 * The loader flags (already allowed by store/exec-argv.ts) that resolve inside the snapshot `dir`
 * for a child started in `cwd`: a package found in a node_modules between that directory and the
 * snapshot's top (where Node's lookup finds it first), or a file of the snapshot itself.
 */
export function resolveLoaders(dir: string, cwd: string, loaders: readonly Loader[]): { argv: string[]; dropped: string[] } {
  const keep: Loader[] = [];
  const dropped: string[] = [];
  let top: string;
  try {
    top = realpathSync(dir);
  } catch {
    top = dir;
  }
  const inside = (p: string): boolean => {
    const r = relative(top, p);
    return r !== '' && !r.startsWith('..') && !isAbsolute(r);
  };
  for (const l of loaders) {
    const pkg = packageOf(l.spec);
    let ok = false;
    if (pkg !== null) {
      const parts = cwd ? cwd.split('/') : [];
      for (let i = parts.length; i >= 0 && !ok; i--) ok = existsSync(join(dir, ...parts.slice(0, i), 'node_modules', ...pkg.split('/')));
    } else {
      try {
        const f = realpathSync(join(dir, ...(cwd ? cwd.split('/') : []), ...l.spec.split('/')));
        ok = inside(f) && statSync(f).isFile();
      } catch {
        ok = false;
      }
    }
    if (ok) keep.push(l);
    else dropped.push(`${l.flag} ${l.spec}`);
  }
  return { argv: loaderArgv(keep), dropped };
}

/**
 * A code tree is checked out only when none of its symbolic links leads out of it, and flor writes
 * a propagated file only where no link is on the way: REPLAY_REFUSED otherwise, naming the link.
 */
export async function checkCodeLinks(repo: RepoInfo, runId: string, codeTree: string, writes: string[]): Promise<void> {
  const links = await treeLinks(repo, codeTree);
  if (links.size === 0) return;
  const out = escapingLinks(links);
  if (out.length) {
    const shown = out.slice(0, 3).map((l) => `${shownTarget(l.path)} -> ${shownTarget(l.target)}`).join(', ');
    throw new FlorError('REPLAY_REFUSED', `run ${runId}: its code has symbolic link(s) leading outside it (${shown}${out.length > 3 ? ', …' : ''}); refusing to replay it`, {
      hint: 'replayed code could write through such a link; replace the link with the files it points to, or keep them outside the repository',
    });
  }
  const via = linkedWrites(writes, links);
  if (via.length) {
    throw new FlorError('REPLAY_REFUSED', `run ${runId}: ${shownTarget(via[0]!)} is a symbolic link (or lies under one) in its code; flor never writes propagated statements through a link`, {
      hint: 'add the statement to the file the link points to',
    });
  }
}

function lstatExists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Once a run's replay segment is written, every snapshot of that run goes, with its task journals:
 * this one and those left by earlier failed attempts on code that has changed since.
 */
export async function removeRunSnapshots(repo: RepoInfo, runId: string): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(replayRoot(repo));
  } catch {
    return;
  }
  // Off the main thread: the other runs' checks and writes go on meanwhile. node:fs's rm, not
  // node:fs/promises': importing that module loaded it (and readline's interface with it) into
  // every replay command before its first task.
  const gone = (dir: string): Promise<void> => new Promise((res, rej) => rm(dir, { recursive: true, force: true }, (e) => (e ? rej(e) : res())));
  await Promise.all(names.filter((n) => n.startsWith(`${runId}-`)).map((n) => gone(join(replayRoot(repo), n))));
}

/**
 * What to add to a failed replay's reason when the run's capture left files out (size cap,
 * node_modules, nested repositories) and the child failed on a missing file: its snapshot lacks
 * them because the run's code was stored incomplete, not because the replay lost them.
 */
export function incompleteCodeNote(meta: RunMeta, stderr: string): string {
  const s = meta.skipped;
  if (!s || s.count === 0) return '';
  const hit = s.paths.filter((p) => stderr.includes(p.path.replace(/\/$/, '')));
  if (!hit.length && !/ENOENT|ERR_MODULE_NOT_FOUND|Cannot find (module|package)|no such file/i.test(stderr)) return '';
  const named = (hit.length ? hit : s.paths).slice(0, 3).map((p) => p.path);
  const more = s.count > named.length ? `, ${s.count - named.length} more` : '';
  return `; the run's code was incomplete: its capture left out ${named.join(', ')}${more} (over the size cap, dependencies or nested repositories), so the replay cannot load ${hit.length === 1 ? 'it' : 'them'}`;
}
