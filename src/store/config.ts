/** Git settings outside the `flor.*` section that shape the CLI's output (pager, colour). */
import { gitSync } from './git.js';

/**
 * The settings whose names match `pattern` (a `git config --get-regexp` pattern), keys lower-cased
 * as Git reports them, read in one git process. Outside a repository: the global ones. A key
 * given without a value (`[pager] flor`) reads as `true`, as Git treats it.
 */
export function configSync(cwd: string, pattern: string): Map<string, string> {
  const m = new Map<string, string>();
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
