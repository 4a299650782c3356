/**
 * Output at a terminal, as Git does it: a pager, colour, tables fitted to the width, short ids,
 * and the line a recorded run prints when it ends. What a terminal changes is tested through a
 * real pseudo-terminal (util-linux `script`); the decisions themselves also in-process.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, cleanup, gitIn, makeRepo, runNode, testEnv } from './helpers/repo.js';
import { recordHistory, type History } from './helpers/history.js';
import { florIn } from './helpers/cli.js';
import { loadTerminalConfig, resetTerminal, setupTerminal, takeGlobalFlags } from '../src/cli/terminal.js';

await loadTerminalConfig();
import { shortIds } from '../src/query/short-ids.js';
import { render, styledTable } from '../src/query/formats.js';
import { tableFromObjects } from '../src/query/table.js';

after(cleanup);

let h: History;
before(async () => {
  h = await recordHistory();
});

const ESC = /\u001b\[/;

/** A shell command line run inside a pseudo-terminal; its output (stdout and stderr merged, CRLF undone). */
function inTty(cwd: string, cmd: string, env: Record<string, string | undefined> = {}): string {
  assert.ok(existsSync('/usr/bin/script') || existsSync('/bin/script'), 'util-linux script is needed for the terminal tests');
  const e: NodeJS.ProcessEnv = { ...testEnv({ GIT_CONFIG_GLOBAL: '/dev/null', PATH: `${join(BIN, '..')}:${process.env.PATH}` }) };
  for (const k of ['NO_COLOR', 'PAGER', 'GIT_PAGER', 'LESS', 'COLUMNS', 'GIT_PAGER_IN_USE']) delete e[k];
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete e[k];
    else e[k] = v;
  }
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd, env: e, encoding: 'utf8', input: '' });
  assert.equal(r.status, 0, `${cmd}: ${r.stdout}${r.stderr}`);
  return r.stdout.replace(/\r\n/g, '\n');
}

function decide(env: Record<string, string>, flags = takeGlobalFlags([]).flags, command = 'log') {
  const was = process.cwd();
  process.chdir(h.dir);
  try {
    return setupTerminal(command, flags, { ...env }, { isTTY: true, columns: 100 });
  } finally {
    process.chdir(was);
    resetTerminal();
  }
}

test('the pager is chosen in Git order: GIT_PAGER, pager.flor, core.pager, PAGER, less', () => {
  try {
    assert.equal(decide({}).pager, 'less');
    assert.equal(decide({ PAGER: 'more' }).pager, 'more');
    gitIn(h.dir, 'config', 'core.pager', 'most');
    assert.equal(decide({ PAGER: 'more' }).pager, 'most');
    gitIn(h.dir, 'config', 'pager.flor', 'pg');
    assert.equal(decide({ PAGER: 'more' }).pager, 'pg');
    assert.equal(decide({ GIT_PAGER: 'lv', PAGER: 'more' }).pager, 'lv');
    gitIn(h.dir, 'config', 'pager.flor', 'false');
    assert.equal(decide({ GIT_PAGER: 'lv' }).pager, null, 'pager.flor=false turns paging off');
    gitIn(h.dir, 'config', 'pager.flor', 'true');
    assert.equal(decide({}).pager, 'most');
  } finally {
    gitIn(h.dir, 'config', '--unset', 'core.pager');
    gitIn(h.dir, 'config', '--unset', 'pager.flor');
  }
  assert.equal(decide({ GIT_PAGER: 'cat' }).pager, null);
  assert.equal(decide({ GIT_PAGER_IN_USE: 'true' }).pager, null, 'Git is already paging');
  assert.equal(decide({}, takeGlobalFlags(['--no-pager', 'log']).flags).pager, null);
  assert.equal(decide({}, undefined, 'init').pager, null, 'only listing commands page');
  // Not a terminal: nothing at all.
  assert.deepEqual(setupTerminal('log', takeGlobalFlags([]).flags, {}, { isTTY: false }), { color: false, width: null, pager: null });
  resetTerminal();
});

