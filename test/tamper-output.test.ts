/**
 * What is printed is what was stored, made safe: a second clone forges runs whose metadata holds
 * terminal escapes, forged lines and crafted tagged values, and a segment with a msgpack extension
 * type; the victim fetches them and uses runs, show, log, doctor and plain `git log`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, flor, fsckClean, gitIn, runNode, sh, testEnv } from './helpers/repo.js';
import { cli } from './helpers/cli.js';
import { closeReaders } from '../src/store/objects.js';
import { encodeSegment, makeSegment } from '../src/store/segment.js';
import { emptyColumns } from '../src/store/records.js';
import { forgeRun, metaFor, network, rawMeta, writerOf } from './tamper-support.js';
import { safeText } from '../src/terminal-text.js';
import { unpack, pack } from '../src/store/pack.js';

let victim = '';
let ansi = '';
let tagged = '';
let extRun = '';
let realVictimRun = '';

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

before(async () => {
  const { clones } = await network(['evil', 'victim']);
  const evil = clones.evil!;
  victim = clones.victim!;
  runNode(victim, 'train.mjs');
  const ledger = `refs/flor/ledgers/${writerOf(evil)}`;
  ansi = forgeRun(evil, ledger, rawMeta(metaFor(evil, { script: 'x\u001b[2J.mjs', branch: '\u001b]0;pwned\u0007', args: { lr: 0.5, note: 'a\nflor run FORGED ok' } })));
  tagged = forgeRun(evil, ledger, rawMeta(metaFor(evil), { lr: { $flor: 'bigint', v: 'x' }, m: { $flor: 'map', v: 5 }, ok: 3 }));
  // A forward segment whose one value is a msgpack timestamp (extension type -1).
  const m = metaFor(evil, { records: 1 });
  const seg = makeSegment(m.id, 'forward', { ...emptyColumns(), names: ['when'], name: Int32Array.of(0), frame: Int32Array.of(-1), num: Float64Array.of(NaN), kind: Uint8Array.of(1), other: ['XXXX'] });
  const bytes = encodeSegment(seg);
  const at = bytes.indexOf(Buffer.from([0xa4, 0x58, 0x58, 0x58, 0x58]));
  Buffer.from([0xd6, 0xff, 0, 0, 0, 1]).copy(bytes, at, 0, 5); // same length: a fixext 4 header + 3 bytes…
  const withExt = Buffer.concat([bytes.subarray(0, at), Buffer.from([0xd6, 0xff, 0, 0, 0, 1]), bytes.subarray(at + 5)]);
  extRun = forgeRun(evil, ledger, rawMeta(m), withExt);
  await cli(evil, ['push']);
  await cli(victim, ['fetch']);
  realVictimRun = JSON.parse((await cli(victim, ['runs', '--format', 'json'])).stdout).find((r: { file: string; run: string }) => r.file === 'train.mjs' && r.run !== tagged && r.run !== extRun).run;
});

after(() => {
  closeReaders();
  cleanup();
});

test('safeText makes every control character and bidi override visible', () => {
  assert.equal(safeText('a\u001b[2Jb\nc\td\u0007\u009b\u202eé'), 'a\\e[2Jb\\nc\\td\\x07\\x9b\\u202eé');
  assert.equal(safeText('plain text'), 'plain text');
});

test('runs: a script name with an escape and a branch with an OSC title print escaped, one line per run', async () => {
  // The table leaves out file and branch unless asked for.
  const r = await cli(victim, ['runs', '--col', 'file', '--col', 'branch', '--col', 'arg.note']);
  assert.doesNotMatch(r.stdout, CONTROL);
  assert.match(r.stdout, /x\\e\[2J\.mjs/);
  assert.match(r.stdout, /\\e\]0;pwned\\x07/);
  assert.equal(r.stdout.trim().split('\n').length, 1 + 4, r.stdout); // header + victim's run + three forged
  assert.doesNotMatch(r.stdout, /^flor run FORGED/m);
});

test('show: metadata escaped, a newline in an arg value cannot forge a line', async () => {
  const r = await cli(victim, ['show', ansi, '--no-diff']);
  assert.doesNotMatch(r.stdout, CONTROL);
  assert.match(r.stdout, /^script {2,}x\\e\[2J\.mjs$/m);
  assert.match(r.stdout, /^commit .*\(\\e\]0;pwned\\x07\)$/m);
  assert.match(r.stdout, /note=a\\nflor run FORGED ok/);
  assert.doesNotMatch(r.stdout, /^flor run FORGED/m);
});

test('show: crafted tagged values are damaged values of that run, the other values show', async () => {
  const r = await cli(victim, ['show', tagged, '--no-diff'], true);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /unexpected error/);
  assert.match(r.stdout, /^args +lr=\[damaged value: bigint with v "x" \(not a decimal integer\)\] {2}m=\[damaged value: map with v 5 \(not a list of \[key, value\] pairs\)\] {2}ok=3$/m);
  assert.match(r.stderr, new RegExp(`run ${tagged}: damaged value.*arg lr: bigint with v "x"`));
  assert.match(r.stderr, new RegExp(`run ${tagged}: damaged value.*arg m: map with v 5`));
  // A new process reads the run from the cached listing the calls above wrote: the damage is told all the same.
  const again = flor(victim, ['show', tagged, '--no-diff']);
  assert.equal(again.stdout, r.stdout);
  assert.equal(again.stderr, r.stderr);
});

test('a msgpack extension type is rejected on read: that run is unreadable, the others show', async () => {
  const r = await cli(victim, ['log', 'loss', '--format', 'json']);
  assert.match(r.stderr, new RegExp(`run ${extRun} is unreadable: .*msgpack extension type \\(0xd6\\)`));
  const rows = JSON.parse(r.stdout) as Array<{ run: string; loss: number }>;
  assert.deepEqual(rows.map((x) => x.loss), [0.5, 0.25, 0.5 / 3]);
  assert.ok(rows.every((x) => x.run === realVictimRun));
  assert.throws(() => unpack(Buffer.from([0x91, 0xd4, 0x05, 0x01])), /msgpack extension type \(0xd4\) at offset 1/);
  assert.deepEqual(unpack(pack({ a: [1, 'x', null, 2.5, true] })), { a: [1, 'x', null, 2.5, true] });
});

test('doctor names the damaged values and the extension type', async () => {
  const r = await cli(victim, ['doctor'], true);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`damage: run ${tagged}: run.msgpack: damaged value \\(arg lr: bigint with v "x"`));
  assert.match(r.stdout, new RegExp(`damage: run ${extRun}: .*msgpack extension type`));
  assert.doesNotMatch(r.stdout, CONTROL);
});

test('notes that plain `git log` shows carry no control characters and forge no lines', () => {
  const log = sh('git', ['log', '--notes=flor', '--format=%N'], victim, { env: testEnv({ GIT_NOTES_REF: 'refs/flor/notes' }) }).stdout;
  const shown = gitIn(victim, 'log', '--format=%H%n%N');
  for (const text of [log, shown]) assert.doesNotMatch(text, CONTROL);
  assert.match(shown, /flor run \S+ ok x\\e\[2J\.mjs /);
  assert.doesNotMatch(shown, /^flor run FORGED/m);
  fsckClean(victim);
});
