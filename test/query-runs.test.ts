/**
 * `git flor runs` (columns, --where, --sort, --limit, --only-changed, formats) and
 * `git flor log --where/--sort/--limit`, in-process on one recorded repository:
 * two versions, four runs, one of them failed, args that collide with a key column and a logged name.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepo, runNode, gitIn, cleanup, tempDir, writeFiles } from './helpers/repo.js';
import { florIn } from './helpers/cli.js';
import { requireRepoSync } from '../src/store/git.js';
import { repoHistory } from '../src/query/runs.js';
import { summarizeRuns } from '../src/query/summary.js';
import { runContentKey, settleCacheWrites } from '../src/store/derived-cache.js';
import { boundedSegments } from '../src/query/history.js';
import { segment } from './helpers/segments.js';
import { shortIds } from '../src/query/short-ids.js';
import { openHistory } from '../src/query/api.js';

const BODY = `flor.log('tag', { v: 1 });
for (const epoch of flor.loop('epoch', [0, 1, 2])) {
  for (const step of flor.loop('step', [0, 1])) flor.log('loss', lr / (1 + epoch * 2 + step));
  flor.log('acc', Math.min(1, lr * (epoch + 1)));
  if (lr > 0.8) throw new Error('diverged');
}
flor.log('final', 'done');
`;
const V1 = `import { flor } from 'git-flor';\nconst lr = flor.arg('lr', 0.5);\nconst opt = flor.arg('opt', 'sgd');\n${BODY}`;
// v2 adds an arg named like a key column (file) and one named like a logged name (tag).
const V2 = `import { flor } from 'git-flor';\nconst lr = flor.arg('lr', 0.5);\nconst opt = flor.arg('opt', 'sgd');\nflor.arg('file', 'data.csv');\nflor.arg('tag', 'x');\n${BODY}`;

let dir = '';
let c1 = '';
let c2 = '';
let ids: string[] = [];
const LR = [0.1, 0.5, 0.3, 0.9];
const epochsRun = (i: number) => (LR[i]! > 0.8 ? [0] : [0, 1, 2]);
const acc = (i: number, e: number) => Math.min(1, LR[i]! * (e + 1));
const loss = (i: number, e: number, s: number) => LR[i]! / (1 + e * 2 + s);

async function json(args: string[]): Promise<Array<Record<string, unknown>>> {
  const r = await florIn(dir, [...args, '--format', 'json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Array<Record<string, unknown>>;
}

/** The library call behind `runs --col lr --where ...` (the CLI path is covered by the other tests). */
async function which(where: string): Promise<number[]> {
  const sum = await summarizeRuns(history!, { cols: ['lr'], where });
  return sum.rows.map((r) => ids.indexOf(r.run as string));
}
let history: Awaited<ReturnType<typeof repoHistory>> | null = null;

before(() => {
  dir = makeRepo({ files: { 'train.mjs': V1 } });
  c1 = gitIn(dir, 'rev-parse', 'HEAD');
  runNode(dir, 'train.mjs', ['--lr', '0.1', '--opt', 'adam']);
  runNode(dir, 'train.mjs');
  writeFiles(dir, { 'train.mjs': V2 });
  gitIn(dir, 'commit', '-qam', 'v2');
  c2 = gitIn(dir, 'rev-parse', 'HEAD');
  runNode(dir, 'train.mjs', ['--lr', '0.3']);
  assert.equal(runNode(dir, 'train.mjs', ['--lr', '0.9'], { allowFail: true }).status, 1);
});

after(() => cleanup());

test('runs without --col: run keys, args as one object, last(...) of names logged outside an inner loop', async () => {
  const r = await florIn(dir, ['runs', '--format', 'json']);
  assert.equal(r.status, 0);
  // tag is a structure: it does not read in a cell, and the reader is told so.
  assert.equal(r.stderr, 'git flor: not shown: last(...) of tag (name them with --col)\n');
  const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  ids = rows.map((x) => x.run as string);
  assert.equal(rows.length, 4);
  for (const [i, row] of rows.entries()) {
    assert.deepEqual(Object.keys(row), ['run', 'version', 'commit', 'time', 'end', 'file', 'branch', 'dirty', 'status', 'records', 'args', 'last(acc)', 'last(final)']);
    const commit = i < 2 ? c1 : c2;
    assert.deepEqual(
      { ...row, run: 0, time: 0, end: 0 },
      {
        run: 0,
        version: commit.slice(0, 7),
        commit,
        time: 0,
        end: 0,
        file: 'train.mjs',
        branch: 'main',
        dirty: false,
        status: i === 3 ? 'failed' : 'ok',
        records: i === 3 ? 4 : 11,
        args: i < 2 ? { lr: LR[i], opt: i === 0 ? 'adam' : 'sgd' } : { lr: LR[i], opt: 'sgd', file: 'data.csv', tag: 'x' },
        'last(acc)': acc(i, epochsRun(i).at(-1)!),
        'last(final)': i === 3 ? null : 'done',
      },
    );
    assert.ok(typeof row.time === 'string' && typeof row.end === 'string' && row.time <= row.end!);
  }
});

