/**
 * `git flor checkpoints push|fetch DIR`: copies checkpoint files between this clone's store
 * (`.git/flor/ckpt/`) and a plain directory with the same layout (`<k[0:2]>/<k[2:]>`): a shared
 * disk, an NFS mount, a mounted bucket. Keys are content hashes, so a file of a given name is the
 * same everywhere: copies only add, any number of clones may push into one directory at once
 * (each file is written under a temporary name, then renamed), and what is fetched is checked
 * against its key before it enters the store.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';
import { FlorError } from '../errors.js';
import { checkpointDir, checkpointKey, keyPath, listCheckpoints } from './checkpoints.js';

const KEY = /^[0-9a-f]{64}$/;

export interface CheckpointTransfer {
  /** Files copied. */
  copied: number;
  /** Already at the destination. */
  present: number;
  /** Asked for but absent at the source. */
  missing: string[];
  /** Fetched files whose content did not match their key (not stored). */
  damaged: string[];
  bytes: number;
}

/** A directory path, or a `file://` URL. Other URLs are refused with what to do instead. */
export function checkpointRemoteDir(target: string, cwd: string): string {
  if (/^file:\/\//i.test(target)) return fileURLToPath(target);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    throw new FlorError('CKPT_REMOTE_UNSUPPORTED', `checkpoints are copied to and from directories, not ${target.slice(0, target.indexOf(':'))}:// URLs`, {
      hint: 'mount the bucket or share (s3fs, gcsfuse, NFS) and give its path, or copy a directory to it with rclone / aws s3 sync',
    });
  }
  return isAbsolute(target) ? target : resolve(cwd, target);
}

/** Every key in a directory of the store's layout. */
export async function listStoreDir(dir: string): Promise<string[]> {
  let fans: string[];
  try {
    fans = await fs.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: string[] = [];
  for (const fan of fans) {
    if (!/^[0-9a-f]{2}$/.test(fan)) continue;
    let rest: string[];
    try {
      rest = await fs.readdir(join(dir, fan));
    } catch {
      continue; // not a directory
    }
    for (const r of rest) if (KEY.test(fan + r)) out.push(fan + r);
  }
  return out.sort();
}

const PARALLEL = 8;

async function copyAll(from: string, to: string, keys: string[], verify: boolean): Promise<CheckpointTransfer> {
  const t: CheckpointTransfer = { copied: 0, present: 0, missing: [], damaged: [], bytes: 0 };
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < keys.length) {
      const key = keys[next++]!;
      const dest = keyPath(to, key);
      try {
        await fs.access(dest, constants.F_OK);
        t.present++;
        continue;
      } catch {
        // not there yet
      }
      let data: Buffer;
      try {
        data = await fs.readFile(keyPath(from, key));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        t.missing.push(key);
        continue;
      }
      if (verify) {
        let ok = false;
        try {
          ok = checkpointKey(inflateSync(data)) === key;
        } catch {
          ok = false;
        }
        if (!ok) {
          t.damaged.push(key);
          continue;
        }
      }
      await fs.mkdir(join(to, key.slice(0, 2)), { recursive: true });
      const tmp = join(to, key.slice(0, 2), `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
      try {
        await fs.writeFile(tmp, data);
        await fs.rename(tmp, dest);
      } catch (e) {
        await fs.rm(tmp, { force: true });
        throw new FlorError('CKPT_WRITE', `cannot write checkpoint ${key.slice(0, 12)} to ${to}: ${(e as Error).message}`, { hint: 'check free space and permissions there', cause: e });
      }
      t.copied++;
      t.bytes += data.byteLength;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, keys.length) }, lane));
  t.missing.sort();
  t.damaged.sort();
  return t;
}

/** Copies this clone's checkpoints (`keys`, default all) into `dir`. */
export async function pushCheckpoints(commonDir: string, dir: string, keys?: string[]): Promise<CheckpointTransfer> {
  await fs.mkdir(dir, { recursive: true });
  return copyAll(checkpointDir(commonDir), dir, keys ?? listCheckpoints(commonDir), false);
}

/** Copies checkpoints (`keys`, default every one in `dir`) into this clone's store, each checked against its key. */
export async function fetchCheckpoints(commonDir: string, dir: string, keys?: string[]): Promise<CheckpointTransfer> {
  try {
    await fs.access(dir, constants.R_OK);
  } catch {
    throw new FlorError('CKPT_REMOTE_MISSING', `no checkpoint directory at ${dir}`, { hint: 'push some first: git flor checkpoints push DIR (in the clone that recorded the runs)' });
  }
  return copyAll(dir, checkpointDir(commonDir), keys ?? (await listStoreDir(dir)), true);
}
