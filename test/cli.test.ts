/**
 * The CLI on a real repository where a fixture script ran a few times: two commits, one dirty
 * run. The fixture is listed once through the built bin/git-flor (rebuild with `npm run build`);
 * the tests call the CLI in-process, where a process would add nothing but its start.
 */
import { replayOfEpoch1 } from './helpers/segments.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepo, runNode, flor, gitIn, cleanup, fsckClean, tempDir } from './helpers/repo.js';
import { requireRepoSync } from '../src/store/git.js';
import { appendSegment } from '../src/store/ledger.js';
import { encodeSegment, makeSegment } from '../src/store/segment.js';
import { shortIds } from '../src/query/short-ids.js';
import { cli } from './helpers/cli.js';

// Deterministic values, so the expected rows can be computed here.
const SCRIPT = (lossScale: number) => `import { flor } from 'git-flor';
const lr = flor.arg('lr', 0.5);
flor.log('tag', { v: ${lossScale}, ok: true });
for (const epoch of flor.loop('epoch', [0, 1])) {
  for (const step of flor.loop('step', [0, 1])) {
    flor.log('loss', ${lossScale} * lr / (1 + epoch * 2 + step));
  }
  flor.log('acc', epoch === 0 ? 0.25 : 0.75);
}
`;

let dir = '';
interface RunRow {
  run: string;
  version: string;
  commit: string;
  time: string;
  end: string;
  file: string;
  branch: string | null;
  dirty: boolean;
  status: string;
  records: number;
  args: Record<string, unknown>;
  'last(acc)': number;
}
let runs: RunRow[] = [];
let c1 = '';
let c2 = '';

before(() => {
  dir = makeRepo({ files: { 'train.mjs': SCRIPT(1) } });
  c1 = gitIn(dir, 'rev-parse', 'HEAD');
  runNode(dir, 'train.mjs', ['--lr', '0.1']);
  runNode(dir, 'train.mjs');
  writeFileSync(join(dir, 'train.mjs'), SCRIPT(2));
  gitIn(dir, 'commit', '-qam', 'v2');
  c2 = gitIn(dir, 'rev-parse', 'HEAD');
  writeFileSync(join(dir, 'train.mjs'), SCRIPT(2) + '// experiment\n');
  runNode(dir, 'train.mjs', ['--lr=0.2']); // dirty: uncommitted edit
  const r = flor(dir, ['runs', '--format', 'json']); // the built CLI as a user runs it; the tests below call it in-process
  runs = JSON.parse(r.stdout) as RunRow[];
});

after(() => cleanup());

