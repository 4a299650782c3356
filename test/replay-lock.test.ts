/**
 * One replay at a time per clone (src/store/replay-lock.ts): real repositories, real concurrent
 * `git flor replay` processes, a lock left behind by a dead process. Needs the built dist/.
 */
import { REPLAY_LOCK_REF } from '../src/store/refs.js';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { acquireReplayLock, currentHolder, type LockHolder } from '../src/store/replay-lock.js';
import { isFlorError } from '../src/errors.js';
import { requireRepoSync } from '../src/store/git.js';
import { readableRuns } from '../src/store/ledger.js';
import { makeRepo, runNode, writeFiles, gitIn, fsckClean, cleanup, testEnv, ROOT, BIN } from './helpers/repo.js';
import { cli as inProcess } from './helpers/cli.js';

after(cleanup);

test('the lock is exclusive, says who holds it, times out with REPLAY_LOCKED, and is free again once released', async () => {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  const repo = requireRepoSync(dir);
  const release = await acquireReplayLock(repo, ['loss']);
  const held = await currentHolder(repo);
  assert.equal(held?.holder?.pid, process.pid);
  assert.equal(held?.holder?.host, hostname());
  assert.deepEqual(held?.holder?.names, ['loss']);

  const waited: LockHolder[] = [];
  const t0 = Date.now();
  await assert.rejects(
    acquireReplayLock(repo, ['acc'], { timeoutMs: 300, pollMs: 50, onWait: (h) => waited.push(h) }),
    (e: unknown) => isFlorError(e, 'REPLAY_LOCKED') && /pid \d+/.test((e as Error).message),
  );
  assert.ok(Date.now() - t0 >= 300);
  assert.equal(waited.length, 1, 'told once, however long it waits');
  assert.equal(waited[0]!.pid, process.pid);

  // A waiter gets the lock as soon as the holder lets go.
  const second = acquireReplayLock(repo, ['acc'], { pollMs: 20 });
  setTimeout(() => void release(), 100);
  const release2 = await second;
  assert.deepEqual((await currentHolder(repo))?.holder?.names, ['acc']);
  await release(); // idempotent: does not drop the other holder's lock
  assert.deepEqual((await currentHolder(repo))?.holder?.names, ['acc']);
  await release2();
  assert.equal(await currentHolder(repo), null);
  assert.equal(gitIn(dir, 'for-each-ref', 'refs/flor/locks/'), '');
});