test('runs table, csv and md: args are columns of their own, colliding ones titled arg.NAME', async () => {
  const table = (await florIn(dir, ['runs'])).stdout.trimEnd().split('\n');
  assert.match(table[0]!, /^run +version +time +status +arg\.file +lr +opt +arg\.tag +last\(acc\) +last\(final\)$/);
  assert.match(table[4]!, new RegExp(`^${shortIds(ids, 8).get(ids[3]!)} +${c2.slice(0, 7)} +\\S+ +failed +data\\.csv +0\\.9 +sgd +x +0\\.9$`));
  const csv = (await florIn(dir, ['runs', '--format', 'csv'])).stdout.split('\n');
  assert.equal(csv[0], 'run,version,commit,time,end,file,branch,dirty,status,records,arg.file,lr,opt,arg.tag,last(acc),last(final)');
  assert.match(csv[1]!, new RegExp(`^${ids[0]},${c1.slice(0, 7)},${c1},[^,]+,[^,]+,train\\.mjs,main,false,ok,11,,0\\.1,adam,,0\\.30000000000000004,done$`));
  const md = (await florIn(dir, ['runs', '--format', 'md', '--col', 'opt', '--col', 'max(acc)'])).stdout.split('\n');
  assert.deepEqual(md.slice(0, 3), ['| run | opt | max(acc) |', '| --- | --- | ---: |', `| ${ids[0]} | adam | 0.30000000000000004 |`]);
});

test('--col: every SPEC form, titled exactly as written; json keeps args and adds a key per named arg', async () => {
  const cols = ['lr', 'arg.tag', 'arg.file', 'file', 'status', 'version', 'acc', 'first(acc)', 'max(acc)', 'mean(acc)', 'min(loss)', 'count(loss)', 'loss@epoch=1', 'acc@epoch=2', 'max( loss )'];
  const rows = await json(['runs', ...cols.flatMap((c) => ['--col', c])]);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.deepEqual(
    rows,
    ids.map((id, i) => ({
      run: id,
      args: i < 2 ? { lr: LR[i], opt: i === 0 ? 'adam' : 'sgd' } : { lr: LR[i], opt: 'sgd', file: 'data.csv', tag: 'x' },
      lr: LR[i],
      'arg.tag': i < 2 ? null : 'x',
      'arg.file': i < 2 ? null : 'data.csv',
      file: 'train.mjs',
      status: i === 3 ? 'failed' : 'ok',
      version: (i < 2 ? c1 : c2).slice(0, 7),
      acc: acc(i, epochsRun(i).at(-1)!),
      'first(acc)': acc(i, 0),
      'max(acc)': Math.max(...epochsRun(i).map((e) => acc(i, e))),
      'mean(acc)': mean(epochsRun(i).map((e) => acc(i, e))),
      'min(loss)': Math.min(...epochsRun(i).flatMap((e) => [loss(i, e, 0), loss(i, e, 1)])),
      'count(loss)': epochsRun(i).length * 2,
      'loss@epoch=1': i === 3 ? null : loss(i, 1, 1),
      'acc@epoch=2': i === 3 ? null : acc(i, 2),
      'max( loss )': loss(i, 0, 0),
    })),
  );
  // The table shows the run key and the chosen columns only.
  const t = (await florIn(dir, ['runs', '--col', 'count(loss)', '--col', 'opt'])).stdout.split('\n');
  assert.match(t[0]!, /^run +count\(loss\) +opt$/);
  assert.match(t[4]!, new RegExp(`^${shortIds(ids, 8).get(ids[3]!)} +2 +sgd$`));
});