test('runs --format json: one object per run with the documented fields and values, oldest first', () => {
  assert.equal(runs.length, 3);
  for (const r of runs) {
    assert.deepEqual(Object.keys(r), ['run', 'version', 'commit', 'time', 'end', 'file', 'branch', 'dirty', 'status', 'records', 'args', 'last(acc)']);
    assert.match(r.run, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.ok(!Number.isNaN(Date.parse(r.time)));
    assert.ok(r.time <= r.end);
    assert.equal(r.version, r.commit.slice(0, 7));
    assert.equal(r.branch, 'main');
    assert.equal(r.file, 'train.mjs');
    assert.equal(r['last(acc)'], 0.75);
    assert.equal(r.status, 'ok');
    assert.equal(r.records, 1 + 2 * (2 + 1)); // tag + 2 epochs x (2 losses + acc)
  }
  assert.deepEqual(runs.map((r) => [r.commit, r.dirty, r.args.lr]), [[c1, false, 0.1], [c1, false, 0.5], [c2, true, 0.2]]);
  assert.ok(runs[0]!.time <= runs[1]!.time && runs[1]!.time <= runs[2]!.time);
});

test('runs table and csv list the same runs', async () => {
  const table = (await cli(dir, ['runs'])).stdout.trimEnd().split('\n');
  assert.equal(table.length, 4);
  assert.match(table[0]!, /^run\s+version\s+time\s+status\s+lr\s+last\(acc\)$/);
  // Tables abbreviate ids to their shortest unique prefix of 8 or more characters.
  const short = shortIds(runs.map((r) => r.run), 8).get(runs[2]!.run)!;
  assert.ok(short.length >= 8 && runs[2]!.run.startsWith(short));
  assert.match(table[3]!, new RegExp(`^${short}\\s+${c2.slice(0, 7)}\\s+${runs[2]!.time}\\s+ok\\s+0\\.2\\s+0\\.75$`));
  const csv = (await cli(dir, ['runs', '--format', 'csv'])).stdout.trimEnd().split('\n');
  assert.equal(csv[0], 'run,version,commit,time,end,file,branch,dirty,status,records,lr,last(acc)');
  assert.equal(csv[1], `${runs[0]!.run},${c1.slice(0, 7)},${c1},${runs[0]!.time},${runs[0]!.end},train.mjs,main,false,ok,7,0.1,0.75`);
});

/** `log loss acc tag --format json` rows of the runs at these indices of `runs`, computed from SCRIPT. */
function expectedRows(which = [0, 1, 2]): unknown[] {
  const expected: unknown[] = [];
  for (const [i, run] of runs.entries()) {
    if (!which.includes(i)) continue;
    const scale = i < 2 ? 1 : 2;
    const lr = run.args.lr as number;
    for (const epoch of [0, 1]) {
      for (const step of [0, 1]) {
        expected.push({
          run: run.run,
          version: (i < 2 ? c1 : c2).slice(0, 7),
          time: run.time,
          file: 'train.mjs',
          epoch,
          step,
          loss: (scale * lr) / (1 + epoch * 2 + step),
          acc: epoch === 0 ? 0.25 : 0.75,
          tag: { v: scale, ok: true },
        });
      }
    }
  }
  return expected;
}

test('log json: exact rows, outer-level acc and top-level tag joined onto step rows', async () => {
  const r = await cli(dir, ['log', 'loss', 'acc', 'tag', '--format', 'json']);
  assert.equal(r.stderr, '');
  assert.deepEqual(JSON.parse(r.stdout), expectedRows());
});

test('log --replay with nothing to replay: the same rows as log, byte for byte; stderr says why', async () => {
  const plain = (await cli(dir, ['log', 'loss', 'acc', 'tag', '--format', 'json'])).stdout;
  const r = await cli(dir, ['log', 'loss', 'acc', 'tag', '--replay', '--format', 'json']);
  assert.equal(r.stdout, plain);
  assert.deepEqual(JSON.parse(r.stdout), expectedRows());
  // tag and acc are logged by today's code too; every run has all three.
  assert.equal(r.stderr, '3 run(s) already have loss, acc, tag\n');
  const csv = (await cli(dir, ['log', 'loss', 'lr', '--replay', '--format', 'csv'])).stdout;
  assert.equal(csv, (await cli(dir, ['log', 'loss', 'lr', '--format', 'csv'])).stdout);
  assert.equal(csv.split('\n').length, 1 + 3 * 4 + 1); // header, 3 runs x 4 steps, final newline
});

test('several --run prefixes are resolved against one listing, with and without --replay; a bad one is exit 2', async () => {
  const [a, , c] = runs.map((r) => r.run);
  for (const extra of [[], ['--replay']]) {
    const args = ['log', 'loss', 'acc', 'tag', '--run', a!.slice(0, 21).toLowerCase(), '--run', c!, '--run', a!, '--format', 'json', ...extra];
    const r = await cli(dir, args);
    assert.deepEqual(JSON.parse(r.stdout), expectedRows([0, 2]), args.join(' '));
    const bad = await cli(dir, ['log', 'loss', '--run', a!, '--run', 'ZZZZZ', ...extra], true);
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr, 'git flor: no run matches ZZZZZ\nhint: list runs with `git flor runs`\n');
    assert.equal(bad.stdout, '');
  }
  // Ids start with their time in base32, '0' until the year 10889: every run matches.
  const amb = await cli(dir, ['log', 'loss', '--run', a!, '--run', '0', '--replay'], true);
  assert.equal(amb.status, 2);
  assert.equal(amb.stderr, `git flor: run prefix 0 matches 3 runs: ${runs.map((r) => r.run).sort().join(', ')}\nhint: give more characters of the id\n`);
});

