/**
 * Replay children started ahead of their tasks (src/replay/warm.ts, warm-child.ts): a task that
 * starts in one runs as it would in a process of its own (argv, cwd, environment, main module,
 * exit status), tasks with Node options or another environment get their own process, processes
 * no task takes are ended, a warm process that died before its task leaves it to a process of its
 * own, a replay's tasks run in them, and a replay starts one before it reads its runs. Real
 * processes; needs the built dist/.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { childEnv, childEntry, warmPool } from '../src/replay/warm.js';
import { endEarly, startEarly } from '../src/replay/warm-early.js';
import { createPool } from '../src/replay/pool.js';
import runTask, { type ReplayTask } from '../src/replay/worker.js';
import { replayMissing } from '../src/replay/replay.js';
import { requireRepoSync } from '../src/store/git.js';
import { acquireReplayLock } from '../src/store/replay-lock.js';
import { BIN, ROOT, makeRepo, runNode, tempDir, testEnv, writeFiles, cleanup } from './helpers/repo.js';
import { cli } from './helpers/cli.js';

after(cleanup);

/** A process's state and parent (from /proc), or null when it is gone. */
function proc(pid: number): { state: string; ppid: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: state!, ppid: Number(ppid) };
  } catch {
    return null;
  }
}

/** The live children of `parent` (a zombie counts as gone: PID 1 here never reaps). */
function childrenOf(parent: number): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    const p = proc(pid);
    return p !== null && p.ppid === parent && p.state !== 'Z';
  });
}

/** This process's children running warm-child.js, not yet exited. */
function warmChildren(): number[] {
  return childrenOf(process.pid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('warm-child.js');
    } catch {
      return false; // gone meanwhile
    }
  });
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > 10_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function finished(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  return new Promise((ok) => child.on('close', (code) => ok({ code, stderr })));
}

// What a script can see of how it was started.
const CJS = `console.error(JSON.stringify({ argv: process.argv.slice(1), cwd: process.cwd(), execArgv: process.execArgv,
  env: [process.env.FLOR_REPLAY, process.env.WARM_TEST], main: require.main === module }));
if (process.argv[2] === 'fail') throw new Error('failed on purpose');
`;
const ESM = `console.error(JSON.stringify({ argv: process.argv.slice(1), cwd: process.cwd(), execArgv: process.execArgv,
  env: [process.env.FLOR_REPLAY, process.env.WARM_TEST], url: import.meta.url }));
await new Promise((r) => setTimeout(r, 5));
process.exitCode = 3;
`;

test('a task started in a warm process sees what a process of its own would, and the same exit status', async () => {
  const dir = makeRepo({ files: { 'sub/a.cjs': CJS, 'sub/b.mjs': ESM } });
  const extra = { WARM_TEST: 'yes' };
  const pool = warmPool({ limit: 2, top: dir, env: () => childEnv(extra) });
  try {
    pool.ahead(2);
    assert.equal(warmChildren().length, 2, 'two processes started ahead');
    for (const [script, argv] of [['sub/a.cjs', ['x', '--y=1']], ['sub/a.cjs', ['fail']], ['sub/b.mjs', ['z']]] as const) {
      const task = { node: process.execPath, execArgv: [], script: join(dir, script), argv: [...argv], cwd: join(dir, 'sub') };
      const taskEnv = { FLOR_REPLAY: `/spec/${script}` };
      const own = finished(spawn(process.execPath, [task.script, ...task.argv], { cwd: task.cwd, env: { ...childEnv(extra), ...taskEnv }, stdio: ['ignore', 'ignore', 'pipe'] }));
      if (script === 'sub/b.mjs') pool.ahead(1); // a third task comes: started ahead as the others were taken
      const warm = pool.start(task, childEnv(extra), taskEnv);
      assert.ok(warm, `${script} ${argv.join(' ')} starts in a warm process`);
      const [a, b] = await Promise.all([own, finished(warm.child)]);
      assert.ok(warm.started(), 'the warm process said it began the task');
      assert.equal(b.code, a.code, `exit status of ${script} ${argv.join(' ')}`);
      const seen = (s: string) => s.split('\n')[0]!;
      assert.equal(seen(b.stderr), seen(a.stderr));
      assert.deepEqual(JSON.parse(seen(b.stderr)).env, [`/spec/${script}`, 'yes']);
      if (argv[0] === 'fail') assert.match(b.stderr, /Error: failed on purpose/);
    }
  } finally {
    await pool.close();
  }
  assert.deepEqual(warmChildren(), [], 'nothing left running');
});

