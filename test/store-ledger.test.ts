import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepo, gitIn, fsckClean, fsckAfterGc, cleanup, sh } from './helpers/repo.js';
import { findRepoSync, type RepoInfo } from '../src/store/git.js';
import { snapshotWorkTreeSync, headSync } from '../src/store/worktree.js';
import {
  appendRun, appendSegment, ensureWriter, readableRuns, listRunsChecked, readSegment, resolveRun, readCheckpointManifest, runDir,
} from '../src/store/ledger.js';
import { encodeSegment, makeSegment } from '../src/store/segment.js';
import { blobEntry, editTree, updateRefWithRetry, writeBlob, writeBlobs } from '../src/store/objects.js';
import { pack } from '../src/store/pack.js';
import { doctor } from '../src/store/doctor.js';
import { isFlorError } from '../src/errors.js';
import type { RecordColumns } from '../src/store/records.js';
import { makeMeta, ulid } from './helpers/store-fixtures.js';
import { BoundedMap } from '../src/store/bounded-map.js';

after(cleanup);

function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

function records(n: number, base = 0): RecordColumns {
  return {
    names: ['loss'],
    loops: ['epoch'],
    frames: { parent: Int32Array.of(-1), loop: Int32Array.of(0), iter: Int32Array.of(0) },
    name: new Int32Array(n),
    frame: new Int32Array(n),
    num: Float64Array.from({ length: n }, (_, i) => base + i),
    kind: new Uint8Array(n),
    other: [],
  };
}

function setup(): { dir: string; repo: RepoInfo; tree: string; commit: string } {
  const dir = makeRepo({ files: { 'train.js': 'console.log("hi")\n' } });
  const repo = findRepoSync(dir)!;
  return { dir, repo, tree: snapshotWorkTreeSync(repo), commit: headSync(repo).commit! };
}

async function addRun(repo: RepoInfo, tree: string, commit: string, n = 3, over = {}): Promise<string> {
  const meta = makeMeta({ commit, status: 'ok', records: n, end: new Date().toISOString(), ...over });
  await appendRun(repo, { meta, codeTree: tree, segments: { forward: encodeSegment(makeSegment(meta.id, 'forward', records(n))) } });
  return meta.id;
}

test('appendRun then readableRuns, resolveRun, readSegment; tree layout as specified', async () => {
  const { dir, repo, tree, commit } = setup();
  const writer = await ensureWriter(repo);
  assert.equal(gitIn(dir, 'config', 'flor.writer'), writer);
  assert.equal(await ensureWriter(repo), writer, 'stable once made');
  const a = await addRun(repo, tree, commit, 3, { args: { lr: 0.02, tags: ['a', 'b'], big: 7n } });
  const b = await addRun(repo, tree, commit, 5);
  const ckptManifest = pack({ format: 'flor-ckpt', version: 1, loop: 'epoch', iters: [0, 1], keys: ['a'.repeat(64), 'b'.repeat(64)], bytes: [10, 20] });
  const c = makeMeta({ commit, status: 'failed', error: 'boom', exitCode: 1, records: 0 });
  await appendRun(repo, { meta: c, codeTree: tree, segments: { forward: encodeSegment(makeSegment(c.id, 'forward', records(0))) }, ckpt: ckptManifest });

  const runs = await readableRuns(repo);
  assert.deepEqual(runs.map((r) => r.id), [a, b, c.id].sort());
  const ra = runs.find((r) => r.id === a)!;
  assert.deepEqual(ra.meta.args, { lr: 0.02, tags: ['a', 'b'], big: 7n });
  assert.equal(ra.meta.writer, writer, 'the ledger sets the writer');
  assert.equal(ra.codeTree, tree);
  assert.deepEqual(ra.ledgers, [`refs/flor/ledgers/${writer}`]);
  assert.deepEqual(ra.segments.map((s) => s.name), ['forward']);
  const seg = await readSegment(repo, ra.segments[0]!.oid);
  assert.deepEqual([...seg.num], [0, 1, 2]);
  assert.equal(seg.source, 'forward');
  const rc = runs.find((r) => r.id === c.id)!;
  assert.equal(rc.meta.status, 'failed');
  assert.deepEqual((await readCheckpointManifest(repo, rc.ckpt!)).iters, [0, 1]);

  const ls = gitIn(dir, 'ls-tree', '--name-only', '-r', `refs/flor/ledgers/${writer}`).split('\n').filter((p) => !p.includes('/code/'));
  assert.ok(ls.includes(`${runDir(a)}/run.msgpack`));
  assert.ok(ls.includes(`${runDir(a)}/logs/forward.msgpack`));
  assert.ok(ls.includes(`${runDir(c.id)}/ckpt.msgpack`));
  assert.equal(gitIn(dir, 'rev-parse', `refs/flor/ledgers/${writer}:${runDir(a)}/code`), tree);
  assert.equal(gitIn(dir, 'rev-list', '--count', `refs/flor/ledgers/${writer}`), '3', 'one commit per capture');
  assert.equal(gitIn(dir, 'log', '-1', '--format=%an <%ae>', `refs/flor/ledgers/${writer}`), 'git flor <flor@localhost>');

  assert.equal((await resolveRun(repo, a)).id, a);
  assert.equal((await resolveRun(repo, a.slice(0, 22).toLowerCase())).id, a, 'unique prefix, any case');
  await assert.rejects(resolveRun(repo, '01'), (e: unknown) => isFlorError(e, 'RUN_AMBIGUOUS') && e.message.includes(a));
  await assert.rejects(resolveRun(repo, 'ZZZZ'), (e: unknown) => isFlorError(e, 'RUN_NOT_FOUND'));
  fsckAfterGc(dir);
});

