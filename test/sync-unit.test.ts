import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPush, parsePushLines, pushFlags } from '../src/sync/prepush.js';
import { parseRewrites } from '../src/sync/rewrite.js';
import { fetchRefspecs, pushRefspec, remoteKey } from '../src/sync/refspecs.js';
import { hookBlock, hasBlock, BEGIN, END } from '../src/sync/hooks.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const Z = '0'.repeat(40);

test('pre-push guard: own ledger and ordinary refs pass; local-only flor refs, deletions of ledgers and mirror remotes are refused', () => {
  const lines = (s: string) => parsePushLines(s);
  assert.equal(checkPush(lines(`refs/heads/main ${A} refs/heads/main ${B}\nrefs/tags/v1 ${A} refs/tags/v1 ${Z}\n`), 'w1', null), null);
  assert.equal(checkPush(lines(`refs/flor/ledgers/w1 ${A} refs/flor/ledgers/w1 ${Z}\n`), 'w1', null), null);
  const mirror = checkPush(
    lines(`refs/flor/ledgers/w1 ${A} refs/flor/ledgers/w1 ${Z}\nrefs/flor/notes ${A} refs/flor/notes ${Z}\nrefs/flor/remotes/origin/ledgers/w2 ${B} refs/flor/remotes/origin/ledgers/w2 ${Z}\n(delete) ${Z} refs/flor/ledgers/w3 ${B}\n`),
    'w1',
    null,
  );
  assert.deepEqual(mirror?.refs, ['refs/flor/notes', 'refs/flor/remotes/origin/ledgers/w2', 'delete refs/flor/ledgers/w3']);
  assert.match(mirror!.message, /refusing to push refs\/flor\/notes, refs\/flor\/remotes\/origin\/ledgers\/w2, delete refs\/flor\/ledgers\/w3/);
  // Another clone's ledger under our name, or ours under another name: refused too.
  assert.deepEqual(checkPush(lines(`refs/flor/ledgers/w1 ${A} refs/flor/ledgers/w9 ${Z}\n`), 'w1', null)?.refs, ['refs/flor/ledgers/w1 -> refs/flor/ledgers/w9']);
  assert.deepEqual(checkPush(lines(`refs/flor/ledgers/w1 ${A} refs/flor/ledgers/w1 ${Z}\n`), null, null)?.refs, ['refs/flor/ledgers/w1']);
  assert.match(checkPush(lines(`refs/heads/main ${A} refs/heads/main ${B}\n`), 'w1', 'remote')!.message, /mirror remote/);
  assert.match(checkPush([], 'w1', 'flag')!.message, /refusing `git push --mirror`/);
  assert.deepEqual(lines('\n garbage \n'), []);
});

test('push flags: dry run and mirror from the git push command line', () => {
  assert.deepEqual(pushFlags(['--dry-run', 'origin']), { dryRun: true, mirror: false });
  assert.deepEqual(pushFlags(['-nv', 'origin', 'main']), { dryRun: true, mirror: false });
  assert.deepEqual(pushFlags(['--mirror', '/srv/backup.git']), { dryRun: false, mirror: true });
  assert.deepEqual(pushFlags(['-u', 'origin', 'main']), { dryRun: false, mirror: false });
  assert.deepEqual(pushFlags(['-o', 'n', 'origin', '--', '--dry-run']), { dryRun: false, mirror: false });
});

test('rewrite map parsing keeps only well-formed, changed pairs', () => {
  assert.deepEqual(parseRewrites(`${A} ${B}\n${A} ${B} extra\n${A} ${A}\nnot a line\n\n`), [
    [A, B],
    [A, B],
  ]);
});

test('refspecs: fetch forces only inside refs/flor/remotes/<key>/ and skips our own ledger; push is never forced; keys are one ref component', () => {
  assert.deepEqual(fetchRefspecs('origin', 'w1'), ['+refs/flor/ledgers/*:refs/flor/remotes/origin/ledgers/*', '^refs/flor/ledgers/w1']);
  assert.deepEqual(fetchRefspecs('origin', null), ['+refs/flor/ledgers/*:refs/flor/remotes/origin/ledgers/*']);
  assert.equal(pushRefspec('w1'), 'refs/flor/ledgers/w1:refs/flor/ledgers/w1');
  assert.equal(remoteKey('origin', true), 'origin');
  const k = remoteKey('https://example.com/team/repo.git', false);
  assert.match(k, /^[A-Za-z0-9_-]+-[0-9a-f]{8}$/);
  assert.equal(remoteKey('https://example.com/team/repo.git', false), k, 'stable');
  assert.notEqual(remoteKey('https://example.com/team/other.git', false), k);
  assert.doesNotMatch(remoteKey('team/upstream', true), /\//);
});

test('the hook block is marked, quotes paths, and gives stdin back only for hooks that read it', () => {
  const opts = { hooksDir: "/opt/it's here/hooks", nodePath: '/usr/bin/node' };
  const pre = hookBlock('pre-push', opts);
  const post = hookBlock('post-commit', opts);
  for (const b of [pre, post]) {
    assert.ok(b.startsWith(BEGIN) && b.endsWith(END + '\n') && hasBlock(b));
    assert.ok(b.includes(`'/opt/it'\\''s here/hooks/`));
  }
  assert.match(pre, /exec <"\$__flor_in"/);
  assert.match(pre, /exit 1/);
  assert.doesNotMatch(post, /exec <|exit/);
  assert.match(post, /<\/dev\/null/);
});
