/** Deleting local checkpoint files (they are never pushed: `.git/flor/ckpt/`). */
import { rmSync, statSync } from 'node:fs';
import { checkpointPath } from './checkpoints.js';

/** Removes these checkpoint files; returns how many existed and their size on disk. */
export function removeCheckpoints(commonDir: string, keys: Iterable<string>): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const key of keys) {
    const p = checkpointPath(commonDir, key);
    let size: number;
    try {
      size = statSync(p).size;
    } catch {
      continue;
    }
    rmSync(p, { force: true });
    files++;
    bytes += size;
  }
  return { files, bytes };
}
