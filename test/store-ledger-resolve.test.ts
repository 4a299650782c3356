/**
 * Run selection against one listing (resolveIn) and the per-command segment cache (segmentCache)
 * that lets `log --replay` read each unchanged segment once.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeRepo, gitIn, cleanup } from './helpers/repo.js';
import { findRepoSync, type RepoInfo } from '../src/store/git.js';
import { snapshotWorkTreeSync, headSync } from '../src/store/worktree.js';
import {
  appendRun, appendSegment, listRunsChecked, readSegment, resolveIn, resolveRun, runDir, segmentCache, ensureWriter,
  type BrokenRun, type RunEntry,
} from '../src/store/ledger.js';
import { encodeSegment, makeSegment } from '../src/store/segment.js';
import { blobEntry, editTree, updateRefWithRetry, writeBlob } from '../src/store/objects.js';
import { pack } from '../src/store/pack.js';
import { isFlorError, type FlorError } from '../src/errors.js';
import { logView } from '../src/query/runs.js';
import { replayMissing } from '../src/replay/replay.js';
import type { RecordColumns, Value } from '../src/store/records.js';
import { cellAt } from '../src/query/table.js';
import { makeMeta, ulid } from './helpers/store-fixtures.js';

after(cleanup);

function entry(id: string): RunEntry {
  return { id, writer: 'w', meta: makeMeta({ id }), codeTree: 'a'.repeat(40), segments: [], ckpt: null, ledgers: ['refs/flor/ledgers/w'], source: { ledger: 'refs/flor/ledgers/w', tip: 'b'.repeat(40) } };
}

/** What a call threw, as the CLI would show it; or the id it resolved to. */
function outcome(f: () => RunEntry): { id: string } | { code: string; message: string; hint: string | undefined; data: Record<string, unknown> } {
  try {
    return { id: f().id };
  } catch (e) {
    assert.ok(isFlorError(e), `a FlorError, not ${String(e)}`);
    const fe = e as FlorError;
    return { code: fe.code, message: fe.message, hint: fe.hint, data: fe.data };
  }
}

async function outcomeAsync(f: () => Promise<RunEntry>): Promise<ReturnType<typeof outcome>> {
  try {
    return { id: (await f()).id };
  } catch (e) {
    assert.ok(isFlorError(e), `a FlorError, not ${String(e)}`);
    const fe = e as FlorError;
    return { code: fe.code, message: fe.message, hint: fe.hint, data: fe.data };
  }
}

const A = '01JD3AAAAA0000000000000001';
const B = '01JD3AAAAA0000000000000002';
const C = '01JD3BBBBB0000000000000003';
const D = '01JD3CCCCC0000000000000004'; // broken
const E = '01JD3DDDDD0000000000000005'; // broken
const NOT_FOUND_HINT = 'list runs with `git flor runs`';
const DOCTOR_HINT = 'run `git flor doctor`';

test('resolveIn: full id, unique prefix, any case, surrounding blanks; returns the listed entry itself', () => {
  const runs = [A, B, C].map(entry);
  assert.equal(resolveIn(runs, A), runs[0]);
  assert.equal(resolveIn(runs, B.toLowerCase()), runs[1]);
  assert.equal(resolveIn(runs, '01JD3B'), runs[2]);
  assert.equal(resolveIn(runs, '  01jd3b\n'), runs[2]);
  assert.equal(resolveIn(runs, '01JD3AAAAA0000000000000002'), runs[1]);
});

test('resolveIn: each error with its code, message, hint and data', () => {
  const runs = [A, B, C].map(entry);
  for (const empty of ['', '   ']) {
    assert.deepEqual(outcome(() => resolveIn(runs, empty)), { code: 'RUN_NOT_FOUND', message: 'no run id given', hint: NOT_FOUND_HINT, data: {} });
  }
  assert.deepEqual(outcome(() => resolveIn([], 'x')), { code: 'RUN_NOT_FOUND', message: 'no run matches x', hint: NOT_FOUND_HINT, data: {} });
  assert.deepEqual(outcome(() => resolveIn(runs, 'ZZZZ')), { code: 'RUN_NOT_FOUND', message: 'no run matches ZZZZ', hint: NOT_FOUND_HINT, data: {} });
  // The message repeats the prefix as typed.
  assert.deepEqual(outcome(() => resolveIn(runs, '01jd3a')), {
    code: 'RUN_AMBIGUOUS',
    message: `run prefix 01jd3a matches 2 runs: ${A}, ${B}`,
    hint: 'give more characters of the id',
    data: { candidates: [A, B] },
  });
  const many = Array.from({ length: 7 }, (_, i) => `01JD3EEEEE000000000000000${i}`);
  assert.deepEqual(outcome(() => resolveIn(many.map(entry), '01JD3E')), {
    code: 'RUN_AMBIGUOUS',
    message: `run prefix 01JD3E matches 7 runs: ${many.slice(0, 5).join(', ')}, …`,
    hint: 'give more characters of the id',
    data: { candidates: many },
  });
});

