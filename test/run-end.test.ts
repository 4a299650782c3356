/**
 * The end of a recorded run: the script's process exits without waiting for the capture, which
 * a detached process does; readers started right after see the run all the same (they wait for
 * a capture in flight, or do it when its capturer was killed), and no process is left behind.
 * Real repositories, real processes. A capture is held in flight deterministically by holding
 * the lock of the ledger ref, with `core.filesRefLockTimeout` making `git update-ref` wait for it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { BIN, cleanup, flor, gitIn, makeRepo, runNode, tempDir, testEnv } from './helpers/repo.js';
import { pack, unpack } from '../src/store/pack.js';
import { makeMeta } from './helpers/store-fixtures.js';
import { requireRepoSync } from '../src/store/git.js';
import { journalDir } from '../src/store/journal.js';
import { settleCacheWrites, writeCachedListing } from '../src/store/derived-cache.js';
import { shortRunId } from '../src/runtime/start.js';

after(cleanup);

const SCRIPT = `import { flor } from 'git-flor';
for (const e of flor.loop('epoch', [0, 1, 2])) flor.log('loss', 1 / (e + 1));
`;

const WRITER = 'runendw';

/** A repo whose ledger ref is locked: any capture stays in flight until `release()`. */
function lockedRepo(): { dir: string; release: () => void } {
  const dir = makeRepo({ files: { 'train.mjs': SCRIPT } });
  gitIn(dir, 'config', 'flor.writer', WRITER);
  gitIn(dir, 'config', 'core.filesRefLockTimeout', '600000');
  const lock = join(dir, '.git', 'refs', 'flor', 'ledgers', `${WRITER}.lock`);
  mkdirSync(join(lock, '..'), { recursive: true });
  writeFileSync(lock, '');
  return { dir, release: () => rmSync(lock, { force: true }) };
}

