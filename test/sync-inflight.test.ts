/**
 * A push right after a run carries the run, although its capture lands after the script's process
 * exited: `git flor push` and a plain `git push` (through the pre-push hook) wait for a capture in
 * flight, and capture a run whose capturer was killed. Real repositories, a real bare remote, real
 * processes; a capture is held in flight by holding the lock of the ledger ref (as in run-end.test.ts).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { cleanup, gitIn, makeRepo, runNode, tempDir, testEnv, BIN } from './helpers/repo.js';
import { cli } from './helpers/cli.js';

after(cleanup);

const WRITER = 'inflightw';
const SCRIPT = `import { flor } from 'git-flor';
for (const e of flor.loop('epoch', [0, 1, 2])) flor.log('loss', 1 / (e + 1));
`;

/** A clone with flor's hooks and a bare origin, whose ledger ref is locked: a capture stays in flight until `release()`. */
async function clone(): Promise<{ dir: string; remote: string; release: () => void }> {
  const dir = makeRepo({ files: { 'train.mjs': SCRIPT } });
  const remote = join(tempDir('flor-remote-'), 'r.git');
  gitIn(tempDir(), 'init', '-q', '--bare', remote);
  gitIn(dir, 'remote', 'add', 'origin', remote);
  gitIn(dir, 'config', 'flor.writer', WRITER);
  await cli(dir, ['init']);
  gitIn(dir, 'push', '-q', '-u', 'origin', 'main');
  gitIn(dir, 'config', 'core.filesRefLockTimeout', '600000');
  const lock = join(dir, '.git', 'refs', 'flor', 'ledgers', `${WRITER}.lock`);
  mkdirSync(join(lock, '..'), { recursive: true });
  writeFileSync(lock, '');
  return { dir, remote, release: () => rmSync(lock, { force: true }) };
}

function claimed(dir: string): number | null {
  const d = join(dir, '.git', 'flor', 'journal');
  const c = existsSync(d) ? readdirSync(d).find((n) => n.includes('.claim.')) : undefined;
  return c ? Number(c.split('.claim.')[1]) : null;
}

async function capturerPid(dir: string): Promise<number> {
  for (let i = 0; i < 3000; i++) {
    const pid = claimed(dir);
    if (pid) return pid;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('no capture claimed the journal');
}

/** Starts `cmd` in `dir`; resolves with its exit code and stderr once it ends. */
function started(dir: string, cmd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const p = spawn(cmd, args, { cwd: dir, env: testEnv() });
  let stderr = '';
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  p.stdout.resume();
  return new Promise((resolve) => p.on('close', (code) => resolve({ code, stderr })));
}

/** The runs (id, status, records) the remote's copy of this clone's ledger holds, read by a fresh clone (in-process). */
async function remoteRuns(remote: string): Promise<Array<[string, number]>> {
  const fresh = join(tempDir(), 'fresh');
  gitIn(tempDir(), 'clone', '-q', remote, fresh);
  await cli(fresh, ['init']);
  await cli(fresh, ['fetch']);
  return (JSON.parse((await cli(fresh, ['runs', '--format', 'json'])).stdout) as Array<{ status: string; records: number }>).map((r) => [r.status, r.records]);
}

test('a plain git push started while the capture is in flight waits for it and carries the run', async () => {
  const { dir, remote, release } = await clone();
  const r = runNode(dir, 'train.mjs');
  assert.equal(r.status, 0, r.stderr);
  await capturerPid(dir);
  assert.equal(gitIn(dir, 'for-each-ref', 'refs/flor/ledgers/'), '', 'nothing landed yet');
  const push = started(dir, 'git', ['push', 'origin', 'main']);
  await new Promise((res) => setTimeout(res, 300)); // let the hook find the capture in flight
  release();
  const p = await push;
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stderr, new RegExp(`git flor: run history \\(refs/flor/ledgers/${WRITER}\\) pushed to origin`));
  assert.equal(gitIn(remote, 'rev-parse', `refs/flor/ledgers/${WRITER}`), gitIn(dir, 'rev-parse', `refs/flor/ledgers/${WRITER}`));
  assert.deepEqual(await remoteRuns(remote), [['ok', 3]]);
});

test('git flor push after a capturer was killed captures the run with its true status and pushes it', async () => {
  const { dir, remote, release } = await clone();
  runNode(dir, 'train.mjs');
  const pid = await capturerPid(dir);
  process.kill(-pid, 'SIGKILL');
  for (let i = 0; i < 500; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      break;
    }
    await new Promise((res) => setTimeout(res, 10));
  }
  release();
  const p = await started(dir, process.execPath, [BIN, 'push', 'origin']);
  assert.equal(p.code, 0, p.stderr);
  assert.deepEqual(await remoteRuns(remote), [['ok', 3]]);
});
