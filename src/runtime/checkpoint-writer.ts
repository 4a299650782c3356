/**
 * The checkpoint writer thread: deflate, hash and write each snapshot into the local store, off the
 * training loop's thread. Each result goes to a MessagePort the main thread reads synchronously
 * (receiveMessageOnPort), and a shared counter is bumped and notified, so the main thread can
 * both poll without an event-loop turn and block at exit until every write is on disk.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { putCheckpoint } from '../store/checkpoints.js';
import { threadCpuMs } from './thread-cpu.js';

export interface WriterData {
  florCheckpointWriter: true;
  commonDir: string;
  results: MessagePort;
  /** Int32Array over a SharedArrayBuffer: [0] = jobs finished (ok or failed), [1] = thread gone. */
  done: SharedArrayBuffer;
  /** Epoch ms (performance.timeOrigin + now()) when the main thread asked for the thread. */
  spawnedAt: number;
}

export interface WriteJob {
  seq: number;
  iter: number;
  bytes: Uint8Array;
}

/**
 * `ms`: CPU the writer thread spent since its previous message (receiving the job, hash, deflate,
 * write, and whatever GC that caused).
 */
export type WriteResult =
  | { seq: number; iter: number; key: string; bytes: number; ms: number }
  | { seq: number; iter: number; error: string; ms: number };

/**
 * Sent once the thread is up with the CPU its start cost (isolate, module loading; ~40 ms here),
 * so the policy charges it once, before deciding on the first checkpoint, and keeps it out of its
 * per-checkpoint estimate.
 */
export interface WriterReady {
  ready: true;
  boot: number;
}

export type WriterMessage = WriteResult | WriterReady;

const data = workerData as WriterData | null;
if (parentPort && data && data.florCheckpointWriter === true) {
  const done = new Int32Array(data.done);
  // However this thread ends (even an uncaught error), tell a main thread blocked in waitIdle,
  // which cannot receive the 'exit' event while it blocks.
  process.on('exit', () => {
    Atomics.store(done, 1, 1);
    Atomics.notify(done, 0);
  });
  // Thread CPU where the kernel gives it (see thread-cpu.ts); else wall time, from the main
  // thread's request for the thread (boot) and around each job.
  const cpu0 = threadCpuMs();
  const boot = cpu0 ?? performance.timeOrigin + performance.now() - data.spawnedAt;
  let lastCpu = cpu0;
  const ready: WriterReady = { ready: true, boot };
  data.results.postMessage(ready);
  parentPort.on('message', (job: WriteJob) => {
    let res: WriteResult;
    const w0 = performance.now();
    const spent = (): number => {
      const c = lastCpu === null ? null : threadCpuMs();
      if (c === null || lastCpu === null) return performance.now() - w0;
      const d = c - lastCpu;
      lastCpu = c;
      return d;
    };
    try {
      const key = putCheckpoint(data.commonDir, job.bytes);
      res = { seq: job.seq, iter: job.iter, key, bytes: job.bytes.byteLength, ms: spent() };
    } catch (e) {
      res = { seq: job.seq, iter: job.iter, error: (e as Error).message, ms: spent() };
    }
    data.results.postMessage(res);
    Atomics.add(done, 0, 1);
    Atomics.notify(done, 0);
  });
}
