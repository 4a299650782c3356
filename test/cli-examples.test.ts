/**
 * Every example in every command's --help runs, as written, against a repository that has what
 * the examples name (runs, loss/acc/lr/epoch, train.ts and src/train.ts, a remote called origin),
 * with the placeholder run ids 01JD3 and 01JD4 replaced by real ones. Also `help CMD`, and the
 * messages for unknown commands and options.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, cleanup, gitIn, makeRepo, runNode, tempDir, testEnv } from './helpers/repo.js';
import { florIn } from './helpers/cli.js';
import { allCommands } from '../src/cli/main.js';

after(cleanup);

const TRAIN = (extra: string) => `import { flor } from 'git-flor';
const lr = flor.arg('lr', 0.1);
const state = { w: 0 };
flor.checkpointing({ state });
for (const epoch of flor.loop('epoch', [0, 1, 2, 3, 4, 5])) {
  for (const step of flor.loop('step', [0, 1])) {
    state.w += lr;
    flor.log('loss', 1 / (1 + state.w + step));
  }
  flor.log('acc', Math.min(0.99, state.w / 2));${extra}
}
`;

const TS = (n: number) => `import { flor } from 'git-flor';\nconst x = ${n};\nfor (const e of flor.loop('epoch', [0, 1])) {\n  flor.log('loss', x / (e + 1));\n  flor.log('grad_norm', x);\n}\n`;

let dir = '';
let env: NodeJS.ProcessEnv = {};
let ids: string[] = [];
let ckptDir = '';

before(async () => {
  dir = makeRepo({ files: { 'train.mjs': TRAIN(''), 'train.ts': TS(1), 'src/train.ts': TS(1), '.gitignore': 'node_modules/\n*.csv\n*.svg\n*.parquet\n' } });
  for (const n of [2, 3, 4]) {
    writeFileSync(join(dir, 'train.ts'), TS(n));
    gitIn(dir, 'commit', '-qam', `v${n}`);
  }
  runNode(dir, 'train.mjs', ['--lr', '0.1']);
  runNode(dir, 'train.mjs', ['--lr', '0.5']);
  ids = (JSON.parse((await florIn(dir, ['runs', '--format', 'json'])).stdout) as Array<{ run: string }>).map((r) => r.run);
  // Today's code logs grad_norm, which no run did: what the replay examples fill in.
  writeFileSync(join(dir, 'train.mjs'), TRAIN("\n  flor.log('grad_norm', state.w);"));
  const remote = tempDir();
  gitIn(remote, 'init', '-q', '--bare');
  gitIn(dir, 'remote', 'add', 'origin', remote);
  gitIn(dir, 'push', '-q', 'origin', 'main');
  // `git flor ui` opens the browser through xdg-open: this one only notes the URL.
  const bin = tempDir();
  writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\necho "$1" > ${join(bin, 'opened')}\n`);
  chmodSync(join(bin, 'xdg-open'), 0o755);
  env = testEnv({ PATH: `${join(BIN, '..')}:${bin}:${process.env.PATH}` });
  ckptDir = join(tempDir(), 'flor-ckpt');
});

/** The examples a command's builder declares, in order. */
function examplesOf(c: Awaited<ReturnType<typeof allCommands>>[number]): string[] {
  const found: string[] = [];
  const y: unknown = new Proxy(
    {},
    {
      get: (_t, key) =>
        key === 'example'
          ? (cmd: string) => {
              found.push(cmd);
              return y;
            }
          : () => y,
    },
  );
  if (typeof c.builder === 'function') (c.builder as (y: unknown) => unknown)(y);
  return found;
}

/**
 * The arguments of `git flor ARGS` when the line needs no shell (words and quoted strings only),
 * else null.
 */