test('--where: comparisons, in, is null, and/or/not, parentheses, literals, SPEC columns, version prefixes, backticks', async () => {
  const cases: Array<[string, number[]]> = [
    ['lr > 0.2', [1, 2, 3]],
    ["opt in ('adam')", [0]],
    ["opt not in ('adam', 'x')", [1, 2, 3]],
    ['arg.tag is null', [0, 1]],
    ['arg.tag is not null', [2, 3]],
    ["status = 'failed' or max(acc) >= 1", [1, 3]],
    ["not (status = 'ok')", [3]],
    ["NOT status = 'ok' OR lr = 0.1", [0, 3]],
    [`version = '${c2.slice(0, 4)}'`, [2, 3]],
    [`version != '${c1.slice(0, 10)}'`, [2, 3]],
    [`version in ('${c1}')`, [0, 1]],
    ['dirty = false and lr < 0.4', [0, 2]],
    ['dirty', []],
    ['not dirty', [0, 1, 2, 3]],
    ['`lr` = 0.5', [1]],
    ["last(final) = 'done'", [0, 1, 2]],
    ['final is null', [3]],
    ['count(loss) < 6', [3]],
    ['acc@epoch=2 > 0.5', [1, 2]],
    ["file = 'train.mjs'", [0, 1, 2, 3]],
    ["arg.file = 'data.csv'", [2, 3]],
    ['tag is not null', [0, 1, 2, 3]],
    ["lr > 'a'", []],
    ['(lr < 0.2 or lr > 0.8) and records > 5', [0]],
    ['min(loss) <= 0.05 and true', [0, 2]],
    ['1e-1 = lr', [0]],
    ['lr >= -1 and lr != 0.5', [0, 2, 3]],
  ];
  history = await repoHistory(requireRepoSync(dir));
  for (const [where, expected] of cases) assert.deepEqual(await which(where), expected, where);
  // The same through the CLI, once.
  assert.deepEqual((await json(['runs', '--col', 'lr', '--where', "status = 'failed' or max(acc) >= 1"])).map((r) => ids.indexOf(r.run as string)), [1, 3]);
  const t2 = (await json(['runs', '--col', 'lr'])).map((r) => r.run as string);
  const time2 = (await json(['runs', '--col', 'time'])).map((r) => r.time as string)[2]!;
  assert.deepEqual(await which(`time >= '${time2}'`), [2, 3]);
  assert.deepEqual(await which(`run = '${t2[0]!.slice(0, 24).toLowerCase()}'`), [0]);
});

test('--sort (descending with -, several keys, nulls last) and --limit / -n', async () => {
  const order = async (args: string[]) => (await json(['runs', '--col', 'lr', ...args])).map((r) => ids.indexOf(r.run as string));
  assert.deepEqual(await order(['--sort', '-loss@epoch=1']), [1, 2, 0, 3]);
  assert.deepEqual(await order(['--sort', 'loss@epoch=1']), [0, 2, 1, 3]);
  assert.deepEqual(await order(['--sort', 'status', '--sort', '-lr']), [3, 1, 2, 0]);
  assert.deepEqual(await order(['--sort=-max(acc)', '-n', '2']), [1, 3]);
  assert.deepEqual(await order(['--sort', '-time', '--limit', '1']), [3]);
  assert.deepEqual(await order(['--limit', '0']), []);
  assert.deepEqual(await order(['--where', 'lr < 0.8', '--sort', '-acc', '-n', '2']), [1, 2]);
});

test('--only-changed hides the columns equal in every row, in every format', async () => {
  const where = `version = '${c2.slice(0, 7)}'`;
  const rows = await json(['runs', '--where', where, '--only-changed']);
  assert.deepEqual(rows.map((r) => Object.keys(r)), [0, 1].map(() => ['run', 'time', 'end', 'status', 'records', 'args', 'last(acc)', 'last(final)']));
  assert.deepEqual(rows.map((r) => r.args), [{ lr: 0.3 }, { lr: 0.9 }]);
  const csv = (await florIn(dir, ['runs', '--where', where, '--only-changed', '--format', 'csv'])).stdout.split('\n')[0];
  assert.equal(csv, 'run,time,end,status,records,lr,last(acc),last(final)');
  const cols = await json(['runs', '--col', 'opt', '--col', 'max(acc)', '--col', 'count(loss)', '--where', "lr != 0.1", '--only-changed']);
  assert.deepEqual(Object.keys(cols[0]!), ['run', 'args', 'max(acc)', 'count(loss)']);
});