function journalNames(dir: string): string[] {
  const d = join(dir, '.git', 'flor', 'journal');
  return existsSync(d) ? readdirSync(d).filter((n) => n.includes('.jrnl')) : [];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid in the journal's claim, once the capturer has claimed it (it starts after the script exited). */
async function capturerPid(dir: string): Promise<number> {
  for (let i = 0; i < 3000; i++) {
    const claim = journalNames(dir).find((n) => n.includes('.claim.'));
    if (claim) return Number(claim.split('.claim.')[1]);
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no capture claimed the journal: ${journalNames(dir).join(', ')}`);
}

function runsJson(dir: string): Array<{ run: string; status: string; records: number }> {
  return JSON.parse(flor(dir, ['runs', '--format', 'json']).stdout);
}

test('the script exits while its capture is in flight; a reader started then waits for it and shows the whole run', async () => {
  const { dir, release } = lockedRepo();
  // Returns although the capture cannot land: the process did not wait for it.
  const r = runNode(dir, 'train.mjs');
  assert.equal(r.status, 0, r.stderr);
  const pid = await capturerPid(dir);
  assert.ok(alive(pid), 'the capture is in flight');
  assert.equal(gitIn(dir, 'for-each-ref', 'refs/flor/ledgers/'), '', 'nothing landed yet');
  // A reader started now must wait for the capture rather than show no run.
  const reader = spawn(process.execPath, [BIN, 'log', 'loss', '--format', 'json'], { cwd: dir, env: testEnv() });
  let out = '';
  reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = new Promise<number | null>((resolve) => reader.on('close', resolve));
  await new Promise((res) => setTimeout(res, 300)); // let the reader find the capture in flight
  release();
  assert.equal(await code, 0);
  const rows = JSON.parse(out) as Array<{ run: string; epoch: number; loss: number }>;
  assert.deepEqual(rows.map((x) => [x.epoch, x.loss]), [[0, 1], [1, 0.5], [2, 1 / 3]]);
  const runs = runsJson(dir);
  assert.deepEqual(runs.map((x) => [x.run, x.status, x.records]), [[rows[0]!.run, 'ok', 3]]);
  assert.deepEqual(journalNames(dir), []);
});

/** A recorded run whose capturer was killed with its git children (a CI container ending with the script). */
async function killedCapture(): Promise<string> {
  const { dir, release } = lockedRepo();
  runNode(dir, 'train.mjs');
  const pid = await capturerPid(dir);
  process.kill(-pid, 'SIGKILL');
  for (let i = 0; i < 500 && alive(pid); i++) await new Promise((r) => setTimeout(r, 10));
  release();
  return dir;
}

test('a capturer killed with its process group: the next reader captures the run with its true status', async () => {
  const dir = await killedCapture();
  assert.equal(journalNames(dir).filter((n) => n.includes('.claim.')).length, 1, 'the dead capturer left its claim');
  const runs = runsJson(dir);
  assert.deepEqual(runs.map((x) => [x.status, x.records]), [['ok', 3]], 'ok, as the run ended — not crashed');
  const show = flor(dir, ['show', runs[0]!.run, '--format', 'json']).stdout;
  assert.equal(JSON.parse(show).meta.status, 'ok');
  assert.deepEqual(journalNames(dir), []);
});

test('a finished journal whose pid now belongs to another process (pids are reused) is captured all the same', async () => {
  const dir = await killedCapture();
  // Its journal back under its own name, the start frame's pid now a living process's (this one's).
  const jdir = join(dir, '.git', 'flor', 'journal');
  const claim = journalNames(dir).find((n) => n.includes('.claim.'))!;
  const bytes = readFileSync(join(jdir, claim));
  const len = bytes.readUInt32LE(0);
  const start = unpack(bytes.subarray(4, 4 + len)) as { pid: number };
  start.pid = process.pid;
  const body = pack(start);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length, 0);
  writeFileSync(join(jdir, claim.split('.claim.')[0]!), Buffer.concat([head, body, bytes.subarray(4 + len)]));
  rmSync(join(jdir, claim));
  assert.deepEqual(runsJson(dir).map((x) => [x.status, x.records]), [['ok', 3]]);
  assert.deepEqual(journalNames(dir), []);
});

test('a run ended by flor.commit() mid-script is captured while the script goes on', async () => {
  const dir = makeRepo({
    files: {
      'early.mjs': `import { flor } from 'git-flor';
import { readdirSync } from 'node:fs';
for (const e of flor.loop('epoch', [0, 1])) flor.log('loss', e);
const id = flor.commit();
// The script goes on; its capture runs beside it and lands before the script ends.
const t0 = Date.now();
while (readdirSync('.git/flor/journal').length > 0 && Date.now() - t0 < 60000) await new Promise((r) => setTimeout(r, 20));
console.log(id, readdirSync('.git/flor/journal').length);
`,
    },
  });
  const r = runNode(dir, 'early.mjs');
  const [id, left] = r.stdout.trim().split(' ');
  assert.equal(left, '0', 'captured while the script still ran');
  assert.deepEqual(runsJson(dir).map((x) => [x.run, x.status, x.records]), [[id, 'ok', 2]]);
});

/**
 * `git` on PATH replaced by a wrapper that runs the real one and notes, when it ends, whether the
 * process that started it is still there to reap it. One that outlives its parent is left to init
 * (a defunct `git` where init does not reap).
 */
function gitWrapper(): { env: Record<string, string>; log: string } {
  const bin = tempDir('flor-gitwrap-');
  const log = join(bin, 'log');
  writeFileSync(log, '');
  const real = spawnSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim();
  const wrapper = join(bin, 'git');
  writeFileSync(
    wrapper,
    `#!/bin/sh
parent=$PPID
echo "start $1" >> "${log}"
"${real}" "$@"
code=$?
state=$(ps -o stat= -p "$parent" 2>/dev/null)
case "$state" in ''|Z*) echo "orphaned $1" >> "${log}" ;; *) echo "reaped $1" >> "${log}" ;; esac
exit $code
`,
  );
  chmodSync(wrapper, 0o755);
  return { env: { PATH: `${bin}:${process.env.PATH}` }, log };
}

test('no git process outlives the process that started it: run, capture, runs, log, show', async () => {
  const dir = makeRepo({ files: { 'train.mjs': SCRIPT } });
  const { env, log } = gitWrapper();
  runNode(dir, 'train.mjs', [], { env });
  const id = JSON.parse(flor(dir, ['runs', '--format', 'json'], { env }).stdout)[0].run as string;
  // Packed and not cached, so that the readers below ask cat-file (loose objects are read from their files).
  gitIn(dir, 'repack', '-a', '-d', '-q');
  rmSync(join(dir, '.git', 'flor', 'cache'), { recursive: true, force: true });
  flor(dir, ['log', 'loss'], { env });
  flor(dir, ['show', id], { env });
  // The capturer may still be finishing (its recovery pass) after the reader saw the run: wait
  // until every git started has ended.
  const lines = (): string[] => readFileSync(log, 'utf8').trim().split('\n');
  for (let i = 0; i < 1000 && lines().filter((l) => l.startsWith('start')).length * 2 !== lines().length; i++) await new Promise((r) => setTimeout(r, 20));
  const ended = lines().filter((l) => !l.startsWith('start'));
  assert.ok(ended.includes('reaped cat-file'), `the wrapper saw git's object readers: ${ended.join(', ')}`);
  assert.deepEqual(ended.filter((l) => l.startsWith('orphaned')), []);
});

