/**
 * The eval-loop fixture (fixtures/eval-loop/): 40 prompts x 2 trials scored against a fake model
 * server, three versions of the scorer recorded, then today's scorer adds `words`. Its replay
 * calls the model 0 times and gives the values a run with the statement from the start has. The
 * replay's speed against the recorded runs is measured in bench/eval-replay.bench.ts. Needs the
 * built dist/.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireRepoSync } from '../src/store/git.js';
import { readableRuns, readSegment } from '../src/store/ledger.js';
import { keyed } from './helpers/segments.js';
import { scorer, todayScorer, evalFiles } from '../fixtures/eval-loop/build.js';
import { startModelServer, type ModelServer } from '../fixtures/eval-loop/model-server.mjs';
import { makeRepo, gitIn, testEnv, cleanup, BIN } from './helpers/repo.js';
import { cli } from './helpers/cli.js';

after(cleanup);

let server: ModelServer;
let dir = '';

/** A process, asynchronously: the model server answers from this one meanwhile. */
function node(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, args, { cwd: dir, env: testEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (status) => ok({ status, stdout, stderr }));
  });
}

async function evalRun(): Promise<void> {
  const r = await node(['eval.mjs', '--model', server.url]);
  assert.equal(r.status, 0, r.stderr);
}

before(async () => {
  // No reply delay: the tests count the model's requests; the delay is for the bench's live-call timing.
  server = await startModelServer({ delayMs: 0 });
  dir = makeRepo({ files: { ...evalFiles(), 'scorer.mjs': scorer(1) } });
  await evalRun();
  for (const v of [2, 3] as const) {
    writeFileSync(join(dir, 'scorer.mjs'), scorer(v));
    gitIn(dir, 'commit', '-qam', `scorer v${v}`);
    await evalRun();
  }
  assert.equal(server.requests(), 3 * 80);
});

after(async () => {
  await server?.close();
});

async function values(name: string): Promise<Map<string, Array<[string, unknown]>>> {
  const repo = requireRepoSync(dir);
  const out = new Map<string, Array<[string, unknown]>>();
  for (const r of await readableRuns(repo)) {
    const rows: Array<[string, unknown]> = [];
    for (const s of r.segments) {
      const seg = await readSegment(repo, s.oid);
      for (const k of keyed(seg, (n) => n === name)) rows.push([k.ctx, k.value]);
    }
    out.set(r.id, rows.sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  }
  return out;
}

test('adding words to today\'s scorer: the replay calls the model 0 times and gives the values of a run that logged words from the start', async () => {
  writeFileSync(join(dir, 'scorer.mjs'), todayScorer());
  const before = server.requests();
  const replay = await node([BIN, 'log', 'words', '--replay', '--no-live-calls', '--format', 'csv']);
  assert.equal(replay.status, 0, replay.stderr);
  assert.equal(server.requests() - before, 0, 'the replay called the model');
  assert.match(replay.stderr, /replayed words — 80 record\(s\)/);
  assert.doesNotMatch(replay.stderr, /live calls/);
  assert.equal(replay.stdout.trim().split('\n').length, 1 + 3 * 80);

  const replayed = await values('words');
  assert.equal(replayed.size, 3);
  // A run made with today's scorer: words logged from the start (it calls the model again).
  gitIn(dir, 'commit', '-qam', 'scorer v3 + words');
  await evalRun();
  assert.equal(server.requests() - before, 80);
  const all = await values('words');
  const fresh = [...all.keys()].find((id) => !replayed.has(id))!;
  const expected = all.get(fresh)!;
  assert.equal(expected.length, 80);
  assert.ok(expected.every(([, v]) => typeof v === 'number' && v >= 4 && v < 16));
  for (const [id, rows] of replayed) assert.deepEqual(rows, expected, `run ${id}`);
  // And `score`, re-executed in every version, passed the fidelity check on the recorded replies.
  const scores = await values('score');
  assert.notDeepEqual(scores.get([...replayed.keys()][0]!), scores.get([...replayed.keys()][1]!));
});

test('the dry run and --no-live-calls: a version that calls the model without flor.memo is refused before anything runs', async () => {
  const plain = scorer(1).replace(/await flor\.memo\('reply', `\$\{prompt\.id\}\/\$\{seed\}`, \(\) =>\n\s*/, 'await (');
  assert.ok(!plain.includes('flor.memo'), plain);
  writeFileSync(join(dir, 'scorer.mjs'), plain);
  gitIn(dir, 'commit', '-qam', 'scorer without memo');
  await evalRun();
  const ids = [...(await values('words')).keys()];
  const old = ids.at(-1)!;
  writeFileSync(join(dir, 'scorer.mjs'), todayScorer());
  const before = server.requests();
  // In-process: a dry run and a refused replay start no replay child.
  const dry = await cli(dir, ['replay', 'words', '--dry-run'], true);
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stderr, new RegExp(`run ${old}: note: no recorded values for flor.memo 'reply' \\(this version makes those calls without flor.memo\\): its replay makes them live`));
  const refused = await cli(dir, ['replay', 'words', '--no-live-calls'], true);
  assert.equal(refused.status, 1);
  assert.match(refused.stdout, new RegExp(`run ${old}: refused: no recorded values for flor.memo 'reply' .*: its replay would make them live \\(--no-live-calls\\)`));
  assert.equal(server.requests() - before, 0);
});
