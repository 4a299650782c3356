/** Git settings outside the `flor.*` section that shape the CLI's output (pager, colour). */
import { gitSync } from './git.js';
import { configMatching } from './git-config.js';
import { findRepoFromFiles } from './ref-files.js';

/**
 * The settings whose names match `pattern` (a `git config --get-regexp` pattern that is also a
 * JavaScript one), keys lower-cased as Git reports them. In a repository whose files say where it
 * is, from the listing of its settings that git-config.ts keeps while Git's config files are
 * unchanged: the git process, and node:child_process with the streams it loads, were ~17 ms of a
 * `git flor log` at a terminal (cpu-prof). Elsewhere read in one git process; outside a
 * repository, the global ones. A key given without a value (`[pager] flor`) reads as `true`, as
 * Git treats it.
 */
export function configSync(cwd: string, pattern: string): Map<string, string> {
  const m = new Map<string, string>();
  const repo = findRepoFromFiles(cwd);
  if (repo) {
    try {
      for (const [k, values] of configMatching(repo, new RegExp(pattern))) m.set(k, values[values.length - 1]!);
      return m;
    } catch {
      // a config Git itself cannot read: asked below, as before
    }
  }
  let stdout: Buffer;
  try {
    stdout = gitSync(['config', '-z', '--get-regexp', pattern], { cwd, okCodes: [1] }).stdout;
  } catch {
    return m; // no git, or a config Git itself cannot read: every setting at its default
  }
  for (const rec of stdout.toString().split('\0')) {
    if (!rec) continue;
    const nl = rec.indexOf('\n');
    m.set(nl < 0 ? rec : rec.slice(0, nl), nl < 0 ? 'true' : rec.slice(nl + 1));
  }
  return m;
}

/** Git's boolean words; null for anything else (a pager command, `auto`). */
export function configBool(text: string | undefined): boolean | null {
  if (text === undefined) return null;
  const t = text.trim().toLowerCase();
  if (['true', 'yes', 'on', '1'].includes(t)) return true;
  if (['false', 'no', 'off', '0', ''].includes(t)) return false;
  return null;
}