test('appendSegment adds replay segments beside forward, never overwriting; orphan segments are reported', async () => {
  const { dir, repo, tree, commit } = setup();
  const id = await addRun(repo, tree, commit, 2);
  const prov = { statements: ['g'], code: tree, time: new Date().toISOString(), writer: 'w', segments: [[0, 1]] as Array<[number, number]> };
  await appendSegment(repo, id, 'replay-1', encodeSegment(makeSegment(id, 'replay', records(4, 10), prov)));
  const run = await resolveRun(repo, id);
  assert.deepEqual(run.segments.map((s) => s.name), ['forward', 'replay-1']);
  const seg = await readSegment(repo, run.segments[1]!.oid);
  assert.equal(seg.source, 'replay');
  assert.deepEqual(seg.provenance, prov);
  await assert.rejects(appendSegment(repo, id, 'replay-1', encodeSegment(makeSegment(id, 'replay', records(1)))), (e: unknown) => isFlorError(e, 'SEGMENT_EXISTS'));
  await assert.rejects(appendSegment(repo, id, '../x', Buffer.alloc(1)), (e: unknown) => isFlorError(e, 'BAD_SEGMENT_NAME'));
  // A replay of a run this clone has never seen (its ledger not fetched): listed as incomplete.
  const stranger = ulid();
  await appendSegment(repo, stranger, 'replay-1', encodeSegment(makeSegment(stranger, 'replay', records(1))));
  const { runs, broken } = await listRunsChecked(repo);
  assert.deepEqual(runs.map((r) => r.id), [id]);
  assert.equal(broken.length, 1);
  assert.equal(broken[0]!.id, stranger);
  assert.equal(broken[0]!.code, 'RUN_INCOMPLETE');
  fsckClean(dir);
});

