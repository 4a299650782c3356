/**
 * Run history from another clone is data until the user trusts its writer: a clone (the attacker)
 * forges ledgers — metadata, code trees with symlinks, segments, copies of other runs — pushes
 * them to a shared bare remote, and the victim fetches them and uses `replay`, `log --replay`,
 * `show` and `doctor`. Nothing the victim did not ask to run may run; nothing outside the
 * repository may be written; every healthy run still reads; `git fsck` stays clean.
 * Needs the built dist/ (`npx tsc`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { makeRepo, flor, gitIn, sh, cleanup, tempDir, testEnv, linkFlor, runNode, fsckClean, writeFiles } from './helpers/repo.js';
import { cli, type CliResult } from './helpers/cli.js';
import { decodeRunMeta, encodeRunMeta, listRunsChecked, readRunSegments, runDir } from '../src/store/ledger.js';
import { decodeSegment, encodeSegment, makeSegment } from '../src/store/segment.js';
import { requireRepoSync } from '../src/store/git.js';
import { closeReaders } from '../src/store/objects.js';
import { ulid } from '../src/runtime/ulid.js';
import type { RunMeta } from '../src/store/types.js';
import type { RecordColumns } from '../src/store/records.js';

const TRAIN = `import { flor } from 'git-flor';
const lr = flor.arg('lr', 0.5);
let w = 1;
for (const epoch of flor.loop('epoch', [0, 1])) {
  w -= lr * w;
  flor.log('loss', w);
}
`;
/** Today's code in the victim's work tree: two names the old runs never logged. */
const TODAY = TRAIN.replace("  flor.log('loss', w);\n", "  flor.log('loss', w);\n  flor.log('wsq', w * w);\n  flor.log('wcub', w * w * w);\n");

const VICTIM = 'victim0';
const ATTACKER = 'attacker1';

let bare = '';
let victim = '';
let attacker = '';
/** The victim's and the attacker's own (healthy) runs. */
let v1 = '';
let a1 = '';
/** Where nothing may ever be written: outside both repositories. */
let outside = '';

after(() => {
  closeReaders();
  cleanup();
});

async function clone(name: string, writer: string): Promise<string> {
  const d = join(tempDir(`flor-${name}-`), 'w');
  gitIn(tempDir(), 'clone', '-q', bare, d);
  linkFlor(d);
  appendFileSync(join(d, '.git', 'config'), `[flor]\n\twriter = ${writer}\n`);
  await cli(d, ['init']);
  return d;
}

function ledgerRef(writer: string): string {
  return `refs/flor/ledgers/${writer}`;
}

function hashBlob(dir: string, data: Buffer | string): string {
  const r = spawnSync('git', ['hash-object', '-w', '--stdin'], { cwd: dir, input: data, env: testEnv() });
  assert.equal(r.status, 0, String(r.stderr));
  return String(r.stdout).trim();
}

/** A tree from `mktree` lines ("<mode> <type> <oid>\t<name>"): how a hostile clone forges code. */
function mktree(dir: string, lines: string[]): string {
  return sh('git', ['mktree'], dir, { input: lines.map((l) => l + '\n').join('') }).stdout.trim();
}

type Edit = { path: string; mode: string; oid: string } | { path: string; remove: true };

/**
 * A new commit on ledger `ref` of `dir` (a child of its tip, or a root): the tip's tree with
 * `edits` applied through a private index (a tree entry replaces the whole subtree).
 */
function forgeCommit(dir: string, ref: string, edits: Edit[], from?: string): string {
  const idx = join(tempDir('flor-idx-'), 'index');
  const env = testEnv({ GIT_INDEX_FILE: idx });
  const run = (...args: string[]) => sh('git', args, dir, { env }).stdout.trim();
  const base = from ?? sh('git', ['rev-parse', '-q', '--verify', ref], dir, { allowFail: true }).stdout.trim();
  if (base) run('read-tree', `${base}^{tree}`);
  else run('read-tree', '--empty');
  for (const e of edits) {
    run('rm', '--cached', '-r', '-q', '--ignore-unmatch', e.path);
    if ('remove' in e) continue;
    if (e.mode === '040000') run('read-tree', `--prefix=${e.path}/`, e.oid);
    else run('update-index', '--add', '--cacheinfo', `${e.mode},${e.oid},${e.path}`);
  }
  const tree = run('write-tree');
  const commit = run('commit-tree', tree, ...(base ? ['-p', base] : []), '-m', 'forged');
  gitIn(dir, 'update-ref', ref, commit);
  return commit;
}

