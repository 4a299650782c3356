/**
 * The only door to Git: the canonical `git` binary. docs/design.md records why (isomorphic-git loses
 * concurrent ref updates, cannot read fanned-out notes, and is quadratic on large trees).
 * One-shot plumbing goes through `git()` / `gitSync()`; object reads go through one long-lived
 * `cat-file --batch` per repository (`CatFile`).
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { childProcess } from './builtins.js';
import { FlorError } from '../errors.js';
import { findRepoFromFiles } from './ref-files.js';
import type { LooseRead } from './loose-read.js';

export interface GitOptions {
  cwd: string;
  input?: string | Buffer;
  env?: Record<string, string | undefined>;
  /** Exit codes that are not errors (e.g. 1 for `update-ref` CAS misses is NOT here: it exits 128). */
  okCodes?: number[];
}

export interface GitResult {
  stdout: Buffer;
  stderr: string;
  code: number;
}

/** Identity for flor's own commits: the user's may be unset, and flor's commits are not theirs. */
export const FLOR_IDENT: Record<string, string> = {
  GIT_AUTHOR_NAME: 'git flor',
  GIT_AUTHOR_EMAIL: 'flor@localhost',
  GIT_COMMITTER_NAME: 'git flor',
  GIT_COMMITTER_EMAIL: 'flor@localhost',
};

export function gitEnv(extra?: Record<string, string | undefined>): NodeJS.ProcessEnv {
  // Hooks run git with GIT_DIR/GIT_INDEX_FILE set for the *user's* operation; a flor
  // subprocess must not inherit an index path it did not ask for. LANGUAGE=en: a few lost races
  // are told apart by Git's message (a ref's .lock file exists), which gettext would translate
  // under the user's locale; LANGUAGE picks the (untranslated) messages without touching
  // LC_CTYPE, so paths and content are read as before.
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', LANGUAGE: 'en' };
  delete env.GIT_INDEX_FILE;
  if (extra) for (const [k, v] of Object.entries(extra)) v === undefined ? delete env[k] : (env[k] = v);
  return env;
}

function failure(args: string[], code: number, stderr: string): FlorError {
  const first = stderr.trim().split('\n')[0] ?? '';
  return new FlorError('GIT_FAILED', `git ${args[0]} failed (exit ${code}): ${first}`, {
    hint: 'check that this is a healthy Git repository (`git fsck`)',
    data: { args, code, stderr },
  });
}

export function git(args: string[], opts: GitOptions): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    let child: ChildProcessWithoutNullStreams;
    try {
      child = childProcess().spawn('git', args, { cwd: opts.cwd, env: gitEnv(opts.env) });
    } catch (e) {
      reject(new FlorError('GIT_MISSING', 'could not start git', { hint: 'install git and put it on PATH', cause: e }));
      return;
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) =>
      reject(new FlorError('GIT_MISSING', `could not start git: ${e.message}`, { hint: 'install git and put it on PATH', cause: e })),
    );
    child.on('close', (code) => {
      const res = { stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString(), code: code ?? -1 };
      if (res.code === 0 || opts.okCodes?.includes(res.code)) resolve(res);
      else reject(failure(args, res.code, res.stderr));
    });
    child.stdin.on('error', () => {}); // git may exit before reading all input; its exit code tells
    child.stdin.end(opts.input ?? '');
  });
}

/** Where git commands for this repository run (inside hooks GIT_DIR may be relative to the top). */
export function repoCwd(repo: RepoInfo): string {
  return repo.top ?? repo.gitDir;
}

/** `git` in this repository: the one place that picks the working directory of a git command. */
export function gitRepo(repo: RepoInfo, args: string[], opts: Omit<GitOptions, 'cwd'> = {}): Promise<GitResult> {
  return git(args, { ...opts, cwd: repoCwd(repo) });
}

/** Synchronous gitRepo. */
export function gitRepoSync(repo: RepoInfo, args: string[], opts: Omit<GitOptions, 'cwd'> & { timeoutMs?: number } = {}): GitResult {
  return gitSync(args, { ...opts, cwd: repoCwd(repo) });
}

/** Text output of a git command, trailing newline removed. */
export async function gitText(args: string[], opts: GitOptions): Promise<string> {
  return (await git(args, opts)).stdout.toString().replace(/\n$/, '');
}

/** Synchronous form, for process-exit paths where the event loop will not turn again. */
export function gitSync(args: string[], opts: GitOptions & { timeoutMs?: number }): GitResult {
  const r = childProcess().spawnSync('git', args, {
    cwd: opts.cwd,
    env: gitEnv(opts.env),
    input: opts.input ?? '',
    maxBuffer: 1 << 30,
    timeout: opts.timeoutMs,
  });
  if (r.error) throw new FlorError('GIT_MISSING', `could not run git: ${r.error.message}`, { hint: 'install git and put it on PATH', cause: r.error });
  const res = { stdout: r.stdout, stderr: r.stderr.toString(), code: r.status ?? -1 };
  if (res.code !== 0 && !opts.okCodes?.includes(res.code)) throw failure(args, res.code, res.stderr);
  return res;
}