test('errors: a parse error points at its column, an unknown name suggests the closest, exit 2 and nothing on stdout', async () => {
  const cases: Array<[string[], string]> = [
    [['--where', 'acc >> 0.5'], "git flor: --where: expected a column or a value, found '>' at column 6\n  acc >> 0.5\n       ^\n"],
    [['--where', "lr > 0.1 and (opt = 'x'"], "git flor: --where: expected ')', found end of text at column 24\n"],
    [['--where', 'lr = null'], 'git flor: --where: use \'is null\' or \'is not null\' to test for null at column 6\n'],
    [['--where', "opt = \"adam\""], 'git flor: --where: unexpected \'"\''],
    [['--where', 'lr > 0.1 opt'], "git flor: --where: expected 'and', 'or' or the end, found 'opt' at column 10\n"],
    [['--where', 'median(acc) > 1'], "git flor: --where: unknown function 'median' (use one of last, first, min, max, mean, count) at column 1\n"],
    [['--where', 'accc > 0.5'], "git flor: no run logged 'accc'\nhint: did you mean 'acc'?"],
    [['--col', 'max(los)'], "git flor: no run logged 'los' (in max(los))\nhint: did you mean 'loss'?"],
    [['--sort', '-lrr'], "git flor: no run logged 'lrr'\nhint: did you mean 'lr'?"],
    [['--col', 'arg.op'], "git flor: no run has the arg 'op'\nhint: did you mean 'opt'?"],
    [['--col', 'loss@epochs=1'], "git flor: 'loss' was never logged inside a loop 'epochs'\nhint: did you mean 'epoch'?"],
    [['--limit', '-1'], 'git flor: --limit must be a whole number >= 0, not -1\n'],
  ];
  for (const [args, err] of cases) {
    const r = await florIn(dir, ['runs', ...args]);
    assert.equal(r.status, 2, args.join(' '));
    assert.equal(r.stdout, '');
    assert.ok(r.stderr.startsWith(err), `${args.join(' ')}:\n${r.stderr}`);
  }
});

test('log --where/--sort/--limit: value conditions filter rows, run-level ones filter runs, SPEC columns per run', async () => {
  const rows = await json(['log', 'loss', 'acc', '--where', 'lr >= 0.3 and epoch = 1 and step = 0', '--sort', '-loss']);
  assert.deepEqual(
    rows.map((r) => [ids.indexOf(r.run as string), r.epoch, r.step, r.loss, r.acc]),
    [1, 2].map((i) => [i, 1, 0, loss(i, 1, 0), acc(i, 1)]),
  );
  const best = await json(['log', 'loss', '--where', 'max(acc) = 1', '-n', '3']);
  assert.deepEqual(best.map((r) => [ids.indexOf(r.run as string), r.epoch, r.step, r.loss]), [[1, 0, 0, 0.5], [1, 0, 1, 0.25], [1, 1, 0, loss(1, 1, 0)]]);
  const failed = await json(['log', 'acc', '--where', "status = 'failed' or arg.tag is null and opt = 'adam'"]);
  assert.deepEqual(failed.map((r) => [ids.indexOf(r.run as string), r.epoch, r.acc]), [[0, 0, acc(0, 0)], [0, 1, acc(0, 1)], [0, 2, acc(0, 2)], [3, 0, acc(3, 0)]]);
  const low = await json(['log', 'loss', '--sort', 'loss', '--sort', '-time', '--limit', '2']);
  assert.deepEqual(low.map((r) => [ids.indexOf(r.run as string), r.loss]), [[0, loss(0, 2, 1)], [0, loss(0, 2, 0)]]);
  const v = await json(['log', 'final', '--where', `version = '${c2.slice(0, 5)}'`]);
  assert.deepEqual(v.map((r) => [ids.indexOf(r.run as string), r.final]), [[2, 'done']]);
});

