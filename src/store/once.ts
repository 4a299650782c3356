/** Per-clone state of what flor has told the user, and whether `git flor init` set the clone up. */
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';

/** Written by `git flor init` (sync/install.ts): its presence means the clone was set up. */
export function installStateFile(commonDir: string): string {
  return join(commonDir, 'flor', 'install.json');
}

/**
 * True the first time it is asked for `what` in this clone, false ever after (and when the
 * marker cannot be written: a hint repeated is better than a run that fails over a hint).
 */
export function firstTime(commonDir: string, what: string): boolean {
  const dir = join(commonDir, 'flor', 'said');
  try {
    mkdirSync(dir, { recursive: true });
    closeSync(openSync(join(dir, what), 'wx'));
    return true;
  } catch {
    return false;
  }
}

export function initDone(commonDir: string): boolean {
  return existsSync(installStateFile(commonDir));
}
