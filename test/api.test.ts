/** The Node API (`git-flor/query`) on a real recorded history: the CLI's JSON rows, in-process. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, runNode, tempDir } from './helpers/repo.js';
import { florIn } from './helpers/cli.js';
import { recordHistory, type History } from './helpers/history.js';
import { openHistory, FlorError } from '../src/query/api.js';

let h: History;
before(async () => {
  h = await recordHistory();
});
after(() => cleanup());

async function cliJson(args: string[]): Promise<unknown> {
  const r = await florIn(h.dir, [...args, '--format', 'json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test("import { openHistory } from 'git-flor/query' in a user's script: runs, log and diff equal the CLI's JSON", async () => {
  writeFileSync(
    join(h.dir, 'query.mjs'),
    `import { openHistory } from 'git-flor/query';
const h = await openHistory({ cwd: process.cwd() });
const runs = await h.runs();
const best = await h.runs({ cols: ['lr', 'max(acc)'], where: 'lr < 0.4', sort: ['-max(acc)'], limit: 2 });
const log = await h.log(['loss', 'acc', 'note']);
const one = await h.log(['loss'], { runs: [runs[1].run.slice(0, 10)] });
const low = await h.log(['loss'], { where: 'lr > 0.15 and step = 1', sort: ['loss'], limit: 3 });
const diff = await h.diff(runs[0].run, runs[2].run);
await h.close();
process.stdout.write(JSON.stringify({ runs, best, log, one, diff, low }));
`,
  );
  const got = JSON.parse(runNode(h.dir, 'query.mjs').stdout);
  assert.deepEqual(got.runs, await cliJson(['runs']));
  assert.deepEqual(got.best, await cliJson(['runs', '--col', 'lr', '--col', 'max(acc)', '--where', 'lr < 0.4', '--sort', '-max(acc)', '--limit', '2']));
  assert.deepEqual(got.best.map((r: { run: string }) => r.run), [h.ids[2], h.ids[3]]);
  assert.deepEqual(got.low, await cliJson(['log', 'loss', '--where', 'lr > 0.15 and step = 1', '--sort', 'loss', '--limit', '3']));
  assert.deepEqual(got.low.map((r: { loss: number }) => r.loss), [0.1, 0.1, 0.125]);
  assert.deepEqual(got.log, await cliJson(['log', 'loss', 'acc', 'note']));
  assert.equal(got.log.length, 4 * 4); // 4 runs x 2 epochs x 2 steps
  assert.deepEqual(got.one, await cliJson(['log', 'loss', '--run', h.ids[1]!.slice(0, 10)]));
  assert.deepEqual(got.diff, await cliJson(['diff', h.ids[0]!, h.ids[2]!]));
});

test('errors are FlorError with a code: not a repository, unknown run, a closed handle', async () => {
  await assert.rejects(openHistory({ cwd: tempDir() }), (e: unknown) => e instanceof FlorError && e.code === 'NOT_A_REPO');
  const hist = await openHistory({ cwd: h.dir });
  await assert.rejects(hist.diff(h.ids[0]!, 'ZZZZ'), (e: unknown) => e instanceof FlorError && e.code === 'RUN_NOT_FOUND');
  const rows = await hist.log(['acc'], { since: new Date(0) });
  assert.deepEqual(rows.map((r) => r.acc), [0.25, 0.6, 0.25, 1, 0.25, 0.7, 0.25, 0.7]);
  await hist.close();
  await assert.rejects(hist.log(['acc']), (e: unknown) => e instanceof FlorError && e.code === 'HISTORY_CLOSED');
});