test('log --where on run-level values: the runs log leaves unread give the rows the per-row filter gives, under or/not/null', async () => {
  // `git flor log` reads no segment of a run its run-level terms reject; the API filters rows only.
  const api = await openHistory({ cwd: dir });
  const rowsOf = (i: number) => epochsRun(i).flatMap((e) => [0, 1].map((s) => [i, e, s, loss(i, e, s)]));
  const cases: Array<[string, number[] | Array<Array<number>>]> = [
    ['lr > 0.2', [1, 2, 3]], // the first run's rows dropped
    ['lr < 0.4', [0, 2]], // kept, dropped, kept
    ['not (lr < 0.4)', [1, 3]],
    ['arg.tag is null', [0, 1]], // v1 runs have no arg tag
    ["not (arg.tag = 'x')", []], // null for v1 (unknown), false for v2: none
    ["arg.tag = 'x' or lr < 0.2", [0, 2, 3]], // unknown or true is true
    ["not (lr > 'a') or opt = 'adam'", [0]], // a number against a string is unknown
    ["status = 'failed' and lr > 0.5", [3]],
    ['lr < 0.4 and loss < 0.03', rowsOf(0).filter((r) => r[3]! < 0.03)], // pruned by lr, then by row
    ['lr > 0.4 or loss < 0.03', [...rowsOf(0).filter((r) => r[3]! < 0.03), ...rowsOf(1), ...rowsOf(3)]], // no run-level term to prune by
  ];
  try {
    for (const [where, want] of cases) {
      const expected = want.length && typeof want[0] === 'number' ? (want as number[]).flatMap(rowsOf) : (want as number[][]);
      const cli = await json(['log', 'loss', '--where', where]);
      const lib = await api.log(['loss'], { where });
      assert.deepEqual(cli, lib as unknown as Array<Record<string, unknown>>, where);
      assert.deepEqual(cli.map((r) => [ids.indexOf(r.run as string), r.epoch, r.step, r.loss]), expected, where);
    }
  } finally {
    await api.close();
  }
});

test('log: a name nothing logged is exit 2 with a suggestion; a logged name outside the view says how to add it', async () => {
  const typo = await florIn(dir, ['log', 'los']);
  assert.equal(typo.status, 2);
  assert.equal(typo.stdout, '');
  assert.match(typo.stderr, /^git flor: no run logged 'los'\nhint: did you mean 'loss'\? known: acc, file, final, loss, lr, opt, tag\n$/);
  const outside = await florIn(dir, ['log', 'loss', '--where', 'acc > 0.5']);
  assert.equal(outside.status, 2);
  assert.match(outside.stderr, /^git flor: 'acc' is not a column of this view\nhint: add it to the names/);
  const bad = await florIn(dir, ['log', 'loss', '--where', 'loss <']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^git flor: --where: expected a column or a value, found end of text at column 7\n/);
});

test('--output writes the file; --format parquet without --output is exit 2 before any work', async () => {
  const file = join(tempDir(), 'runs.csv');
  const r = await florIn(dir, ['runs', '--col', 'max(acc)', '--format', 'csv', '--output', file]);
  assert.equal(r.status, 0);
  assert.equal(r.stdout, '');
  assert.equal(readFileSync(file, 'utf8').split('\n')[0], 'run,max(acc)');
  const log = join(tempDir(), 'log.json');
  assert.equal((await florIn(dir, ['log', 'acc', '-n', '1', '--format', 'json', '-o', log])).status, 0);
  assert.equal((JSON.parse(readFileSync(log, 'utf8')) as unknown[]).length, 1);
  for (const cmd of [['runs'], ['log', 'loss']]) {
    const p = await florIn(dir, [...cmd, '--format', 'parquet']);
    assert.equal(p.status, 2);
    assert.match(p.stderr, /^git flor: --format parquet writes a file: name it with --output FILE\n/);
  }
});

test('--format parquet: DuckDB reads back the json rows, with their types', async () => {
  const pq = join(tempDir(), 'runs.parquet');
  const args = ['runs', '--col', 'lr', '--col', 'max(acc)', '--col', 'count(loss)', '--col', 'final', '--where', 'lr < 0.8'];
  assert.equal((await florIn(dir, [...args, '--format', 'parquet', '--output', pq])).status, 0);
  const want = await json(args);
  const back = await json(['sql', `select * from read_parquet('${pq}')`]);
  assert.deepEqual(back, want);
  const types = await json(['sql', `select column_name, column_type from (describe select * from read_parquet('${pq}'))`]);
  assert.deepEqual(types.map((t) => [t.column_name, t.column_type]), [['run', 'VARCHAR'], ['args', 'JSON'], ['lr', 'DOUBLE'], ['max(acc)', 'DOUBLE'], ['count(loss)', 'BIGINT'], ['final', 'VARCHAR']]);
  const lp = join(tempDir(), 'log.parquet');
  assert.equal((await florIn(dir, ['log', 'acc', '--where', 'epoch = 2', '--format', 'parquet', '-o', lp])).status, 0);
  const rows = await json(['sql', `select run, epoch, acc from read_parquet('${lp}')`]);
  assert.deepEqual(rows, (await json(['log', 'acc', '--where', 'epoch = 2'])).map((r) => ({ run: r.run, epoch: r.epoch, acc: r.acc })));
});