test('tasks with Node options or another environment start a process of their own; unused warm processes are ended', async () => {
  const dir = makeRepo({ files: { 'a.cjs': CJS } });
  const pool = warmPool({ limit: 3, top: dir, env: () => childEnv({ WARM_TEST: 'a' }) });
  try {
    pool.ahead(5);
    assert.equal(warmChildren().length, 3, 'no more than the limit');
    const task = { node: process.execPath, execArgv: [], script: join(dir, 'a.cjs'), argv: [], cwd: dir };
    assert.equal(pool.start({ ...task, execArgv: ['--no-warnings'] }, childEnv({ WARM_TEST: 'a' }), {}), null, 'a Node option needs a fresh process');
    assert.equal(pool.start(task, childEnv({ WARM_TEST: 'b' }), {}), null, 'another environment needs a fresh process');
    // Those two counted as started: three tasks still to come, three ready.
    assert.equal(warmChildren().length, 3);
    pool.ahead(-2);
    await until(() => warmChildren().length === 1, 'the extra warm processes to end');
  } finally {
    await pool.close();
  }
  assert.deepEqual(warmChildren(), [], 'close ends the last one');
});

test('a warm process has not loaded node:net when its task begins, as a process of its own has not', async () => {
  // Looked at before anything touches process.stderr (a pipe's stream loads node:net).
  const script = "require('node:fs').writeSync(2, JSON.stringify(process.moduleLoadList.filter((m) => m === 'NativeModule net')) + '\\n');\n";
  const dir = makeRepo({ files: { 'a.cjs': script } });
  const pool = warmPool({ limit: 1, top: dir, env: () => childEnv(undefined) });
  try {
    pool.ahead(1);
    const task = { node: process.execPath, execArgv: [], script: join(dir, 'a.cjs'), argv: [], cwd: dir };
    const own = finished(spawn(process.execPath, [task.script], { cwd: dir, env: childEnv(undefined), stdio: ['ignore', 'ignore', 'pipe'] }));
    const warm = pool.start(task, childEnv(undefined), {});
    assert.ok(warm, 'started in the warm process');
    const [a, b] = await Promise.all([own, finished(warm.child)]);
    assert.ok(warm.started());
    assert.deepEqual(JSON.parse(a.stderr), [], 'a process of its own does not load it');
    assert.deepEqual(JSON.parse(b.stderr), [], 'nor does the warm process before its task');
  } finally {
    await pool.close();
  }
});

test('a command that replays starts its first child as it starts, and its pool takes that one', async () => {
  const dir = makeRepo({ files: { 'a.cjs': CJS } });
  const entry = childEntry()!;
  startEarly(['log', 'v', '--replay'], entry, dir);
  try {
    await until(() => warmChildren().length === 1, 'the process started with the command');
    const [first] = warmChildren();
    const pool = warmPool({ limit: 2, top: dir, env: () => childEnv(undefined) });
    try {
      pool.ahead(1);
      assert.deepEqual(warmChildren(), [first], 'the pool starts no other for its first task');
      const task = { node: process.execPath, execArgv: [], script: join(dir, 'a.cjs'), argv: ['x'], cwd: dir };
      const warm = pool.start(task, childEnv(undefined), { FLOR_REPLAY: '/spec' });
      assert.ok(warm);
      assert.equal(warm.child.pid, first);
      const b = await finished(warm.child);
      assert.ok(warm.started());
      assert.equal(b.code, 0);
      assert.deepEqual(JSON.parse(b.stderr.split('\n')[0]!).argv, [join(dir, 'a.cjs'), 'x']);
    } finally {
      await pool.close();
    }
  } finally {
    await endEarly();
  }
  assert.deepEqual(warmChildren(), []);
});