test('union of ledgers: fetched ledgers join by run id, duplicates collapse', async () => {
  const { dir, repo, tree, commit } = setup();
  const mine = await addRun(repo, tree, commit);
  const writer = await ensureWriter(repo);
  // Another clone's ledger, as `git fetch` would leave it: written under another writer id, then moved.
  gitIn(dir, 'config', 'flor.writer', 'other');
  const theirs = await addRun(repo, tree, commit);
  await appendSegment(repo, mine, 'replay-other', encodeSegment(makeSegment(mine, 'replay', records(1))));
  gitIn(dir, 'update-ref', 'refs/flor/remotes/origin/ledgers/other', 'refs/flor/ledgers/other');
  gitIn(dir, 'update-ref', '-d', 'refs/flor/ledgers/other');
  gitIn(dir, 'config', 'flor.writer', writer);
  // Our own ledger fetched back from the remote: the same runs again.
  gitIn(dir, 'update-ref', `refs/flor/remotes/origin/ledgers/${writer}`, `refs/flor/ledgers/${writer}`);
  const { runs, broken } = await listRunsChecked(repo);
  assert.deepEqual(broken, []);
  assert.deepEqual(runs.map((r) => r.id), [mine, theirs].sort());
  const m = runs.find((r) => r.id === mine)!;
  assert.deepEqual(m.segments.map((s) => [s.name, s.ledger]), [
    ['forward', `refs/flor/ledgers/${writer}`],
    ['replay-other', 'refs/flor/remotes/origin/ledgers/other'],
  ]);
  assert.equal(m.ledgers[0], `refs/flor/ledgers/${writer}`, 'own ledger first');
  assert.deepEqual(m.ledgers.slice(1), ['refs/flor/remotes/origin/ledgers/other', `refs/flor/remotes/origin/ledgers/${writer}`].sort());
  assert.equal(runs.find((r) => r.id === theirs)!.meta.writer, 'other');
  fsckClean(dir);
});

test('a corrupt run is reported by id while every other run still lists; doctor names it', async () => {
  const { dir, repo, tree, commit } = setup();
  const ids = [await addRun(repo, tree, commit), await addRun(repo, tree, commit), await addRun(repo, tree, commit), await addRun(repo, tree, commit)];
  const writer = await ensureWriter(repo);
  const ref = `refs/flor/ledgers/${writer}`;
  const [badMeta, badSchema, badSeg] = [ids[0]!, ids[1]!, ids[2]!];
  const garbage = await writeBlob(repo, Buffer.from('\xc1\xc1 this is not msgpack', 'latin1'));
  const wrongType = await writeBlob(repo, pack({ ...makeMeta({ id: badSchema }), records: 'many' }));
  const segGarbage = await writeBlob(repo, pack({ format: 'flor-segment', version: 1, run: badSeg }));
  await updateRefWithRetry(repo, ref, {
    message: 'test: corrupt three runs',
    tree: (root, { cat, mk }) =>
      editTree(cat, mk, root, new Map([
        [`${runDir(badMeta)}/run.msgpack`, blobEntry(garbage)],
        [`${runDir(badSchema)}/run.msgpack`, blobEntry(wrongType)],
        [`${runDir(badSeg)}/logs/forward.msgpack`, blobEntry(segGarbage)],
      ])),
  });
  const { runs, broken } = await listRunsChecked(repo);
  assert.deepEqual(runs.map((r) => r.id), [badSeg, ids[3]!].sort(), 'a bad segment is found when read, not listed');
  assert.deepEqual(broken.map((b) => b.id).sort(), [badMeta, badSchema].sort());
  for (const b of broken) {
    assert.ok(['CORRUPT_DATA', 'CORRUPT_RUN'].includes(b.code), b.code);
    assert.ok(b.error.includes(`run ${b.id}`), `message names the run: ${b.error}`);
    assert.equal(b.ledger, ref);
  }
  assert.match(broken.find((b) => b.id === badSchema)!.error, /records/);
  await assert.rejects(resolveRun(repo, badMeta), (e: unknown) => isFlorError(e) && e.message.includes(badMeta));
  const seg = runs.find((r) => r.id === badSeg)!.segments[0]!;
  await assert.rejects(readSegment(repo, seg.oid), (e: unknown) => isFlorError(e, 'CORRUPT_RUN') && e.message.includes(`run ${badSeg} segment forward`));

  const report = await doctor(repo);
  const named = new Set(report.problems.map((p) => p.run));
  assert.ok(named.has(badMeta) && named.has(badSchema) && named.has(badSeg), JSON.stringify(report.problems));
  assert.ok(!named.has(ids[3]));
  assert.equal(report.checked, 1);
  fsckClean(dir);
});