test('log ndjson, csv and --run by prefix select one run', async () => {
  const prefix = runs[1]!.run.slice(0, 20);
  const nd = (await cli(dir, ['log', 'acc', '--run', prefix, '--format', 'ndjson'])).stdout;
  const v = runs[1]!.run;
  const base = `{"run":"${v}","version":"${c1.slice(0, 7)}","time":"${runs[1]!.time}","file":"train.mjs"`;
  assert.equal(nd, `${base},"epoch":0,"acc":0.25}\n${base},"epoch":1,"acc":0.75}\n`);
  const csv = (await cli(dir, ['log', 'lr', 'acc', '--run', prefix, '--format', 'csv'])).stdout;
  assert.equal(csv, `run,version,time,file,epoch,lr,acc\n${v},${c1.slice(0, 7)},${runs[1]!.time},train.mjs,0,0.5,0.25\n${v},${c1.slice(0, 7)},${runs[1]!.time},train.mjs,1,0.5,0.75\n`);
});

test('log --since in the future gives nothing; a bad date is exit 2 with a hint', async () => {
  assert.equal((await cli(dir, ['log', 'loss', '--since', '2999-01-01', '--format', 'json'])).stdout, '[]\n');
  const bad = await cli(dir, ['log', 'loss', '--since', 'someday'], true);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^git flor: cannot read the date 'someday'\nhint: /);
});

test('a name never logged: exit 2, nothing on stdout, a hint listing the known names', async () => {
  const r = await cli(dir, ['log', 'grad_norm', '--format', 'json'], true);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, "git flor: no run logged 'grad_norm'\nhint: known: acc, loss, lr, tag\n");
  // Logged by another run than the one chosen: not a typo, the empty answer stands (and says why).
  const other = await cli(dir, ['log', 'acc', '--since', '2999-01-01', '--format', 'json']);
  assert.equal(other.stdout, '[]\n');
  assert.match(other.stderr, /no run matches --run\/--since/);
});

test('show by unique prefix: metadata, args, loops and names; a dirty run shows its code diff', async () => {
  const clean = (await cli(dir, ['show', runs[0]!.run.slice(0, 22)])).stdout;
  assert.match(clean, new RegExp(`^run\\s+${runs[0]!.run}$`, 'm'));
  assert.match(clean, /^args\s+lr=0\.1$/m);
  assert.match(clean, /^loops\s+epoch \(2 iterations\), step \(2 iterations, inside epoch\)$/m);
  assert.match(clean, /^names\s+.*\bacc\b/m);
  for (const n of ['loss', 'acc', 'tag']) assert.match(clean, new RegExp(`^names\\s+.*\\b${n}\\b`, 'm'));
  assert.match(clean, new RegExp(`^commit\\s+${c1} \\(main\\)$`, 'm'));
  assert.doesNotMatch(clean, /code that ran vs/);
  const dirty = (await cli(dir, ['show', runs[2]!.run])).stdout;
  assert.match(dirty, /dirty: code differs from the commit/);
  assert.match(dirty, new RegExp(`code that ran vs ${c2.slice(0, 7)}:\\n train.mjs \\| 1 \\+\\n`));
  assert.match(dirty, /^\+\/\/ experiment$/m);
  const json = JSON.parse((await cli(dir, ['show', runs[1]!.run, '--format', 'json'])).stdout) as {
    id: string;
    meta: { args: unknown; commit: string };
    segments: Array<{ name: string; source: string; records: number; names: string[] }>;
  };
  assert.equal(json.id, runs[1]!.run);
  assert.deepEqual(json.meta.args, { lr: 0.5 });
  assert.equal(json.meta.commit, c1);
  assert.deepEqual(json.segments.map((x) => [x.name, x.source, x.records, [...x.names].sort()]), [['forward', 'forward', 7, ['acc', 'loss', 'tag']]]);
});

