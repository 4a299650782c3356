/**
 * The process that captures a run's journal once the run's process has ended, started with the
 * run: a shell blocked reading a pipe only the run's process writes to (it never does), which at
 * end of file (that process exited, however it ended: the kernel closes the pipe) execs the
 * capturer, if the journal is still waiting. Before it blocks, the same shell lists the work
 * tree's code for the start's snapshot (code-select.ts's `git ls-files`), so a start forks the
 * script's process once, not twice: a fork from Node copies its page tables and runs its child
 * setup, the shell's fork of git costs a fraction of that, and the script's process reads its
 * settings and HEAD while git lists. Only the listing comes from the shell: what each file holds
 * is still read by the script's process, at start (worktree.ts).
 */
import { mkdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { spawnDetached, type DetachedChild } from './detached-child.js';
import { nowMs } from './builtins.js';
import { codeListArgs } from './code-select.js';
import { gitEnv, type RepoInfo } from './git.js';

export interface WaitingCapture {
  child: DetachedChild;
  /**
   * The `git ls-files` output the shell wrote (waits until it did), or null when there is none
   * to read: git failed, the shell is gone, or it took longer than LIST_WAIT_MS. The caller then
   * lists the code itself, and Git's own error, if any, is the one reported. Once only.
   */
  listed(): string | null;
}

/** How long a start waits for the shell's listing before listing the code itself. */
const LIST_WAIT_MS = 60_000;

let count = 0;

/** One word for sh -c (single quotes, a quote inside as '\''). */
function shWord(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // not there
  }
}

/**
 * Whether our child `pid` has ended (a zombie: this process has not reaped it, the event loop is
 * not turning). Known on Linux only, from /proc; elsewhere the wait ends at LIST_WAIT_MS.
 */
function ended(pid: number | undefined): boolean {
  if (pid === undefined) return true;
  if (process.platform !== 'linux') return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

/**
 * Starts the waiting capturer of the journal at `journal`, to run `capture` (argv) in the git
 * dir, and the listing of `repo`'s code. Detached (a session of its own, stdio on /dev/null but
 * the pipe), so a Ctrl-C meant for the script does not reach it; alive as long as the script is,
 * so never its zombie; at its exit adopted by init, as a capturer started at exit would be.
 * `dropEnv`: variables of the script's environment the capturer must not inherit. Null where
 * there is no /bin/sh (Windows) or it could not start: the capture is then started at exit.
 */
export function startWaitingCapture(repo: RepoInfo, journal: string, capture: string[], dropEnv: string[]): WaitingCapture | null {
  if (process.platform === 'win32' || !repo.top) return null;
  // Named as doctor.ts expects of scratch files (`<name>-<pid>-<hex>`): removed if this process dies first.
  const name = `${process.pid}-${Date.now().toString(16)}${(count++).toString(16)}`;
  const tmp = join(repo.commonDir, 'flor', 'tmp');
  const list = join(tmp, `list-${name}`);
  const done = join(tmp, `listed-${name}`);
  const ls = codeListArgs(repo.top).map(shWord).join(' ');
  // git's stdin is not the pipe; its exit status, once written with its newline, says the listing
  // is complete. The runtime removes both files once read; if it died first, the shell does.
  const script = `git ${ls} </dev/null >"$1" 2>/dev/null; echo $? >"$2"; read -r _; if [ -e "$1" ] || [ -e "$2" ]; then rm -f "$1" "$2"; fi; cd "$3" && [ -e "$4" ] || exit 0; shift 4; exec "$@"`;
  let child: DetachedChild;
  try {
    mkdirSync(tmp, { recursive: true });
    // Could not start (here, or asynchronously: no pid): the exit path starts the capture instead.
    child = spawnDetached('/bin/sh', ['-c', script, 'sh', list, done, repo.commonDir, journal, ...capture], {
      cwd: repo.top,
      env: gitEnv(Object.fromEntries(dropEnv.map((k) => [k, undefined]))),
    });
  } catch {
    return null;
  }
  let asked = false;
  return {
    child,
    listed(): string | null {
      if (asked || child.pid === undefined) return null;
      asked = true;
      // Atomics.wait sleeps without turning the event loop (the start is synchronous).
      const cell = new Int32Array(new SharedArrayBuffer(4));
      const until = nowMs() + LIST_WAIT_MS;
      let pause = 0.2;
      try {
        for (;;) {
          // Looked for without an exception (each costs a stack trace) until the shell made it.
          const st = statSync(done, { throwIfNoEntry: false });
          const status = st && st.size > 0 ? readFileSync(done, 'latin1') : '';
          if (status.endsWith('\n')) return status === '0\n' ? readFileSync(list).toString() : null;
          if (nowMs() > until || ended(child.pid)) return null;
          Atomics.wait(cell, 0, 0, pause);
          pause = Math.min(pause * 1.5, 1);
        }
      } catch {
        return null;
      } finally {
        removeFile(list);
        removeFile(done);
      }
    },
  };
}