test('no child is started early for other commands, nor below the top of the work tree; one nothing took is ended', async () => {
  const dir = makeRepo({ files: { 'sub/a.cjs': CJS } });
  const entry = childEntry()!;
  for (const argv of [['log', 'v'], ['replay', 'v', '--dry-run'], ['replay', 'v', '--plan', '--shards', '2'], ['replay', '--help'], ['runs']]) {
    startEarly(argv, entry, dir);
    assert.deepEqual(warmChildren(), [], argv.join(' '));
  }
  startEarly(['replay', 'v'], entry, join(dir, 'sub'));
  assert.deepEqual(warmChildren(), [], 'a subdirectory: its work tree is not looked for');
  startEarly(['replay', 'v'], entry, dir);
  await until(() => warmChildren().length === 1, 'the process started for `replay v`');
  // Another work tree's pool does not take it.
  const other = makeRepo({ files: { 'a.cjs': CJS } });
  const pool = warmPool({ limit: 1, top: other, env: () => childEnv(undefined) });
  pool.ahead(1);
  await until(() => warmChildren().length === 2, 'the other pool\'s own process');
  await pool.close();
  assert.equal(warmChildren().length, 1);
  await endEarly();
  assert.deepEqual(warmChildren(), [], 'ended and reaped');
});

