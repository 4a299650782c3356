/**
 * What a run's start reads from Git's files instead of asking git, with a fallback to git for
 * anything unusual: HEAD (its commit and branch, from HEAD and the loose or packed ref), HEAD's
 * tree (from a cache of `<commit> <tree>`: a commit's tree never changes), and the flor.*
 * settings (cached with the stat data of every config file Git reads and the GIT_CONFIG*
 * environment; a file that mentions `include` is never cached, since an `includeIf "onbranch:"`
 * changes the settings without a file changing). Each answer is one Git would give, or null.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { configFiles, configStamp } from './config-files.js';
import { join } from 'node:path';
import type { RepoInfo } from './git.js';
import { refFromFiles } from './ref-files.js';
import { uniqueSuffix } from './builtins.js';

const OID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function writeAtomic(path: string, text: string): void {
  try {
    mkdirSync(join(path, '..'), { recursive: true });
    const tmp = `${path}.${uniqueSuffix()}`;
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch {
    // a cache: the next start asks git again
  }
}

function headTreeCache(repo: RepoInfo): string {
  return join(repo.gitDir, 'flor', 'head-tree');
}

/** Remembers HEAD's tree for `commit` (after git told it). */
export function rememberHeadTree(repo: RepoInfo, commit: string, tree: string): void {
  writeAtomic(headTreeCache(repo), `${commit} ${tree}\n`);
}

/** HEAD's commit, tree and branch, as `git rev-parse HEAD HEAD^{tree} --abbrev-ref HEAD` gives them; null when git must be asked. */
export function headFromFiles(repo: RepoInfo): { commit: string | null; tree: string | null; branch: string | null } | null {
  const head = readText(join(repo.gitDir, 'HEAD'))?.trim();
  if (!head) return null;
  let commit: string;
  let branch: string | null = null;
  if (head.startsWith('ref: ')) {
    const ref = head.slice(5).trim();
    if (!ref.startsWith('refs/heads/')) return null;
    branch = ref.slice('refs/heads/'.length);
    const oid = refFromFiles(repo, ref);
    if (oid === undefined) return null;
    if (oid === null) return { commit: null, tree: null, branch }; // unborn branch
    commit = oid;
  } else if (OID.test(head)) commit = head;
  else return null;
  const [c, tree] = (readText(headTreeCache(repo)) ?? '').trim().split(' ');
  if (c !== commit || !tree || !OID.test(tree)) return null;
  return { commit, tree, branch };
}

/** The config stamp (config-files.ts), or null when a config file mentions `include` (or cannot be read). */
function configKey(repo: RepoInfo): string | null {
  for (const f of configFiles(repo)) {
    if (existsSync(f) && /include/i.test(readText(f) ?? 'include')) return null;
  }
  return configStamp(repo);
}

function configCache(repo: RepoInfo): string {
  return join(repo.gitDir, 'flor', 'config-cache.json');
}

/**
 * The flor.* settings: `read()` (one git process) unless the cache was made under the same config
 * files and environment. The key is taken before git reads, so a file changed meanwhile misses.
 */
export function cachedFlorConfig(repo: RepoInfo, read: () => Map<string, string>): Map<string, string> {
  const key = configKey(repo);
  if (key !== null) {
    try {
      const c = JSON.parse(readFileSync(configCache(repo), 'utf8')) as { key: string; values: Array<[string, string]> };
      if (c.key === key && Array.isArray(c.values)) return new Map(c.values);
    } catch {
      // no cache yet
    }
  }
  const m = read();
  if (key !== null) writeAtomic(configCache(repo), JSON.stringify({ key, values: [...m] }));
  return m;
}