/** The attacker pushes `ref` (any name: the remote takes any ledger ref) and the victim fetches. */
function publish(ref: string): void {
  gitIn(attacker, 'push', '-q', '--no-verify', '-f', 'origin', `${ref}:${ref}`);
  gitIn(victim, 'fetch', '-q', 'origin');
}

/** run.msgpack of `id` in `dir`'s ledger of `writer`, decoded. */
function metaOf(dir: string, writer: string, id: string): RunMeta {
  const blob = spawnSync('git', ['cat-file', 'blob', `${ledgerRef(writer)}:${runDir(id)}/run.msgpack`], { cwd: dir, env: testEnv() }).stdout;
  return decodeRunMeta(blob, id);
}

/**
 * In the attacker's clone: ledger `refs/flor/ledgers/<writer>` gains run `id` with metadata `meta`,
 * code tree `code`, and the attacker's own run's forward segment (so it reads like a real run).
 */
function forgeRun(writer: string, meta: RunMeta, code: string): void {
  const own = spawnSync('git', ['cat-file', 'blob', `${ledgerRef(ATTACKER)}:${runDir(a1)}/logs/forward.msgpack`], { cwd: attacker, env: testEnv() }).stdout;
  const seg = { ...decodeSegment(own, 'forward'), run: meta.id };
  const dir = runDir(meta.id);
  forgeCommit(attacker, ledgerRef(writer), [
    { path: `${dir}/run.msgpack`, mode: '100644', oid: hashBlob(attacker, encodeRunMeta(meta)) },
    { path: `${dir}/code`, mode: '040000', oid: code },
    { path: `${dir}/logs/forward.msgpack`, mode: '100644', oid: hashBlob(attacker, encodeSegment(seg)) },
  ]);
}

/** One top-level record `name = value`. */
function oneRecord(name: string, value: number): RecordColumns {
  return {
    names: [name], loops: [], frames: { parent: new Int32Array(0), loop: new Int32Array(0), iter: new Int32Array(0) },
    name: Int32Array.of(0), frame: Int32Array.of(-1), num: Float64Array.of(value), kind: Uint8Array.of(0), other: [],
  };
}

/** A copy of the attacker's own run under a new id, with `edit` applied to its metadata. */
function forgedMeta(edit: Partial<RunMeta>): RunMeta {
  return { ...metaOf(attacker, ATTACKER, a1), id: ulid(), ...edit };
}

/** The attacker's own run's code tree with `extra` mktree lines added (or replacing same names). */
function codeWith(extra: string[], drop: string[] = []): string {
  const base = gitIn(attacker, 'rev-parse', `${ledgerRef(ATTACKER)}:${runDir(a1)}/code`);
  const names = new Set([...drop, ...extra.map((l) => l.split('\t')[1]!)]);
  const kept = gitIn(attacker, 'ls-tree', base).split('\n').filter((l) => l && !names.has(l.split('\t')[1]!));
  return mktree(attacker, [...kept, ...extra]);
}

