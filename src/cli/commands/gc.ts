import type { CommandModule } from 'yargs';
import { requireRepoSync } from '../../store/git.js';
import { readCheckpointManifest } from '../../store/ledger.js';
import { removeCheckpoints } from '../../store/gc.js';
import { sizeText } from '../../store/code-select.js';
import { listHistory } from '../../query/history.js';
import { out, warnBroken } from '../print.js';

export const command: CommandModule<object, { 'dry-run': boolean }> = {
  command: 'gc',
  describe: 'Delete the local checkpoints of runs removed with `git flor rm` (no other run shares them)',
  builder: (y) =>
    y
      .option('dry-run', { type: 'boolean', default: false, describe: 'say what would be deleted, delete nothing' })
      .example('$0 gc', 'frees the disk the removed runs\' checkpoints took; they can no longer be replayed from them')
      .example('$0 gc --dry-run', 'what it would free'),
  handler: async (argv) => {
    const repo = requireRepoSync(process.cwd());
    const { runs, removed = [], broken } = await listHistory(repo);
    warnBroken(broken);
    // Checkpoints are content-addressed: a file a visible run also uses is kept.
    const keysOf = async (rs: typeof runs) => (await Promise.all(rs.filter((r) => r.ckpt).map(async (r) => (await readCheckpointManifest(repo, r.ckpt!)).keys))).flat();
    const kept = new Set(await keysOf(runs));
    const doomed = new Set((await keysOf(removed)).filter((k) => !kept.has(k)));
    if (argv['dry-run']) return out(`would delete ${doomed.size} checkpoint file(s) of ${removed.length} removed run(s)\n`);
    const r = removeCheckpoints(repo.commonDir, doomed);
    await out(`deleted ${r.files} checkpoint file(s), ${sizeText(r.bytes)}, of ${removed.length} removed run(s)\n`);
  },
};