test('colour: on a terminal or in Git\'s pager; off with NO_COLOR, color.ui=never or --no-color; --color forces it', () => {
  assert.equal(decide({}).color, true);
  assert.equal(decide({ NO_COLOR: '1' }).color, false);
  assert.equal(decide({}, takeGlobalFlags(['--no-color']).flags).color, false);
  gitIn(h.dir, 'config', 'color.ui', 'never');
  try {
    assert.equal(decide({}).color, false);
    assert.equal(decide({}, takeGlobalFlags(['--color']).flags).color, true);
  } finally {
    gitIn(h.dir, 'config', '--unset', 'color.ui');
  }
  const underGit = setupTerminal('log', takeGlobalFlags([]).flags, { GIT_PAGER_IN_USE: 'true', COLUMNS: '77' }, { isTTY: false });
  resetTerminal();
  assert.deepEqual(underGit, { color: true, width: 77, pager: null }, "Git's pager: colour, and the width Git passes in COLUMNS");
  assert.deepEqual(takeGlobalFlags(['log', '--no-pager', 'x', '--', '--color']), { argv: ['log', 'x', '--', '--color'], flags: { pager: false, color: undefined } });
});

test('short ids: the shortest unique prefix of at least the minimum, over the whole set', () => {
  const ids = ['01M92RTZ0KS7', '01M92RTZDG3A', '01M92RV0MR6G', '01M93AAAAAAA'];
  assert.deepEqual([...shortIds(ids, 8).values()], ['01M92RTZ0', '01M92RTZD', '01M92RV0', '01M93AAA']);
  assert.deepEqual([...shortIds(['abc'], 8).values()], ['abc']);
});

test('a table too wide for the terminal leaves out columns in the stated order, then cuts text', () => {
  const t = tableFromObjects(['run', 'time', 'status', 'note'], [{ run: '01M92RTZ0', time: '2026-12-05T09:33:50.030Z', status: 'ok', note: 'a long free-text note here' }]);
  const fitted = (width: number, drop: string[]) => Buffer.concat([...styledTable({ width, drop })(t)].map((c) => Buffer.from(c))).toString();
  assert.equal(fitted(200, ['time']), render('table', t));
  assert.equal(fitted(50, ['time']), 'run        status  note\n01M92RTZ0  ok      a long free-text note here\n');
  assert.equal(fitted(30, ['time']), 'run        status  note\n01M92RTZ0  ok      a long fre…\n');
});

test('runs: short ids and a 7+ commit in the table, full ids in csv and json', async () => {
  const table = (await florIn(h.dir, ['runs', '--col', 'commit'])).stdout;
  const json = JSON.parse((await florIn(h.dir, ['runs', '--format', 'json'])).stdout) as Array<{ run: string; commit: string }>;
  const rows = table.trim().split('\n').slice(1).map((l) => l.split(/\s+/));
  const shorts = shortIds(h.ids, 8);
  assert.deepEqual(rows.map((r) => r[0]), h.ids.map((id) => shorts.get(id)));
  assert.ok(rows.every((r) => r[0]!.length >= 8 && r[0]!.length < 26));
  assert.deepEqual(rows.map((r) => r[1]), json.map((r) => r.commit.slice(0, 7)));
  assert.deepEqual(json.map((r) => r.run), h.ids);
  const csv = (await florIn(h.dir, ['runs', '--format', 'csv'])).stdout;
  for (const id of h.ids) assert.ok(csv.includes(id));
  // A prefix copied from a filtered table still names one run: the prefix is unique over all runs.
  const one = (await florIn(h.dir, ['runs', '--status', 'failed'])).stdout.trim().split('\n')[1]!.split(/\s+/)[0]!;
  assert.equal(one, shorts.get(h.ids[3]!));
  assert.match((await florIn(h.dir, ['show', one])).stdout, new RegExp(`^run +${h.ids[3]}`));
});

