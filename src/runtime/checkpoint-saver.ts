/**
 * Main-thread side of the checkpoint writer thread. submit() hands a snapshot over (a copy, see
 * there); drain() collects finished writes without waiting; waitIdle() blocks with
 * Atomics.wait, bounded, for the exit path where the event loop will not turn again.
 */
import type { Worker, MessagePort } from 'node:worker_threads';
import { workerThreads } from '../store/builtins.js';
import type { WriteJob, WriterMessage, WriterData } from './checkpoint-writer.js';
import { cpuMark, cpuSince } from './thread-cpu.js';

function writerUrl(): URL {
  // Under tsx (tests of src/) this module is .ts and so is its sibling.
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./checkpoint-writer${ext}`, import.meta.url);
}

export class CheckpointSaver {
  private worker: Worker | null = null;
  private port: MessagePort | null = null;
  /** [0] = jobs finished; [1] = 1 once the thread is gone (so a wait never outlives it). */
  private readonly done = new Int32Array(new SharedArrayBuffer(8));
  private submitted = 0;
  private failedToStart: Error | null = null;
  /** The thread sent its ready message. */
  private up = false;
  private startedOnce = false;
  /** Main-thread CPU of creating the thread (ms); the thread reports its own boot in its ready message. */
  startMs = 0;

  constructor(private readonly commonDir: string) {}

  /** Starts the thread early so the first checkpoint does not pay for it. */
  start(): void {
    if (this.worker || this.failedToStart) return;
    const { port1, port2 } = new (workerThreads().MessageChannel)();
    const workerData: WriterData = {
      florCheckpointWriter: true,
      commonDir: this.commonDir,
      results: port2,
      done: this.done.buffer as SharedArrayBuffer,
      spawnedAt: performance.timeOrigin + performance.now(),
    };
    const m = cpuMark();
    this.startedOnce = true;
    try {
      this.worker = new (workerThreads().Worker)(writerUrl(), { workerData, transferList: [port2] });
    } catch (e) {
      this.failedToStart = e as Error;
      return;
    } finally {
      this.startMs = cpuSince(m);
    }
    // A worker error must not become the user's uncaught exception; pending writes just never land.
    this.worker.on('error', () => this.gone());
    this.worker.on('exit', () => this.gone());
    this.worker.unref();
    port1.unref();
    this.port = port1;
  }

  /** The thread-creation cost not yet charged (once). */
  takeStartMs(): number {
    const ms = this.startMs;
    this.startMs = 0;
    return ms;
  }

  /** The thread was asked for and has not failed or exited (it may still be booting). */
  alive(): boolean {
    return this.worker !== null;
  }

  /** A thread was asked for at some point (statistics: it may have finished since). */
  everStarted(): boolean {
    return this.startedOnce;
  }

  /** The thread could not start, or died: nothing can be handed to it any more. */
  failed(): boolean {
    return this.failedToStart !== null;
  }

  /**
   * True while a started thread has not said it is up: its boot cost is not known yet, so the
   * policy must not spend on a checkpoint that the boot may already have used up.
   */
  booting(): boolean {
    return this.worker !== null && !this.up;
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

  /** Messages ready now (the thread's ready note, then results in completion order). */
  drain(): WriterMessage[] {
    const out: WriterMessage[] = [];
    if (!this.port) return out;
    for (;;) {
      const m = workerThreads().receiveMessageOnPort(this.port);
      if (!m) return out;
      const msg = m.message as WriterMessage;
      if ('ready' in msg) this.up = true;
      out.push(msg);
    }
  }

  /** A dead writer finishes nothing more: no new jobs, and no exit waits on it. */
  private gone(): void {
    Atomics.store(this.done, 1, 1);
    this.worker = null;
    this.failedToStart ??= new Error('checkpoint writer thread exited');
  }

  /** Blocks until every submitted write finished or `timeoutMs` passed; true when idle. */
  waitIdle(timeoutMs: number): boolean {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const d = Atomics.load(this.done, 0);
      if (d >= this.submitted) return true;
      if (Atomics.load(this.done, 1) === 1) return false;
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
