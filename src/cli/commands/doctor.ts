import type { CommandModule } from 'yargs';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { requireRepoSync } from '../../store/git.js';
import { doctor, type DoctorReport, type Problem, type Repair } from '../../store/doctor.js';
import { ExitError, out } from '../print.js';
import type { RepoInfo } from '../../store/git.js';
import { safeText } from '../../terminal-text.js';

/** Bytes under `dir` (a replay work directory: a checked-out snapshot and task journals). */
function sizeOf(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += sizeOf(p);
    else if (e.isFile()) n += statSync(p).size;
  }
  return n;
}

/**
 * What interrupted replays leave (src/replay is above the store, so this is the command's part):
 * the lock of a holder that died is removed, as the next replay would; work directories are
 * reported, not removed, since a replay of the same names reuses their finished tasks.
 */
async function replayHousekeeping(repo: RepoInfo): Promise<{ repaired: Repair[]; notes: string[] }> {
  const { clearDeadLock } = await import('../../store/replay-lock.js');
  const out = { repaired: [] as Repair[], notes: [] as string[] };
  const lock = await clearDeadLock(repo);
  if (lock.removed) out.repaired.push({ kind: 'replay-lock-removed', text: `removed the replay lock left by pid ${lock.removed.pid} (${lock.removed.host}, since ${lock.removed.since}), which is gone` });
  if (lock.live) {
    out.notes.push(`a replay is running (pid ${lock.live.pid}, since ${lock.live.since}): its work directories were not looked at`);
    return out;
  }
  const root = join(repo.commonDir, 'flor', 'replay');
  let dirs: string[] = [];
  try {
    dirs = readdirSync(root);
  } catch {
    return out;
  }
  if (dirs.length) {
    const kb = Math.ceil(dirs.reduce((a, d) => a + sizeOf(join(root, d)), 0) / 1024);
    out.notes.push(`${dirs.length} work director${dirs.length === 1 ? 'y' : 'ies'} of interrupted replays (${kb} KB in ${root}): a replay of the same names reuses their finished tasks; delete ${root} to reclaim the space`);
  }
  return out;
}

function where(p: Problem): string {
  const w = p.run ? `run ${p.run}` : p.ref ?? p.path;
  return w ? `${w}: ` : '';
}

/** What the user reads, and whether damage remains (the report lists only what was not repaired). */
export function doctorText(r: DoctorReport, notes: string[] = []): { text: string; damaged: boolean } {
  let text = '';
  for (const id of r.recovered) text += `recovered run ${id} from its journal (status crashed)\n`;
  for (const r2 of r.repaired) text += `repaired: ${safeText(r2.text)}\n`;
  for (const p of r.problems) text += `damage: ${safeText(where(p) + p.problem)}\n`;
  for (const n of notes) text += `note: ${n}\n`;
  if (r.problems.length === 0) text += `ok: ${r.checked} run${r.checked === 1 ? '' : 's'} checked, refs/flor sound\n`;
  else text += `${r.problems.length} problem${r.problems.length === 1 ? '' : 's'} left; ${r.checked} run${r.checked === 1 ? '' : 's'} sound\n`;
  return { text, damaged: r.problems.length > 0 };
}

export const command: CommandModule<object, { repair: boolean }> = {
  command: 'doctor',
  describe: 'Recover runs from orphaned journals, verify flor refs and objects (exit 1 on damage left)',
  builder: (y) =>
    y
      .option('repair', { type: 'boolean', default: false, describe: 'also repair damage: drop broken runs from this clone\'s ledger history (with a removal record), restore a lost ledger tip, re-fetch or drop broken fetched ledgers, remove damaged checkpoints' })
      .example('$0 doctor', 'after a crash or a suspicious error; exit 1 when damage remains')
      .example('$0 doctor --repair', 'when doctor reports damage: afterwards `git gc` and `git fsck` succeed'),
  handler: async (argv) => {
    const repo = requireRepoSync(process.cwd());
    const report = await doctor(repo, { repair: argv.repair });
    // A notes index rebuilt from the ledgers knows nothing of amends and rebases; the store does
    // not reach into sync, so the command re-applies the map (as every other rebuild does).
    if (report.repaired.some((r) => r.kind === 'notes-rebuilt')) await (await import('../../sync/rewrite.js')).reapplyRewrites(repo);
    const replays = await replayHousekeeping(repo);
    report.repaired.push(...replays.repaired);
    const { text, damaged } = doctorText(report, replays.notes);
    await out(text);
    if (damaged) throw new ExitError(1);
  },
};
