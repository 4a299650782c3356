/** Git's configuration, remotes and version, as the other parts need them (only the store runs Git). */
import { gitRepoSync, type RepoInfo } from './git.js';

export function configValue(repo: RepoInfo, key: string): string | null {
  const r = gitRepoSync(repo, ['config', '--get', key], { okCodes: [1] });
  return r.code === 0 ? r.stdout.toString().replace(/\n$/, '') : null;
}

export function configValues(repo: RepoInfo, key: string): string[] {
  const r = gitRepoSync(repo, ['config', '--get-all', key], { okCodes: [1] });
  return r.code === 0 ? r.stdout.toString().split('\n').filter(Boolean) : [];
}

/** Where a key's value comes from (`local`, `global`, `system`, ...), or null when it is unset. */
export function configScope(repo: RepoInfo, key: string): string | null {
  const r = gitRepoSync(repo, ['config', '--show-scope', '--get', key], { okCodes: [1] });
  return r.code === 0 ? (r.stdout.toString().split('\t')[0] ?? null) : null;
}

/** `git config ARGS…` that writes (`--add`, `--unset-all`, …). */
export function setConfig(repo: RepoInfo, args: string[]): void {
  // 5: `--unset`/`--unset-all` of a value that another process removed meanwhile
  gitRepoSync(repo, ['config', ...args], { okCodes: [5] });
}

export function configuredRemotes(repo: RepoInfo): string[] {
  return gitRepoSync(repo, ['remote']).stdout.toString().split('\n').filter(Boolean);
}

export function currentBranch(repo: RepoInfo): string | null {
  const r = gitRepoSync(repo, ['symbolic-ref', '-q', '--short', 'HEAD'], { okCodes: [1, 128] });
  return r.code === 0 ? r.stdout.toString().trim() : null;
}

export function gitAtLeast(repo: RepoInfo, major: number, minor: number): boolean {
  const m = /(\d+)\.(\d+)/.exec(gitRepoSync(repo, ['version']).stdout.toString());
  if (!m) return true;
  return Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) >= minor);
}

/** Whether `ref` exists. */
export function hasRef(repo: RepoInfo, ref: string): boolean {
  return gitRepoSync(repo, ['rev-parse', '-q', '--verify', ref], { okCodes: [1] }).code === 0;
}
