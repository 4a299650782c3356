/**
 * What replay takes from a run's metadata and code tree is another clone's word: paths must stay
 * inside the snapshot, and symbolic links of the code must not lead out of it. Pure: the callers
 * (replay.ts, snapshot.ts) read the tree and refuse the run with these findings.
 */
import { posix } from 'node:path';
import { FlorError } from '../errors.js';

/**
 * `p` ('/'-separated, relative to the code's top; '' is the top) normalised, or null when it is
 * absolute or climbs out of the top.
 */
export function insideRel(p: string): string | null {
  if (p.includes('\0') || posix.isAbsolute(p)) return null;
  const n = posix.normalize(p === '' ? '.' : p);
  if (n === '..' || n.startsWith('../')) return null;
  return n === '.' || n === './' ? '' : n.replace(/\/$/, '');
}

/** The run's recorded `cwd` and `script`, inside its code, or REPLAY_REFUSED saying which is not. */
export function containedPaths(runId: string, meta: { cwd: string; script: string }): { cwd: string; script: string } {
  const cwd = insideRel(meta.cwd);
  const script = insideRel(meta.script);
  for (const [what, v, ok] of [['cwd', meta.cwd, cwd], ['script', meta.script, script]] as const) {
    if (ok === null || (what === 'script' && ok === '')) {
      throw new FlorError('REPLAY_REFUSED', `run ${runId}: its recorded ${what} ${JSON.stringify(v)} is not a path inside its code; refusing to replay it`, {
        hint: 'run metadata names paths relative to the work tree top; this run\'s metadata was written by hand or by another tool',
      });
    }
  }
  return { cwd: cwd!, script: script! };
}

export interface LinkEscape {
  path: string;
  target: string;
}

/** Symlinks deeper than this are treated like a loop: refused. */
const MAX_LINK_DEPTH = 40;

/**
 * Symlinks of a code tree (path -> link text) whose target, followed through the tree's other links
 * the way the file system would, leaves the tree: an absolute target, a `..` above the top, or a
 * chain of links that does (or loops). A target that does not exist inside is judged by its text.
 */
export function escapingLinks(links: ReadonlyMap<string, string>): LinkEscape[] {
  const out: LinkEscape[] = [];
  const resolve = (base: string[], target: string, depth: number): string[] | null => {
    if (depth > MAX_LINK_DEPTH || target.startsWith('/') || target.includes('\0')) return null;
    let stack = [...base];
    for (const c of target.split('/')) {
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (stack.length === 0) return null;
        stack.pop();
        continue;
      }
      stack.push(c);
      const t = links.get(stack.join('/'));
      if (t !== undefined) {
        const r = resolve(stack.slice(0, -1), t, depth + 1);
        if (r === null) return null;
        stack = r;
      }
    }
    return stack;
  };
  for (const [path, target] of links) {
    if (resolve(path.split('/').slice(0, -1), target, 0) === null) out.push({ path, target });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Paths flor would write (propagated files) that are, or lie under, a symlink of the tree. */
export function linkedWrites(paths: Iterable<string>, links: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i <= parts.length; i++) {
      if (links.has(parts.slice(0, i).join('/'))) {
        out.push(p);
        break;
      }
    }
  }
  return out;
}

/** Link text made printable (it is another clone's data): control characters escaped, long ones cut. */
export function shownTarget(t: string): string {
  const s = JSON.stringify(t.length > 200 ? `${t.slice(0, 200)}…` : t);
  return s;
}
