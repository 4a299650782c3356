/**
 * Choosing runs the same way on every command: `--version REV` on replay and sql, `names --all`,
 * and short ids in `log` and `plot` told apart over every run the clone can read (removed ones too).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, gitIn } from './helpers/repo.js';
import { recordHistory, SCRIPT, type History } from './helpers/history.js';
import { florIn } from './helpers/cli.js';
import { requireRepoSync } from '../src/store/git.js';
import { makeMeta, ulid, writeRunJournal } from './helpers/store-fixtures.js';
import { shortIds } from '../src/query/short-ids.js';

after(cleanup);

let h: History;
/** Two runs whose ids share their first 14 characters; the second is removed. */
let twins: [string, string];
before(async () => {
  h = await recordHistory();
  const repo = requireRepoSync(h.dir);
  const tree = gitIn(h.dir, 'rev-parse', 'HEAD^{tree}');
  const base = ulid(Date.parse('2026-12-01T00:00:00Z')).slice(0, 14);
  twins = [`${base}AAAAAAAAAAAA`, `${base}BBBBBBBBBBBB`];
  for (const id of twins) writeRunJournal(repo.commonDir, makeMeta({ id, commit: h.c2, start: '2026-12-01T00:00:00.000Z', script: 'train.mjs' }), tree, { epochs: 1, steps: 1 });
  // The listing captures both journals (they ended); then the second twin is removed.
  assert.equal((await florIn(h.dir, ['rm', twins[1]])).status, 0);
});

test('log and plot tell short ids apart over every readable run: a removed run still lengthens its twin', async () => {
  const all = [...h.ids, ...twins];
  const want = shortIds(all, 8).get(twins[0])!;
  assert.equal(want, twins[0].slice(0, 15));
  const log = await florIn(h.dir, ['log', 'loss', '--run', twins[0]]);
  assert.equal(log.status, 0, log.stderr);
  const ids = new Set(log.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]));
  assert.deepEqual([...ids], [want]);
  // The same run as a prefix copied from the table: it names one run even with the twin removed.
  assert.match((await florIn(h.dir, ['show', want])).stdout, new RegExp(`^run +${twins[0]}`));
  const plot = await florIn(h.dir, ['plot', 'loss', '--run', twins[0], '--width', '50', '--height', '4']);
  assert.equal(plot.status, 0, plot.stderr);
  assert.match(plot.stdout, new RegExp(`── ${want} `));
});

test('names --all counts the removed runs too', async () => {
  const rows = async (args: string[]) => JSON.parse((await florIn(h.dir, ['names', '--format', 'json', ...args])).stdout) as Array<{ name: string; runs: number }>;
  const loss = (list: Array<{ name: string; runs: number }>) => list.find((r) => r.name === 'loss')!.runs;
  assert.equal(loss(await rows([])), h.ids.length + 1);
  assert.equal(loss(await rows(['--all'])), h.ids.length + 2);
});

test('sql --version keeps only that commit\'s runs in both tables', async () => {
  const q = async (sql: string, args: string[]) => {
    const r = await florIn(h.dir, ['sql', sql, '--format', 'json', ...args]);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  };
  const runs = await q('select run from runs order by run', ['--version', 'HEAD~1']);
  assert.deepEqual(runs.map((r) => r.run), h.ids.slice(0, 2).sort());
  const logs = await q('select distinct run from logs order by run', ['--version', h.c1.slice(0, 8)]);
  assert.deepEqual(logs.map((r) => r.run), h.ids.slice(0, 2).sort());
  const everything = await q('select count(*) as n from runs', []);
  assert.equal(Number(everything[0]!.n), h.ids.length + 1);
  const bad = await florIn(h.dir, ['sql', 'select 1 from runs', '--version', 'nosuch']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--version nosuch: not a commit/);
});

test('replay --version plans only the runs of that commit', async () => {
  // Today's code logs a name no run has: every run of HEAD~1 lacks it.
  writeFileSync(join(h.dir, 'train.mjs'), SCRIPT(2).replace("flor.log('note',", "flor.log('seen', 1);\nflor.log('note',"));
  try {
    const dry = await florIn(h.dir, ['replay', 'seen', '--version', 'HEAD~1', '--dry-run']);
    assert.equal(dry.status, 0, dry.stderr);
    const planned = [...dry.stdout.matchAll(/^run (\w+):/gm)].map((m) => m[1]);
    assert.deepEqual(planned, h.ids.slice(0, 2));
    const none = await florIn(h.dir, ['replay', 'seen', '--version', 'HEAD~1', '--run', h.ids[2]!, '--dry-run']);
    assert.equal(none.status, 0);
    assert.match(none.stderr, /no run matches --run\/--version: nothing to replay/);
    const plan = await florIn(h.dir, ['replay', 'seen', '--version', 'HEAD~1', '--plan', '--shards', '2']);
    assert.equal(plan.status, 2);
    assert.match(plan.stderr, /--version does not apply to --plan/);
  } finally {
    gitIn(h.dir, 'checkout', '--', 'train.mjs');
  }
});
