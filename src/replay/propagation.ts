/**
 * Today's statements into an old version's code: gathers the working-tree files that log the
 * requested names, reads the same files (following renames and symbolic links) from the run's code
 * tree, keeps those the run's entry script loads, and asks propagate for the old files with the
 * statements inserted. A name propagate cannot place anywhere is returned with its reason, so
 * replay reports that version and carries on with the others.
 */
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CatFile, RepoInfo } from '../store/git.js';
import { resolveRev, workTreePaths } from '../store/revs.js';
import { listTreeFiles } from '../store/checkout.js';
import { reader } from '../store/objects.js';
import { FlorError } from '../errors.js';
import { propagateProject } from '../propagate/project.js';
import { isSourcePath } from '../propagate/source.js';
import { findRenames } from '../store/renames.js';
import { carriedNames } from '../propagate/index.js';
import { snapshotWorkTree } from '../store/worktree.js';
import { reachedFiles, treeFiles, workTreeFiles, type FileSource, type Reach } from './reach.js';
import { memoNamesIn } from './memo-sites.js';


export interface TodayFiles {
  /** Work-tree files (top-relative, '/'-separated) that log at least one requested name. */
  files: Record<string, string>;
  /** The requested names each of those files logs with a statement propagation can carry. */
  logs: Record<string, string[]>;
  /** Requested names some file logs with a literal name. */
  namesFound: Set<string>;
  /**
   * Tree of the work tree as it is now, for rename detection against a run's code. Made on first
   * use: most runs have today's files at the same paths and need no rename detection at all.
   */
  tree: () => Promise<string>;
  /** The work tree's files, to follow today's imports of a file the old version lacks. */
  source: FileSource;
  /** Whether a bare import names an installed package (else it is a path alias, not followed). */
  isPackage: (name: string) => boolean;
  /** Per file of today's, the names it calls flor.memo with (memo-sites.ts). */
  memoSites: Map<string, string[]>;
}

/**
 * Today's files that log `names`: the work tree's, or with `at` (a commit) that commit's, as a
 * pinned replay plan reads them: shards on other machines must see the same code whatever their
 * work tree holds.
 */
export async function readTodayFiles(repo: RepoInfo, names: string[], at?: string): Promise<TodayFiles> {
  const top = repo.top!;
  const quoted = names.flatMap((n) => [`'${n}'`, `"${n}"`, `\`${n}\``]);
  const memoSites = new Map<string, string[]>();
  const logsOne = (text: string, path: string): boolean => {
    if (text.includes('flor.memo')) {
      const found = memoNamesIn(path, text);
      if (found.length) memoSites.set(path, found);
    }
    return text.includes('flor') && quoted.some((q) => text.includes(q));
  };
  const { files, tree, source } = at ? await committedFiles(repo, at, logsOne) : await workTreeLogFiles(repo, logsOne);
  const namesFound = new Set<string>();
  const logs: Record<string, string[]> = {};
  for (const [p, text] of Object.entries(files)) {
    try {
      logs[p] = [...new Set(carriedNames(p, text).filter((n) => names.includes(n)))];
      for (const n of logs[p]!) namesFound.add(n);
    } catch {
      logs[p] = []; // a file of today's that does not parse carries nothing; another file may still log the name
    }
  }
  const installed = new Map<string, boolean>();
  const isPackage = (name: string): boolean => {
    let hit = installed.get(name);
    if (hit === undefined) installed.set(name, (hit = existsSync(join(top, 'node_modules', name))));
    return hit;
  };
  return { files, logs, namesFound, tree, source, isPackage, memoSites };
}

type Found = Pick<TodayFiles, 'files' | 'tree' | 'source'>;

async function workTreeLogFiles(repo: RepoInfo, wanted: (text: string, path: string) => boolean): Promise<Found> {
  const top = repo.top!;
  const paths = (await workTreePaths(repo)).filter(isSourcePath);
  const files: Record<string, string> = {};
  for (const p of paths) {
    let text: string;
    try {
      // A link is not a second copy of its target: the target is listed (and carried) under its own
      // path, while the old versions store the link's text, not code.
      if (lstatSync(join(top, p)).isSymbolicLink()) continue;
      text = readFileSync(join(top, p), 'utf8');
    } catch {
      continue; // listed but deleted in the work tree
    }
    if (wanted(text, p)) files[p] = text;
  }
  let tree: Promise<string> | null = null;
  return { files, tree: () => (tree ??= snapshotWorkTree(repo)), source: workTreeFiles(top) };
}

/** The same from a commit's tree: regular files only (a link's blob is its target, not code). */
async function committedFiles(repo: RepoInfo, commit: string, wanted: (text: string, path: string) => boolean): Promise<Found> {
  const at = await resolveRev(repo, commit);
  if (!at) throw new FlorError('BAD_REVISION', `'${commit}' does not name a commit in this clone`, { hint: '`git flor fetch` brings the commit a replay plan names' });
  const cat = reader(repo);
  const found: Array<[string, string]> = [];
  await Promise.all((await listTreeFiles(repo, at.tree)).map(async (e) => {
    if (e.mode === '120000' || e.mode === '160000' || !isSourcePath(e.path)) return;
    const text = (await cat.read(e.oid))?.data.toString('utf8');
    if (text !== undefined && wanted(text, e.path)) found.push([e.path, text]);
  }));
  // In path order, as the work tree's are listed.
  const files = Object.fromEntries(found.sort(([a], [b]) => (a < b ? -1 : 1)));
  return { files, tree: () => Promise.resolve(at.tree), source: treeFiles(cat, at.tree) };
}


