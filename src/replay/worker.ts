/**
 * Runs one replay task. The old version runs in a child process (its own Node, its own execArgv,
 * its own module graph), started for it or started ahead (warm.ts); this waits for it and decodes
 * the journal it wrote.
 *
 * The task's journal is written to `<out>.part` and renamed to `<out>` only after the child exited
 * cleanly: a later replay finding `<out>` reuses it instead of running the segment again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readJournal } from '../store/journal.js';
import type { RecordColumns } from '../store/records.js';
import { REPLAY_ENV, type ReplaySpec } from '../runtime/replay-spec.js';
import { childEnv, type WarmPool } from './warm.js';

export interface ReplayTask {
  run: string;
  segment: number;
  spec: ReplaySpec;
  specPath: string;
  node: string;
  execArgv: string[];
  script: string; // absolute
  argv: string[];
  cwd: string; // absolute
  /** Extra environment (tests inject failures through it). */
  env?: Record<string, string>;
  timeoutMs?: number;
}

export type ReplayTaskResult =
  | { ok: true; run: string; segment: number; records: RecordColumns; ms: number; reused: boolean }
  | { ok: false; run: string; segment: number; error: string; exitCode: number | null; signal: string | null; stderrTail: string; ms: number };

const TAIL = 4000;

interface Outcome {
  code: number | null;
  signal: string | null;
  spawnError: string | null;
}

function tail(chunks: Buffer[]): string {
  const s = Buffer.concat(chunks).toString();
  return s.length > TAIL ? s.slice(s.length - TAIL) : s;
}

/**
 * `exited`: called as soon as the child is gone, before its journal is read (the next task may
 * start). `warm`: where a process started ahead may take the task.
 */
export default async function runTask(task: ReplayTask, exited?: () => void, warm?: WarmPool): Promise<ReplayTaskResult> {
  const t0 = Date.now();
  const final = task.spec.out;
  if (existsSync(final)) {
    try {
      const j = readJournal(final);
      warm?.ahead(-1); // this task needs no process
      return { ok: true, run: task.run, segment: task.segment, records: j.records, ms: Date.now() - t0, reused: true };
    } catch {
      rmSync(final, { force: true }); // unreadable leftovers are simply redone
    }
  }
  const part = final + '.part';
  rmSync(part, { force: true });
  const spec: ReplaySpec = { ...task.spec, out: part };
  writeFileSync(task.specPath, JSON.stringify(spec));

  const taskEnv = { [REPLAY_ENV]: task.specPath };
  const env = childEnv(task.env);
  const err: Buffer[] = [];
  let errBytes = 0;
  const watch = (child: ChildProcess, timeoutMs?: number): Promise<Outcome> => new Promise((resolve) => {
    // A warm process was started before its task: the task's time limit counts from now.
    const timer = timeoutMs ? setTimeout(() => child.kill('SIGKILL'), timeoutMs) : null;
    child.stderr!.on('data', (d: Buffer) => {
      err.push(d);
      errBytes += d.length;
      // keep memory bounded: only the tail is ever reported
      while (errBytes > 4 * TAIL && err.length > 1) errBytes -= err.shift()!.length;
    });
    const settle = (o: Outcome): void => {
      if (timer) clearTimeout(timer);
      resolve(o);
    };
    child.on('error', (e) => settle({ code: null, signal: null, spawnError: e.message }));
    child.on('close', (code, signal) => settle({ code, signal, spawnError: null }));
  });
  const cold = (): Promise<Outcome> => {
    err.length = 0;
    errBytes = 0;
    return watch(spawn(task.node, [...task.execArgv, task.script, ...task.argv], {
      cwd: task.cwd, env: { ...env, ...taskEnv }, stdio: ['ignore', 'ignore', 'pipe'], timeout: task.timeoutMs, killSignal: 'SIGKILL',
    }));
  };
  const warmed = warm?.start(task, env, taskEnv) ?? null;
  let outcome = await (warmed ? watch(warmed.child, task.timeoutMs) : cold());
  // A warm process that died before it began the task (killed meanwhile) leaves it to a process of its own.
  if (warmed && !warmed.started() && !outcome.spawnError) {
    rmSync(part, { force: true });
    outcome = await cold();
  }
  exited?.();
  const ms = Date.now() - t0;
  // The task its freed worker starts goes first: it is a few promise steps away (the pool's import,
  // then its runTask up to handing the task to a process), and the journal read below (3000
  // records: ~8 ms of this thread) came before it, the next task's process waiting meanwhile.
  if (exited) await new Promise<void>((r) => setImmediate(r));
  const failed = (error: string) => ({
    ok: false as const, run: task.run, segment: task.segment, error, exitCode: outcome.code, signal: outcome.signal, stderrTail: tail(err), ms,
  });
  if (outcome.spawnError) return failed(`could not start ${task.node}: ${outcome.spawnError}`);
  if (outcome.code !== 0) {
    rmSync(part, { force: true });
    return failed(outcome.signal ? `killed by ${outcome.signal}` : `exited with code ${outcome.code}`);
  }
  if (!existsSync(part)) return failed('exited without writing its replay journal (is the script using git-flor?)');
  let records: RecordColumns;
  try {
    const j = readJournal(part);
    // Exit status 0 is not enough: a script may swallow an error and exit cleanly mid-segment.
    if (!j.end) return failed('exited without closing its replay journal (the segment did not finish)');
    if (j.end.status !== 'ok') return failed(`ended ${j.end.status}${j.end.error ? `: ${j.end.error}` : ''}`);
    records = j.records;
  } catch (e) {
    return failed(`unreadable replay journal: ${(e as Error).message}`);
  }
  renameSync(part, final);
  rmSync(task.specPath, { force: true });
  return { ok: true, run: task.run, segment: task.segment, records, ms, reused: false };
}
