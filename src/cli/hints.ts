/** What to say when a command finds no runs at all: a fresh clone fetches, a new repository records. */
import type { RepoInfo } from '../store/git.js';
import { configuredRemotes } from '../store/git-config.js';

/** The hint line's text (without `hint: `). */
export function noRunsHint(repo: RepoInfo): string {
  let remotes: string[] = [];
  try {
    remotes = configuredRemotes(repo);
  } catch {
    // no remote list: the recording hint
  }
  if (remotes.length === 0) return "run a script that does `import { flor } from 'git-flor'`";
  const which = remotes.includes('origin') ? '' : ` ${remotes[0]}`;
  return `runs recorded in other clones come with \`git flor fetch${which}\` (then \`git flor runs\` again)`;
}

/** `no runs recorded yet` and the hint, on stderr. */
export function noRunsYet(repo: RepoInfo, prefix = 'git flor: '): void {
  process.stderr.write(`${prefix}no runs recorded yet\nhint: ${noRunsHint(repo)}\n`);
}