function plainFlorArgs(line: string): string[] | null {
  const words: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      if (end < 0 || (c === '"' && /[$`\\]/.test(line.slice(i + 1, end)))) return null;
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === ' ') {
      if (word !== null) words.push(word);
      word = null;
    } else if (/[^\w@%./:=~+,-]/.test(c)) {
      return null;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== null) words.push(word);
  return words[0] === 'git' && words[1] === 'flor' ? words.slice(2) : null;
}

/** Long-running examples: the server must come up and print its URL, then it is stopped. */
async function serve(cmd: string): Promise<string> {
  const child = spawn('sh', ['-c', `exec ${cmd}`], { cwd: dir, env });
  let outText = '';
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${cmd}: no URL within 20 s\n${outText}`)), 20_000);
    child.stdout.on('data', (d: Buffer) => {
      outText += d.toString();
      const m = /http:\/\/\S+/.exec(outText);
      if (m) {
        clearTimeout(t);
        resolve(m[0]);
      }
    });
    child.stderr.on('data', (d: Buffer) => (outText += d.toString()));
  });
  const ended = new Promise((r) => child.on('close', r));
  child.kill('SIGINT');
  await ended;
  return url;
}

test('every example of every --help runs as written (exit 0)', async () => {
  const commands = await allCommands();
  const all = commands.flatMap((c) => examplesOf(c).map((e) => ({ command: String(c.command).split(' ')[0]!, text: e })));
  assert.ok(all.length >= 35, `examples found: ${all.length}`);
  // init first and uninstall last, as a user would.
  const rank = (x: { command: string }) => (x.command === 'init' ? 0 : x.command === 'uninstall' ? 2 : 1);
  all.sort((a, b) => rank(a) - rank(b));
  let inProcess = 0;
  for (const ex of all) {
    // The replay plan and the shared checkpoint directory the many-machines examples name: the
    // plan an earlier example saved, and a directory of this test's.
    const plan = () => gitIn(dir, 'for-each-ref', '--count=1', '--format=%(refname:lstrip=3)', 'refs/flor/plans/');
    const cmd = ex.text.replace(/\$0/g, 'git flor').replace(/01JD3/g, ids[0]!.slice(0, 10)).replace(/01JD4/g, ids[1]!.slice(0, 10))
      .replace(/1a2b3c4d5e6f/g, plan).replace(/\/mnt\/shared\/flor-ckpt/g, ckptDir);
    if (ex.command === 'ui') {
      assert.match(await serve(cmd), /^http:\/\/127\.0\.0\.1:\d+\/\S*/, cmd);
      continue;
    }
    // A plain command line runs in this process (a process adds nothing to what it exercises);
    // one with redirection or `&&` goes through the shell, `git flor` found on PATH, and so does
    // replay and hook: they hand their own node flags to the node they start, and this process has
    // a loader's.
    const argv = ex.command === 'replay' || ex.command === 'hook' ? null : plainFlorArgs(cmd);
    const r = argv ? await florIn(dir, argv) : spawnSync('sh', ['-c', cmd], { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `${cmd}\nexit ${r.status}\n${r.stdout}\n${r.stderr}`);
    if (argv) inProcess++;
  }
  assert.ok(inProcess > 0 && inProcess < all.length - 2, `some examples through the shell, the rest in-process (${inProcess} of ${all.length})`);
  // The rm examples removed both runs: back, for the tests below.
  const back = await florIn(dir, ['rm', '--undo', ids[0]!, ids[1]!]);
  assert.equal(back.status, 0, back.stderr);
});

test('git flor help CMD shows that command\'s help; help alone the command list', async () => {
  const viaHelp = await florIn(dir, ['help', 'log']);
  const viaFlag = await florIn(dir, ['log', '--help']);
  assert.equal(viaHelp.status, 0);
  assert.match(viaHelp.stdout, /^git flor log <names\.\.>/);
  assert.equal(viaHelp.stdout, viaFlag.stdout);
  const top = await florIn(dir, ['help']);
  assert.match(top.stdout, /^git flor <command> \[options\]/);
  assert.match(top.stdout, /git flor names +Every name the runs logged/);
  const bad = await florIn(dir, ['help', 'lgo']);
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, "git flor: unknown command 'lgo'\nhint: did you mean 'log'? see `git flor -h`\n");
});

