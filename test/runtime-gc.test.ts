/**
 * gc-safety of a running run's code: the tree snapshotted at run start is referenced by the ledger
 * only at capture, so `refs/flor/tmp/<run>` pins it meanwhile. Scripts import the built dist/.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { readableRuns } from '../src/store/ledger.js';
import { readJournalStart, journalPath, openJournal } from '../src/store/journal.js';
import { recoverJournals } from '../src/store/capture.js';
import { pinCodeSync, pinnedRuns } from '../src/store/code-ref.js';
import { hostname } from 'node:os';
import { requireRepoSync } from '../src/store/git.js';
import { checkPush } from '../src/sync/prepush.js';
import { fetchRefspecs } from '../src/sync/refspecs.js';
import { makeRepo, startNode, gitIn, sh, cleanup, fsckAfterGc } from './helpers/repo.js';

after(cleanup);

const SLOW = `import { flor } from 'git-flor';
import { existsSync, writeFileSync } from 'node:fs';
const pause = new Int32Array(new SharedArrayBuffer(4));
for (const e of flor.loop('epoch', [0, 1, 2])) {
  flor.log('e', e);
  if (e === 1) {
    writeFileSync('started', '');
    while (!existsSync('go')) Atomics.wait(pause, 0, 0, 20);
  }
}
`;

function waitFor(path: string, ms: number): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const poll = () => (existsSync(path) ? resolve() : Date.now() - t0 > ms ? reject(new Error(`${path} never appeared`)) : setTimeout(poll, 20));
    poll();
  });
}

test('git gc --prune=now during a run does not lose its code; the pin is dropped at capture and never travels', async () => {
  const dir = makeRepo({ files: { 'slow.mjs': SLOW } });
  // Uncommitted code: only the run's snapshot references these objects.
  writeFileSync(join(dir, 'helper.mjs'), 'export const x = 42;\n');
  const child = startNode(dir, 'slow.mjs');
  const exited = once(child, 'exit');
  try {
    await waitFor(join(dir, 'started'), 20_000);
    await midRun(dir);
  } catch (e) {
    child.kill('SIGKILL'); // a failed assertion must not leave the run waiting forever
    throw e;
  }

  writeFileSync(join(dir, 'go'), '');
  const [code] = await exited;
  assert.equal(code, 0);
  const repo = requireRepoSync(dir);
  const [run] = await readableRuns(repo);
  assert.ok(run, 'the run was captured');
  assert.equal(run.meta.status, 'ok');
  assert.equal(gitIn(dir, 'cat-file', '-p', `${run.codeTree}:helper.mjs`), 'export const x = 42;');
  assert.equal(gitIn(dir, 'for-each-ref', 'refs/flor/tmp/'), '', 'capture dropped the pin');
  fsckAfterGc(dir);
});

/** While the run waits in its loop: its pin, gc, and the pin never travelling. */
async function midRun(dir: string): Promise<void> {
  const pins = gitIn(dir, 'for-each-ref', '--format=%(objectname) %(objecttype) %(refname)', 'refs/flor/tmp/').split('\n');
  assert.equal(pins.length, 1);
  const [tree, type, ref] = pins[0]!.split(' ');
  assert.equal(type, 'tree');
  sh('git', ['gc', '-q', '--prune=now'], dir);
  assert.equal(gitIn(dir, 'cat-file', '-t', `${tree}:helper.mjs`), 'blob', 'the snapshot survived gc');
  // The pin is local: the pre-push guard refuses it, fetch refspecs never name it.
  assert.ok(checkPush([{ localRef: ref!, localSha: tree!, remoteRef: ref!, remoteSha: '0'.repeat(40) }], 'w1', null));
  assert.ok(fetchRefspecs('origin', 'w1').every((s) => !s.includes('refs/flor/tmp')));

  const runId = ref!.slice('refs/flor/tmp/'.length);
  assert.match(runId, /^[0-9A-Z]{26}$/);
  assert.equal(readJournalStart(journalPath(requireRepoSync(dir).commonDir, runId))?.codeTree, tree, 'the pin names the run and its code');
}

test('doctor\'s recovery drops pins whose run has no journal left, and keeps the others', async () => {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  const repo = requireRepoSync(dir);
  const tree = gitIn(dir, 'rev-parse', 'HEAD^{tree}');
  const live = '01J00000000000000000000001';
  const gone = '01J00000000000000000000002';
  pinCodeSync(repo, live, tree);
  pinCodeSync(repo, gone, tree);
  // a journal of a process that is alive (this one) is not an orphan: its pin stays
  openJournal(repo.commonDir, live).append({ t: 'start', meta: { id: live } as never, codeTree: tree, pid: process.pid, host: hostname() });
  await recoverJournals(repo, { sweep: true });
  assert.deepEqual(await pinnedRuns(repo), [live]);
});
