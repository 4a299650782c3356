import { NOTES_REF } from '../src/store/refs.js';
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepo, gitIn, fsckClean, fsckAfterGc, cleanup, sh, ROOT, testEnv } from './helpers/repo.js';
import { findRepoSync, type RepoInfo } from '../src/store/git.js';
import { snapshotWorkTreeSync, headSync } from '../src/store/worktree.js';
import { readableRuns, readSegment, readCheckpointManifest } from '../src/store/ledger.js';
import { journalPath, listJournals, openJournal } from '../src/store/journal.js';
import { recoverOrphans } from '../src/store/capture.js';
import { rebuildNotes, readNotes } from '../src/store/notes.js';
import { doctor } from '../src/store/doctor.js';
import { makeMeta, writeRunJournal } from './helpers/store-fixtures.js';

const CAPTURE_MAIN = join(ROOT, 'dist', 'store', 'capture-main.js');

before(() => {
  // capture-main runs from dist/, as the runtime spawns it (`npm test` builds first).
  assert.ok(existsSync(CAPTURE_MAIN), 'dist/store/capture-main.js is built: run `npx tsc` first');
});
after(cleanup);

function setup(files: Record<string, string> = { 'train.js': 'console.log("hi")\n' }): { dir: string; repo: RepoInfo; tree: string; commit: string } {
  const dir = makeRepo({ files });
  const repo = findRepoSync(dir)!;
  return { dir, repo, tree: snapshotWorkTreeSync(repo), commit: headSync(repo).commit! };
}

function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

test('capture-main moves a finished journal into the ledger and the notes index', async () => {
  const { dir, repo, tree, commit } = setup();
  const meta = makeMeta({ commit, argv: ['--lr', '0.5'], args: { lr: 0.5 } });
  const { records } = writeRunJournal(repo.commonDir, meta, tree, { epochs: 3, steps: 4, chunks: 2, args: { seed: 7 } });
  const r = sh(process.execPath, [CAPTURE_MAIN, journalPath(repo.commonDir, meta.id)], dir, { allowFail: true });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.deepEqual(listJournals(repo.commonDir), [], 'journal deleted once captured');
  const [run] = await readableRuns(repo);
  assert.equal(run!.id, meta.id);
  assert.equal(run!.meta.status, 'ok');
  assert.equal(run!.meta.records, records);
  assert.deepEqual(run!.meta.args, { lr: 0.5, seed: 7 });
  assert.deepEqual(run!.meta.loops, [{ name: 'epoch', parent: null, iterations: 3 }, { name: 'step', parent: 'epoch', iterations: 4 }]);
  assert.equal(run!.ckpt, null);
  const seg = await readSegment(repo, run!.segments[0]!.oid);
  assert.equal(seg.name.length, records);
  assert.deepEqual(seg.other, ['epoch 0', 'epoch 1', 'epoch 2']);
  assert.deepEqual([...seg.num.subarray(0, 5)], [0, 1, 2, 3, 0]);

  const line = `flor run ${meta.id} ok train.js lr=0.5 seed=7 (${records} records)`;
  assert.match(gitIn(dir, '-c', `notes.displayRef=${NOTES_REF}`, 'log', '-1'), new RegExp(`Notes \\(flor/notes\\):\\n\\s+${line.replace(/[()]/g, '\\$&')}`));
  assert.ok(sh('git', ['log', '-1', '--notes'], dir, { env: testEnv({ GIT_NOTES_REF: NOTES_REF }) }).stdout.includes(line));
  assert.match(gitIn(dir, 'ls-tree', '-r', '--name-only', NOTES_REF), new RegExp(`^${commit.slice(0, 2)}/${commit.slice(2)}$`), '2/38 fanout');
  fsckAfterGc(dir);
});

test('six runs finishing at once are all captured, with one note line each', async () => {
  const { dir, repo, tree, commit } = setup();
  const metas = Array.from({ length: 6 }, () => makeMeta({ commit }));
  for (const m of metas) writeRunJournal(repo.commonDir, m, tree, { epochs: 2, steps: 3 });
  const codes = await Promise.all(
    metas.map(
      (m) =>
        new Promise<{ code: number | null; err: string }>((resolve) => {
          const c = spawn(process.execPath, [CAPTURE_MAIN, journalPath(repo.commonDir, m.id)], { cwd: dir, env: testEnv() });
          let err = '';
          c.stderr.on('data', (d) => (err += d));
          c.on('close', (code) => resolve({ code, err }));
        }),
    ),
  );
  assert.deepEqual(codes, metas.map(() => ({ code: 0, err: '' })));
  const runs = await readableRuns(repo);
  assert.deepEqual(runs.map((r) => r.id), metas.map((m) => m.id).sort());
  const writer = gitIn(dir, 'config', 'flor.writer');
  assert.equal(gitIn(dir, 'rev-list', '--count', `refs/flor/ledgers/${writer}`), '6');
  assert.deepEqual(gitIn(dir, 'for-each-ref', '--format=%(refname)', 'refs/flor/ledgers').split('\n'), [`refs/flor/ledgers/${writer}`], 'one writer id despite the race');
  const note = (await readNotes(repo)).get(commit)!;
  assert.deepEqual(note.trim().split('\n').map((l) => l.split(' ')[2]).sort(), metas.map((m) => m.id).sort());
  fsckClean(dir);
});