export interface GitObject {
  oid: string;
  type: 'blob' | 'tree' | 'commit' | 'tag';
  data: Buffer;
}

/**
 * One long-lived `git cat-file --batch`: reading N objects costs one process, not N.
 * Requests are answered strictly in order, so a FIFO of pending reads is enough.
 * The child is unref'd so it never keeps a user's script alive at exit.
 */
export class CatFile {
  /** Started at the first read a loose file does not answer (a query of fresh runs may need none). */
  private child: ChildProcessWithoutNullStreams | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private parts: Buffer[] = [];
  private partsLen = 0;
  private need = 0;
  private pending: Array<{ spec: string; resolve: (o: GitObject | null) => void; reject: (e: Error) => void }> = [];
  private closed = false;
  private stderr = '';

  /** `loose`: reads loose objects without Git (loose-read.ts); what it leaves goes to cat-file. */
  constructor(readonly cwd: string, private loose: LooseRead | null = null) {}

  private start(): ChildProcessWithoutNullStreams {
    const child = childProcess().spawn('git', ['cat-file', '--batch'], { cwd: this.cwd, env: gitEnv() });
    this.child = child;
    this.stderr = '';
    child.stdout.on('data', (d: Buffer) => this.child === child && this.onData(d));
    child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-2000)));
    child.on('error', (e) => this.child === child && this.failAll(e));
    child.on('close', () => this.child === child && this.died());
    child.stdin.on('error', () => {});
    this.unref();
    return child;
  }

  /**
   * `cat-file --batch` dies on an object whose header reads but whose body is corrupt. That read
   * fails (OBJECT_UNREADABLE, with Git's words); the reads queued behind it go to a new process,
   * so one damaged object never fails the reads of others.
   */
  private died(): void {
    if (this.closed || this.pending.length === 0) {
      this.failAll(new Error('git cat-file exited'));
      return;
    }
    const head = this.pending.shift()!;
    const why = this.stderr.trim().split('\n').filter(Boolean).pop() ?? 'git cat-file exited';
    head.reject(new FlorError('OBJECT_UNREADABLE', `object ${head.spec} cannot be read: ${why}`, { hint: 'run `git flor doctor`', data: { spec: head.spec } }));
    this.buf = Buffer.alloc(0);
    this.parts = [];
    this.partsLen = 0;
    this.need = 0;
    const rest = this.pending;
    this.start();
    if (rest.length) {
      this.ref();
      for (const p of rest) this.child!.stdin.write(p.spec + '\n');
    }
  }

  private unref(): void {
    if (!this.child) return;
    this.child.unref();
    (this.child.stdout as unknown as { unref?: () => void }).unref?.();
    (this.child.stdin as unknown as { unref?: () => void }).unref?.();
    (this.child.stderr as unknown as { unref?: () => void }).unref?.();
  }

  /** While a read is pending the process must stay alive for the answer; idle, it must not. */
  private ref(): void {
    if (!this.child) return;
    this.child.ref();
    (this.child.stdout as unknown as { ref?: () => void }).ref?.();
  }

  /** Reads an object by oid or by any revision spec (`<commit>:path`). null when missing. */
  read(spec: string): Promise<GitObject | null> {
    if (this.closed) return Promise.reject(new FlorError('GIT_FAILED', 'object reader is closed'));
    const hit = this.loose?.(spec);
    if (hit) return hit instanceof Promise ? hit.then((o) => o ?? this.ask(spec)) : Promise.resolve(hit);
    return this.ask(spec);
  }

  private ask(spec: string): Promise<GitObject | null> {
    if (this.closed) return Promise.reject(new FlorError('GIT_FAILED', 'object reader is closed'));
    if (/[\n]/.test(spec)) return Promise.reject(new FlorError('BAD_REVISION', `bad object name: ${JSON.stringify(spec)}`));
    const child = this.child ?? this.start();
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) this.ref();
      this.pending.push({ spec, resolve, reject });
      child.stdin.write(spec + '\n');
    });
  }

  /** Like read, but a missing object or a wrong type is a typed error. */
  async readAs(spec: string, type: GitObject['type']): Promise<GitObject> {
    const o = await this.read(spec);
    if (!o) throw new FlorError('OBJECT_MISSING', `object ${spec} is missing`, { hint: 'run `git flor doctor`', data: { spec } });
    if (o.type !== type) throw new FlorError('OBJECT_TYPE', `object ${spec} is a ${o.type}, expected a ${type}`, { hint: 'run `git flor doctor`', data: { spec } });
    return o;
  }

  private onData(d: Buffer): void {
    // While a large object's body arrives, only collect the pieces: concatenating the growing
    // buffer on every 64 KiB pipe read is quadratic (a 29 MB blob took 6.5 s instead of 0.2 s).
    if (this.need > 0 && this.buf.length + this.partsLen + d.length < this.need) {
      this.parts.push(d);
      this.partsLen += d.length;
      return;
    }
    if (this.parts.length) {
      this.buf = Buffer.concat([this.buf, ...this.parts, d]);
      this.parts = [];
      this.partsLen = 0;
    } else this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    this.need = 0;
    for (;;) {
      const head = this.pending[0];
      if (!head) {
        this.unref();
        return;
      }
      const nl = this.buf.indexOf(10);
      if (nl < 0) return;
      const line = this.buf.subarray(0, nl).toString();
      if (line.endsWith(' missing') || line.endsWith(' ambiguous')) {
        this.buf = this.buf.subarray(nl + 1);
        this.pending.shift();
        head.resolve(null);
        continue;
      }
      const [oid, type, sizeStr] = line.split(' ');
      const size = Number(sizeStr);
      if (this.buf.length < nl + 1 + size + 1) {
        this.need = nl + 1 + size + 1; // wait for the whole object and its LF
        return;
      }
      const body = this.buf.subarray(nl + 1, nl + 1 + size);
      // An object that is most of the buffer it arrived in (a segment blob) is handed out as a
      // view: copying each one cost an allocation of its own (an mmap past 128 KiB). A small one
      // is copied, so that it does not keep a whole pipe chunk alive.
      const data = size * 2 >= this.buf.length ? body : Buffer.from(body);
      this.buf = this.buf.subarray(nl + 1 + size + 1);
      this.pending.shift();
      head.resolve({ oid: oid!, type: type as GitObject['type'], data });
    }
  }

  private failAll(e: Error): void {
    this.closed = true;
    for (const p of this.pending.splice(0)) p.reject(new FlorError('GIT_FAILED', `git cat-file: ${e.message}`, { cause: e }));
  }

  /**
   * Ends the process (it exits at end of input) and resolves once it has been reaped. A caller
   * about to exit waits for this: a child still running when its parent exits is left to init,
   * which may never reap it (a defunct `git` in a container whose init does not).
   */
  close(): Promise<void> {
    const child = this.child;
    if (!this.closed) {
      this.closed = true;
      child?.stdin.end();
    }
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    this.ref(); // keep the loop alive for the exit event, the one thing still awaited
    return new Promise((resolve) => child.once('exit', () => resolve()));
  }
}