test('resolveIn: an unreadable run is named with its own error, unless a readable one matches', () => {
  const runs = [A, B, C].map(entry);
  const broken: BrokenRun[] = [
    { id: D, ledger: 'refs/flor/ledgers/w', code: 'CORRUPT_RUN', error: `run ${D} in refs/flor/ledgers/w: no code tree` },
    { id: E, ledger: 'refs/flor/ledgers/w', code: 'RUN_INCOMPLETE', error: `run ${E}: no metadata` },
    { id: '', ledger: 'refs/flor/remotes/o/ledgers/x', code: 'CORRUPT_REF', error: 'whole ledger unreadable' },
  ];
  assert.deepEqual(outcome(() => resolveIn(runs, D.toLowerCase(), broken)), {
    code: 'CORRUPT_RUN', message: broken[0]!.error, hint: DOCTOR_HINT, data: { id: D },
  });
  assert.deepEqual(outcome(() => resolveIn(runs, '01JD3D', broken)), { code: 'RUN_INCOMPLETE', message: broken[1]!.error, hint: DOCTOR_HINT, data: {} });
  // Two unreadable runs match: nothing to name, as when no run matches.
  const twoBad = [...broken, { ...broken[0]!, id: '01JD3CCCCC0000000000000009' }];
  assert.deepEqual(outcome(() => resolveIn(runs, '01JD3C', twoBad)), { code: 'RUN_NOT_FOUND', message: 'no run matches 01JD3C', hint: NOT_FOUND_HINT, data: {} });
  // A readable match wins over an unreadable one; a whole-ledger failure (id '') matches no prefix.
  assert.equal(resolveIn(runs, '01JD3B', [{ ...broken[0]!, id: '01JD3BBBBB0000000000000009' }]).id, C);
  assert.deepEqual(outcome(() => resolveIn(runs, '01JD3Z', broken)), { code: 'RUN_NOT_FOUND', message: 'no run matches 01JD3Z', hint: NOT_FOUND_HINT, data: {} });
  // Without the broken list the same id is simply unknown.
  assert.deepEqual(outcome(() => resolveIn(runs, D)), { code: 'RUN_NOT_FOUND', message: `no run matches ${D}`, hint: NOT_FOUND_HINT, data: {} });
});

function records(n: number, name = 'loss', base = 0): RecordColumns {
  return {
    names: [name],
    loops: ['epoch'],
    frames: { parent: new Int32Array(n).fill(-1), loop: new Int32Array(n), iter: Int32Array.from({ length: n }, (_, i) => i) },
    name: new Int32Array(n),
    frame: Int32Array.from({ length: n }, (_, i) => i),
    num: Float64Array.from({ length: n }, (_, i) => base + i),
    kind: new Uint8Array(n),
    other: [],
  };
}

const SCRIPT = `import { flor } from 'git-flor';
for (const epoch of flor.loop('epoch', [0, 1, 2])) flor.log('loss', epoch);
`;

async function repoWithRuns(n: number): Promise<{ dir: string; repo: RepoInfo; ids: string[] }> {
  const dir = makeRepo({ files: { 'train.mjs': SCRIPT } });
  const repo = findRepoSync(dir)!;
  const tree = snapshotWorkTreeSync(repo);
  const commit = headSync(repo).commit!;
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const meta = makeMeta({ id: ulid(Date.now() - (n - i) * 1000), commit, script: 'train.mjs', status: 'ok', records: 3, end: new Date().toISOString() });
    await appendRun(repo, { meta, codeTree: tree, segments: { forward: encodeSegment(makeSegment(meta.id, 'forward', records(3, 'loss', i * 10))) } });
    ids.push(meta.id);
  }
  return { dir, repo, ids: ids.sort() };
}

test('resolveRun and resolveIn over the same listing agree on every input, unreadable runs included', async () => {
  const { repo, ids } = await repoWithRuns(3);
  // Make one run unreadable: its metadata replaced by garbage.
  const writer = await ensureWriter(repo);
  const garbage = await writeBlob(repo, Buffer.from([0xc1]));
  await updateRefWithRetry(repo, `refs/flor/ledgers/${writer}`, {
    message: 'test: corrupt one run',
    tree: (root, { cat, mk }) => editTree(cat, mk, root, new Map([[`${runDir(ids[2]!)}/run.msgpack`, blobEntry(garbage)]])),
  });
  const { runs, broken } = await listRunsChecked(repo);
  assert.deepEqual(runs.map((r) => r.id), ids.slice(0, 2));
  assert.deepEqual(broken.map((b) => b.id), [ids[2]]);
  const inputs = [ids[0]!, ids[1]!.toLowerCase(), ids[1]!.slice(0, 24), '', ' ', '0', 'ZZZZ', ids[2]!, ids[2]!.slice(0, 25)];
  for (const input of inputs) {
    const viaRepo = await outcomeAsync(() => resolveRun(repo, input));
    assert.deepEqual(outcome(() => resolveIn(runs, input, broken)), viaRepo, JSON.stringify(input));
  }
  assert.deepEqual(await outcomeAsync(() => resolveRun(repo, ids[1]!.slice(0, 24))), { id: ids[1] });
  const amb = await outcomeAsync(() => resolveRun(repo, '0'));
  assert.ok('code' in amb && amb.code === 'RUN_AMBIGUOUS' && amb.message === `run prefix 0 matches 2 runs: ${ids[0]}, ${ids[1]}`, JSON.stringify(amb));
  const bad = await outcomeAsync(() => resolveRun(repo, ids[2]!));
  assert.ok('code' in bad && bad.code === broken[0]!.code && bad.message === broken[0]!.error && bad.hint === DOCTOR_HINT, JSON.stringify(bad));
});

