/**
 * Building hostile and broken states on real repositories for the tamper tests: a bare remote, an
 * attacker clone and a victim clone; forged ledger commits written with Git plumbing (never through
 * flor's checks); damaged objects and files. Not a test file itself.
 */
import { join } from 'node:path';
import { appendFileSync, chmodSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { gitIn, linkFlor, makeRepo, sh, tempDir } from './helpers/repo.js';
import { pack, encodeValue } from '../src/store/pack.js';
import { encodeSegment, makeSegment } from '../src/store/segment.js';
import { emptyColumns } from '../src/store/records.js';
import type { RunMeta } from '../src/store/types.js';
import { ulid } from './helpers/store-fixtures.js';
import { cli } from './helpers/cli.js';

export const TRAIN = `import { flor } from 'git-flor';
const lr = flor.arg('lr', 0.5);
for (const epoch of flor.loop('epoch', [0, 1, 2])) {
  flor.log('loss', lr / (epoch + 1));
  flor.log('note', 'epoch ' + epoch);
}
`;

/** A bare remote, a seed pushed to it, and clones with `git flor init` done (in-process). */
export async function network(names: string[]): Promise<{ bare: string; clones: Record<string, string> }> {
  const bare = join(tempDir('flor-bare-'), 'r.git');
  gitIn(tempDir(), 'init', '-q', '--bare', '-b', 'main', bare);
  const seed = makeRepo({ files: { 'train.mjs': TRAIN } });
  gitIn(seed, 'push', '-q', bare, 'main');
  const clones: Record<string, string> = {};
  for (const n of names) {
    const d = join(tempDir(`flor-${n}-`), 'w');
    gitIn(tempDir(), 'clone', '-q', bare, d);
    // Appended, not set with three `git config` processes (as makeRepo does).
    appendFileSync(join(d, '.git', 'config'), '[gc]\n\tauto = 0\n[user]\n\tname = Test\n\temail = test@example.com\n');
    linkFlor(d);
    await cli(d, ['init']);
    clones[n] = d;
  }
  return { bare, clones };
}

export function writerOf(dir: string): string {
  return gitIn(dir, 'config', 'flor.writer');
}

/** Metadata of a finished run, as a capture would write it, before any forging. */
export function metaFor(dir: string, over: Partial<RunMeta> = {}): RunMeta {
  const commit = gitIn(dir, 'rev-parse', 'HEAD');
  const now = new Date().toISOString();
  return {
    format: 'flor-run', version: 1, id: ulid(), writer: writerOf(dir), start: now, end: now, script: 'train.mjs', cwd: '',
    argv: [], execArgv: [], args: { lr: 0.5 }, commit, branch: 'main', dirty: false, node: process.version, status: 'ok',
    exitCode: 0, error: null, loops: [], outerMs: [], checkpointing: [], records: 0, ...over,
  };
}

function hashBlob(dir: string, data: Buffer): string {
  return sh('git', ['hash-object', '-w', '--literally', '--stdin'], dir, { input: data as unknown as string }).stdout.trim();
}

function mktree(dir: string, entries: string[]): string {
  return sh('git', ['mktree'], dir, { input: entries.join('\n') + '\n' }).stdout.trim();
}

/**
 * Commits a run directory straight onto the ledger `ref` of `dir` with plumbing: `metaRaw` is
 * packed as it is (tagged values as given), `forward` is the segment's bytes (default: an empty
 * forward segment of the run). Returns the run id.
 */
export function forgeRun(dir: string, ref: string, metaRaw: Record<string, unknown>, forward?: Buffer): string {
  const id = metaRaw.id as string;
  const metaBlob = hashBlob(dir, pack(metaRaw));
  const seg = hashBlob(dir, forward ?? encodeSegment(makeSegment(id, 'forward', emptyColumns())));
  const logs = mktree(dir, [`100644 blob ${seg}\tforward.msgpack`]);
  const code = gitIn(dir, 'rev-parse', 'HEAD^{tree}');
  const runTree = mktree(dir, [`100644 blob ${metaBlob}\trun.msgpack`, `040000 tree ${code}\tcode`, `040000 tree ${logs}\tlogs`]);
  const tip = sh('git', ['rev-parse', '-q', '--verify', ref], dir, { allowFail: true }).stdout.trim();
  const fanPath = `runs/${id.slice(0, 2)}`;
  // Read the current fan and runs trees, add the run.
  const ls = (spec: string): string[] => (tip ? sh('git', ['ls-tree', spec], dir, { allowFail: true }).stdout.split('\n').filter(Boolean) : []);
  const fan = mktree(dir, [...ls(`${tip}:${fanPath}`), `040000 tree ${runTree}\t${id}`]);
  const runs = mktree(dir, [...ls(`${tip}:runs`).filter((l) => !l.endsWith(`\t${id.slice(0, 2)}`)), `040000 tree ${fan}\t${id.slice(0, 2)}`]);
  const root = mktree(dir, [...ls(`${tip}^{tree}`).filter((l) => !l.endsWith('\truns')), `040000 tree ${runs}\truns`]);
  const commit = sh('git', ['commit-tree', root, ...(tip ? ['-p', tip] : []), '-m', `run ${id} forged`], dir).stdout.trim();
  gitIn(dir, 'update-ref', ref, commit);
  return id;
}

/** The run's metadata as a plain map for forging: args encoded as flor would, then overridable raw. */
export function rawMeta(meta: RunMeta, rawArgs?: Record<string, unknown>): Record<string, unknown> {
  return { ...meta, args: rawArgs ?? encodeValue(meta.args) };
}

/** The loose object file of `oid` (tests write objects loose: gc.auto is 0). */
export function loosePath(dir: string, oid: string): string {
  return join(gitIn(dir, 'rev-parse', '--git-common-dir').replace(/^(?!\/)/, dir + '/'), 'objects', oid.slice(0, 2), oid.slice(2));
}

/** Deletes an object, unpacking the packs first when it is not loose. */
export function deleteObject(dir: string, oid: string): void {
  if (!existsSync(loosePath(dir, oid))) explodePacks(dir);
  rmSync(loosePath(dir, oid));
}

/** Every packed object made loose (so single objects can be damaged on disk). */
export function explodePacks(dir: string): void {
  const packDir = join(gitIn(dir, 'rev-parse', '--git-common-dir').replace(/^(?!\/)/, dir + '/'), 'objects', 'pack');
  const aside = tempDir('flor-packs-');
  for (const f of readdirSync(packDir).filter((n) => n.endsWith('.pack'))) {
    renameSync(join(packDir, f), join(aside, f));
    rmSync(join(packDir, f.replace(/\.pack$/, '.idx')), { force: true });
    rmSync(join(packDir, f.replace(/\.pack$/, '.rev')), { force: true });
    sh('git', ['unpack-objects', '-q'], dir, { input: readFileSync(join(aside, f)) as unknown as string });
  }
}

/** Flips bytes in the middle of a loose object, so zlib or the hash check fails. */
export function corruptObject(dir: string, oid: string): void {
  const p = loosePath(dir, oid);
  chmodSync(p, 0o644);
  const b = readFileSync(p);
  for (let i = Math.floor(b.length / 2); i < Math.min(b.length, Math.floor(b.length / 2) + 4); i++) b[i] = b[i]! ^ 0xff;
  writeFileSync(p, b);
}
