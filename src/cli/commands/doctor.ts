import type { CommandModule } from 'yargs';
import { requireRepoSync } from '../../store/git.js';
import { doctor, type DoctorReport, type Problem } from '../../store/doctor.js';
import { ExitError, out } from '../print.js';

function where(p: Problem): string {
  const w = p.run ? `run ${p.run}` : p.ref ?? p.path;
  return w ? `${w}: ` : '';
}

/** What the user reads, and whether damage remains (the report lists only what was not repaired). */
export function doctorText(r: DoctorReport): { text: string; damaged: boolean } {
  let text = '';
  for (const id of r.recovered) text += `recovered run ${id} from its journal (status crashed)\n`;
  for (const line of r.repaired) text += `repaired: ${line}\n`;
  for (const p of r.problems) text += `damage: ${where(p)}${p.problem}\n`;
  if (r.problems.length === 0) text += `ok: ${r.checked} run${r.checked === 1 ? '' : 's'} checked, refs/flor sound\n`;
  else text += `${r.problems.length} problem${r.problems.length === 1 ? '' : 's'} left; ${r.checked} run${r.checked === 1 ? '' : 's'} sound\n`;
  return { text, damaged: r.problems.length > 0 };
}

export const command: CommandModule<object, object> = {
  command: 'doctor',
  describe: 'Recover runs from orphaned journals, verify flor refs and objects (exit 1 on damage left)',
  builder: (y) => y.example('$0 doctor', 'after a crash or a suspicious error; exit 1 when damage remains'),
  handler: async () => {
    const repo = requireRepoSync(process.cwd());
    const { text, damaged } = doctorText(await doctor(repo));
    await out(text);
    if (damaged) throw new ExitError(1);
  },
};
