/**
 * How a recorded script's process ends: once flor's exit handler has closed the journal, the
 * process ends at once (process.exit from that handler, skipping Node's teardown) only when
 * nothing else could run or be printed after it; otherwise Node ends it as usual. Each script
 * wraps process.reallyExit, which process.exit calls and Node's own end of a process does not:
 * the file `ended-at-once` says which way it ended.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { cleanup, flor, makeRepo, ROOT, runNode } from './helpers/repo.js';

after(cleanup);

const MARK = `import { writeFileSync } from 'node:fs';
import { flor } from 'git-flor';
const reallyExit = process.reallyExit;
process.reallyExit = (code) => {
  writeFileSync('ended-at-once', String(code));
  reallyExit.call(process, code);
};
`;

/** A native addon of this checkout's dependencies (msgpackr's optional decoder), or null where none is installed. */
function addonPath(): string | null {
  try {
    const req = createRequire(createRequire(join(ROOT, 'package.json')).resolve('msgpackr'));
    return req.resolve('msgpackr-extract');
  } catch {
    return null;
  }
}

const dir = makeRepo({
  files: {
    'plain.mjs': `${MARK}for (const e of flor.loop('epoch', [0, 1, 2])) flor.log('loss', 1 / (e + 1));\nprocess.stdout.write('x'.repeat(1 << 20));\n`,
    'late.mjs': `${MARK}flor.log('loss', 1);\nprocess.on('exit', () => writeFileSync('late-listener', 'ran'));\n`,
    'throws.mjs': `${MARK}flor.log('loss', 1);\nthrow new Error('boom from the script');\n`,
    'code.mjs': `${MARK}flor.log('loss', 1);\nprocess.exitCode = 3;\n`,
    'addon.mjs': `${MARK}import { createRequire } from 'node:module';\nflor.log('loss', 1);\ncreateRequire(import.meta.url)(process.env.ADDON);\n`,
  },
});

/** Runs `script` in the repo (no marker left from an earlier test). */
function run(script: string, opts: Parameters<typeof runNode>[3] = {}): ReturnType<typeof runNode> {
  rmSync(join(dir, 'ended-at-once'), { force: true });
  return runNode(dir, script, [], opts);
}

function endedAtOnce(): string | null {
  const f = join(dir, 'ended-at-once');
  if (!existsSync(f)) return null;
  const code = readFileSync(f, 'utf8');
  rmSync(f);
  return code;
}

function lastRun(): { run: string; status: string; records: number } {
  const runs = JSON.parse(flor(dir, ['runs', '--format', 'json']).stdout) as Array<{ run: string; status: string; records: number }>;
  return runs[runs.length - 1]!;
}

test('a script that ends normally ends at once after flor closes its journal, its output whole and its run recorded', () => {
  const r = run('plain.mjs');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.length, 1 << 20, 'everything the script wrote reached the pipe');
  assert.equal(endedAtOnce(), '0');
  const last = lastRun();
  assert.equal(last.status, 'ok');
  assert.equal(last.records, 3);
});

test('an exit listener the script adds after its first flor call still runs: then Node ends the process', () => {
  const r = run('late.mjs');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(join(dir, 'late-listener'), 'utf8'), 'ran');
  assert.equal(endedAtOnce(), null);
});

test('an uncaught error is still printed (Node prints it after the exit listeners) and the exit status is 1', () => {
  const r = run('throws.mjs', { allowFail: true });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /Error: boom from the script/);
  assert.equal(endedAtOnce(), null);
  assert.equal(lastRun().status, 'failed');
});

test('process.exitCode set by the script is the exit status when the process ends at once', () => {
  const r = run('code.mjs', { allowFail: true });
  assert.equal(r.status, 3, r.stderr);
  assert.equal(endedAtOnce(), '3');
  const last = lastRun();
  assert.equal(last.status, 'failed');
  assert.equal(JSON.parse(flor(dir, ['show', last.run, '--format', 'json']).stdout).meta.exitCode, 3);
});

test('with a native addon loaded (its cleanup hooks run in Node teardown) the process ends as usual', { skip: addonPath() === null && 'no native addon installed' }, () => {
  const r = run('addon.mjs', { env: { ADDON: addonPath()! } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(endedAtOnce(), null);
  assert.equal(lastRun().status, 'ok');
});

test('under a flag whose work Node does at teardown (--cpu-prof) the process ends as usual and the profile is written', () => {
  const prof = join(dir, 'prof');
  const r = run('plain.mjs', { execArgv: ['--cpu-prof', `--cpu-prof-dir=${prof}`] });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(endedAtOnce(), null);
  assert.equal(readdirSync(prof).filter((f) => f.endsWith('.cpuprofile')).length, 1);
});