export interface PropagatedRun {
  /** Old files with today's statements inserted (only the files that changed, by old path). */
  files: Record<string, string>;
  /** The old version's files that today's statement files map to and the run loads (before propagation). */
  oldFiles: Record<string, string>;
  /** Names no statement of which could be placed in a file the run loads. */
  failed: Array<{ name: string; reason: string }>;
  /** Names whose statements are only in files the run's entry script never loads (another script's code). */
  unreached: string[];
  /** Statements that could not be placed, of names that were placed elsewhere (the name is still replayed). */
  partial: Array<{ name: string; reason: string }>;
  /** Names whose statement was carried into this version's code (the others were already in it). */
  carried: string[];
}

/**
 * RULE: "A version where a statement cannot be propagated … is reported by name with the reason;
 * the others still complete." Only files the run's entry script loads (its imports, followed in
 * its own code tree; `roots`) count: a file of another script is not this run's business. A name
 * fails for this run when none of its statements could be placed in such a file; a file that
 * cannot take one does not stop the files that can (it is reported in `partial`).
 */
export async function propagateRun(
  repo: RepoInfo, cat: CatFile, codeTree: string, today: TodayFiles, names: string[], roots: string[],
): Promise<PropagatedRun> {
  const old = treeFiles(cat, codeTree);
  const oldFiles = new Map<string, string>();
  const renames = new Map<string, string>(); // today's path -> old path, for renames and links
  const absent: string[] = [];
  const todayPaths = Object.keys(today.files);
  const found = await Promise.all(todayPaths.map((p) => old.resolve(p)));
  // A path that is the same file on both sides first; a link of the old version to a file today
  // also has under its own path does not take the statements twice.
  todayPaths.forEach((p, i) => {
    const f = found[i];
    if (f && f.path === p) oldFiles.set(p, f.text);
  });
  todayPaths.forEach((p, i) => {
    const f = found[i];
    if (!f) absent.push(p);
    else if (f.path !== p && !oldFiles.has(f.path) && !todayPaths.includes(f.path)) {
      oldFiles.set(f.path, f.text);
      renames.set(p, f.path);
    }
  });
  // Only a file missing at today's path can have been renamed.
  const moved = absent.length ? await findRenames(repo, codeTree, await today.tree()) : new Map<string, string>();
  const missing: string[] = [];
  for (const p of absent) {
    const oldPath = moved.get(p);
    const f = oldPath === undefined ? null : await old.resolve(oldPath);
    if (f && !oldFiles.has(f.path)) {
      oldFiles.set(f.path, f.text);
      renames.set(p, f.path);
    } else missing.push(p);
  }

  // The files this run loads. One the old version lacks counts when today's version of the run's
  // script loads it (the statement is then reported as not placeable: its file is new).
  const inScope = new Set<string>();
  const reach: Reach = await reachedFiles(old, roots, new Set(oldFiles.keys()), today.isPackage);
  for (const p of todayPaths) {
    const o = renames.get(p) ?? p;
    if (oldFiles.has(o) && (reach.open || reach.reached.has(o))) inScope.add(p);
  }
  if (missing.length) {
    const now = await reachedFiles(today.source, roots, new Set(missing), today.isPackage);
    for (const p of missing) if (now.open || now.reached.has(p)) inScope.add(p);
  }
  const scoped = new Map([...inScope].map((p) => [p, today.files[p]!]));
  const scopedOld = new Map([...oldFiles].filter(([o]) => [...inScope].some((p) => (renames.get(p) ?? p) === o)));

  const res = propagateProject({ newFiles: scoped, oldFiles: scopedOld, renames, names });
  const placed = new Set<string>();
  const carried = new Set<string>();
  const reasons = new Map<string, string[]>();
  for (const r of res.report) {
    const of = r.name === null ? (today.logs[r.file] ?? names) : [r.name];
    for (const n of of) {
      if (!names.includes(n)) continue;
      if (r.status === 'inserted') carried.add(n);
      if (r.status !== 'failed') {
        placed.add(n);
        continue;
      }
      const list = reasons.get(n) ?? [];
      list.push(`${r.file}:${r.line}: ${r.reason ?? r.code ?? 'cannot be placed'}`);
      reasons.set(n, list);
    }
  }
  const unreached = names.filter((n) => !placed.has(n) && !reasons.has(n));
  const failed: PropagatedRun['failed'] = [];
  const partial: PropagatedRun['partial'] = [];
  for (const [name, rs] of reasons) (placed.has(name) ? partial : failed).push({ name, reason: rs.join('; ') });
  return {
    files: Object.fromEntries(res.files),
    oldFiles: Object.fromEntries(scopedOld),
    failed,
    unreached,
    partial,
    carried: names.filter((n) => carried.has(n)),
  };
}
