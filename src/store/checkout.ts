/**
 * A code tree written out as files, for a replay to run: through a private index file, so the
 * user's index and work tree are never touched (`read-tree` into that index, then
 * `checkout-index --prefix`).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { gitRepo, type RepoInfo } from './git.js';
import { reader } from './objects.js';

/** Writes every file of `tree` under `dir` (which must exist), with modes and symbolic links as Git stores them. */
export async function checkoutTree(repo: RepoInfo, tree: string, dir: string): Promise<void> {
  const tmp = join(repo.commonDir, 'flor', 'tmp');
  mkdirSync(tmp, { recursive: true });
  const idx = join(tmp, `replay-index-${process.pid}-${randomBytes(4).toString('hex')}`);
  const env = { GIT_INDEX_FILE: idx };
  try {
    await gitRepo(repo, ['read-tree', tree], { env });
    await gitRepo(repo, [`--work-tree=${dir}`, 'checkout-index', '-a', '-f', `--prefix=${dir}/`], { env });
  } finally {
    rmSync(idx, { force: true });
  }
}

/** The symbolic links of a tree: path -> link text. One `ls-tree`, then the link blobs through the shared reader. */
export async function treeLinks(repo: RepoInfo, tree: string): Promise<Map<string, string>> {
  const r = await gitRepo(repo, ['ls-tree', '-r', '-z', '--full-tree', tree]);
  const found: Array<{ path: string; oid: string }> = [];
  for (const rec of r.stdout.toString('utf8').split('\0')) {
    if (!rec.startsWith('120000 ')) continue;
    const tab = rec.indexOf('\t');
    found.push({ path: rec.slice(tab + 1), oid: rec.slice(0, tab).split(' ')[2]! });
  }
  const cat = reader(repo);
  const texts = await Promise.all(found.map((f) => cat.read(f.oid)));
  return new Map(found.map((f, i) => [f.path, texts[i]?.data.toString('utf8') ?? '']));
}
