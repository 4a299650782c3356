/**
 * Tamper and loss are detected: a second clone rewrites its own ledger (an empty tree on top of
 * the real tip, then a force-push of unrelated history) and the victim fetches with plain
 * `git fetch`; junk and fake "flor run" lines are planted in the victim's notes index.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cleanup, fsckClean, gitIn, runNode, sh, testEnv, tempDir } from './helpers/repo.js';
import { cli } from './helpers/cli.js';
import { closeReaders } from '../src/store/objects.js';
import { forgeRun, metaFor, network, rawMeta, writerOf } from './tamper-support.js';

let evil = '';
let victim = '';
let evilLedger = '';
let tracking = '';
let seen = '';

async function runIds(dir: string): Promise<string[]> {
  return (JSON.parse((await cli(dir, ['runs', '--format', 'json'])).stdout) as Array<{ run: string }>).map((r) => r.run).sort();
}

function emptyTree(dir: string): string {
  return sh('git', ['hash-object', '-w', '-t', 'tree', '--stdin'], dir, { input: '' }).stdout.trim();
}

before(async () => {
  const net = await network(['evil', 'victim']);
  evil = net.clones.evil!;
  victim = net.clones.victim!;
  runNode(evil, 'train.mjs');
  runNode(evil, 'train.mjs', ['--lr', '0.1']);
  runNode(victim, 'train.mjs');
  await cli(evil, ['runs']); // a push right after a run may precede its capture
  await cli(evil, ['push']);
  gitIn(victim, 'fetch', '-q');
  const w = writerOf(evil);
  evilLedger = `refs/flor/ledgers/${w}`;
  tracking = `refs/flor/remotes/origin/ledgers/${w}`;
  seen = `refs/flor/seen/origin/${w}`;
});

after(() => {
  closeReaders();
  cleanup();
});

let before3: string[] = [];

test('a fetched ledger that grows moves its seen tip; nothing is reported', async () => {
  before3 = await runIds(victim);
  assert.equal(before3.length, 3);
  assert.equal(gitIn(victim, 'rev-parse', seen), gitIn(victim, 'rev-parse', tracking));
  runNode(evil, 'train.mjs', ['--lr', '0.2']);
  await cli(evil, ['runs']);
  await cli(evil, ['push']);
  gitIn(victim, 'fetch', '-q');
  const r = await cli(victim, ['runs']);
  assert.equal(r.stderr, '');
  assert.equal(gitIn(victim, 'rev-parse', seen), gitIn(victim, 'rev-parse', tracking));
  before3 = await runIds(victim);
  assert.equal(before3.length, 4);
});

test('an empty tree committed on top of the real tip hides no run: the union is read, stderr and doctor report it', async () => {
  const tip = gitIn(evil, 'rev-parse', evilLedger);
  const hollow = sh('git', ['commit-tree', emptyTree(evil), '-p', tip, '-m', 'nothing to see'], evil).stdout.trim();
  gitIn(evil, 'update-ref', evilLedger, hollow);
  gitIn(evil, 'push', '-q', '--no-verify', 'origin', `+${evilLedger}:${evilLedger}`);
  gitIn(victim, 'fetch', '-q');
  assert.equal(gitIn(victim, 'rev-parse', tracking), hollow, 'the + refspec took it');
  const r = await cli(victim, ['runs', '--format', 'json']);
  assert.deepEqual((JSON.parse(r.stdout) as Array<{ run: string }>).map((x) => x.run).sort(), before3);
  assert.match(r.stderr, new RegExp(`ledger ${tracking} dropped 3 run\\(s\\) without a removal record by its writer .*the runs seen before are kept \\(${seen}; \`git update-ref -d ${seen}\` accepts the new tip\\)`));
  const d = await cli(victim, ['doctor'], true);
  assert.equal(d.status, 1);
  assert.match(d.stdout, new RegExp(`damage: ${tracking}: tip holds fewer runs than an ancestor: 3 run\\(s\\) dropped .* first by commit ${hollow.slice(0, 12)}`));
  assert.match(d.stdout, /dropped 3 run\(s\) without a removal record/);
  assert.doesNotMatch(d.stdout, /ok: 0 runs checked/);
});

test('a force-pushed unrelated history is not a fast-forward: reported, the runs seen before stay', async () => {
  gitIn(evil, 'update-ref', '-d', evilLedger);
  const forged = forgeRun(evil, evilLedger, rawMeta(metaFor(evil)));
  gitIn(evil, 'push', '-q', '--no-verify', 'origin', `+${evilLedger}:${evilLedger}`);
  gitIn(victim, 'fetch', '-q');
  const r = await cli(victim, ['runs', '--format', 'json']);
  assert.deepEqual((JSON.parse(r.stdout) as Array<{ run: string }>).map((x) => x.run).sort(), [...before3, forged].sort());
  assert.match(r.stderr, new RegExp(`ledger ${tracking} is not a fast-forward of the tip seen before and drops 3 run\\(s\\)`));
  // A fetch that prunes the ledger away does not hide its runs either.
  gitIn(evil, 'push', '-q', '--no-verify', 'origin', `:${evilLedger}`);
  gitIn(victim, 'fetch', '-q', '--prune');
  const gone = await cli(victim, ['runs', '--format', 'json']);
  assert.equal((JSON.parse(gone.stdout) as unknown[]).length, 4);
  assert.match(gone.stderr, new RegExp(`ledger ${tracking} is gone; the runs seen before are kept`));
  fsckClean(victim);
});

test('junk entries and fake "flor run" lines in the notes index are removed by doctor', async () => {
  const head = gitIn(victim, 'rev-parse', 'HEAD');
  const notes = gitIn(victim, 'rev-parse', 'refs/flor/notes');
  const index = join(tempDir(), 'index');
  const env = testEnv({ GIT_INDEX_FILE: index });
  sh('git', ['read-tree', notes], victim, { env });
  const path = sh('git', ['ls-tree', '-r', '--name-only', notes], victim).stdout.split('\n').find((p) => p.replace('/', '') === head)!;
  const text = gitIn(victim, 'cat-file', 'blob', `${notes}:${path}`) + '\nflor run 01FAKEFAKEFAKEFAKEFAKEFAKE ok pwn.mjs (1 records)\n';
  const blob = sh('git', ['hash-object', '-w', '--stdin'], victim, { input: text }).stdout.trim();
  const junk = sh('git', ['hash-object', '-w', '--stdin'], victim, { input: 'not a note\n' }).stdout.trim();
  sh('git', ['update-index', '--add', '--cacheinfo', `100644,${blob},${path}`], victim, { env });
  sh('git', ['update-index', '--add', '--cacheinfo', `100644,${junk},README`], victim, { env });
  const tree = sh('git', ['write-tree'], victim, { env }).stdout.trim();
  gitIn(victim, 'update-ref', 'refs/flor/notes', sh('git', ['commit-tree', tree, '-p', notes, '-m', 'junk'], victim).stdout.trim());
  assert.match(gitIn(victim, 'log', '-1', '--format=%N', head), /01FAKEFAKE/);

  const d = await cli(victim, ['doctor'], true);
  assert.match(d.stdout, /repaired: notes index: rebuilt refs\/flor\/notes from the ledgers .*removing 2 thing\(s\) no ledger implies: /);
  assert.match(d.stdout, /line "flor run 01FAKEFAKE[^\n]*in the note of/);
  assert.match(d.stdout, /removing 2 thing.*entry "README"/);
  const shown = gitIn(victim, 'log', '-1', '--format=%N', head);
  assert.doesNotMatch(shown, /FAKE/);
  assert.equal(shown.split('\n').filter((l) => l.startsWith('flor run')).length, 4, shown); // the runs the victim keeps
  assert.equal(sh('git', ['ls-tree', 'refs/flor/notes', 'README'], victim).stdout, '');
  const again = await cli(victim, ['doctor'], true);
  assert.doesNotMatch(again.stdout, /notes index/);
});
