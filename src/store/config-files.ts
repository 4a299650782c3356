/**
 * The config files Git reads for a repository, and a stamp of them: their stat data and the
 * GIT_CONFIG* environment. Git rewrites a config file by renaming a new one over it, so any write
 * changes the file's inode, size, mtime or ctime; the stamp then differs. Files a config includes
 * are not listed: a cache keyed by the stamp must not be trusted where a config includes others.
 * Keys the config listing kept in memory and on disk (git-config.ts), which the run start reads too.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { RepoInfo } from './git.js';
import { homeDir } from './builtins.js';

let known: { key: string; files: string[] } | null = null;

/** Git's order: system, global (GIT_CONFIG_GLOBAL, or the XDG file and ~/.gitconfig), the repository's, the worktree's. */
export function configFiles(repo: RepoInfo): string[] {
  const env = process.env;
  // Kept for the same inputs: every config read stamps the files again (a capture, nine times),
  // and the path joins alone made node:path's normalizeString hot enough for V8 to optimise it,
  // ~11M instructions of a capture on a compiler thread (callgrind).
  const key = JSON.stringify([env.GIT_CONFIG_GLOBAL, env.XDG_CONFIG_HOME, env.HOME, env.USERPROFILE, env.GIT_CONFIG_SYSTEM, repo.commonDir, repo.gitDir]);
  if (known?.key === key) return known.files;
  const global = env.GIT_CONFIG_GLOBAL !== undefined ? [env.GIT_CONFIG_GLOBAL] : [join(env.XDG_CONFIG_HOME || join(homeDir(), '.config'), 'git', 'config'), join(homeDir(), '.gitconfig')];
  const files = [env.GIT_CONFIG_SYSTEM ?? '/etc/gitconfig', ...global, join(repo.commonDir, 'config'), join(repo.gitDir, 'config.worktree')].filter(Boolean);
  known = { key, files };
  return files;
}

/** The stamp: one line per GIT_CONFIG* variable, then per file (`-` when it does not exist). */
export function configStamp(repo: RepoInfo): string {
  const parts = Object.keys(process.env)
    .filter((k) => k.startsWith('GIT_CONFIG'))
    .sort()
    .map((k) => `${k}=${process.env[k]}`);
  for (const f of configFiles(repo)) {
    try {
      const st = statSync(f, { bigint: true });
      parts.push(`${f} ${st.ino} ${st.size} ${st.mtimeNs} ${st.ctimeNs}`);
    } catch {
      parts.push(`${f} -`);
    }
  }
  return parts.join('\n');
}