/** Every healthy run reads (metadata, its writer by ledger, segments), the log shows both, fsck is clean. */
async function healthy(): Promise<void> {
  const { runs } = await listRunsChecked(requireRepoSync(victim));
  const byId = new Map(runs.map((r) => [r.id, r]));
  assert.equal(byId.get(v1)?.writer, VICTIM);
  assert.equal(byId.get(a1)?.writer, ATTACKER);
  for (const id of [v1, a1]) {
    const { segments, dropped } = await readRunSegments(requireRepoSync(victim), byId.get(id)!);
    assert.equal(segments[0]?.ref.name, 'forward');
    assert.equal(segments[0]?.ref.writer, byId.get(id)!.writer);
    assert.deepEqual(dropped.filter((d) => d.ref.writer === VICTIM || d.ref.writer === ATTACKER), []);
  }
  const rows = JSON.parse((await inVictim(['log', 'loss', '--format', 'json'])).stdout) as Array<{ run: string; loss: number }>;
  for (const id of [v1, a1]) assert.deepEqual(rows.filter((r) => r.run === id).map((r) => r.loss), [0.5, 0.25]);
  fsckClean(victim);
}

/**
 * `git flor ARGS` in the victim's clone, in-process: for what starts no replay child (listings,
 * show, doctor, dry runs). Exit 0 unless `allowFail`.
 */
function inVictim(args: string[], allowFail = false): Promise<CliResult> {
  return cli(victim, args, allowFail);
}

/** A replay in a process of its own (its children get no loader flags of this process). */
function replay(args: string[]): { code: number; out: string } {
  const r = flor(victim, args, { allowFail: true });
  return { code: r.status ?? -1, out: r.stdout + r.stderr };
}

before(async () => {
  const root = tempDir('flor-bare-');
  bare = join(root, 'r.git');
  gitIn(root, 'init', '-q', '--bare', '-b', 'main', bare);
  const seed = makeRepo({ files: { 'train.mjs': TRAIN } });
  gitIn(seed, 'push', '-q', bare, 'main');
  victim = await clone('victim', VICTIM);
  attacker = await clone('attacker', ATTACKER);
  outside = tempDir('flor-outside-');
  runNode(victim, 'train.mjs');
  runNode(attacker, 'train.mjs');
  // A run may still be a journal right after its process ended: listing settles it into the ledger.
  await listRunsChecked(requireRepoSync(attacker));
  await listRunsChecked(requireRepoSync(victim));
  gitIn(attacker, 'push', '-q', '--no-verify', 'origin', ledgerRef(ATTACKER));
  gitIn(victim, 'fetch', '-q', 'origin');
  const { runs } = await listRunsChecked(requireRepoSync(victim));
  v1 = runs.find((r) => r.writer === VICTIM)!.id;
  a1 = runs.find((r) => r.writer === ATTACKER)!.id;
  assert.ok(v1 && a1);
  writeFiles(victim, { 'train.mjs': TODAY });
});

test("another writer's run is replayed only when trusted; --dry-run lists whose code would run", async () => {
  const dry = await inVictim(['replay', 'wsq', '--dry-run']);
  assert.match(dry.stdout, new RegExp(`code of writer ${VICTIM} runs for 1 run\\(s\\) \\(this clone\\)`));
  assert.match(dry.stdout, new RegExp(`code of writer ${ATTACKER} is NOT run for 1 run\\(s\\): not trusted \\(--allow-writer ${ATTACKER}`));
  assert.match(dry.stderr, new RegExp(`run ${a1}: refused: written by writer ${ATTACKER}, not by this clone`));

  const r = replay(['replay', 'wsq']);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, new RegExp(`run ${v1}: replayed wsq`));
  assert.match(r.out, new RegExp(`run ${a1}: refused: .*--allow-writer ${ATTACKER}`));
  const rows = async () => JSON.parse((await inVictim(['log', 'wsq', '--format', 'json'])).stdout) as Array<{ run: string; wsq: number }>;
  assert.deepEqual((await rows()).map((x) => x.run).sort(), [v1, v1]);

  // With consent the same replay runs the other writer's code.
  const ok = await inVictim(['replay', 'wsq', '--allow-writer', ATTACKER, '--dry-run'], true);
  assert.match(ok.stdout + ok.stderr, new RegExp(`code of writer ${ATTACKER} runs for 1 run\\(s\\) \\(allowed by --allow-writer\\)`));
  const done = replay(['replay', 'wsq', '--allow-writer', ATTACKER]);
  assert.equal(done.code, 0, done.out);
  assert.match(done.out, new RegExp(`run ${a1}: replayed wsq`));
  assert.deepEqual((await rows()).filter((x) => x.run === a1).map((x) => x.wsq), [0.25, 0.0625]);
  await healthy();
});

