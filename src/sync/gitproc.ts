/**
 * The `git push` command line that is running the pre-push hook. Git tells a hook neither about
 * `--dry-run` nor `--mirror`, yet a dry run must push nothing and a mirror push must be refused, so
 * the hook looks up its ancestors (through husky or a user's wrapper there may be a few shells in
 * between). Best effort: null when no ancestor is a `git … push`.
 */
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

interface Proc {
  ppid: number;
  args: string[];
}

function proc(pid: number): Proc | null {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // `pid (comm) state ppid …`; comm may hold spaces and parentheses, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return { ppid, args };
  } catch {
    // no /proc (macOS, BSD): ps gives the same, with arguments joined by spaces
    const r = spawnSync('ps', ['-o', 'ppid=', '-o', 'args=', '-p', String(pid)], { encoding: 'utf8' });
    const m = /^\s*(\d+)\s+(.*)$/.exec(r.stdout ?? '');
    return m ? { ppid: Number(m[1]), args: m[2]!.split(/\s+/) } : null;
  }
}

export function gitPushArgs(start: number = process.ppid): string[] | null {
  let pid = start;
  for (let depth = 0; depth < 10 && pid > 1; depth++) {
    const p = proc(pid);
    if (!p) return null;
    const exe = p.args[0] ?? '';
    if (/(^|\/)git(\.exe)?$/.test(exe) && p.args.includes('push')) return p.args.slice(p.args.indexOf('push') + 1);
    pid = p.ppid;
  }
  return null;
}
