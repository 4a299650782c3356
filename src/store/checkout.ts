/**
 * A code tree written out as files, for a replay to run, never touching the user's index or work
 * tree. Where Git would write the blobs as they are (no attributes, filters or line-ending
 * conversion can apply), the files come from the shared object reader, without a process; anywhere
 * else through a private index file (`read-tree` into that index, then `checkout-index --prefix`).
 */
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { homedir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { FlorError } from '../errors.js';
import { gitRepo, repoCwd, type RepoInfo } from './git.js';
import { reader, readTree } from './objects.js';
import { configMatching } from './git-config.js';
import { BoundedMap } from './bounded-map.js';

/** A non-tree entry of a tree, at its '/'-separated path. */
export interface TreeFile {
  path: string;
  mode: string;
  oid: string;
}

/** Trees never change: a replay lists a run's code tree for its links, then for its checkout. */
const listed = new BoundedMap<string, Promise<TreeFile[]>>(32);

/** Every entry of `tree` but trees, recursively (as `ls-tree -r`), through the shared reader. */
export function listTreeFiles(repo: RepoInfo, tree: string): Promise<TreeFile[]> {
  const key = `${repoCwd(repo)}\0${tree}`;
  let p = listed.get(key);
  if (!p) {
    const cat = reader(repo);
    const walk = async (oid: string, prefix: string): Promise<TreeFile[]> => {
      const entries = await readTree(cat, oid);
      const nested = await Promise.all(entries.map((e) => (e.type === 'tree' ? walk(e.oid, `${prefix}${e.name}/`) : [{ path: `${prefix}${e.name}`, mode: e.mode, oid: e.oid }])));
      return nested.flat();
    };
    listed.set(key, (p = walk(tree, '')));
    p.catch(() => listed.delete(key)); // a failed read is not remembered
  }
  return p;
}

/**
 * Whether checking out could give other bytes than the blobs: a `.gitattributes` anywhere (the
 * tree's, the repository's, the user's or the system's) may name filters, `text`/`eol` or an
 * encoding; `core.autocrlf` converts line ends; without `core.symlinks` a link becomes a file.
 */
function gitWouldConvert(repo: RepoInfo, files: TreeFile[]): boolean {
  if (files.some((f) => f.path === '.gitattributes' || f.path.endsWith('/.gitattributes'))) return true;
  const found = configMatching(repo, /^core\.(attributesfile|autocrlf|symlinks)$/);
  if (found.has('core.attributesfile') || existsSync(join(repo.commonDir, 'info', 'attributes'))) return true;
  const xdg = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  if (existsSync(join(xdg, 'git', 'attributes'))) return true;
  if (!process.env.GIT_ATTR_NOSYSTEM && existsSync('/etc/gitattributes')) return true;
  const crlf = found.get('core.autocrlf')?.at(-1);
  if (crlf !== undefined && !/^\s*(false|no|off|0|input)\s*$/i.test(crlf)) return true;
  const links = found.get('core.symlinks')?.at(-1);
  return links !== undefined && /^\s*(false|no|off|0|)\s*$/i.test(links);
}

/** Writes every file of `tree` under `dir` (which must exist), with modes and symbolic links as Git stores them. */
export async function checkoutTree(repo: RepoInfo, tree: string, dir: string): Promise<void> {
  const files = await listTreeFiles(repo, tree);
  if (gitWouldConvert(repo, files)) return checkoutWithGit(repo, tree, dir);
  // A tree naming one path both as a link and as a directory is malformed: nothing is written through the link.
  const links = new Set(files.filter((f) => f.mode === '120000').map((f) => f.path));
  for (const f of files) {
    const parts = f.path.split('/');
    for (let k = 1; k < parts.length; k++) {
      const up = parts.slice(0, k).join('/');
      if (links.has(up)) throw new FlorError('CORRUPT_TREE', `tree ${tree} has ${f.path} under its symbolic link ${up}`, { hint: 'run `git flor doctor`' });
    }
  }
  const cat = reader(repo);
  await Promise.all(files.map(async (f) => {
    const to = join(dir, ...f.path.split('/'));
    // As checkout-index: a submodule is an empty directory, a link a symbolic link, a file 0666 or 0777 less the umask.
    if (f.mode === '160000') {
      mkdirSync(to, { recursive: true });
      return;
    }
    const { data } = await cat.readAs(f.oid, 'blob');
    mkdirSync(dirname(to), { recursive: true });
    if (f.mode === '120000') symlinkSync(data.toString('utf8'), to);
    else writeFileSync(to, data, { flag: 'wx', mode: f.mode === '100755' ? 0o777 : 0o666 });
  }));
}

async function checkoutWithGit(repo: RepoInfo, tree: string, dir: string): Promise<void> {
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

/** The symbolic links of a tree: path -> link text, through the shared reader. */
export async function treeLinks(repo: RepoInfo, tree: string): Promise<Map<string, string>> {
  const found = (await listTreeFiles(repo, tree)).filter((f) => f.mode === '120000');
  const cat = reader(repo);
  const texts = await Promise.all(found.map((f) => cat.read(f.oid)));
  return new Map(found.map((f, i) => [f.path, texts[i]?.data.toString('utf8') ?? '']));
}