test('unknown commands and options say what was meant; hidden commands are never suggested', async () => {
  const cmd = await florIn(dir, ['lgo', 'loss']);
  assert.equal(cmd.status, 2);
  assert.equal(cmd.stderr, "git flor: unknown command 'lgo'\nhint: did you mean 'log'? see `git flor -h`\n");
  const hidden = await florIn(dir, ['hok']);
  assert.equal(hidden.stderr, "git flor: unknown command 'hok'\nhint: see `git flor -h`\n", 'hook is a hidden command');
  const opt = await florIn(dir, ['runs', '--stauts', 'ok']);
  assert.equal(opt.status, 2);
  assert.equal(opt.stderr, "git flor: unknown option '--stauts' for runs\nhint: did you mean '--status'? see `git flor runs --help`\n");
  const stray = await florIn(dir, ['runs', 'extra']);
  assert.equal(stray.stderr, "git flor: unexpected argument 'extra' to runs\nhint: see `git flor runs --help`\n");
  const name = await florIn(dir, ['log', 'los']);
  assert.equal(name.status, 2);
  assert.match(name.stderr, /^git flor: no run logged 'los'\nhint: did you mean 'loss'\?/);
  const after = await florIn(dir, ['propagate', ids[0]!, '--', 'src/train.ts', '--names', 'grad_norm']);
  assert.equal(after.status, 2);
  assert.match(after.stderr, /^git flor: --names after `--` reads as a path\nhint: options go before `--`/);
});

test('git flor names lists every logged name and arg with its runs, values and loops', async () => {
  const r = await florIn(dir, ['names', '--format', 'json']);
  assert.equal(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  const byName = Object.fromEntries(rows.map((x) => [x.name, x]));
  assert.deepEqual(byName.loss, { name: 'loss', kind: 'logged', runs: 2, records: 24, loops: ['epoch/step'], replayedOnly: 0 });
  assert.deepEqual(byName.acc, { name: 'acc', kind: 'logged', runs: 2, records: 12, loops: ['epoch'], replayedOnly: 0 });
  // The examples above replayed grad_norm into both runs: only a replay logged it.
  assert.deepEqual(byName.grad_norm, { name: 'grad_norm', kind: 'logged', runs: 2, records: 12, loops: ['epoch'], replayedOnly: 2 });
  assert.deepEqual(byName.lr, { name: 'lr', kind: 'arg', runs: 2, records: null, loops: [], replayedOnly: 0 });
  const table = (await florIn(dir, ['names'])).stdout.split('\n');
  assert.match(table[0]!, /^name +kind +runs +records +loops +replayed$/);
  assert.match(table.find((l) => l.startsWith('loss'))!, /^loss +logged +2 +24 +epoch\/step$/);
});

test('a fresh clone with a remote is told to fetch; a SIGKILLed run shows without doctor', async () => {
  const clone = tempDir();
  gitIn(clone, 'clone', '-q', dir, 'c');
  const c = join(clone, 'c');
  for (const args of [['runs'], ['log', 'loss'], ['names']]) {
    const r = await florIn(c, args);
    assert.match(r.stderr, /no runs recorded yet\nhint: runs recorded in other clones come with `git flor fetch` \(then `git flor runs` again\)\n/, args.join(' '));
  }
  const alone = makeRepo({ files: { 'slow.mjs': "import { flor } from 'git-flor';\nfor (const e of flor.loop('epoch', [0, 1, 2, 3, 4, 5, 6, 7])) { flor.log('loss', e); if (e === 1) console.log('ready'); await new Promise((r) => setTimeout(r, 200)); }\n" } });
  assert.match((await florIn(alone, ['runs'])).stderr, /hint: run a script that does `import \{ flor \} from 'git-flor'`/);
  const child = spawn(process.execPath, ['slow.mjs'], { cwd: alone, env: testEnv() });
  await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
  await new Promise((r) => setTimeout(r, 150));
  child.kill('SIGKILL');
  await new Promise((r) => child.on('close', r));
  const rows = JSON.parse((await florIn(alone, ['runs', '--format', 'json'])).stdout) as Array<{ status: string }>;
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.status, 'crashed');
});