export interface TreeEntry {
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  oid: string;
  name: string;
}

/** Parses Git's binary tree format: `<mode> <name>\0<20-byte oid>` repeated. */
export function parseTree(data: Buffer): TreeEntry[] {
  const out: TreeEntry[] = [];
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(32, i);
    const nul = data.indexOf(0, sp);
    if (sp < 0 || nul < 0 || nul + 21 > data.length) throw new FlorError('CORRUPT_TREE', 'malformed tree object');
    const mode = data.subarray(i, sp).toString();
    const name = data.subarray(sp + 1, nul).toString();
    const oid = data.subarray(nul + 1, nul + 21).toString('hex');
    const type = mode === '40000' ? 'tree' : mode === '160000' ? 'commit' : 'blob';
    out.push({ mode: mode === '40000' ? '040000' : mode, type, oid, name });
    i = nul + 21;
  }
  return out;
}

export interface RepoInfo {
  /** Top of the work tree (null for a bare repository). */
  top: string | null;
  /** The repository's git dir (per-worktree). */
  gitDir: string;
  /** Shared git dir: where refs/flor, .git/flor and config live. */
  commonDir: string;
}

/** Locates the repository containing `cwd`; null when `cwd` is not inside one. */
export function findRepoSync(cwd: string): RepoInfo | null {
  const known = findRepoFromFiles(cwd);
  if (known) return known;
  const r = childProcess().spawnSync('git', ['rev-parse', '--path-format=absolute', '--show-toplevel', '--git-dir', '--git-common-dir'], {
    cwd,
    env: gitEnv(),
  });
  if (r.error) throw new FlorError('GIT_MISSING', `could not run git: ${r.error.message}`, { hint: 'install git and put it on PATH' });
  if (r.status !== 0) {
    // A bare repository has no top level: ask again without it.
    const b = childProcess().spawnSync('git', ['rev-parse', '--path-format=absolute', '--git-dir', '--git-common-dir'], { cwd, env: gitEnv() });
    if (b.status !== 0) return null;
    const [gitDir, commonDir] = b.stdout.toString().trim().split('\n');
    return { top: null, gitDir: gitDir!, commonDir: commonDir! };
  }
  const [top, gitDir, commonDir] = r.stdout.toString().trim().split('\n');
  return { top: top!, gitDir: gitDir!, commonDir: commonDir! };
}

export function requireRepoSync(cwd: string): RepoInfo {
  const info = findRepoSync(cwd);
  if (!info) throw new FlorError('NOT_A_REPO', `not inside a Git repository: ${cwd}`, { hint: 'run this inside a Git work tree (`git init` makes one)' });
  return info;
}