test('the run-end line names the run by its shortest prefix (8 or more) over the runs the clone listed and the journals waiting', async () => {
  const dir = makeRepo({ files: {} });
  const repo = requireRepoSync(dir);
  const id = '01KBQ7ZV4XAAAAAAAAAAAAAAAA';
  assert.equal(shortRunId(repo, id), '01KBQ7ZV', 'no other run: 8 characters');
  // A concurrent run, still journaling, that started in the same second.
  mkdirSync(journalDir(repo.commonDir), { recursive: true });
  writeFileSync(join(journalDir(repo.commonDir), `01KBQ7ZV4Y${'B'.repeat(16)}.jrnl`), '');
  assert.equal(shortRunId(repo, id), '01KBQ7ZV4X');
  // A run of the last listing (fetched from another clone, say) sharing 12 characters.
  writeCachedListing(repo, 'any-key', [{ meta: makeMeta({ id: '01KBQ7ZV4XAAZZZZZZZZZZZZZZ' }) }]);
  await settleCacheWrites();
  assert.equal(shortRunId(repo, id), '01KBQ7ZV4XAAA');
  assert.equal(shortRunId(repo, '01KBQ7ZV4XAAZZZZZZZZZZZZZZ'), '01KBQ7ZV4X', 'its own listing entry does not count, the journal does');
  rmSync(journalDir(repo.commonDir), { recursive: true });
});

