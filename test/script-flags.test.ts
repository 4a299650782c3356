/**
 * A script's command line as flor.arg reads it: widened types under a real `tsc`, a warning for
 * a flag no arg declares, exit 2 on a value that does not parse (the run recorded as failed), and
 * `--help` listing the args without recording. Real scripts in real repositories.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, cleanup, gitIn, linkFlor, makeRepo, runNode, tempDir } from './helpers/repo.js';
import { cli } from './helpers/cli.js';

after(cleanup);

const TRAIN = `import { flor } from 'git-flor';
const lr = flor.arg('lr', 0.1);
const model = flor.arg('model', 'tiny-1');
const verbose = flor.arg('verbose', false);
for (const e of flor.loop('epoch', [0, 1])) {
  const late = flor.arg('late', 5);
  flor.log('loss', lr * (e + 1));
}
`;

const NO_LOOP = `import { flor } from 'git-flor';
const n = flor.arg('n', 3);
flor.log('n', n);
`;

const repo = makeRepo({ files: { 'train.mjs': TRAIN, 'once.mjs': NO_LOOP, '.gitignore': 'node_modules/\n' } });

async function runs(): Promise<Array<{ run: string; status: string; args: Record<string, unknown> }>> {
  return JSON.parse((await cli(repo, ['runs', '--format', 'json'])).stdout);
}

test('flor.arg infers widened types and takes an explicit type parameter (a real tsc compile)', () => {
  const dir = makeRepo({ files: {} , commit: false });
  const ok = `import { flor, type Stateful, type CheckpointState, type LoggedValue, type ArgValue } from 'git-flor';
const model = flor.arg('model', 'tiny-1');
if (model === 'tiny-2') console.log('two');
const lr = flor.arg('lr', 0.1);
if (lr === 0.5) console.log('half');
const fast = flor.arg('fast', false);
if (fast === true) console.log('fast');
const mode = flor.arg<'train' | 'eval'>('mode', 'train');
const m: 'train' | 'eval' = mode;
const cfg = flor.arg('cfg', { depth: 2 });
const depth: number = cfg.depth;
class Net implements Stateful<number[]> { w = [0]; state() { return this.w; } restore(s: number[]) { this.w = s; } }
const state: CheckpointState = { net: new Net() };
flor.checkpointing(state);
const v: LoggedValue = flor.log('w', new Float32Array(2));
const a: ArgValue = lr;
for (const e of flor.loop('epoch', [1, 2])) { const n: number = e; console.log(n, m, depth, v, a); }
`;
  const bad = `import { flor } from 'git-flor';
const n: number = flor.arg('model', 'tiny-1');
console.log(n);
`;
  writeFileSync(join(dir, 'ok.ts'), ok);
  writeFileSync(join(dir, 'bad.ts'), bad);
  // No @types/node: the package's declarations must stand on their own.
  const options = { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, types: [] };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, files: ['ok.ts'] }));
  writeFileSync(join(dir, 'tsconfig.bad.json'), JSON.stringify({ compilerOptions: options, files: ['bad.ts'] }));
  const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
  const good = spawnSync(tsc, ['-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8' });
  assert.equal(good.status, 0, good.stdout + good.stderr);
  const wrong = spawnSync(tsc, ['-p', 'tsconfig.bad.json'], { cwd: dir, encoding: 'utf8' });
  assert.notEqual(wrong.status, 0);
  assert.match(wrong.stdout, /bad\.ts\(2,7\): error TS2322: Type 'string' is not assignable to type 'number'/);
});

test('a flag that matches no flor.arg is warned about once, listing the known args; the run goes on', async () => {
  const r = runNode(repo, 'train.mjs', ['--temprature', '0.9', '--lr=0.2', '--no-verbose', '--model', 'tiny-2']);
  const lines = r.stderr.split('\n').filter((l) => l.includes('matches no flor.arg'));
  assert.deepEqual(lines, ['git flor: --temprature matches no flor.arg of this script, and flor ignores it; known args: --lr, --model, --verbose']);
  assert.deepEqual((await runs()).at(-1)!.args, { lr: 0.2, model: 'tiny-2', verbose: false, late: 5 });
  // A script without a loop is judged at its end.
  const once = runNode(repo, 'once.mjs', ['--m', '1', '--n', '4']);
  assert.match(once.stderr, /^git flor: --m matches no flor\.arg of this script, and flor ignores it; known args: --n$/m);
});

test('outside a repository nothing is recorded, and an unknown flag is still warned about, at the first loop or at exit', () => {
  const dir = tempDir();
  linkFlor(dir);
  writeFileSync(join(dir, 'train.mjs'), TRAIN);
  writeFileSync(join(dir, 'once.mjs'), NO_LOOP);
  const warned = (r: { stderr: string }) => r.stderr.split('\n').filter((l) => l.includes('matches no flor.arg'));
  const looped = runNode(dir, 'train.mjs', ['--temprature', '0.9'], { env: { GIT_CEILING_DIRECTORIES: dir } });
  assert.match(looped.stderr, /not inside a Git repository/);
  assert.deepEqual(warned(looped), ['git flor: --temprature matches no flor.arg of this script, and flor ignores it; known args: --lr, --model, --verbose']);
  const once = runNode(dir, 'once.mjs', ['--m', '1'], { env: { GIT_CEILING_DIRECTORIES: dir } });
  assert.deepEqual(warned(once), ['git flor: --m matches no flor.arg of this script, and flor ignores it; known args: --n']);
});

test('an arg value that does not parse: one line, exit 2, the run recorded as failed with that message', async () => {
  const before = (await runs()).length;
  const r = runNode(repo, 'train.mjs', ['--lr', 'abc'], { allowFail: true });
  assert.equal(r.status, 2);
  const own = r.stderr.split('\n').filter((l) => l !== '' && !l.includes('does not capture'));
  assert.deepEqual(own, ['git flor: --lr: "abc" is not a number']);
  const all = await runs();
  assert.equal(all.length, before + 1);
  const last = all.at(-1)!;
  assert.equal(last.status, 'failed');
  const shown = (await cli(repo, ['show', last.run])).stdout;
  assert.match(shown, /^status +failed \(exit 2\): --lr: "abc" is not a number$/m);
});

test('--help lists the args declared before the first loop with their defaults, exits 0 and records nothing', async () => {
  const before = (await runs()).length;
  const r = runNode(repo, 'train.mjs', ['--help']);
  assert.equal(r.status, 0);
  assert.equal(
    r.stdout,
    'usage: node train.mjs [--name value]...\n\nflor args:\n' +
      '  --lr <number>            default 0.1\n' +
      '  --model <string>         default tiny-1\n' +
      '  --verbose, --no-verbose  default false\n' +
      '\nArgs declared after the first flor.loop are not listed. `git config flor.scriptHelp false` leaves --help to the script.\n',
  );
  const once = runNode(repo, 'once.mjs', ['-h']);
  assert.match(once.stdout, /^ {2}--n <number> {2}default 3$/m);
  assert.equal((await runs()).length, before);
  // Left to the script: by the environment, or by git config.
  const own = runNode(repo, 'train.mjs', ['--help'], { env: { FLOR_SCRIPT_HELP: '0' } });
  assert.equal(own.stdout, '');
  assert.equal((await runs()).length, before + 1);
  gitIn(repo, 'config', 'flor.scriptHelp', 'false');
  try {
    assert.equal(runNode(repo, 'once.mjs', ['--help']).stdout, '');
    assert.equal((await runs()).length, before + 2);
  } finally {
    gitIn(repo, 'config', '--unset', 'flor.scriptHelp');
  }
});