test('execArgv: only loader flags resolving inside the snapshot reach the replay child; the others are dropped and said so', async () => {
  const marker = join(outside, 'injected.txt');
  const inject = `data:text/javascript,import('node:fs').then((f) => f.writeFileSync(${JSON.stringify(marker)}, 'pwned'))`;
  // './loader.mjs' is part of the forged code: allowed, and it really runs (it logs nothing, sets a global).
  const loader = hashBlob(attacker, "globalThis.__florLoaded = true;\n");
  const code = codeWith([`100644 blob ${loader}\tloader.mjs`]);
  const meta = forgedMeta({ execArgv: ['--import', inject, '--expose-gc', '--import=./loader.mjs', '--import', 'no-such-pkg'] });
  forgeRun('evil1', meta, code);
  publish(ledgerRef('evil1'));
  gitIn(victim, 'config', '--add', 'flor.trustedWriters', 'evil1');

  const dry = await inVictim(['replay', 'wcub', '--run', meta.id, '--dry-run'], true);
  assert.match(dry.stdout + dry.stderr, new RegExp(`run ${meta.id}: note: recorded Node option\\(s\\) not passed .*"--import data:text/javascript.*" "--expose-gc"\n`));
  assert.match(dry.stdout + dry.stderr, /code of writer evil1 runs for 1 run\(s\) \(trusted in git config flor.trustedWriters\)/);

  // The `log --replay` path obeys the same rules.
  const r = flor(victim, ['log', 'wcub', '--replay', '--run', meta.id, '--format', 'json'], { allowFail: true });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(existsSync(marker), false, 'the data: import never ran');
  assert.match(r.stderr, /not passed .*"--expose-gc"/);
  assert.match(r.stderr, new RegExp(`run ${meta.id}: note: recorded loader\\(s\\) not passed, they do not resolve inside .*"--import no-such-pkg"`));
  assert.deepEqual((JSON.parse(r.stdout) as Array<{ wcub: number }>).map((x) => x.wcub), [0.125, 0.015625]);
  gitIn(victim, 'config', '--unset-all', 'flor.trustedWriters');
  await healthy();
});

test('cwd and script from metadata must lie inside the snapshot; nothing is created outside the repository', async () => {
  const code = gitIn(attacker, 'rev-parse', `${ledgerRef(ATTACKER)}:${runDir(a1)}/code`);
  const escCwd = forgedMeta({ cwd: '../../../../../elsewhere' });
  const escScript = forgedMeta({ script: '../../../../x.mjs' });
  const absScript = forgedMeta({ script: join(outside, 'train.mjs') });
  writeFileSync(join(outside, 'train.mjs'), "require('node:fs').writeFileSync(__filename + '.ran', 'x')\n");
  for (const m of [escCwd, escScript, absScript]) forgeRun('evil2', m, code);
  publish(ledgerRef('evil2'));
  assert.deepEqual(readdirSync(join(victim, '..')), ['w']);
  const r = replay(['replay', 'wcub', '--allow-writer', 'evil2', ...[escCwd, escScript, absScript].flatMap((m) => ['--run', m.id])]);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, new RegExp(`run ${escCwd.id}: refused: run ${escCwd.id}: its recorded cwd "../../../../../elsewhere" is not a path inside its code`));
  assert.match(r.out, new RegExp(`run ${escScript.id}: refused: .*recorded script "../../../../x.mjs" is not a path inside its code`));
  assert.match(r.out, new RegExp(`run ${absScript.id}: refused: .*recorded script`));
  assert.deepEqual(readdirSync(join(victim, '..')), ['w'], 'nothing new beside the clone');
  assert.equal(existsSync(join(outside, 'train.mjs.ran')), false);
  assert.equal(existsSync(join(victim, '..', 'elsewhere')), false);
  await healthy();
});