test('orphaned journals are recovered as crashed, live ones are left alone, bad ones set aside', async () => {
  const { dir, repo, tree, commit } = setup();
  const dead = makeMeta({ commit });
  const { records } = writeRunJournal(repo.commonDir, dead, tree, { epochs: 3, steps: 2, end: false, pid: deadPid() });
  const finished = makeMeta({ commit }); // wrote its end frame, but its capture never ran
  writeRunJournal(repo.commonDir, finished, tree, { epochs: 1, steps: 1, pid: deadPid() });
  const live = makeMeta({ commit });
  writeRunJournal(repo.commonDir, live, tree, { end: false, pid: process.pid });
  const claimed = makeMeta({ commit }); // a capturer died holding its claim
  writeRunJournal(repo.commonDir, claimed, tree, { end: false, pid: deadPid() });
  renameSync(journalPath(repo.commonDir, claimed.id), `${journalPath(repo.commonDir, claimed.id)}.claim.${deadPid()}`);
  const broken = makeMeta();
  const bw = openJournal(repo.commonDir, broken.id);
  bw.close();
  writeFileSync(journalPath(repo.commonDir, broken.id), Buffer.from([3, 0, 0, 0, 0xc1, 0xc1, 0xc1]));

  await assert.rejects(recoverOrphans(repo), (e: unknown) => {
    const data = (e as { code: string; data: { recovered: string[] } }).data;
    assert.equal((e as { code: string }).code, 'JOURNAL_RECOVERY');
    assert.deepEqual(data.recovered.sort(), [dead.id, finished.id, claimed.id].sort());
    return true;
  });
  const runs = await readableRuns(repo);
  assert.deepEqual(runs.map((r) => r.id), [dead.id, finished.id, claimed.id].sort());
  const d = runs.find((r) => r.id === dead.id)!;
  assert.equal(d.meta.status, 'crashed');
  assert.equal(d.meta.records, records);
  assert.deepEqual(d.meta.loops, [{ name: 'epoch', parent: null, iterations: 3 }, { name: 'step', parent: 'epoch', iterations: 2 }]);
  assert.equal((await readSegment(repo, d.segments[0]!.oid)).name.length, records);
  assert.equal(runs.find((r) => r.id === finished.id)!.meta.status, 'ok', 'an end frame keeps its status');
  assert.deepEqual(listJournals(repo.commonDir), [journalPath(repo.commonDir, live.id)], 'the live run keeps its journal');
  assert.deepEqual(readdirSync(join(repo.commonDir, 'flor', 'journal', 'bad')), [`${broken.id}.jrnl`]);
  const report = await doctor(repo);
  assert.deepEqual(report.recovered, []);
  assert.equal(report.problems.length, 1);
  assert.match(report.problems[0]!.path!, /bad/);
  fsckClean(dir);
});

test('the checkpoint manifest lists only checkpoints present in the local store', async () => {
  const { repo, tree, commit } = setup();
  const meta = makeMeta({ commit });
  const present = 'ab'.repeat(32);
  const absent = 'cd'.repeat(32);
  mkdirSync(join(repo.commonDir, 'flor', 'ckpt', 'ab'), { recursive: true });
  writeFileSync(join(repo.commonDir, 'flor', 'ckpt', 'ab', present.slice(2)), 'x');
  writeRunJournal(repo.commonDir, meta, tree, { end: false });
  const w = openJournal(repo.commonDir, meta.id);
  w.append({ t: 'ckpt', iter: 0, key: present, bytes: 123 });
  w.append({ t: 'ckpt', iter: 1, key: absent, bytes: 456 });
  w.append({ t: 'end', status: 'ok', exitCode: 0, error: null, end: new Date().toISOString(), loops: [{ name: 'epoch', parent: null, iterations: 3 }], outerMs: [1, 1, 1], checkpointing: ['model'] });
  w.close();
  const r = sh(process.execPath, [CAPTURE_MAIN, journalPath(repo.commonDir, meta.id)], repo.top!, { allowFail: true });
  assert.equal(r.status, 0, r.stderr);
  const [run] = await readableRuns(repo);
  assert.deepEqual(run!.meta.checkpointing, ['model']);
  const m = await readCheckpointManifest(repo, run!.ckpt!);
  assert.deepEqual(m, { format: 'flor-ckpt', version: 1, loop: 'epoch', iters: [0], keys: [present], bytes: [123] });
});