test('the CLI starts its first replay child as it starts, and ends and reaps it when its replay fails before any task', async () => {
  const dir = makeRepo({ files: { 'train.mjs': TRAIN('') } });
  runNode(dir, 'train.mjs');
  // --workers 0 fails in the replay's first check, before it starts a pool that could take the child.
  const cli = spawn(process.execPath, [BIN, 'log', 'v', '--replay', '--workers', '0'], { cwd: dir, env: testEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  const seen = new Set<number>();
  let running = true;
  const done = finished(cli).then((r) => ((running = false), r));
  while (running) {
    try {
      for (const pid of readFileSync(`/proc/${cli.pid}/task/${cli.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)) {
        if (!seen.has(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('warm-child.js')) seen.add(pid);
      }
    } catch {
      // the CLI or that child is gone meanwhile
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const r = await done;
  assert.match(r.stderr, /--workers must be a whole number/);
  assert.equal(seen.size, 1, 'one replay child, started before the replay looked at its options');
  for (const pid of seen) assert.equal(proc(pid), null, `replay child ${pid} ended and reaped, not left to init`);
});

test('a warm process that died before its task leaves the task to a process of its own', async () => {
  const dir = makeRepo({ files: { 'a.cjs': "console.error('ran in', process.argv[1]); process.exitCode = 4;\n" } });
  const out = tempDir();
  const task: ReplayTask = {
    run: 'R', segment: 0, specPath: join(out, 'spec.json'), node: process.execPath, execArgv: [], script: join(dir, 'a.cjs'), argv: [], cwd: dir,
    spec: { runId: 'R', args: {}, argCalls: {}, start: 0, end: 1, runToEnd: true, restoreFrom: null, skipInner: [], ckptKeys: {}, ckptDir: out, out: join(out, 'seg.jrnl'), stopAfter: null },
  };
  const pool = warmPool({ limit: 1, top: dir, env: () => childEnv(undefined) });
  try {
    pool.ahead(1);
    // Seen in /proc once its exec is done (on a loaded machine, not always by spawn's return).
    await until(() => warmChildren().length === 1, 'the process started ahead');
    const [pid] = warmChildren();
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    // In the same turn: the pool has not yet seen it exit, and hands it to the task.
    const r = await runTask(task, undefined, pool);
    assert.equal(r.ok, false);
    assert.equal(r.ok === false && r.exitCode, 4, 'the script ran, in a process of its own');
    assert.match(r.ok === false ? r.stderrTail : '', /^ran in .*a\.cjs\n$/);
  } finally {
    await pool.close();
  }
});

const TRAIN = (today: string) => `import { flor } from 'git-flor';
import { readFileSync, appendFileSync } from 'node:fs';
if (process.env.CMDLINE_LOG) appendFileSync(process.env.CMDLINE_LOG, readFileSync('/proc/self/cmdline', 'utf8').split('\\0').join(' ') + '\\n');
const k = flor.arg('k', 1);
for (const e of flor.loop('epoch', [0, 1, 2])) {
  flor.log('v', e * k);${today}
}
`;

test('a replay runs its tasks in warm processes, and leaves none behind', async () => {
  const dir = makeRepo({ files: { 'train.mjs': TRAIN('') } });
  runNode(dir, 'train.mjs', ['--k', '2']);
  runNode(dir, 'train.mjs', ['--k', '3']);
  writeFiles(dir, { 'train.mjs': TRAIN("\n  flor.log('v2', e * k * 10);") });
  const log = join(tempDir(), 'cmdlines');
  mkdirSync(join(log, '..'), { recursive: true });
  writeFileSync(log, '');
  const r = await replayMissing(requireRepoSync(dir), ['v2'], { workers: 2, env: { CMDLINE_LOG: log } });
  assert.deepEqual(r.outcomes.map((o) => o.status), ['replayed', 'replayed']);
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  assert.equal(lines.length, 2);
  for (const l of lines) assert.match(l, /warm-child\.js /, `the task's process was started ahead: ${l}`);
  assert.deepEqual(warmChildren(), [], 'no warm process outlives the replay');
  // The values the statement gives with each run's own k (2 and 3), as a cold start gave them.
  const table = await cli(dir, ['log', 'v2', '--format', 'csv']);
  assert.deepEqual(table.stdout.trim().split('\n').slice(1).map((l) => l.split(',')[5]), ['0', '20', '40', '0', '30', '60']);
});

test("replay children started ahead take the runtime's replay code cache, not a recorded run's", async () => {
  const cacheDir = join(ROOT, 'dist', 'runtime', 'v8-cache');
  const replayCaches = () => (existsSync(cacheDir) ? readdirSync(cacheDir) : []).filter((f) => f.startsWith('replay-') && f.endsWith('.bin'));
  const dir = makeRepo({ files: { 'train.mjs': TRAIN('') } });
  runNode(dir, 'train.mjs', ['--k', '2']);
  writeFiles(dir, { 'train.mjs': TRAIN("\n  flor.log('v3', e * k);") });
  for (const f of replayCaches()) rmSync(join(cacheDir, f), { force: true });
  const log = join(tempDir(), 'cmdlines');
  writeFileSync(log, '');
  const r = await replayMissing(requireRepoSync(dir), ['v3'], { workers: 1, env: { CMDLINE_LOG: log } });
  assert.deepEqual(r.outcomes.map((o) => o.status), ['replayed']);
  assert.match(readFileSync(log, 'utf8'), /warm-child\.js /, 'its task ran in a process started ahead');
  assert.equal(replayCaches().length, 1, 'the replay child wrote the replay cache at its exit');
});

test("a replay child loads no streams for itself (fs's ES namespace would): what it loads is its script's doing", async () => {
  const script = (today: string) => `import { flor } from 'git-flor';
for (const e of flor.loop('epoch', [0, 1])) {
  flor.log('v', e);${today}
}
process.on('exit', () => { if (process.env.LOADED_LIST) process.getBuiltinModule('node:fs').writeFileSync(process.env.LOADED_LIST, JSON.stringify(process.moduleLoadList)); });
`;
  const dir = makeRepo({ files: { 'train.mjs': script('') } });
  runNode(dir, 'train.mjs');
  writeFiles(dir, { 'train.mjs': script("\n  flor.log('v5', e * 5);") });
  const list = join(tempDir(), 'loaded.json');
  const r = await replayMissing(requireRepoSync(dir), ['v5'], { workers: 1, env: { LOADED_LIST: list } });
  assert.deepEqual(r.outcomes.map((o) => o.status), ['replayed']);
  const loaded = JSON.parse(readFileSync(list, 'utf8')) as string[];
  assert.ok(loaded.includes('NativeModule vm'), 'the list is the replayed run\'s');
  assert.deepEqual(loaded.filter((m) => m === 'NativeModule stream' || m === 'NativeModule internal/streams/readable' || m === 'NativeModule net'), []);
});

test('a replay starts one process ahead before it reads any run, and ends it when no run needs it', async () => {
  const dir = makeRepo({ files: { 'train.mjs': TRAIN('') } });
  runNode(dir, 'train.mjs');
  const repo = requireRepoSync(dir);
  // Another replay holds the lock: this one waits before it lists a run, its process started.
  const release = await acquireReplayLock(repo, ['other']);
  let waiting!: () => void;
  const waited = new Promise<void>((r) => (waiting = r));
  const replay = replayMissing(repo, ['v'], { workers: 2, onWait: () => waiting() });
  try {
    await waited;
    await until(() => warmChildren().length === 1, 'the process started ahead');
  } finally {
    await release();
  }
  const r = await replay;
  assert.equal(r.complete.length, 1, 'the run has v: nothing to replay');
  assert.deepEqual(r.outcomes, []);
  assert.deepEqual(warmChildren(), [], 'the process no run needed is ended');
});

test('a replay pool starts processes ahead for one task more than its workers', async () => {
  const dir = makeRepo({ files: { 'a.cjs': CJS } });
  const pool = createPool({ workers: 2, top: dir });
  try {
    pool.ahead(5);
    // The first round's two, and the next task's, booting while the runs are still prepared.
    assert.equal(warmChildren().length, 3);
  } finally {
    await pool.close();
  }
  assert.deepEqual(warmChildren(), []);
});

test('a process started ahead exits when its orchestrator is killed before giving it a task', async () => {
  const dir = makeRepo({ files: { 'a.cjs': CJS } });
  const warm = new URL('../dist/replay/warm.js', import.meta.url).href;
  const orchestrator = spawn(process.execPath, ['--input-type=module', '-e', `
    const { warmPool, childEnv } = await import(${JSON.stringify(warm)});
    warmPool({ limit: 1, top: ${JSON.stringify(dir)}, env: () => childEnv(undefined) }).ahead(1);
    setInterval(() => undefined, 1000);
  `], { stdio: ['ignore', 'ignore', 'inherit'] });
  await until(() => childrenOf(orchestrator.pid!).length === 1, 'the warm process');
  const [pid] = childrenOf(orchestrator.pid!);
  orchestrator.kill('SIGKILL');
  await until(() => proc(pid!) === null || proc(pid!)!.state === 'Z', 'the orphaned warm process to exit');
});

test("a task frees its worker before it reads its journal: the task started in that worker's place comes first", async () => {
  const dir = makeRepo({ files: { 'train.mjs': TRAIN('') } });
  const out = tempDir();
  const task: ReplayTask = {
    run: 'R', segment: 0, specPath: join(out, 'spec.json'), node: process.execPath, execArgv: [], script: join(dir, 'train.mjs'), argv: [], cwd: dir,
    spec: { runId: 'R', args: { k: 2 }, argCalls: {}, start: 0, end: 3, runToEnd: true, restoreFrom: null, skipInner: [], ckptKeys: {}, ckptDir: join(dir, '.git'), out: join(out, 'seg.jrnl'), stopAfter: null },
  };
  // What the dispatcher starts when a worker is freed runs a few promise steps later (pool.ts'
  // import, then runTask): it must find the finished task's journal not yet read and renamed.
  let journalDone: boolean | null = null;
  const r = await runTask(task, () => void Promise.resolve().then(() => Promise.resolve()).then(() => (journalDone = existsSync(task.spec.out))));
  assert.equal(r.ok, true, r.ok ? '' : `${r.error}: ${r.stderrTail}`);
  assert.equal(r.ok && r.records.name.length, 3);
  assert.equal(journalDone, false, 'the next task went first');
  assert.ok(existsSync(task.spec.out));
});