test('segmentCache: a second read is the same decoded segment; the byte budget is never exceeded; failures are not kept', async () => {
  const { dir, repo } = await repoWithRuns(3);
  const { runs } = await listRunsChecked(repo);
  const [a, b, c] = runs.map((r) => r.segments[0]!.oid) as [string, string, string];
  const size = (oid: string): number => Number(gitIn(dir, 'cat-file', '-s', oid));

  const cache = segmentCache(repo);
  const first = await cache.read(a);
  assert.deepEqual(first, await readSegment(repo, a));
  assert.deepEqual([...first.num], [0, 1, 2]);
  assert.equal(await cache.read(a), first, 'the very object, not decoded again');
  assert.deepEqual(cache.stats, { hits: 1, misses: 1, bytes: size(a), entries: 1 });

  // Room for a and b only: c is read every time, a and b stay.
  const small = segmentCache(repo, size(a) + size(b));
  for (const oid of [a, b, c, c, a, b]) await small.read(oid);
  assert.deepEqual(small.stats, { hits: 2, misses: 4, bytes: size(a) + size(b), entries: 2 });
  assert.deepEqual([...(await small.read(c)).num], [20, 21, 22]);

  const none = segmentCache(repo, 0);
  const x = await none.read(b);
  assert.notEqual(await none.read(b), x);
  assert.deepEqual(none.stats, { hits: 0, misses: 2, bytes: 0, entries: 0 });

  // A missing object and a corrupt segment fail the same way on every read.
  const missing = 'f'.repeat(a.length);
  const corrupt = await writeBlob(repo, pack({ format: 'flor-segment', version: 1, run: 'x' }));
  for (let i = 0; i < 2; i++) {
    await assert.rejects(cache.read(missing), (e: unknown) => isFlorError(e, 'OBJECT_MISSING') && e.message === `segment ${missing}: object ${missing} is missing`);
    await assert.rejects(cache.read(corrupt), (e: unknown) => isFlorError(e) && e.message.startsWith(`segment ${corrupt}: `));
  }
  assert.deepEqual(cache.stats, { hits: 1, misses: 5, bytes: size(a), entries: 1 });
});

test('a replay and the view share one cache: unchanged segments are read once, a new segment is read, the view is the same', async () => {
  const { repo, ids } = await repoWithRuns(3);
  const cache = segmentCache(repo);
  const r = await replayMissing(repo, ['loss', 'lr'], { skipUnknown: true, segments: cache, lockTimeoutMs: 10_000 });
  assert.deepEqual(r.names, ['loss']);
  assert.deepEqual(r.complete, ids);
  assert.deepEqual(r.outcomes, []);
  assert.deepEqual(cache.stats.misses, 3);
  assert.deepEqual(cache.stats.hits, 0);

  // Between the two reads a run gains a segment (as a replay writes one): a new oid, read from Git.
  const prov = { statements: ['acc'], code: 'a'.repeat(40), time: '2026-01-01T00:00:00.000Z', writer: 'w', segments: [[0, 3]] as Array<[number, number]> };
  await appendSegment(repo, ids[1]!, 'replay-1', encodeSegment(makeSegment(ids[1]!, 'replay', records(3, 'acc', 100), prov)));

  const cached = await logView(repo, { names: ['loss', 'acc'], segments: cache });
  assert.deepEqual(cache.stats, { hits: 3, misses: 4, bytes: cache.stats.bytes, entries: 4 });
  const plain = await logView(repo, { names: ['loss', 'acc'] });
  assert.deepEqual(cached, plain);
  const col = (name: string): Value[] => {
    const c = plain.table.cols[plain.table.columns.indexOf(name)]!;
    return Array.from({ length: plain.table.length }, (_, i) => cellAt(c, i));
  };
  assert.deepEqual(col('run'), [ids[0], ids[0], ids[0], ids[1], ids[1], ids[1], ids[2], ids[2], ids[2]]);
  assert.deepEqual(col('loss'), [0, 1, 2, 10, 11, 12, 20, 21, 22]);
  assert.deepEqual(col('acc'), [null, null, null, 100, 101, 102, null, null, null]);
});
