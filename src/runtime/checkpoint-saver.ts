/**
 * Main-thread side of the checkpoint writer thread. submit() hands a snapshot over (a copy, see
 * there); drain() collects finished writes without waiting; waitIdle() blocks with
 * Atomics.wait, bounded, for the exit path where the event loop will not turn again.
 */
import { Worker, MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { WriteJob, WriteResult, WriterData } from './checkpoint-writer.js';

function writerUrl(): URL {
  // Under tsx (tests of src/) this module is .ts and so is its sibling.
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./checkpoint-writer${ext}`, import.meta.url);
}

export class CheckpointSaver {
  private worker: Worker | null = null;
  private port: MessagePort | null = null;
  private readonly done = new Int32Array(new SharedArrayBuffer(4));
  private submitted = 0;
  private failedToStart: Error | null = null;

  constructor(private readonly commonDir: string) {}

  /** Starts the thread early so the first checkpoint does not pay for it. */
  start(): void {
    if (this.worker || this.failedToStart) return;
    const { port1, port2 } = new MessageChannel();
    const workerData: WriterData = {
      florCheckpointWriter: true,
      commonDir: this.commonDir,
      results: port2,
      done: this.done.buffer as SharedArrayBuffer,
      spawnedAt: performance.timeOrigin + performance.now(),
    };
    try {
      this.worker = new Worker(writerUrl(), { workerData, transferList: [port2] });
    } catch (e) {
      this.failedToStart = e as Error;
      return;
    }
    // A worker error must not become the user's uncaught exception; pending writes just never land.
    this.worker.on('error', () => {});
    this.worker.unref();
    port1.unref();
    this.port = port1;
  }

  pending(): number {
    return this.submitted - Atomics.load(this.done, 0);
  }

  /** False when the writer thread could not start (the checkpoint is dropped). */
  submit(iter: number, snap: Buffer): boolean {
    this.start();
    if (!this.worker) return false;
    // Copied, never transferred: detaching any ArrayBuffer invalidates V8's detach protector for
    // the whole isolate, after which every typed-array access in the user's optimised code pays a
    // check (measured: a 4 MB-state training loop ran 30-60% slower after its first checkpoint).
    const job: WriteJob = { seq: this.submitted, iter, bytes: snap };
    this.worker.postMessage(job);
    this.submitted++;
    return true;
  }

  /** Results ready now, in completion order. */
  drain(): WriteResult[] {
    const out: WriteResult[] = [];
    if (!this.port) return out;
    for (;;) {
      const m = receiveMessageOnPort(this.port);
      if (!m) return out;
      out.push(m.message as WriteResult);
    }
  }

  /** Blocks until every submitted write finished or `timeoutMs` passed; true when idle. */
  waitIdle(timeoutMs: number): boolean {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const d = Atomics.load(this.done, 0);
      if (d >= this.submitted) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      Atomics.wait(this.done, 0, d, left);
    }
  }

  close(): void {
    if (this.worker) void this.worker.terminate();
    this.worker = null;
    this.port?.close();
    this.port = null;
  }
}