test('show of an unknown run: exit 2, one-line error and a hint', async () => {
  const r = await cli(dir, ['show', 'ZZZZ'], true);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^git flor: .*ZZZZ.*\nhint: .+\n$/);
  const l = await cli(dir, ['log', 'loss', '--run', 'ZZZZ'], true);
  assert.equal(l.status, 2);
  assert.match(l.stderr, /^git flor: .*ZZZZ/);
});

test('usage errors exit 2 with a pointer to --help', async () => {
  const r = await cli(dir, ['log'], true);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /hint: see `git flor log --help`/);
  const f = await cli(dir, ['runs', '--format', 'xml'], true);
  assert.equal(f.status, 2);
  assert.match(f.stderr, /Invalid values/);
  const u = await cli(dir, ['frobnicate'], true);
  assert.equal(u.status, 2);
  assert.equal(u.stderr, "git flor: unknown command 'frobnicate'\nhint: see `git flor -h`\n");
  const typo = await cli(dir, ['lgo'], true);
  assert.equal(typo.status, 2);
  assert.equal(typo.stderr, "git flor: unknown command 'lgo'\nhint: did you mean 'log'? see `git flor -h`\n");
});

test('--help of every command shows an example', async () => {
  const top = (await cli(dir, ['--help'])).stdout;
  const listed = [...top.matchAll(/^ {2}git flor (\w+)/gm)].map((m) => m[1]!);
  for (const cmd of ['runs', 'show', 'log', 'doctor']) assert.ok(listed.includes(cmd), cmd);
  for (const cmd of listed) {
    const r = await cli(dir, [cmd, '--help']);
    assert.match(r.stdout, /Examples:\n\s+git flor /, cmd);
  }
});

test('doctor on a healthy repo: exit 0; outside a repo every command is exit 2 with a hint', async () => {
  const d = await cli(dir, ['doctor']);
  assert.equal(d.status, 0);
  assert.match(d.stdout, /^ok: /m);
  const nowhere = tempDir();
  const outside = await cli(nowhere, ['runs'], true);
  assert.equal(outside.status, 2);
  assert.match(outside.stderr, /^git flor: not inside a Git repository: .*\nhint: /);
  fsckClean(dir);
});

test('a replay segment merges into the view: new name filled, recorded values kept, rows marked', async () => {
  const d = makeRepo({ files: { 'train.mjs': SCRIPT(1) } });
  runNode(d, 'train.mjs', ['--lr', '1']);
  const [run] = JSON.parse((await cli(d, ['runs', '--format', 'json'])).stdout) as RunRow[];
  // What a replay of epoch 1 would write: grad_norm (new) and loss re-executed with another value.
  const records = replayOfEpoch1();
  const prov = { statements: ['grad_norm'], code: run!.commit, time: '2026-11-23T00:00:00.000Z', writer: 'test', segments: [[1, 2]] as Array<[number, number]> };
  await appendSegment(requireRepoSync(d), run!.run, 'replay-1', encodeSegment(makeSegment(run!.run, 'replay', records, prov)));
  const rows = JSON.parse((await cli(d, ['log', 'loss', 'grad_norm', '--format', 'json'])).stdout) as Array<Record<string, unknown>>;
  assert.deepEqual(
    rows.map((r) => [r.epoch, r.step, r.loss, r.grad_norm, r.replayed]),
    [
      [0, 0, 1, null, null],
      [0, 1, 0.5, null, null],
      [1, 0, 1 / 3, 0.5, ['grad_norm']],
      [1, 1, 1 / 4, null, null],
    ],
  );
  const show = (await cli(d, ['show', run!.run])).stdout;
  assert.match(show, /^ {2}replay-1 \(replay\) {2}2 records: loss, grad_norm {2}replayed 2026-11-23T00:00:00.000Z for grad_norm$/m);
  fsckClean(d);
});

test('log --replay checks --workers like replay does: exit 2 with a hint, before any work', async () => {
  for (const args of [['log', 'loss', '--replay', '--workers', '0'], ['replay', 'loss', '--workers', '1.5']]) {
    const r = await cli(dir, args, true);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, /^git flor: --workers must be a whole number >= 1, not (0|1\.5)\nhint: e\.g\. --workers 4\n$/);
  }
});
