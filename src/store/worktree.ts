/**
 * The exact code that ran: a Git tree of the work tree's tracked files plus the untracked files
 * that are code (see code-select.ts). Built in a private index file (a copy of the user's, so Git's
 * stat cache makes it fast), so the user's index, HEAD and work tree are never touched.
 */
import { copyFileSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { gitSync } from './git.js';
import type { RepoInfo } from './git.js';
import { FlorError } from '../errors.js';
import { captureMaxBytes, florConfigSync, selectCode } from './code-select.js';
import type { SkippedPath } from './types.js';

function tempIndex(repo: RepoInfo): string {
  const dir = join(repo.commonDir, 'flor', 'tmp');
  mkdirSync(dir, { recursive: true });
  const idx = join(dir, `index-${process.pid}-${randomBytes(4).toString('hex')}`);
  const userIndex = join(repo.gitDir, 'index');
  if (existsSync(userIndex)) {
    try {
      copyFileSync(userIndex, idx);
    } catch {
      // a concurrent git may be replacing it; an empty index is only slower
    }
  }
  return idx;
}

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
}

function nul(paths: string[]): string {
  return paths.length ? paths.join('\0') + '\0' : '';
}

/** Snapshot of the work tree's code (synchronous: used at run start). */
export function snapshotCodeSync(repo: RepoInfo, opts: { config?: Map<string, string>; warn?: (line: string) => void } = {}): CodeSnapshot {
  const top = needTop(repo);
  const maxBytes = captureMaxBytes(opts.config ?? florConfigSync(repo), opts.warn);
  const sel = selectCode(repo, maxBytes);
  const idx = tempIndex(repo);
  try {
    const env = { GIT_INDEX_FILE: idx };
    // Tracked paths too: a modified one is hashed again, a deleted one leaves the index.
    const paths = [...sel.tracked.map((t) => t.path), ...sel.untracked];
    gitSync(['update-index', '--add', '--remove', '-z', '--stdin'], { cwd: top, env, input: nul(paths) });
    const tree = gitSync(['write-tree'], { cwd: top, env }).stdout.toString().trim();
    let largeModified: CodeSnapshot['largeModified'] = [];
    if (sel.largeTracked.length) {
      const now = new Map(parseStage(gitSync(['ls-files', '-z', '--stage', '--', ...sel.largeTracked.map((l) => `:(literal)${l.path}`)], { cwd: top, env }).stdout.toString()));
      const was = new Map(sel.tracked.map((t) => [t.path, t.oid]));
      largeModified = sel.largeTracked.filter((l) => now.get(l.path) !== was.get(l.path));
    }
    return { tree, skipped: sel.skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), largeModified, maxBytes };
  } finally {
    rmSync(idx, { force: true });
  }
}

function parseStage(out: string): Array<[string, string]> {
  const r: Array<[string, string]> = [];
  for (const rec of out.split('\0')) {
    const tab = rec.indexOf('\t');
    if (tab < 0) continue;
    r.push([rec.slice(tab + 1), rec.slice(0, tab).split(' ')[1]!]);
  }
  return r;
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
  const cwd = repo.top ?? repo.gitDir;
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
