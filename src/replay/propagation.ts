/**
 * Today's statements into an old version's code: gathers the working-tree files that log the
 * requested names, reads the same files (following renames) from the run's code tree, and asks
 * propagate for the old files with the statements inserted. A name propagate cannot place is
 * returned with its reason, so replay reports that version and carries on with the others.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gitText, type CatFile, type RepoInfo } from '../store/git.js';
import { propagateProject } from '../propagate/project.js';
import { isSourcePath } from '../propagate/source.js';
import { findRenames } from '../store/renames.js';
import { carriedNames } from '../propagate/index.js';
import { snapshotWorkTree } from '../store/worktree.js';


export interface TodayFiles {
  /** Work-tree files (top-relative, '/'-separated) that log at least one requested name. */
  files: Record<string, string>;
  /** Requested names some file logs with a literal name. */
  namesFound: Set<string>;
  /**
   * Tree of the work tree as it is now, for rename detection against a run's code. Made on first
   * use: most runs have today's files at the same paths and need no rename detection at all.
   */
  tree: () => Promise<string>;
}

export async function readTodayFiles(repo: RepoInfo, names: string[]): Promise<TodayFiles> {
  const top = repo.top!;
  const listed = await gitText(['ls-files', '-co', '--exclude-standard', '-z'], { cwd: top });
  const paths = listed.split('\0').filter((p) => p && isSourcePath(p));
  const files: Record<string, string> = {};
  const quoted = names.flatMap((n) => [`'${n}'`, `"${n}"`, `\`${n}\``]);
  for (const p of paths) {
    let text: string;
    try {
      text = readFileSync(join(top, p), 'utf8');
    } catch {
      continue; // listed but deleted in the work tree
    }
    if (text.includes('flor') && quoted.some((q) => text.includes(q))) files[p] = text;
  }
  const namesFound = new Set<string>();
  for (const [p, text] of Object.entries(files)) {
    try {
      for (const n of carriedNames(p, text)) if (names.includes(n)) namesFound.add(n);
    } catch {
      // a file of today's that does not parse carries nothing; another file may still log the name
    }
  }
  let tree: Promise<string> | null = null;
  return { files, namesFound, tree: () => (tree ??= snapshotWorkTree(repo)) };
}

export interface PropagatedRun {
  /** Old files with today's statements inserted (only the files that changed, by old path). */
  files: Record<string, string>;
  /** The old version's files that today's statement files map to (before propagation). */
  oldFiles: Record<string, string>;
  failed: Array<{ name: string; reason: string }>;
}

async function readBlob(cat: CatFile, tree: string, path: string): Promise<string | null> {
  const o = await cat.read(`${tree}:${path}`);
  return o && o.type === 'blob' ? o.data.toString('utf8') : null;
}

/**
 * RULE: "A version where a statement cannot be propagated … is reported by name with the reason;
 * the others still complete." A name fails for this run when any of its statements could not be
 * placed (replaying only some of them would give a column with holes nobody asked for).
 */
export async function propagateRun(repo: RepoInfo, cat: CatFile, codeTree: string, today: TodayFiles, names: string[]): Promise<PropagatedRun> {
  const oldFiles = new Map<string, string>();
  const absent: string[] = [];
  for (const p of Object.keys(today.files)) {
    const t = await readBlob(cat, codeTree, p);
    if (t !== null) oldFiles.set(p, t);
    else absent.push(p);
  }
  // Only a file missing at today's path can have been renamed.
  const renames = absent.length ? await findRenames(repo, codeTree, await today.tree()) : new Map<string, string>();
  for (const p of absent) {
    const oldPath = renames.get(p);
    if (oldPath === undefined) continue;
    const t = await readBlob(cat, codeTree, oldPath);
    if (t !== null) oldFiles.set(oldPath, t);
  }
  const res = propagateProject({ newFiles: new Map(Object.entries(today.files)), oldFiles, renames, names });
  const reasons = new Map<string, string[]>();
  for (const r of res.report) {
    if (r.status !== 'failed') continue;
    for (const n of r.name === null ? names : names.includes(r.name) ? [r.name] : []) {
      const list = reasons.get(n) ?? [];
      list.push(`${r.file}:${r.line}: ${r.reason ?? r.code ?? 'cannot be placed'}`);
      reasons.set(n, list);
    }
  }
  return {
    files: Object.fromEntries(res.files),
    oldFiles: Object.fromEntries(oldFiles),
    failed: [...reasons].map(([name, rs]) => ({ name, reason: rs.join('; ') })),
  };
}
