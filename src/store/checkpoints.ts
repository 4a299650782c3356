/**
 * The local checkpoint store: `<commonDir>/flor/ckpt/<k[0:2]>/<k[2:]>`, key = sha256 hex of the
 * uncompressed snapshot, content deflated. Content addressing makes saving the same state twice
 * free and lets any number of processes write concurrently (write to a temp name, then rename).
 * Never pushed: checkpoints are a local accelerator, replay works without them.
 * Synchronous on purpose: the runtime's writer thread and a replay child both want plain calls.
 */
import { nodeCrypto, nodeZlib } from './builtins.js';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FlorError } from '../errors.js';

const KEY = /^[0-9a-f]{64}$/;

export function checkpointDir(commonDir: string): string {
  return join(commonDir, 'flor', 'ckpt');
}

/** Where `key` lives under `dir`, this store's or a directory of its layout (checkpoint-transfer.ts): `<k[0:2]>/<k[2:]>`. */
export function keyPath(dir: string, key: string): string {
  return join(dir, key.slice(0, 2), key.slice(2));
}

export function checkpointPath(commonDir: string, key: string): string {
  if (!KEY.test(key)) throw new FlorError('BAD_CKPT_KEY', `not a checkpoint key: ${JSON.stringify(key)}`, { hint: 'keys are 64 hex digits (sha256)' });
  return keyPath(checkpointDir(commonDir), key);
}

export function checkpointKey(bytes: Uint8Array): string {
  return nodeCrypto().createHash('sha256').update(bytes).digest('hex');
}

/** Whether `dir`, a directory of the store's layout, holds a file under `key`: not read, a fetch checks it. */
export function checkpointInDir(dir: string, key: string): boolean {
  return KEY.test(key) && existsSync(keyPath(dir, key));
}

export function hasCheckpoint(commonDir: string, key: string): boolean {
  return existsSync(checkpointPath(commonDir, key));
}

/** Snapshots up to this size are deflated whole: the sampling below would cost about as much. */
const SAMPLE_ABOVE = 64 * 1024;
const SAMPLE_SLICE = 8 * 1024;

/**
 * The deflate level for a snapshot. Trained weights are floats that deflate barely shrinks, at a
 * cost measured here of ~100 ms for 4 MB at level 1 (sha256 + write: ~10 ms) — most of what a
 * checkpoint cost. Three slices (start, middle, end) are deflated as a sample: when they shrink by
 * less than a tenth, the snapshot is stored (level 0, still a deflate stream, read back the same way).
 */
export function deflateLevel(bytes: Uint8Array): number {
  const { constants, deflateRawSync } = nodeZlib();
  if (bytes.byteLength <= SAMPLE_ABOVE) return constants.Z_BEST_SPEED;
  let raw = 0;
  let packed = 0;
  for (const at of [0, (bytes.byteLength - SAMPLE_SLICE) >> 1, bytes.byteLength - SAMPLE_SLICE]) {
    const slice = bytes.subarray(at, at + SAMPLE_SLICE);
    raw += slice.byteLength;
    packed += deflateRawSync(slice, { level: constants.Z_BEST_SPEED }).byteLength;
  }
  return packed > 0.9 * raw ? constants.Z_NO_COMPRESSION : constants.Z_BEST_SPEED;
}

/** Stores `bytes` and returns its key; `level` overrides the sampled choice (deflateLevel). */
export function putCheckpoint(commonDir: string, bytes: Uint8Array, opts: { level?: number } = {}): string {
  const key = checkpointKey(bytes);
  const file = checkpointPath(commonDir, key);
  if (existsSync(file)) return key;
  const dir = join(checkpointDir(commonDir), key.slice(0, 2));
  const tmp = join(dir, `.tmp-${process.pid}-${nodeCrypto().randomBytes(4).toString('hex')}`);
  try {
    const packed = nodeZlib().deflateSync(bytes, { level: opts.level ?? deflateLevel(bytes) });
    // The fan-out directory usually exists: create it only when the write says it does not
    // (each syscall costs ~1 ms of CPU on some VMs, a third of a small checkpoint).
    try {
      writeFileSync(tmp, packed);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      mkdirSync(dir, { recursive: true });
      writeFileSync(tmp, packed);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new FlorError('CKPT_WRITE', `cannot write checkpoint ${key.slice(0, 12)}: ${(e as Error).message}`, {
      hint: 'check free space and permissions under .git/flor/ckpt',
      cause: e,
    });
  }
  return key;
}

/** The snapshot stored under `key`, verified against it; null when this clone does not have it. */
export function getCheckpoint(commonDir: string, key: string): Buffer | null {
  const file = checkpointPath(commonDir, key);
  let packed: Buffer;
  try {
    packed = readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let bytes: Buffer;
  try {
    bytes = nodeZlib().inflateSync(packed);
  } catch (e) {
    throw corrupt(key, file, (e as Error).message);
  }
  if (checkpointKey(bytes) !== key) throw corrupt(key, file, 'content does not match its key');
  return bytes;
}

/**
 * Whether the checkpoint under `key` is in this clone's store and sound (inflates, hashes to its
 * key). Replay starts only from sound ones, so a damaged file costs recomputation, not the replay.
 */
export function checkpointSound(commonDir: string, key: string): boolean {
  try {
    return getCheckpoint(commonDir, key) !== null;
  } catch {
    return false;
  }
}

/** Checks every checkpoint in the store: the damaged ones with why (and, with `remove`, deletes them). */
export function damagedCheckpoints(commonDir: string, opts: { remove?: boolean } = {}): Array<{ key: string; file: string; error: string }> {
  const out: Array<{ key: string; file: string; error: string }> = [];
  for (const key of listCheckpoints(commonDir)) {
    try {
      getCheckpoint(commonDir, key);
    } catch (e) {
      const file = checkpointPath(commonDir, key);
      out.push({ key, file, error: (e as Error).message });
      if (opts.remove) rmSync(file, { force: true });
    }
  }
  return out;
}

function corrupt(key: string, file: string, why: string): FlorError {
  return new FlorError('CKPT_CORRUPT', `checkpoint ${key.slice(0, 12)} is damaged: ${why}`, {
    hint: `delete ${file}; replay then recomputes from an earlier checkpoint`,
    data: { key, file },
  });
}

/** Every key in the store (for doctor and tests). */
export function listCheckpoints(commonDir: string): string[] {
  const root = checkpointDir(commonDir);
  const out: string[] = [];
  let fans: string[];
  try {
    fans = readdirSync(root);
  } catch {
    return out;
  }
  for (const fan of fans) {
    if (!/^[0-9a-f]{2}$/.test(fan) || !statSync(join(root, fan)).isDirectory()) continue;
    for (const rest of readdirSync(join(root, fan))) if (KEY.test(fan + rest)) out.push(fan + rest);
  }
  return out.sort();
}
