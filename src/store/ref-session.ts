/**
 * Ref updates through one long-lived `git update-ref --stdin` per repository: each update is a
 * transaction of its own (`start`, the update, `prepare`, `commit`), Git's own compare-and-swap
 * as with `update-ref REF NEW OLD`. A replay moves refs several times (its lock, one ledger append
 * per run, the lock again); each process it started for that forked the replay's whole process,
 * which grows with what it has read and parsed, and costs the calling thread tens of ms on a
 * loaded machine. The session is started at the first update, while the process is still small.
 *
 * A transaction that fails (the ref moved, or its `.lock` is held) ends the session: Git dies with
 * its message, which the caller reads as from a one-shot `update-ref`; the next update starts a new
 * session. It creates no reflog: a ref whose reflog is not there yet is updated by a process of its
 * own (casRef); entries made here carry the session's message.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { childProcess } from './builtins.js';
import { git, gitEnv, repoCwd, type RepoInfo } from './git.js';

export interface RefResult {
  ok: boolean;
  /** Git's message when not ok. */
  stderr: string;
}

const SESSION_MESSAGE = 'git flor: replay';

class Session {
  private child: ChildProcessWithoutNullStreams;
  private out = '';
  private err = '';
  private current: { answers: number; resolve: (r: RefResult) => void } | null = null;
  dead = false;

  constructor(cwd: string) {
    this.child = childProcess().spawn('git', ['update-ref', '-m', SESSION_MESSAGE, '--stdin'], { cwd, env: gitEnv() });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => {
      this.out += d;
      let nl: number;
      while ((nl = this.out.indexOf('\n')) >= 0) {
        this.out = this.out.slice(nl + 1);
        const c = this.current;
        if (c && --c.answers === 0) {
          this.current = null;
          this.idle();
          c.resolve({ ok: true, stderr: '' });
        }
      }
    });
    this.child.stderr.on('data', (d: Buffer) => (this.err += d.toString()));
    this.child.stdin.on('error', () => {});
    const end = (): void => {
      this.dead = true;
      const c = this.current;
      this.current = null;
      c?.resolve({ ok: false, stderr: this.err || 'git update-ref --stdin exited' });
    };
    this.child.on('error', end);
    this.child.on('close', end);
    this.idle();
  }

  /** One transaction: `update REF NEW OLD` or `delete REF OLD`; the caller sends one at a time. */
  run(line: string): Promise<RefResult> {
    if (this.dead) return Promise.resolve({ ok: false, stderr: this.err || 'git update-ref --stdin exited' });
    return new Promise((resolve) => {
      this.current = { answers: 3, resolve };
      this.child.ref();
      (this.child.stdout as unknown as { ref?: () => void }).ref?.();
      this.child.stdin.write(`start\n${line}\nprepare\ncommit\n`);
    });
  }

  /** Between transactions the session must not keep the process alive. */
  private idle(): void {
    this.child.unref();
    (this.child.stdout as unknown as { unref?: () => void }).unref?.();
    (this.child.stderr as unknown as { unref?: () => void }).unref?.();
    (this.child.stdin as unknown as { unref?: () => void }).unref?.();
  }

  close(): Promise<void> {
    this.child.stdin.end();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => this.child.once('exit', () => resolve()));
  }
}

const sessions = new Map<string, Session>();
/** Transactions queued per repository: a session answers one at a time. */
const queues = new Map<string, Promise<unknown>>();

function session(cwd: string): Session {
  let s = sessions.get(cwd);
  if (!s || s.dead) sessions.set(cwd, (s = new Session(cwd)));
  return s;
}

/** A Git older than 2.27 has no transactions in `update-ref --stdin`: one process per update there. */
let sessionless = false;

function transact(repo: RepoInfo, line: string, oneShot: string[]): Promise<RefResult> {
  const cwd = repoCwd(repo);
  const alone = (): Promise<RefResult> => git(['update-ref', '-m', SESSION_MESSAGE, ...oneShot], { cwd, okCodes: [1, 128] }).then((r) => ({ ok: r.code === 0, stderr: r.stderr }));
  const prev = queues.get(cwd) ?? Promise.resolve();
  const next = prev.then(async () => {
    if (sessionless) return alone();
    const r = await session(cwd).run(line);
    if (r.ok || !/unknown command: start/.test(r.stderr)) return r;
    sessionless = true;
    return alone();
  });
  queues.set(cwd, next.catch(() => undefined));
  return next;
}

/** `update-ref REF NEW OLD` (OLD null: the ref must not exist) in the repository's session. */
export function sessionUpdate(repo: RepoInfo, ref: string, next: string, prev: string | null): Promise<RefResult> {
  return transact(repo, prev === null ? `create ${ref} ${next}` : `update ${ref} ${next} ${prev}`, [ref, next, prev ?? '0'.repeat(40)]);
}

/** `update-ref -d REF OLD` in the repository's session. */
export function sessionDelete(repo: RepoInfo, ref: string, prev: string): Promise<RefResult> {
  return transact(repo, `delete ${ref} ${prev}`, ['-d', ref, prev]);
}

/** Starts the repository's session now, while this process is small (its fork is then cheap). */
export function openRefSession(repo: RepoInfo): void {
  session(repoCwd(repo));
}

/** Ends every session this process started and waits until they are gone. */
export async function closeRefSessions(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  queues.clear();
  await Promise.all(all.map((s) => s.close()));
}