test('runs --status, --script, --since and --version select runs; --version (also on log and plot) takes a commit prefix, branch or rev', async () => {
  const ids = async (args: string[]) => (JSON.parse((await florIn(h.dir, ['runs', '--format', 'json', ...args])).stdout) as Array<{ run: string }>).map((r) => r.run);
  assert.deepEqual(await ids(['--status', 'failed']), [h.ids[3]]);
  assert.deepEqual(await ids(['--status', 'ok', '--status', 'failed']), h.ids);
  assert.deepEqual(await ids(['--script', 'train.mjs']), h.ids);
  assert.deepEqual(await ids(['--script', 'other.mjs']), []);
  assert.deepEqual(await ids(['--since', '2000-01-01']), h.ids);
  assert.deepEqual(await ids(['--since', '2999-01-01']), []);
  assert.deepEqual(await ids(['--version', h.c1.slice(0, 9)]), h.ids.slice(0, 2));
  assert.deepEqual(await ids(['--version', 'main']), h.ids.slice(2));
  assert.deepEqual(await ids(['--version', 'HEAD~1']), h.ids.slice(0, 2));
  const bad = await florIn(h.dir, ['runs', '--version', 'nosuch']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--version nosuch: not a commit, branch or tag/);
  const plot = (await florIn(h.dir, ['plot', 'acc', '--version', 'HEAD~1', '--width', '50', '--height', '4'])).stdout;
  const legend = [...plot.matchAll(/^ {2}── (\w+) ([0-9a-f]{7})$/gm)].map((m) => [m[1], m[2]]);
  assert.deepEqual(legend, h.ids.slice(0, 2).map((id) => [shortIds(h.ids, 8).get(id), h.c1.slice(0, 7)]));
  const log = await florIn(h.dir, ['log', 'acc', '--version', 'HEAD~1', '--format', 'json']);
  assert.deepEqual([...new Set((JSON.parse(log.stdout) as Array<{ run: string }>).map((r) => r.run))], h.ids.slice(0, 2));
});

