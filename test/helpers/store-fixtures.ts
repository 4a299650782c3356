/**
 * Builders shared by the store tests: run metadata, run ids and journals with real records.
 * Not a test file itself (no `.test.ts`); real Git repos come from helpers/repo.ts.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { openJournal, type JournalWriter } from '../../src/store/journal.js';
import type { RunMeta } from '../../src/store/types.js';
import type { Value } from '../../src/store/records.js';

const B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID: 10 chars of time, 16 of randomness. */
export function ulid(ms = Date.now()): string {
  let t = '';
  let x = ms;
  for (let i = 0; i < 10; i++) {
    t = B32[x % 32]! + t;
    x = Math.floor(x / 32);
  }
  const r = randomBytes(16);
  let rand = '';
  for (let i = 0; i < 16; i++) rand += B32[r[i]! % 32];
  return t + rand;
}

export function makeMeta(over: Partial<RunMeta> = {}): RunMeta {
  return {
    format: 'flor-run',
    version: 1,
    id: ulid(),
    writer: '',
    start: new Date().toISOString(),
    end: null,
    script: 'train.js',
    cwd: '',
    argv: [],
    execArgv: [],
    args: { lr: 0.01 },
    commit: null,
    branch: 'main',
    dirty: false,
    node: process.version,
    status: 'running',
    exitCode: null,
    error: null,
    loops: [],
    outerMs: [],
    checkpointing: [],
    records: 0,
    ...over,
  };
}

/**
 * Writes `epochs` x `steps` records of `loss` (numbers) plus one `acc` per epoch and one string
 * `note` per epoch, split into `chunks` journal chunks, as the runtime does.
 */
export function writeRunJournal(
  commonDir: string,
  meta: RunMeta,
  codeTree: string,
  opts: { epochs?: number; steps?: number; end?: boolean; pid?: number; chunks?: number; args?: Record<string, Value> } = {},
): { writer: JournalWriter; records: number } {
  const epochs = opts.epochs ?? 3;
  const steps = opts.steps ?? 4;
  const w = openJournal(commonDir, meta.id);
  w.append({ t: 'start', meta, codeTree, pid: opts.pid ?? process.pid, host: hostname() });
  if (opts.args) w.append({ t: 'args', args: opts.args });
  const names = ['loss', 'acc', 'note'];
  const loops = ['epoch', 'step'];
  let frameCount = 0;
  let records = 0;
  const perChunk = Math.max(1, Math.ceil(epochs / (opts.chunks ?? epochs)));
  for (let e0 = 0; e0 < epochs; e0 += perChunk) {
    const parent: number[] = [];
    const loop: number[] = [];
    const iter: number[] = [];
    const name: number[] = [];
    const frame: number[] = [];
    const num: number[] = [];
    const kind: number[] = [];
    const other: Value[] = [];
    for (let e = e0; e < Math.min(epochs, e0 + perChunk); e++) {
      const ef = frameCount++;
      parent.push(-1), loop.push(0), iter.push(e);
      for (let s = 0; s < steps; s++) {
        const sf = frameCount++;
        parent.push(ef), loop.push(1), iter.push(s);
        name.push(0), frame.push(sf), num.push(e * 100 + s), kind.push(0);
      }
      name.push(1), frame.push(ef), num.push(e / 10), kind.push(0);
      name.push(2), frame.push(ef), num.push(NaN), kind.push(1), other.push(`epoch ${e}`);
    }
    records += name.length;
    w.append({
      t: 'chunk',
      names: e0 === 0 ? names : [],
      loops: e0 === 0 ? loops : [],
      frames: { parent: Int32Array.from(parent), loop: Int32Array.from(loop), iter: Int32Array.from(iter) },
      name: Int32Array.from(name),
      frame: Int32Array.from(frame),
      num: Float64Array.from(num),
      kind: Uint8Array.from(kind),
      other,
    });
  }
  if (opts.end !== false) {
    w.append({
      t: 'end',
      status: 'ok',
      exitCode: 0,
      error: null,
      end: new Date().toISOString(),
      loops: [
        { name: 'epoch', parent: null, iterations: epochs },
        { name: 'step', parent: 'epoch', iterations: steps },
      ],
      outerMs: Array.from({ length: epochs }, () => 5),
      checkpointing: [],
    });
  }
  w.close();
  return { writer: w, records };
}
