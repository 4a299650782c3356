/**
 * The checkpoint writer thread: deflate, hash and write each snapshot into the local store, off the
 * training loop's thread. Each result goes to a MessagePort the main thread reads synchronously
 * (receiveMessageOnPort), and a shared counter is bumped and notified, so the main thread can
 * both poll without an event-loop turn and block at exit until every write is on disk.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { putCheckpoint } from '../store/checkpoints.js';

export interface WriterData {
  florCheckpointWriter: true;
  commonDir: string;
  results: MessagePort;
  /** Int32Array over a SharedArrayBuffer: [0] = jobs finished (ok or failed). */
  done: SharedArrayBuffer;
  /** Epoch ms (performance.timeOrigin + now()) when the main thread asked for the thread. */
  spawnedAt: number;
}

export interface WriteJob {
  seq: number;
  iter: number;
  bytes: Uint8Array;
}

/** `ms`: time the writer spent on the job (deflate, hash, write). */
export type WriteResult = { seq: number; iter: number; key: string; bytes: number; ms: number } | { seq: number; iter: number; error: string; ms: number };

const data = workerData as WriterData | null;
if (parentPort && data && data.florCheckpointWriter === true) {
  const done = new Int32Array(data.done);
  // What booting this thread cost (wall time from the main thread's request to here), charged to
  // the first checkpoint so the period's budget sees it.
  let boot = performance.timeOrigin + performance.now() - data.spawnedAt;
  parentPort.on('message', (job: WriteJob) => {
    let res: WriteResult;
    const t0 = performance.now() - boot;
    boot = 0;
    try {
      const key = putCheckpoint(data.commonDir, job.bytes);
      res = { seq: job.seq, iter: job.iter, key, bytes: job.bytes.byteLength, ms: performance.now() - t0 };
    } catch (e) {
      res = { seq: job.seq, iter: job.iter, error: (e as Error).message, ms: performance.now() - t0 };
    }
    data.results.postMessage(res);
    Atomics.add(done, 0, 1);
    Atomics.notify(done, 0);
  });
}