test('through a terminal: the pager gets the output, colour and fitting apply; a pipe gets plain text', () => {
  const paged = inTty(h.dir, 'git flor runs', { GIT_PAGER: 'sed s/^/P:/', COLUMNS: '60' });
  const lines = paged.trimEnd().split('\n');
  assert.equal(lines.length, 5);
  assert.ok(lines.every((l) => l.startsWith('P:')), paged);
  assert.match(paged, ESC);
  const visible = lines.map((l) => l.slice(2).replace(/\u001b\[[0-9;]*m/g, ''));
  assert.ok(visible.every((l) => l.length <= 60), visible.join('\n'));
  assert.match(visible[0]!, /^run +version +status/, 'time is the first column to go');
  assert.match(paged, /\u001b\[31mfailed\u001b\[m/);
  const plain = inTty(h.dir, 'git flor --no-pager --no-color runs', { GIT_PAGER: 'sed s/^/P:/', COLUMNS: '60' });
  assert.doesNotMatch(plain, /P:|\u001b\[/);
  const piped = inTty(h.dir, 'git flor runs | cat', { GIT_PAGER: 'sed s/^/P:/', COLUMNS: '60' });
  assert.doesNotMatch(piped, /P:|\u001b\[/);
  assert.match(piped.split('\n')[0]!, /^run +version +time +status/);
  // pager.flor=false: Git's own switch for this command.
  gitIn(h.dir, 'config', 'pager.flor', 'false');
  try {
    assert.doesNotMatch(inTty(h.dir, 'git flor runs', { GIT_PAGER: 'sed s/^/P:/' }), /P:/);
  } finally {
    gitIn(h.dir, 'config', '--unset', 'pager.flor');
  }
});

test('at a terminal, runs, log and show write to it directly: fitted to its own width, coloured, with neither node:tty, net, the streams nor child_process loaded', async () => {
  const probe = join(h.dir, '.git', 'probe.cjs');
  writeFileSync(probe, "process.on('exit', () => process._rawDebug('loaded: ' + ['tty', 'net', 'stream', 'child_process'].filter((m) => process.moduleLoadList.includes('NativeModule ' + m)).join(',')));\n");
  // A clean run: showing a dirty one runs `git diff`, which needs child_process.
  const id = h.ids[1]!;
  for (const args of ['runs', 'log acc', `show ${id}`]) {
    // No pager (GIT_PAGER=cat) and no COLUMNS: the width is the terminal's. The second run finds
    // Git's settings listed by the first (git-config.ts), so it starts no git process either.
    const cmd = `stty cols 60 rows 40; node --require ${probe} ${BIN} ${args}`;
    inTty(h.dir, cmd, { GIT_PAGER: 'cat' });
    const out = inTty(h.dir, cmd, { GIT_PAGER: 'cat' });
    assert.match(out, /^loaded: $/m, `${args}: ${out}`);
    assert.match(out, ESC, args);
    const visible = out.split('\n').filter((l) => !l.startsWith('loaded:')).map((l) => l.replace(/\u001b\[[0-9;]*m/g, ''));
    if (args === 'runs') {
      assert.ok(visible.every((l) => l.length <= 60), visible.join('\n'));
      assert.match(visible[0]!, /^run +version +status/, 'time is the first column to go');
    }
  }
  // What is written is what a pipe gets, but for colour and fitting.
  const wide = inTty(h.dir, `stty cols 300 rows 40; ${BIN} log acc`, { GIT_PAGER: 'cat', NO_COLOR: '1' });
  assert.equal(wide.trimEnd(), (await florIn(h.dir, ['log', 'acc'])).stdout.trimEnd());
});

test('show colours its status and its diff on a terminal only', () => {
  const id = h.ids[3]!;
  const tty = inTty(h.dir, `git flor show ${id}`, { GIT_PAGER: 'cat' });
  assert.match(tty, /\u001b\[31mfailed\u001b\[m/);
  assert.match(tty, /\u001b\[32m\+\/\/ experiment\u001b\[m/);
  assert.doesNotMatch(inTty(h.dir, `git flor show ${id} | cat`), ESC);
});

test('a recorded run ends with one line on a terminal; flor.quiet and a pipe silence it; sharing is hinted once', () => {
  const dir = makeRepo({ files: { 'train.mjs': "import { flor } from 'git-flor';\nfor (const e of flor.loop('epoch', [0, 1, 2])) flor.log('loss', e);\n", '.gitignore': 'node_modules/\n' } });
  const first = inTty(dir, 'node train.mjs');
  const m = /^flor: run (\w{8,}) recorded \(3 records\) — git flor show \1$/m.exec(first);
  assert.ok(m, first);
  assert.match(first, /^flor: runs stay in this clone until `git flor init` makes `git push` share them \(said once\)$/m);
  const second = inTty(dir, 'node train.mjs');
  assert.match(second, /^flor: run \w{8,} recorded \(3 records\)/m);
  assert.doesNotMatch(second, /said once/);
  const json = JSON.parse(spawnSync(BIN, ['runs', '--format', 'json'], { cwd: dir, env: testEnv(), encoding: 'utf8' }).stdout) as Array<{ run: string; records: number }>;
  assert.ok(json[0]!.run.startsWith(m[1]!));
  assert.equal(json[0]!.records, 3);
  assert.doesNotMatch(runNode(dir, 'train.mjs').stderr, /recorded/);
  gitIn(dir, 'config', 'flor.quiet', 'true');
  assert.doesNotMatch(inTty(dir, 'node train.mjs'), /recorded/);
  spawnSync(BIN, ['runs'], { cwd: dir, env: testEnv() }); // waits for the last capture before cleanup
});