test('a lock whose holder died (kill -9) is broken at once', async () => {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  const repo = requireRepoSync(dir);
  // A process that takes the lock and is killed before it can release it.
  const lib = JSON.stringify(join(ROOT, 'dist', 'store', 'replay-lock.js'));
  const git = JSON.stringify(join(ROOT, 'dist', 'store', 'git.js'));
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    const { acquireReplayLock } = await import(${lib});
    const { requireRepoSync } = await import(${git});
    await acquireReplayLock(requireRepoSync(process.cwd()), ['x']);
    process.stdout.write('locked\\n');
    setInterval(() => {}, 1000);
  `], { cwd: dir, env: testEnv({}), stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve()));
  const pid = child.pid!;
  assert.equal((await currentHolder(repo))?.holder?.pid, pid);
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));

  const waited: LockHolder[] = [];
  const release = await acquireReplayLock(repo, ['y'], { timeoutMs: 2000, onWait: (h) => waited.push(h) });
  assert.deepEqual(waited, [], 'a dead holder is not waited for');
  assert.equal((await currentHolder(repo))?.holder?.pid, process.pid);
  await release();

  // A lock ref naming something that is not a holder's note (damaged) is broken too.
  const blob = spawnSync('git', ['hash-object', '-w', '--stdin'], { cwd: dir, input: 'not json\n', encoding: 'utf8' }).stdout.trim();
  gitIn(dir, 'update-ref', REPLAY_LOCK_REF, blob);
  const r2 = await acquireReplayLock(repo, ['z'], { timeoutMs: 2000 });
  assert.deepEqual((await currentHolder(repo))?.holder?.names, ['z']);
  await r2();
  // JSON that does not match the holder schema (lockHolder in store/schemas.ts) counts as damaged too.
  const odd = spawnSync('git', ['hash-object', '-w', '--stdin'], { cwd: dir, input: JSON.stringify({ pid: 'me', host: hostname(), since: 'now', names: [] }), encoding: 'utf8' }).stdout.trim();
  gitIn(dir, 'update-ref', REPLAY_LOCK_REF, odd);
  assert.equal((await currentHolder(repo))?.holder, null);
  const r3 = await acquireReplayLock(repo, ['q'], { timeoutMs: 2000 });
  assert.deepEqual((await currentHolder(repo))?.holder?.names, ['q']);
  await r3();
  fsckClean(dir);
});

test('two `git flor replay` at once: one waits for the other, and the run gets one replay segment', async () => {
  const script = (today: boolean) => `import { flor } from 'git-flor';
const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
for (const e of flor.loop('epoch', [0, 1, 2])) {
  if (process.env.FLOR_REPLAY) nap(300); // a replay long enough for the second command to find it running
  flor.log('v', e * 2);${today ? "\n  flor.log('w', e * 3);" : ''}
}
`;
  const dir = makeRepo({ files: { 'run.mjs': script(false) } });
  runNode(dir, 'run.mjs', [], { env: { FLOR_CKPT_SHARE: '1' } });
  writeFiles(dir, { 'run.mjs': script(true) });
  const [run] = await readableRuns(requireRepoSync(dir));

  const bin = BIN;
  const start = () =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [bin, 'replay', 'w', '--workers', '1'], { cwd: dir, env: testEnv({}) });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      c.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  const [a, b] = await Promise.all([start(), start()]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const outs = [a, b];
  const waiter = outs.filter((o) => /waiting for another replay of w \(pid \d+, started /.test(o.stderr));
  assert.equal(waiter.length, 1, `exactly one waited:\n${a.stderr}\n---\n${b.stderr}`);
  assert.match(waiter[0]!.stdout, /1 run\(s\) already have w/);
  const other = outs.find((o) => o !== waiter[0])!;
  assert.match(other.stdout, new RegExp(`run ${run!.id}: replayed w`));

  const [after] = await readableRuns(requireRepoSync(dir));
  assert.equal(after!.segments.length, 2, 'the forward segment and exactly one replay segment');
  assert.equal(gitIn(dir, 'for-each-ref', 'refs/flor/locks/'), '', 'the lock is released');
  fsckClean(dir);
});

test('a replay killed with kill -9: its child stops instead of running on for nobody, and the next replay breaks the lock and completes', async () => {
  const script = (today: boolean) => `import { flor } from 'git-flor';
import { writeFileSync } from 'node:fs';
const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
if (process.env.FLOR_REPLAY && process.env.FLOR_TEST_MARK) writeFileSync(process.env.FLOR_TEST_MARK, String(process.pid));
for (const e of flor.loop('epoch', Array.from({ length: 30 }, (_, i) => i))) {
  if (process.env.FLOR_REPLAY && process.env.FLOR_TEST_MARK) nap(300); // a synchronous loop: the event loop never turns
  flor.log('v', e * 2);${today ? "\n  flor.log('w', e * 3);" : ''}
}
`;
  const dir = makeRepo({ files: { 'run.mjs': script(false) } });
  runNode(dir, 'run.mjs', [], { env: { FLOR_CKPT_SHARE: '0' } });
  writeFiles(dir, { 'run.mjs': script(true) });
  const mark = join(dir, '..', `mark-${process.pid}-${Date.now()}`);
  const cli = spawn(process.execPath, [BIN, 'replay', 'w', '--workers', '1'], { cwd: dir, env: testEnv({ FLOR_TEST_MARK: mark }), stdio: 'ignore' });
  const t0 = Date.now();
  let child = 0;
  while (!child && Date.now() - t0 < 20_000) {
    await new Promise((r) => setTimeout(r, 50));
    try {
      child = Number(readFileSync(mark, 'utf8')) || 0;
    } catch {
      // not started yet
    }
  }
  assert.ok(child > 0, 'the replay child started');
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    // An orphan that exited is a zombie until PID 1 reaps it, and a container's PID 1 may never
    // do so: kill(pid, 0) still succeeds then. Linux says so in /proc; elsewhere trust kill.
    try {
      return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return true;
    }
  };
  assert.equal(alive(child), true);
  cli.kill('SIGKILL'); // the CLI alone, as `kill -9 <pid>` does; its child is not signalled
  await new Promise((r) => cli.on('exit', r));
  const killedAt = Date.now();
  while (alive(child) && Date.now() - killedAt < 8000) await new Promise((r) => setTimeout(r, 50));
  const stoppedIn = Date.now() - killedAt;
  assert.equal(alive(child), false, 'the orphaned replay child stopped');
  assert.ok(stoppedIn < 4000, `stopped ${stoppedIn} ms after its orchestrator died (the run had ~9 s left)`);
  assert.notEqual(await currentHolder(requireRepoSync(dir)), null, 'the dead CLI left its lock behind');

  // The next replay breaks that lock at once and fills in every value.
  const again = spawnSync(process.execPath, [BIN, 'replay', 'w', '--workers', '1'], { cwd: dir, env: testEnv({}), encoding: 'utf8' });
  assert.equal(again.status, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /waiting for another replay/);
  const [run] = await readableRuns(requireRepoSync(dir));
  assert.match(again.stdout, new RegExp(`run ${run!.id}: replayed w`));
  const rows = JSON.parse((await inProcess(dir, ['log', 'w', '--format', 'json'])).stdout) as Array<{ epoch: number; w: number }>;
  assert.deepEqual(rows.map((r) => [r.epoch, r.w]), Array.from({ length: 30 }, (_, e) => [e, e * 3]));
  fsckClean(dir);
});

test('git flor doctor removes the lock of a dead replay, leaves a live one, and reports interrupted work directories', async () => {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  const repo = requireRepoSync(dir);
  const doctor = () => inProcess(dir, ['doctor']);
  // A live holder (this process) is left alone and named.
  const release = await acquireReplayLock(repo, ['w']);
  const live = await doctor();
  assert.equal(live.status, 0, live.stderr);
  assert.match(live.stdout, new RegExp(`^note: a replay is running \\(pid ${process.pid}, since [0-9T:.Z-]+\\): its work directories were not looked at$`, 'm'));
  assert.equal((await currentHolder(repo))?.holder?.pid, process.pid);
  await release();
  // A dead holder's lock is removed, and what its replay left is reported, not deleted.
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  const blob = spawnSync('git', ['hash-object', '-w', '--stdin'], { cwd: dir, input: JSON.stringify({ pid: dead, host: hostname(), since: '2026-01-01T00:00:00.000Z', names: ['w'] }), encoding: 'utf8' }).stdout.trim();
  gitIn(dir, 'update-ref', REPLAY_LOCK_REF, blob);
  const work = join(repo.commonDir, 'flor', 'replay', '01ABCDEFGHJKMNPQRSTVWXYZ00-0123456789abcdef.out');
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'seg-0.journal'), Buffer.alloc(3000));
  const r = await doctor();
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^repaired: removed the replay lock left by pid ${dead} \\(${hostname()}, since 2026-01-01T00:00:00.000Z\\), which is gone$`, 'm'));
  assert.match(r.stdout, /^note: 1 work directory of interrupted replays \(3 KB in .*flor\/replay\): a replay of the same names reuses their finished tasks; delete .* to reclaim the space$/m);
  assert.equal(await currentHolder(repo), null);
  assert.ok(existsSync(work), 'kept: a retry reuses it');
});