test('doctor reports missing objects and repairs a deleted notes index', async () => {
  const { dir, repo, tree, commit } = setup();
  const id = await addRun(repo, tree, commit);
  // A capture writes notes; this test appended directly, so the notes index lacks the run.
  let report = await doctor(repo);
  assert.deepEqual(report.problems, []);
  assert.deepEqual(report.repaired.map((r) => r.kind), ['notes-completed']);
  assert.equal(report.repaired[0]!.text, 'notes index: added 1 missing line(s)');
  assert.match(gitIn(dir, '-c', 'notes.displayRef=refs/flor/notes', 'log', '-1'), new RegExp(`flor run ${id} ok train.js`));
  report = await doctor(repo);
  assert.deepEqual(report.repaired, [], 'nothing left to repair');
  // Scratch left by a dead process goes; a live one's stays.
  const tmp = join(repo.commonDir, 'flor', 'tmp');
  mkdirSync(join(tmp, `blobs-${deadPid()}-abcd`), { recursive: true });
  writeFileSync(join(tmp, `index-${process.pid}-beef`), '');
  report = await doctor(repo);
  assert.deepEqual(report.repaired.map((r) => r.kind), ['scratch-removed'], JSON.stringify(report.repaired));
  assert.deepEqual(readdirSync(tmp), [`index-${process.pid}-beef`]);
  // An unreadable notes index is rebuilt, and the report says so by kind (the command re-applies rewrites on it).
  gitIn(dir, 'update-ref', 'refs/flor/notes', (await writeBlob(repo, Buffer.from('junk'))));
  report = await doctor(repo);
  assert.deepEqual(report.repaired.map((r) => r.kind), ['notes-rebuilt'], JSON.stringify(report.repaired));
  assert.match(gitIn(dir, '-c', 'notes.displayRef=refs/flor/notes', 'log', '-1'), new RegExp(`flor run ${id} ok train.js`));
  // Delete a segment blob from the object store: doctor must notice.
  const seg = (await resolveRun(repo, id)).segments[0]!.oid;
  sh('rm', ['-f', `${repo.commonDir}/objects/${seg.slice(0, 2)}/${seg.slice(2)}`], dir);
  report = await doctor(repo);
  assert.ok(report.problems.some((p) => p.problem.includes(seg)), JSON.stringify(report.problems));
  assert.ok(report.problems.some((p) => p.run === id));
});

test('writeBlobs (batched through --stdin-paths) writes exactly what hash-object would', async () => {
  const { dir, repo } = setup();
  const bufs = ['one', 'two\n', '', 'one', 'ünï'].map((s) => Buffer.from(s));
  const oids = await writeBlobs(repo, bufs);
  assert.deepEqual(oids, bufs.map((b) => sh('git', ['hash-object', '--stdin'], dir, { input: b.toString() }).stdout.trim()));
  assert.equal(gitIn(dir, 'cat-file', '-p', oids[4]!), 'ünï');
  assert.deepEqual(readdirSync(join(repo.commonDir, 'flor', 'tmp')), [], 'staging files removed');
});

test('BoundedMap: the store caches forget the least recently used entry past their bound', () => {
  const m = new BoundedMap<string, number>(2);
  m.set('a', 1);
  m.set('b', 2);
  assert.equal(m.get('a'), 1); // a hit makes 'a' the most recently used
  m.set('c', 3);
  assert.equal(m.size, 2);
  assert.equal(m.get('b'), undefined);
  assert.equal(m.get('a'), 1);
  assert.equal(m.get('c'), 3);
  m.set('a', 10); // a new value for a held key does not grow the map
  assert.equal(m.size, 2);
  assert.equal(m.get('a'), 10);
  assert.throws(() => new BoundedMap(0), RangeError);
});