test('a second runs --col AGG(NAME) reads no segment: the aggregates are kept by run content, and equal a fresh computation', async () => {
  const cols = ['last(loss)', 'first(loss)', 'min(loss)', 'max(loss)', 'mean(loss)', 'count(loss)', 'last(acc)'];
  const cache = join(dir, '.git', 'flor', 'cache');
  rmSync(cache, { recursive: true, force: true });
  const fresh = await summarizeRuns(await repoHistory(requireRepoSync(dir)), { cols, sort: ['-max(loss)'] });
  await settleCacheWrites(); // cache files are written in the background
  const h = await repoHistory(requireRepoSync(dir));
  let reads = 0;
  const counting = { ...h, segments: (r: (typeof h.runs)[number]) => (reads++, h.segments(r)) };
  const again = await summarizeRuns(counting, { cols, sort: ['-max(loss)'] });
  assert.equal(reads, 0, 'no segment read for aggregates kept from the first query');
  assert.deepEqual(again.rows, fresh.rows);
  const byRun = new Map(again.rows.map((r) => [ids.indexOf(r.run as string), r]));
  for (const [i, lr] of LR.entries()) {
    const xs = epochsRun(i).flatMap((e) => [0, 1].map((s) => loss(i, e, s)));
    const row = byRun.get(i)!;
    assert.equal(row['max(loss)'], Math.max(...xs));
    assert.equal(row['min(loss)'], Math.min(...xs));
    assert.equal(row['count(loss)'], xs.length);
    assert.equal(row['first(loss)'], lr);
    assert.equal(row['last(loss)'], xs.at(-1));
    assert.ok(Math.abs((row['mean(loss)'] as number) - xs.reduce((a, b) => a + b, 0) / xs.length) < 1e-12);
  }
  // A damaged cache file is ignored, never read as values.
  const packs = join(cache, 'packs');
  for (const f of readdirSync(packs)) writeFileSync(join(packs, f), 'FLORPK1\ngarbage');
  const damaged = await summarizeRuns(await repoHistory(requireRepoSync(dir)), { cols, sort: ['-max(loss)'] });
  assert.deepEqual(damaged.rows, fresh.rows);
  // A name no run logged still fails the same way with aggregates kept for others.
  await assert.rejects(summarizeRuns(await repoHistory(requireRepoSync(dir)), { cols: ['max(los)'] }), /los/);
});

test('a run whose segments change (a replay appends one) gets a new content key', () => {
  const run = { id: '01J00000000000000000000000', writer: 'w1', segments: [{ oid: 'a'.repeat(40) }] };
  const k = runContentKey(run);
  assert.equal(runContentKey({ ...run }), k);
  assert.notEqual(runContentKey({ ...run, segments: [...run.segments, { oid: 'b'.repeat(40) }] }), k);
  assert.notEqual(runContentKey({ ...run, writer: 'w2' }), k);
});

test('boundedSegments keeps decoded segments up to its byte budget, then reads without keeping', async () => {
  const segs = new Map([1, 2, 3].map((i) => [`oid${i}`, segment(`r${i}`, [[[], 'x', i]])]));
  let reads = 0;
  const from = { read: async (oid: string) => (reads++, segs.get(oid)!) };
  const one = (segs.get('oid1')!.name.byteLength + segs.get('oid1')!.frame.byteLength + segs.get('oid1')!.num.byteLength + segs.get('oid1')!.kind.byteLength) * 2;
  const kept = boundedSegments(from, one);
  for (const oid of ['oid1', 'oid2', 'oid3', 'oid1', 'oid2', 'oid3']) assert.equal(await kept.read(oid), segs.get(oid));
  // Two fit the budget and are read once; the third is read on each request.
  assert.equal(reads, 4);
});