test('symlinks leading out of a code tree: the snapshot is refused; flor never writes through a link', async () => {
  const target = join(outside, 'outside-target.mjs');
  writeFileSync(target, 'ORIGINAL\n');
  mkdirSync(join(outside, 'dir'), { recursive: true });
  // A directory link to an outside directory, with code that writes through it.
  const writes = hashBlob(attacker, TRAIN.replace("let w = 1;", "import { writeFileSync } from 'node:fs';\nwriteFileSync('lnk/pwned.txt', 'x');\nlet w = 1;"));
  const dirLink = codeWith([`120000 blob ${hashBlob(attacker, join(outside, 'dir'))}\tlnk`, `100644 blob ${writes}\ttrain.mjs`]);
  // The entry script itself a link whose text is also a JS comment; and a chain that climbs out
  // although its text stays inside ('up/..' where 'up' is a link to '..').
  const fileLink = codeWith([`120000 blob ${hashBlob(attacker, `/${target}`)}\ttrain.mjs`]);
  const sub = mktree(attacker, [`120000 blob ${hashBlob(attacker, '..')}\tup`]);
  const chain = codeWith([`040000 tree ${sub}\tsub`, `120000 blob ${hashBlob(attacker, 'sub/up/..')}\tesc`]);
  const runs = [forgedMeta({}), forgedMeta({}), forgedMeta({})];
  forgeRun('evil3', runs[0]!, dirLink);
  forgeRun('evil3', runs[1]!, fileLink);
  forgeRun('evil3', runs[2]!, chain);
  publish(ledgerRef('evil3'));

  const dry = await inVictim(['replay', 'wcub', '--allow-writer', 'evil3', '--dry-run', ...runs.flatMap((m) => ['--run', m.id])], true);
  assert.match(dry.stdout + dry.stderr, new RegExp(`run ${runs[0]!.id}: refused: .*symbolic link\\(s\\) leading outside it \\("lnk" -> "${outside}/dir"\\)`));
  const r = replay(['replay', 'wcub', '--allow-writer', 'evil3', ...runs.flatMap((m) => ['--run', m.id])]);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, new RegExp(`run ${runs[0]!.id}: refused: .*"lnk" -> `));
  assert.match(r.out, new RegExp(`run ${runs[2]!.id}: refused: .*"esc" -> "sub/up/.."`));
  // The file link is refused, by the link check or because propagation cannot place a statement in a comment.
  assert.match(r.out, new RegExp(`run ${runs[1]!.id}: (refused|cannot take)`));
  assert.equal(readFileSync(target, 'utf8'), 'ORIGINAL\n');
  assert.deepEqual(readdirSync(join(outside, 'dir')), []);
  await healthy();
});

test("other writers' segments: no forward segment but the writer's, a replay segment never answers a trusted replay; doctor reports them", async () => {
  const dir = runDir(v1);
  const forged = (source: 'forward' | 'replay', name: string, value: number) =>
    hashBlob(attacker, encodeSegment(makeSegment(v1, source, oneRecord(name, value), source === 'replay'
      ? { statements: [name], code: gitIn(attacker, 'rev-parse', 'HEAD^{tree}'), time: '2999-01-01T00:00:00.000Z', writer: VICTIM, segments: [[0, 2]] }
      : null)));
  forgeCommit(attacker, ledgerRef('evil4'), [
    { path: `${dir}/logs/forward.msgpack`, mode: '100644', oid: forged('forward', 'secret_metric', 666) },
    { path: `${dir}/logs/extra.msgpack`, mode: '100644', oid: forged('forward', 'secret_metric', 666) },
    { path: `${dir}/logs/replay-fake.msgpack`, mode: '100644', oid: forged('replay', 'wcub', 999) },
  ]);
  publish(ledgerRef('evil4'));

  const log = await inVictim(['log', 'secret_metric', 'loss', '--format', 'json', '--run', v1], true);
  assert.doesNotMatch(log.stdout + log.stderr, /666/);
  assert.match(log.stderr, /no run logged 'secret_metric'/);
  const show = (await inVictim(['show', v1, '--no-diff'])).stdout;
  assert.match(show, /replay-fake \(replay\) +1 records: wcub +replayed 2999-01-01T00:00:00.000Z by writer evil4/);
  assert.match(show, new RegExp(`^writer +${VICTIM}$`, 'm'));
  assert.doesNotMatch(show, /extra/);

  // "already have wcub" must not come from evil4: the victim's own replay runs and is written.
  const r = replay(['replay', 'wcub', '--run', v1]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`run ${v1}: replayed wcub`));
  const rows = JSON.parse((await inVictim(['log', 'wcub', '--format', 'json', '--run', v1])).stdout) as Array<{ wcub: number }>;
  assert.ok(rows.some((x) => x.wcub === 0.125), JSON.stringify(rows));

  const doc = await inVictim(['doctor'], true);
  assert.equal(doc.status, 1);
  assert.match(doc.stdout, new RegExp(`run ${v1}: refs/flor/remotes/origin/ledgers/evil4: forward segment ignored: only the run's writer \\(${VICTIM}\\) records it`));
  assert.match(doc.stdout, new RegExp(`run ${v1}: segment extra \\(refs/flor/remotes/origin/ledgers/evil4\\) says source 'forward'`));
  await healthy();
});