test('rebuildNotes reproduces what captures wrote, for several commits', async () => {
  const { dir, repo, tree } = setup();
  const c1 = headSync(repo).commit!;
  gitIn(dir, 'commit', '-q', '--allow-empty', '-m', 'second');
  const c2 = headSync(repo).commit!;
  const metas = [makeMeta({ commit: c1 }), makeMeta({ commit: c2, dirty: true, args: { name: 'has space', n: 3 } }), makeMeta({ commit: c2 })];
  for (const m of metas) {
    writeRunJournal(repo.commonDir, m, tree, { epochs: 1, steps: 1 });
    assert.equal(sh(process.execPath, [CAPTURE_MAIN, journalPath(repo.commonDir, m.id)], dir, { allowFail: true }).status, 0);
  }
  const incremental = await readNotes(repo);
  assert.equal(incremental.size, 2);
  assert.match(incremental.get(c2)!, /n=3 name="has space" dirty \(3 records\)/);
  gitIn(dir, 'update-ref', '-d', NOTES_REF);
  assert.equal(await rebuildNotes(repo), 2);
  assert.deepEqual(await readNotes(repo), incremental);
  const shown = gitIn(dir, '-c', `notes.displayRef=${NOTES_REF}`, 'log', '--format=%H%n%N');
  for (const m of metas) assert.ok(shown.includes(`flor run ${m.id}`), `git log shows run ${m.id}`);
  fsckClean(dir);
});

test('capture-main: a journal that cannot be captured exits 1 with one line and is set aside; a gone one is fine', () => {
  const { dir, repo, tree, commit } = setup();
  const meta = makeMeta({ commit, status: 'running' });
  writeRunJournal(repo.commonDir, { ...meta, script: 42 as unknown as string }, tree, { epochs: 1, steps: 1 });
  const r = sh(process.execPath, [CAPTURE_MAIN, journalPath(repo.commonDir, meta.id)], dir, { allowFail: true });
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, new RegExp(`^git flor: run not captured: run ${meta.id}: /script must be string`));
  assert.deepEqual(readdirSync(join(repo.commonDir, 'flor', 'journal', 'bad')), [`${meta.id}.jrnl`]);
  assert.equal(gitIn(dir, 'for-each-ref', 'refs/flor/ledgers'), '', 'nothing half-written');
  const gone = sh(process.execPath, [CAPTURE_MAIN, journalPath(repo.commonDir, meta.id)], dir, { allowFail: true });
  assert.equal(gone.status, 0, 'already captured or set aside by another process: nothing to do');
  assert.equal(gone.stderr, '');
});

test('a ledger problem (bad flor.writer) keeps the journal for a later capture; it is never set aside as bad', async () => {
  const { dir, repo, tree, commit } = setup();
  gitIn(dir, 'config', 'flor.writer', 'my name');
  const meta = makeMeta({ commit });
  writeRunJournal(repo.commonDir, meta, tree, { epochs: 1, steps: 2, chunks: 1 });
  const jp = journalPath(repo.commonDir, meta.id);
  const r = sh(process.execPath, [CAPTURE_MAIN, jp], dir, { allowFail: true });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /writer/i);
  assert.ok(existsSync(jp), 'journal given back under its own name');
  assert.ok(!existsSync(join(repo.commonDir, 'flor', 'journal', 'bad')), 'nothing set aside');
  gitIn(dir, 'config', '--unset', 'flor.writer');
  const ok = sh(process.execPath, [CAPTURE_MAIN, jp], dir, { allowFail: true });
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual((await readableRuns(repo)).map((x) => x.id), [meta.id]);
});

test('a journal whose records point outside their tables is set aside, not committed as an unreadable run', () => {
  const { dir, repo, tree, commit } = setup();
  const meta = makeMeta({ commit, status: 'running' });
  const w = openJournal(repo.commonDir, meta.id);
  w.append({ t: 'start', meta, codeTree: tree, pid: process.pid, host: 'test' });
  w.append({
    t: 'chunk',
    names: ['loss'],
    loops: [],
    frames: { parent: new Int32Array(0), loop: new Int32Array(0), iter: new Int32Array(0) },
    name: Int32Array.of(7), // one name in the table
    frame: Int32Array.of(-1),
    num: Float64Array.of(1),
    kind: Uint8Array.of(0),
    other: [],
  });
  w.append({ t: 'end', status: 'ok', exitCode: 0, error: null, end: new Date().toISOString(), loops: [], outerMs: [], checkpointing: [] });
  w.close();
  const r = sh(process.execPath, [CAPTURE_MAIN, journalPath(repo.commonDir, meta.id)], dir, { allowFail: true });
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`^git flor: run not captured: journal of run ${meta.id}: record 0 names 7 of 1`));
  assert.deepEqual(readdirSync(join(repo.commonDir, 'flor', 'journal', 'bad')), [`${meta.id}.jrnl`]);
  assert.equal(gitIn(dir, 'for-each-ref', 'refs/flor/ledgers'), '', 'nothing committed');
});
