/**
 * Telling a missing object from a corrupt one. `cat-file --batch` answers "missing" for both (a
 * loose object whose zlib stream or header is damaged cannot be read either), so the reader asks
 * again, alone: Git names corruption on stderr ("inflate", "unable to unpack", "corrupt").
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { git, repoCwd, type RepoInfo } from './git.js';

export type ObjectState = 'present' | 'missing' | 'corrupt';

/** Where `oid` would be stored loose. */
export function loosePath(repo: RepoInfo, oid: string): string {
  return join(repo.commonDir, 'objects', oid.slice(0, 2), oid.slice(2));
}

export async function objectState(repo: RepoInfo, oid: string): Promise<ObjectState> {
  const r = await git(['cat-file', '-t', oid], { cwd: repoCwd(repo), okCodes: [1, 128] });
  if (r.code === 0) {
    // The header reads; the body may still be damaged.
    const full = await git(['cat-file', '-p', oid], { cwd: repoCwd(repo), okCodes: [1, 128] });
    return full.code === 0 ? 'present' : 'corrupt';
  }
  if (/inflate|unable to unpack|corrupt|hash mismatch/i.test(r.stderr) || existsSync(loosePath(repo, oid))) return 'corrupt';
  return 'missing';
}