test("a run's writer is the ledger holding it: a forged copy of a run elsewhere is reported and ignored", async () => {
  const dir = runDir(v1);
  const evilCode = codeWith([`100644 blob ${hashBlob(attacker, `require('fs').writeFileSync(${JSON.stringify(join('OUT', 'never'))}, 'x')\n`)}\ttrain.mjs`]);
  const real = metaOf(victim, VICTIM, v1);
  // '0000' sorts before every other ledger. One copy keeps the victim's metadata (claims the
  // victim wrote it) with other code; another claims to be the forger's own.
  forgeCommit(attacker, ledgerRef('0000'), [
    { path: `${dir}/run.msgpack`, mode: '100644', oid: hashBlob(attacker, encodeRunMeta(real)) },
    { path: `${dir}/code`, mode: '040000', oid: evilCode },
  ]);
  forgeCommit(attacker, ledgerRef('0001'), [
    { path: `${dir}/run.msgpack`, mode: '100644', oid: hashBlob(attacker, encodeRunMeta({ ...real, writer: '0001', args: { lr: 9 } })) },
    { path: `${dir}/code`, mode: '040000', oid: evilCode },
  ]);
  publish(ledgerRef('0000'));
  publish(ledgerRef('0001'));

  const { runs, ignored } = await listRunsChecked(requireRepoSync(victim));
  const run = runs.find((x) => x.id === v1)!;
  assert.equal(run.writer, VICTIM);
  assert.equal(run.codeTree, gitIn(victim, 'rev-parse', `${ledgerRef(VICTIM)}:${dir}/code`));
  assert.deepEqual(run.meta.args, { lr: 0.5 });
  assert.deepEqual(
    ignored.filter((g) => g.id === v1 && /copy/.test(g.problem)).map((g) => g.ledger).sort(),
    ['refs/flor/remotes/origin/ledgers/0000', 'refs/flor/remotes/origin/ledgers/0001'],
  );
  // A third clone that trusts the victim and never wrote a run sees the same.
  gitIn(victim, 'push', '-q', '--no-verify', 'origin', ledgerRef(VICTIM));
  const third = await clone('third', 'third0');
  gitIn(third, 'fetch', '-q', 'origin');
  gitIn(third, 'config', 'flor.trustedWriters', VICTIM);
  const seen = (await listRunsChecked(requireRepoSync(third))).runs.find((x) => x.id === v1)!;
  assert.equal(seen.writer, VICTIM);
  assert.equal(seen.codeTree, run.codeTree);
  const doc = await inVictim(['doctor'], true);
  assert.match(doc.stdout, /ledgers\/0000: a different copy of the run's metadata or code; the copy in refs\/flor\/ledgers\/victim0 \(writer victim0\) is used/);
  await healthy();
  fsckClean(third);
});
