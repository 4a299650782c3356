/**
 * Carrying notes-index entries across `git commit --amend` and `git rebase`.
 *
 * A run's metadata keeps the commit it ran on (the ledger is history and never changes); the notes
 * index is derived, so the rewritten commit simply gets the same lines too. The old->new map is
 * also appended to `<commonDir>/flor/sync/rewrites`, because a rebuild of the index from the ledgers
 * (after a fetch) knows nothing of rewrites: `reapplyRewrites` replays the whole map afterwards.
 * Known gap: the map is local, so another clone's index does not learn it.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RepoInfo } from '../store/git.js';

export type Rewrite = [oldCommit: string, newCommit: string];

export function rewritesPath(repo: RepoInfo): string {
  return join(repo.commonDir, 'flor', 'sync', 'rewrites');
}

/** Parses post-rewrite's stdin: `<old-sha> <new-sha> [<extra>]` per line. */
export function parseRewrites(text: string): Rewrite[] {
  const out: Rewrite[] = [];
  for (const line of text.split('\n')) {
    const [a, b] = line.trim().split(/\s+/);
    if (a && b && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(a) && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(b) && a !== b) out.push([a, b]);
  }
  return out;
}

export function recordRewrites(repo: RepoInfo, pairs: Rewrite[]): void {
  if (!pairs.length) return;
  mkdirSync(join(repo.commonDir, 'flor', 'sync'), { recursive: true });
  appendFileSync(rewritesPath(repo), pairs.map(([a, b]) => `${a} ${b}\n`).join(''));
}

export function readRewrites(repo: RepoInfo): Rewrite[] {
  try {
    return parseRewrites(readFileSync(rewritesPath(repo), 'utf8'));
  } catch {
    return [];
  }
}

/**
 * Gives each new commit the note lines of its old commit (kept once if it has them already), in
 * one notes commit through the store (CAS with retries). Pairs apply in order, so a chain (amend,
 * then rebase) reaches the last commit. Returns how many commits gained lines.
 */
export async function carryNotes(repo: RepoInfo, pairs: Rewrite[]): Promise<number> {
  if (!pairs.length) return 0;
  const { readNotes, addNoteLines } = await import('../store/notes.js');
  const notes = await readNotes(repo);
  if (!notes.size) return 0;
  const carried = new Map<string, string[]>();
  const linesOf = (c: string): string[] => carried.get(c) ?? (notes.get(c) ?? '').split('\n').filter(Boolean);
  const add: Array<{ commit: string; line: string }> = [];
  for (const [from, to] of pairs) {
    const src = linesOf(from);
    if (!src.length) continue;
    const dst = linesOf(to);
    const have = new Set(dst);
    const extra = src.filter((l) => !have.has(l));
    if (!extra.length) continue;
    carried.set(to, [...dst, ...extra]);
    for (const line of extra) add.push({ commit: to, line });
  }
  return add.length ? addNoteLines(repo, add) : 0;
}

/** After a rebuild of the notes index from the ledgers, put the rewritten commits back. */
export async function reapplyRewrites(repo: RepoInfo): Promise<number> {
  return carryNotes(repo, readRewrites(repo));
}
