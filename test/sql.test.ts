/** `git flor sql` and Parquet output on a real recorded history, read back by DuckDB. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cleanup, tempDir, ROOT, testEnv, makeRepo, runNode } from './helpers/repo.js';
import { florIn } from './helpers/cli.js';
import { recordHistory, loss, type History } from './helpers/history.js';
import { closeReaders } from '../src/store/objects.js';
import { writeParquet } from '../src/query/parquet.js';

let h: History;
before(async () => {
  h = await recordHistory();
});
after(() => {
  closeReaders();
  cleanup();
});

async function json(args: string[]): Promise<Array<Record<string, unknown>>> {
  const r = await florIn(h.dir, [...args, '--format', 'json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Array<Record<string, unknown>>;
}

/** DuckDB reading a Parquet file: column names and types, and the rows as JSON values. */
async function readBack(file: string): Promise<{ types: Array<[string, string]>; rows: Array<Record<string, unknown>> }> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  const q = `read_parquet('${file.replace(/'/g, "''")}')`;
  const d = await con.runAndReadAll(`DESCRIBE SELECT * FROM ${q}`);
  const types = d.getRowObjectsJS().map((r) => [String(r.column_name), String(r.column_type)] as [string, string]);
  const r = await con.runAndReadAll(`SELECT * FROM ${q}`);
  const rows = r.getRowObjectsJS().map((o) => {
    const x: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      const t = types.find(([n]) => n === k)![1];
      x[k] = v instanceof Date ? v.toISOString() : typeof v === 'bigint' ? Number(v) : t === 'JSON' && typeof v === 'string' ? JSON.parse(v) : v;
    }
    return x;
  });
  con.closeSync();
  db.closeSync();
  return { types, rows };
}

test('sql: the runs table has the fixed columns then one per arg, with real types', async () => {
  const rows = await json(['sql', 'select * from runs order by time']);
  assert.equal(rows.length, 4);
  assert.deepEqual(Object.keys(rows[0]!), ['run', 'version', 'commit', 'time', 'end', 'file', 'branch', 'dirty', 'status', 'records', 'fail', 'lr']);
  assert.deepEqual(
    rows.map((r) => [r.run, r.version, r.commit, r.dirty, r.status, r.lr, r.fail, r.file, r.branch]),
    [
      [h.ids[0], h.c1.slice(0, 7), h.c1, false, 'ok', 0.1, 0, 'train.mjs', 'main'],
      [h.ids[1], h.c1.slice(0, 7), h.c1, false, 'ok', 0.5, 0, 'train.mjs', 'main'],
      [h.ids[2], h.c2.slice(0, 7), h.c2, true, 'ok', 0.2, 0, 'train.mjs', 'main'],
      [h.ids[3], h.c2.slice(0, 7), h.c2, true, 'failed', 0.2, 1, 'train.mjs', 'main'],
    ],
  );
  assert.equal(rows[0]!.records, 1 + 2 * (2 + 1));
  const runs = await json(['runs']);
  assert.deepEqual(rows.map((r) => r.time), runs.map((r) => r.time));
  const types = await json(['sql', "select typeof(time) t, typeof(records) r, typeof(dirty) d, typeof(lr) l from runs limit 1"]);
  assert.deepEqual(types, [{ t: 'TIMESTAMP', r: 'BIGINT', d: 'BOOLEAN', l: 'DOUBLE' }]);
});

test('sql: the logs table is long, loop columns as in log, replayed values only where nothing was recorded', async () => {
  const rows = await json(['sql', "select * from logs where run = '" + h.ids[0] + "' order by name, epoch nulls first, step nulls first"]);
  assert.deepEqual(Object.keys(rows[0]!), ['run', 'name', 'value', 'value_json', 'epoch', 'step']);
  const cells = rows.map((r) => [r.name, r.value, r.value_json, r.epoch, r.step]);
  assert.deepEqual(cells, [
    ['acc', 0.25, 0.25, 0, null],
    ['acc', 0.6, 0.6, 1, null],
    ['grad_norm', 0.5, 0.5, 1, 0],
    ['loss', loss(1, 0.1, 0, 0), loss(1, 0.1, 0, 0), 0, 0],
    ['loss', loss(1, 0.1, 0, 1), loss(1, 0.1, 0, 1), 0, 1],
    ['loss', loss(1, 0.1, 1, 0), loss(1, 0.1, 1, 0), 1, 0],
    ['loss', loss(1, 0.1, 1, 1), loss(1, 0.1, 1, 1), 1, 1],
    ['note', null, 'scale 1', null, null],
  ]);
  // The same rows `git flor log` shows, through SQL.
  const best = await json(['sql', "select r.lr, max(l.value) as top from logs l join runs r using (run) where l.name = 'acc' group by r.lr order by top desc"]);
  assert.deepEqual(best, [{ lr: 0.2, top: 0.7 }, { lr: 0.5, top: 1 }, { lr: 0.1, top: 0.6 }].sort((a, b) => b.top - a.top));
});

