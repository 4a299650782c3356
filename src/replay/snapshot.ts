/**
 * Materialised code of one old version, with today's statements propagated into it: a Git tree
 * (the replay's provenance) checked out under `<commonDir>/flor/replay/<run>-<tree>/`.
 *
 * RULE: "Each old version runs from its own materialised snapshot (never the user's
 * working tree, index or HEAD), resolving imports to the user's current node_modules." The tree is
 * built in a private index file and checked out with `checkout-index --prefix`, so the user's
 * index and work tree are never touched; node_modules is a symlink to today's install.
 */
import { existsSync, mkdirSync, rmSync, renameSync, symlinkSync, writeFileSync, lstatSync, readdirSync } from 'node:fs';
import { join, dirname, posix } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { git, type CatFile, type RepoInfo } from '../store/git.js';
import { blobEntry, editTree, reader, readTree, TreeWriter, writeBlobs, type TreeEdits } from '../store/objects.js';
import { FlorError } from '../errors.js';
import type { RunMeta } from '../store/types.js';

export interface Snapshot {
  /** Content key of (code tree, propagated files): names the directory, so a re-run reuses it. */
  key: string;
  /** Directory holding it. */
  dir: string;
}

/** Key of the code a replay runs: the run's tree plus the files written over it. */
export function snapshotKey(codeTree: string, files: Record<string, string>): string {
  const h = createHash('sha256').update(codeTree);
  for (const p of Object.keys(files).sort()) h.update('\0').update(p).update('\0').update(files[p]!);
  return h.digest('hex').slice(0, 16);
}

function gitCwd(repo: RepoInfo): string {
  return repo.top ?? repo.gitDir;
}

export function replayRoot(repo: RepoInfo): string {
  return join(repo.commonDir, 'flor', 'replay');
}

/**
 * Tree `codeTree` with `files` written over it (paths '/'-separated, relative to the top), each
 * keeping its mode. Two git processes (one `hash-object` for the blobs, one `mktree --batch`) and
 * the shared object reader: it is made while the tasks run, on the cores they use.
 */
export async function propagatedTree(repo: RepoInfo, codeTree: string, files: Record<string, string>): Promise<string> {
  const paths = Object.keys(files);
  if (paths.length === 0) return codeTree;
  const cat = reader(repo);
  const [oids, modes] = await Promise.all([
    writeBlobs(repo, paths.map((p) => Buffer.from(files[p]!, 'utf8'))),
    Promise.all(paths.map((p) => modeAt(cat, codeTree, p))),
  ]);
  const edits: TreeEdits = new Map(paths.map((p, i) => [p, { ...blobEntry(oids[i]!), mode: modes[i] ?? '100644' }]));
  const mk = new TreeWriter(gitCwd(repo));
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
    rmSync(dir, { recursive: true, force: true });
    const part = `${dir}.part-${process.pid}-${randomBytes(3).toString('hex')}`;
    mkdirSync(part, { recursive: true });
    const tmp = join(repo.commonDir, 'flor', 'tmp');
    mkdirSync(tmp, { recursive: true });
    const idx = join(tmp, `replay-index-${process.pid}-${randomBytes(4).toString('hex')}`);
    const env = { GIT_INDEX_FILE: idx };
    try {
      await git(['read-tree', codeTree], { cwd: gitCwd(repo), env });
      await git([`--work-tree=${part}`, 'checkout-index', '-a', '-f', `--prefix=${part}/`], { cwd: gitCwd(repo), env });
      for (const [p, text] of Object.entries(files)) {
        const f = join(part, ...p.split('/'));
        mkdirSync(dirname(f), { recursive: true });
        writeFileSync(f, text);
      }
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
    } finally {
      rmSync(idx, { force: true });
    }
  }
  return { key, dir };
}

function linkNodeModules(repo: RepoInfo, dir: string, linkDirs: string[]): void {
  if (!repo.top) return;
  const rels = new Set<string>(['']);
  for (const d of linkDirs) {
    let cur = d === '.' ? '' : d;
    while (cur && cur !== '.') {
      rels.add(cur);
      cur = posix.dirname(cur) === '.' ? '' : posix.dirname(cur);
    }
  }
  for (const rel of rels) {
    const src = join(repo.top, rel, 'node_modules');
    const dst = join(dir, rel, 'node_modules');
    if (!existsSync(src) || lstatExists(dst)) continue;
    mkdirSync(dirname(dst), { recursive: true });
    symlinkSync(src, dst, 'dir');
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
export function removeRunSnapshots(repo: RepoInfo, runId: string): void {
  let names: string[];
  try {
    names = readdirSync(replayRoot(repo));
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith(`${runId}-`)) rmSync(join(replayRoot(repo), n), { recursive: true, force: true });
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