test('the run-end line counts a run captured after the last listing with no reader since (the captured ids file)', async () => {
  const dir = makeRepo({ files: { 'train.mjs': SCRIPT } });
  gitIn(dir, 'config', 'flor.writer', WRITER);
  const repo = requireRepoSync(dir);
  runNode(dir, 'train.mjs');
  for (let i = 0; i < 6000 && journalNames(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(journalNames(dir), [], 'captured, and no reader ran');
  const captured = /^run (\S+) /.exec(gitIn(dir, 'reflog', '--format=%gs', `refs/flor/ledgers/${WRITER}`))![1]!;
  // A run that started in the same millisecond: its first 12 characters are the captured run's.
  const next = captured.slice(0, 12) + (captured[12] === 'Z' ? 'Y' : 'Z').repeat(14);
  assert.equal(shortRunId(repo, next), next.slice(0, 13));
});

test('a run with nothing to say never creates process.stderr (its stream costs the start and the end)', () => {
  const script = `import { flor } from 'git-flor';
for (const e of flor.loop('epoch', [0, 1])) flor.log('loss', e);
process.on('exit', () => console.log(process.moduleLoadList.includes('NativeModule internal/fs/sync_write_stream')));
`;
  const dir = makeRepo({ files: { 'quiet.mjs': script } });
  const err = join(dir, '.git', 'stderr.txt');
  writeFileSync(err, '');
  const fd = openSync(err, 'w');
  const r = spawnSync(process.execPath, ['quiet.mjs'], { cwd: dir, env: testEnv(), stdio: ['ignore', 'pipe', fd], encoding: 'utf8' });
  closeSync(fd);
  assert.equal(r.status, 0);
  assert.equal(readFileSync(err, 'utf8'), '');
  assert.equal(r.stdout.trim(), 'false', 'stderr, a file here, was opened as a stream');
});

test('the capturer waits from the run\'s start and captures as the process ends, however it ends: exit, or SIGKILL with no reader after it', async () => {
  const killed = `import { flor } from 'git-flor';
for (const e of flor.loop('epoch', [0, 1, 2])) flor.log('loss', e);
await new Promise((r) => setTimeout(r, 300)); // flushed
process.kill(process.pid, 'SIGKILL');
`;
  const dir = makeRepo({ files: { 'train.mjs': SCRIPT, 'killed.mjs': killed } });
  const gone = async () => {
    for (let i = 0; i < 6000 && journalNames(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    return journalNames(dir);
  };
  runNode(dir, 'train.mjs');
  assert.deepEqual(await gone(), [], 'captured after exit with no reader');
  const r = runNode(dir, 'killed.mjs', [], { allowFail: true });
  assert.equal(r.signal, 'SIGKILL');
  assert.deepEqual(await gone(), [], 'captured after SIGKILL with no reader');
  const runs = JSON.parse(flor(dir, ['runs', '--format', 'json']).stdout) as Array<{ status: string; records: number }>;
  assert.deepEqual(runs.map((x) => [x.status, x.records]), [['ok', 3], ['crashed', 3]]);
});

test('the code recorded is the one of the start: an edit as soon as the process exits, with its capture in flight, is not in the run', async () => {
  const { dir, release } = lockedRepo();
  writeFileSync(join(dir, 'notes.txt'), 'untracked, as it was\n');
  assert.equal(runNode(dir, 'train.mjs').status, 0);
  writeFileSync(join(dir, 'train.mjs'), `${SCRIPT}// edited after the run\n`);
  writeFileSync(join(dir, 'notes.txt'), 'untracked, edited\n');
  writeFileSync(join(dir, 'new.mjs'), 'export const x = 1;\n');
  await capturerPid(dir); // the capture claimed the journal after the edits, and waits on the lock
  release();
  const runs = runsJson(dir);
  const tree = (JSON.parse(flor(dir, ['show', runs[0]!.run, '--format', 'json']).stdout) as { codeTree: string }).codeTree;
  assert.equal(gitIn(dir, 'cat-file', 'blob', `${tree}:train.mjs`), SCRIPT.trimEnd());
  assert.equal(gitIn(dir, 'cat-file', 'blob', `${tree}:notes.txt`), 'untracked, as it was');
  assert.ok(!gitIn(dir, 'ls-tree', '--name-only', tree).split('\n').includes('new.mjs'), 'a file added after exit is not in the run');
});

test('a start that fails after its waiting capturer started: the script runs unrecorded, with that shell waiting (not its zombie), which ends with it', () => {
  const script = `import { readFileSync } from 'node:fs';
import { flor } from 'git-flor';
flor.arg('x', 0);
const end = Date.now() + 300;
while (Date.now() < end); // synchronous: the event loop does not turn, so no child is reaped
const kids = readFileSync(\`/proc/\${process.pid}/task/\${process.pid}/children\`, 'utf8').trim().split(' ').filter(Boolean);
process.stdout.write(JSON.stringify(kids.map((k) => readFileSync(\`/proc/\${k}/stat\`, 'utf8').split(') ')[1][0])));
`;
  const dir = makeRepo({ files: { 'fail.mjs': script } });
  mkdirSync(join(dir, '.git', 'flor'), { recursive: true });
  writeFileSync(join(dir, '.git', 'flor', 'journal'), 'not a directory\n'); // the journal cannot be opened
  const r = runNode(dir, 'fail.mjs');
  assert.match(r.stderr, /cannot start recording/);
  assert.deepEqual(JSON.parse(r.stdout), ['S'], 'one child, the waiting shell, asleep');
  const tmp = join(dir, '.git', 'flor', 'tmp');
  for (let i = 0; i < 500 && readdirSync(tmp).length > 0; i++) spawnSync('sleep', ['0.01']);
  assert.deepEqual(readdirSync(tmp), [], 'its listing read and removed');
});