test('sql: a loop nested in a loop of the same name gets a column of its own, named as in log', async () => {
  const dir = makeRepo({
    files: {
      'nest.mjs': `import { flor } from 'git-flor';
for (const i of flor.loop('x', [0, 1])) {
  for (const j of flor.loop('x', [0, 1, 2])) flor.log('v', i * 10 + j);
}
`,
    },
  });
  runNode(dir, 'nest.mjs');
  const r = await florIn(dir, ['sql', 'select value, x, "x.1" from logs order by value', '--format', 'json']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [0, 1, 2, 10, 11, 12].map((v) => ({ value: v, x: Math.floor(v / 10), 'x.1': v % 10 })));
});

test('sql: errors exit 2 with the message; a missing table names the two tables', async () => {
  const parse = await florIn(h.dir, ['sql', 'selec 1']);
  assert.equal(parse.status, 2);
  assert.match(parse.stderr, /^git flor: Parser Error: syntax error at or near "selec"\nhint: /);
  const table = await florIn(h.dir, ['sql', 'select * from nope']);
  assert.equal(table.status, 2);
  assert.match(table.stderr, /Table with name nope does not exist[\s\S]*hint: the tables are runs \(run, version/);
});

test('sql --format parquet: DuckDB reads back the columns, types and values of --format json', async () => {
  const out = tempDir();
  const sqlFile = join(out, 'sql.parquet');
  const q = 'select run, time, dirty, records, lr from runs order by time';
  assert.equal((await florIn(h.dir, ['sql', q, '--format', 'parquet', '--output', sqlFile])).status, 0);
  const sb = await readBack(sqlFile);
  assert.deepEqual(sb.types, [['run', 'VARCHAR'], ['time', 'TIMESTAMP'], ['dirty', 'BOOLEAN'], ['records', 'BIGINT'], ['lr', 'DOUBLE']]);
  assert.deepEqual(sb.rows, await json(['sql', q]));

  const missing = await florIn(h.dir, ['sql', q, '--format', 'parquet']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /^git flor: --format parquet writes a file: name it with --output FILE\n/);
  const csvFile = join(out, 'runs.csv');
  assert.equal((await florIn(h.dir, ['sql', q, '--format', 'csv', '--output', csvFile])).stdout, '');
  assert.equal(readFileSync(csvFile, 'utf8').split('\n')[0], 'run,time,dirty,records,lr');
});

test('writeParquet: each column type round-trips, JSON keeps structure, nulls stay null', async () => {
  const file = join(tempDir(), 'rows.parquet');
  await writeParquet(
    [
      { a: 1.5, b: 7, c: 'x', d: true, e: { k: [1, 2] }, f: '2026-01-02T03:04:05.678Z' },
      { a: null, b: 9007199254740993n, c: null, d: false, e: 'text', f: null },
    ],
    [
      { name: 'a', type: 'DOUBLE' }, { name: 'b', type: 'BIGINT' }, { name: 'c', type: 'VARCHAR' },
      { name: 'd', type: 'BOOLEAN' }, { name: 'e', type: 'JSON' }, { name: 'f', type: 'TIMESTAMP' },
    ],
    file,
  );
  const back = await readBack(file);
  assert.deepEqual(back.types, [['a', 'DOUBLE'], ['b', 'BIGINT'], ['c', 'VARCHAR'], ['d', 'BOOLEAN'], ['e', 'JSON'], ['f', 'TIMESTAMP']]);
  assert.deepEqual(back.rows[0], { a: 1.5, b: 7, c: 'x', d: true, e: { k: [1, 2] }, f: '2026-01-02T03:04:05.678Z' });
  assert.deepEqual(back.rows[1], { a: null, b: 9007199254740992, c: null, d: false, e: 'text', f: null });
  // Only standard Parquet logical types: what pandas and polars read without DuckDB.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const con = await (await DuckDBInstance.create(':memory:')).connect();
  const schema = (await con.runAndReadAll(`select name, type, converted_type from parquet_schema('${file}') where name != 'duckdb_schema'`)).getRowObjectsJS();
  assert.deepEqual(schema.map((s) => [s.name, s.type, s.converted_type]), [
    ['a', 'DOUBLE', null], ['b', 'INT64', 'INT_64'], ['c', 'BYTE_ARRAY', 'UTF8'], ['d', 'BOOLEAN', null], ['e', 'BYTE_ARRAY', 'JSON'], ['f', 'INT64', 'TIMESTAMP_MICROS'],
  ]);
  con.closeSync();
});

test('without DuckDB installed: sql and parquet output say how to install it, exit 2', () => {
  // An install of git-flor whose node_modules lacks the optional @duckdb packages.
  const pkg = tempDir();
  cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'bin'), join(pkg, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  mkdirSync(join(pkg, 'node_modules'));
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (name !== '@duckdb' && name !== '.bin') symlinkSync(join(ROOT, 'node_modules', name), join(pkg, 'node_modules', name));
  }
  const r = spawnSync(process.execPath, [join(pkg, 'bin', 'git-flor.cjs'), 'sql', 'select 1'], { cwd: h.dir, env: testEnv(), encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^git flor: DuckDB is not installed \(needed for `git flor sql` and Parquet output\)\nhint: install it next to git-flor: `npm install @duckdb\/node-api`/);
  // The Parquet writer the runs and log commands call fails the same way.
  const script = `import('./dist/query/parquet.js').then((m) => m.writeParquet([], [], 'x.parquet')).catch((e) => { console.log(e.code); })`;
  const w = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: pkg, env: testEnv(), encoding: 'utf8' });
  assert.equal(w.stdout, 'DUCKDB_MISSING\n');
});
