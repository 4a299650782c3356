/**
 * Reading what Git keeps in plain files, for the commands people type most: starting a `git`
 * process costs about a tenth of what the whole `git flor runs` may take. Each function answers
 * only the common layout it fully understands (a `.git` directory or `gitdir:` file, loose and
 * packed refs) and returns null for anything else (environment overrides, bare repositories,
 * reftable, symbolic refs, another owner), so the caller asks Git as before. Nothing is written.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { RepoInfo } from './git.js';

/** Variables that change where Git looks for the repository: with any set, Git decides. */
const DISCOVERY_ENV = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_COMMON_DIR', 'GIT_CEILING_DIRECTORIES', 'GIT_DISCOVERY_ACROSS_FILESYSTEM', 'GIT_NAMESPACE'];

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Git refuses a repository another user owns (safe.directory): leave that decision to Git. */
function ownedByUs(path: string): boolean {
  const uid = process.getuid?.();
  if (uid === undefined) return false;
  try {
    return statSync(path).uid === uid;
  } catch {
    return false;
  }
}

/**
 * The repository holding `cwd` as `git rev-parse --show-toplevel --git-dir --git-common-dir`
 * would give it, found by walking up to a `.git` entry; null when Git must be asked.
 */
export function findRepoFromFiles(cwd: string): RepoInfo | null {
  if (DISCOVERY_ENV.some((k) => process.env[k] !== undefined)) return null;
  let dir: string;
  try {
    dir = realpathSync(cwd);
  } catch {
    return null;
  }
  for (;;) {
    const dotGit = join(dir, '.git');
    let st: ReturnType<typeof statSync> | undefined;
    try {
      st = statSync(dotGit);
    } catch {
      st = undefined;
    }
    if (st) {
      let gitDir: string;
      if (st.isDirectory()) gitDir = dotGit;
      else {
        const m = /^gitdir: (.+)$/m.exec(readText(dotGit) ?? '');
        if (!m) return null;
        gitDir = resolve(dir, m[1]!.trim());
      }
      try {
        gitDir = realpathSync(gitDir);
      } catch {
        return null;
      }
      // A directory Git would not take as a repository (no HEAD): Git knows what it does then.
      if (!existsSync(join(gitDir, 'HEAD')) || !ownedByUs(gitDir) || !ownedByUs(dir)) return null;
      const common = readText(join(gitDir, 'commondir'));
      let commonDir = gitDir;
      if (common !== null) {
        try {
          commonDir = realpathSync(resolve(gitDir, common.trim()));
        } catch {
          return null;
        }
      }
      // core.bare, core.worktree and reftable change what the files mean.
      const config = readText(join(commonDir, 'config')) ?? '';
      if (/^\s*(worktree|bare\s*=\s*true|refstorage)\b/im.test(config) || existsSync(join(commonDir, 'reftable'))) return null;
      return { top: dir, gitDir, commonDir };
    }
    // A bare repository, or a git dir itself, as the working directory: Git decides.
    if (existsSync(join(dir, 'HEAD')) && existsSync(join(dir, 'objects'))) return null;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

const OID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/** Loose refs under `dir` (a path under the common dir), into `out` by name; false if one is not plain. */
function looseRefs(commonDir: string, name: string, out: Map<string, string>): boolean {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(join(commonDir, name), { withFileTypes: true });
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
  for (const e of entries) {
    const ref = `${name}/${e.name}`;
    if (e.isDirectory()) {
      if (!looseRefs(commonDir, ref, out)) return false;
    } else if (e.isFile()) {
      if (e.name.endsWith('.lock')) continue; // an update in progress: the ref keeps its old value
      const text = readText(join(commonDir, ref));
      if (text === null) continue; // deleted since listing: as if listed a moment later
      const oid = text.trim();
      if (!OID.test(oid)) return false; // symbolic or damaged: Git's answer
      out.set(ref, oid);
    } else return false;
  }
  return true;
}

/**
 * `<oid> <ref>` lines of every ref under `prefix` (which ends in '/'), sorted as
 * `git for-each-ref --format='%(objectname) %(refname)' prefix` lists them, read from the loose
 * ref files and packed-refs; null when Git must be asked. Loose refs are read before packed-refs,
 * as Git does: a ref that `git pack-refs` moves meanwhile is found in one or the other.
 */
export function refListingFromFiles(repo: RepoInfo, prefix: string): string | null {
  if (!prefix.endsWith('/') || process.env.GIT_NAMESPACE !== undefined || existsSync(join(repo.commonDir, 'reftable'))) return null;
  const loose = new Map<string, string>();
  if (!looseRefs(repo.commonDir, prefix.slice(0, -1), loose)) return null;
  const all = new Map<string, string>();
  const packed = readText(join(repo.commonDir, 'packed-refs'));
  if (packed !== null) {
    for (const line of packed.split('\n')) {
      if (line === '' || line.startsWith('#') || line.startsWith('^')) continue;
      const sp = line.indexOf(' ');
      const oid = line.slice(0, sp);
      const ref = line.slice(sp + 1);
      if (sp < 0 || !OID.test(oid)) return null;
      if (ref.startsWith(prefix)) all.set(ref, oid);
    }
  }
  for (const [ref, oid] of loose) all.set(ref, oid);
  // Git sorts by the ref name's bytes.
  const names = [...all.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return names.map((n) => `${all.get(n)} ${n}`).join('\n');
}

/**
 * The oid of one fully named ref (`refs/...`) from its loose file or packed-refs, as
 * `git rev-parse --verify -q REF` would give it: null when it does not exist, undefined when Git
 * must be asked (reftable, a namespace, a symbolic or damaged ref, a name that is a directory).
 * A loose file is read before packed-refs, as Git does.
 */
export function refFromFiles(repo: RepoInfo, ref: string): string | null | undefined {
  if (!ref.startsWith('refs/') || ref.endsWith('/') || ref.includes('..') || process.env.GIT_NAMESPACE !== undefined) return undefined;
  if (existsSync(join(repo.commonDir, 'reftable'))) return undefined;
  let text: string;
  try {
    text = readFileSync(join(repo.commonDir, ref), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && (e as NodeJS.ErrnoException).code !== 'ENOTDIR') return undefined;
    const packed = readText(join(repo.commonDir, 'packed-refs'));
    if (packed === null) return null;
    const at = packed.indexOf(` ${ref}\n`);
    if (at < 0) return packed.endsWith(` ${ref}`) ? undefined : null;
    const oid = packed.slice(packed.lastIndexOf('\n', at) + 1, at);
    return OID.test(oid) ? oid : undefined;
  }
  const oid = text.trim();
  return OID.test(oid) ? oid : undefined;
}
