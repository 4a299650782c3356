/**
 * Objects written straight into the object directory as loose objects, the way `git hash-object
 * -w`, `git mktree` and `git commit-tree` write them (same bytes, same ids), without starting a
 * process for each. A replay used to start about a dozen of those processes per run; on a loaded
 * machine each costs the calling thread tens of ms (the fork waits for the child's exec).
 *
 * Only where that equivalence holds: SHA-1 repositories without a second object format, objects
 * in `<commonDir>/objects` (no GIT_OBJECT_DIRECTORY, e.g. a push's quarantine), no
 * `core.sharedRepository` (Git would widen the modes), no fsync configured, and for commits no
 * signing, no commit.gpgSign, no dates or encoding set for Git to honour. Anywhere else `looseWriter` is null
 * and callers use the processes. Unlike `mktree` it does not look up every entry's object: callers
 * name only objects they read from the repository or just wrote.
 */
import { closeSync, existsSync, linkSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { nodeCrypto, nodeZlib, uniqueSuffix } from './builtins.js';
import { FlorError } from '../errors.js';
import { FLOR_IDENT, type RepoInfo, type TreeEntry } from './git.js';
import { configMatching } from './git-config.js';

const SETTINGS = /^(extensions\.(objectformat|compatobjectformat)|core\.(sharedrepository|fsync|fsyncobjectfiles|loosecompression|compression)|commit\.gpgsign|i18n\.commitencoding)$/;

const TREE_MODES = new Map([['100644', '100644'], ['100755', '100755'], ['120000', '120000'], ['160000', '160000'], ['040000', '40000'], ['40000', '40000']]);

export interface LooseWriter {
  blob(data: Uint8Array): string;
  /** Sorted and checked as `git mktree` does; the entries' objects are not looked up. */
  tree(entries: TreeEntry[]): string;
  /** As `git commit-tree` with flor's identity (FLOR_IDENT); null when Git must make it (signing, dates or encoding configured). */
  commit: ((tree: string, parents: string[], message: string) => string) | null;
  /** `tree` in the shape of store/objects.ts TreeWriter, for editTree. */
  sink: { write(entries: TreeEntry[]): Promise<string>; close(): Promise<void> };
}

function envSet(...names: string[]): boolean {
  return names.some((n) => process.env[n] !== undefined && process.env[n] !== '');
}

/** The writer for `repo`, or null when Git's own processes must write its objects. */
export function looseWriter(repo: RepoInfo): LooseWriter | null {
  if (envSet('GIT_OBJECT_DIRECTORY', 'GIT_QUARANTINE_PATH')) return null;
  // One look at the config (each configValue checks the config files' stamp again).
  const found = configMatching(repo, SETTINGS);
  const setting = (key: string): string | null => found.get(key)?.at(-1) ?? null;
  const format = setting('extensions.objectformat');
  if ((format && format.toLowerCase() !== 'sha1') || setting('extensions.compatobjectformat')) return null;
  if (widensModes(setting('core.sharedrepository'))) return null;
  // Git would fsync them; flor leaves that to Git.
  if (setting('core.fsync') !== null || setting('core.fsyncobjectfiles') !== null) return null;
  const dir = join(repo.commonDir, 'objects');
  if (!existsSync(dir)) return null;
  const level = compression(setting('core.loosecompression')) ?? compression(setting('core.compression')) ?? 1;
  const write = (type: string, body: Buffer): string => writeLoose(dir, type, body, level);
  const commits = !envSet('GIT_AUTHOR_DATE', 'GIT_COMMITTER_DATE') && !/^\s*(true|yes|on|[1-9]\d*)\s*$/i.test(setting('commit.gpgsign') ?? '') &&
    (setting('i18n.commitencoding') ?? 'utf-8').toLowerCase().replace('-', '') === 'utf8';
  const tree = (entries: TreeEntry[]): string => write('tree', treeBody(entries));
  return {
    blob: (data) => write('blob', Buffer.from(data.buffer, data.byteOffset, data.byteLength)),
    tree,
    sink: { write: async (entries) => tree(entries), close: async () => undefined },
    commit: commits ? (tree, parents, message) => write('commit', commitBody(tree, parents, message)) : null,
  };
}

/** A zlib level Git would take from core.looseCompression or core.compression (else Git's default, 1). */
function compression(v: string | null): number | null {
  const n = Number(v);
  return v !== null && v.trim() !== '' && Number.isInteger(n) && n >= -1 && n <= 9 ? n : null;
}

function writeLoose(dir: string, type: string, body: Buffer, level: number): string {
  const head = Buffer.from(`${type} ${body.length}\0`);
  const oid = nodeCrypto().createHash('sha1').update(head).update(body).digest('hex');
  const sub = join(dir, oid.slice(0, 2));
  const file = join(sub, oid.slice(2));
  if (existsSync(file)) return oid;
  mkdirSync(sub, { recursive: true });
  const tmp = join(sub, `tmp_obj_flor_${uniqueSuffix()}`);
  const fd = openSync(tmp, 'wx', 0o444);
  try {
    try {
      writeSync(fd, nodeZlib().deflateSync(Buffer.concat([head, body]), { level }));
    } finally {
      closeSync(fd);
    }
    // As Git does: link(2) into place, so a concurrent writer of the same object never sees half of it.
    try {
      linkSync(tmp, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  } finally {
    unlinkSync(tmp); // not rmSync: its `force` walks the path first
  }
  return oid;
}

function treeBody(entries: TreeEntry[]): Buffer {
  if (entries.length === 0) throw new FlorError('INTERNAL', 'refusing to write an empty tree');
  const keyed = entries.map((e) => {
    if (/[\n\t\0/]/.test(e.name) || e.name === '' || e.name === '.' || e.name === '..') {
      throw new FlorError('BAD_NAME', `invalid tree entry name ${JSON.stringify(e.name)}`);
    }
    const mode = TREE_MODES.get(e.mode);
    if (!mode || (mode === '40000') !== (e.type === 'tree') || !/^[0-9a-f]{40}$/.test(e.oid)) {
      throw new FlorError('INTERNAL', `invalid tree entry ${e.mode} ${e.type} ${e.oid} ${JSON.stringify(e.name)}`);
    }
    // Git's order: names as bytes, a tree's as if it ended in '/'.
    return { e, mode, key: Buffer.from(e.type === 'tree' ? `${e.name}/` : e.name, 'utf8') };
  });
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  const parts: Buffer[] = [];
  for (let i = 0; i < keyed.length; i++) {
    const { e, mode } = keyed[i]!;
    if (i > 0 && keyed[i - 1]!.e.name === e.name) throw new FlorError('INTERNAL', `duplicate tree entry ${JSON.stringify(e.name)}`);
    parts.push(Buffer.from(`${mode} ${e.name}\0`, 'utf8'), Buffer.from(e.oid, 'hex'));
  }
  return Buffer.concat(parts);
}

/** A core.sharedRepository value with which Git widens the modes of what it writes. */
export function widensModes(value: string | null): boolean {
  return value !== null && !/^(false|umask|0|no|off)$/i.test(value.trim());
}

/** Now as Git writes it in commits and reflogs: seconds since the epoch and the local zone (`1733400000 +0100`). */
export function gitDate(now = new Date()): string {
  const off = -now.getTimezoneOffset();
  const zone = `${off < 0 ? '-' : '+'}${String(Math.floor(Math.abs(off) / 60)).padStart(2, '0')}${String(Math.abs(off) % 60).padStart(2, '0')}`;
  return `${Math.floor(now.getTime() / 1000)} ${zone}`;
}

/** `git commit-tree`'s bytes: flor's identity, now in the local time zone, the message and a newline. */
function commitBody(tree: string, parents: string[], message: string): Buffer {
  const when = gitDate();
  const who = (role: 'AUTHOR' | 'COMMITTER'): string => `${FLOR_IDENT[`GIT_${role}_NAME`]} <${FLOR_IDENT[`GIT_${role}_EMAIL`]}> ${when}`;
  let text = `tree ${tree}\n`;
  for (const p of parents) text += `parent ${p}\n`;
  text += `author ${who('AUTHOR')}\ncommitter ${who('COMMITTER')}\n\n${message}\n`;
  return Buffer.from(text, 'utf8');
}
