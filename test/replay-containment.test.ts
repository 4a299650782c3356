/**
 * The rules that keep a replay inside its snapshot, on their own: which recorded Node options may
 * pass, which paths from metadata are inside the code, which symlinks of a code tree lead out of
 * it, and what the runtime records of its own execArgv.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitLoaders, recordableExecArgv, packageOf } from '../src/store/exec-argv.js';
import { containedPaths, escapingLinks, insideRel, linkedWrites } from '../src/replay/containment.js';
import { materialise, resolveLoaders } from '../src/replay/snapshot.js';
import { readableRuns } from '../src/store/ledger.js';
import { requireRepoSync } from '../src/store/git.js';
import { closeReaders } from '../src/store/objects.js';
import { makeRepo, runNode, cleanup, tempDir, sh } from './helpers/repo.js';

after(() => {
  closeReaders();
  cleanup();
});

test('splitLoaders: loader flags of packages and files of the code pass; every other option is refused as written', () => {
  const r = splitLoaders(
    ['--import', 'tsx', '--require=ts-node/register', '-r', '@swc-node/register', '--experimental-loader', './l.mjs', '--loader=../up.mjs',
      '--import', 'data:text/javascript,1', '--expose-gc', '--import', '/abs/x.mjs', '--require', '../../out.cjs', '--inspect=0', '--import', 'node:fs',
      '--import', 'https://example.com/x.mjs', '--import'],
    'sub',
  );
  assert.deepEqual(r.loaders, [
    { flag: '--import', spec: 'tsx' },
    { flag: '--require', spec: 'ts-node/register' },
    { flag: '--require', spec: '@swc-node/register' },
    { flag: '--loader', spec: './l.mjs' },
    { flag: '--loader', spec: '../up.mjs' },
  ]);
  assert.deepEqual(r.refused, [
    '--import data:text/javascript,1', '--expose-gc', '--import /abs/x.mjs', '--require ../../out.cjs', '--inspect=0', '--import node:fs',
    '--import https://example.com/x.mjs', '--import',
  ]);
  // From the top, '../up.mjs' climbs out.
  assert.deepEqual(splitLoaders(['--loader', '../up.mjs'], '').refused, ['--loader ../up.mjs']);
  assert.equal(packageOf('@scope/pkg/sub/path'), '@scope/pkg');
  assert.equal(packageOf('tsx/esm'), 'tsx');
  assert.equal(packageOf('./tsx'), null);
  assert.equal(packageOf('a/../../b'), null);
});

test('recordableExecArgv: an absolute loader inside the code becomes relative to the cwd; outside ones and other options are not recorded', () => {
  const toRel = (abs: string) => (abs.startsWith('/repo/') ? `./${abs.slice('/repo/'.length)}` : null);
  assert.deepEqual(
    recordableExecArgv(['--expose-gc', '--import', 'tsx', '--import', '/repo/l.mjs', '--import', 'file:///repo/m.mjs', '--require', '/etc/x.cjs', '--max-old-space-size=100'], '', toRel),
    ['--import', 'tsx', '--import', './l.mjs', '--import', './m.mjs'],
  );
});

test('a run records only its loader flags (the runtime, for real)', async () => {
  const dir = makeRepo({ files: { 'l.mjs': 'globalThis.x = 1;\n', 'train.mjs': "import { flor } from 'git-flor';\nfor (const e of flor.loop('e', [0])) flor.log('v', e);\n" } });
  runNode(dir, 'train.mjs', [], { execArgv: ['--expose-gc', '--import', './l.mjs', '--no-warnings'] });
  const [run] = await readableRuns(requireRepoSync(dir));
  assert.deepEqual(run!.meta.execArgv, ['--import', './l.mjs']);
});

test('containedPaths: cwd and script inside the code, normalised; anything else is REPLAY_REFUSED', () => {
  assert.deepEqual(containedPaths('R', { cwd: '', script: 'train.mjs' }), { cwd: '', script: 'train.mjs' });
  assert.deepEqual(containedPaths('R', { cwd: 'a/./b/', script: 'a/../s.mjs' }), { cwd: 'a/b', script: 's.mjs' });
  for (const bad of [{ cwd: '../x', script: 't.mjs' }, { cwd: '', script: '../t.mjs' }, { cwd: '/etc', script: 't.mjs' }, { cwd: '', script: '/tmp/t.mjs' }, { cwd: '', script: '' }, { cwd: 'a/../..', script: 't.mjs' }]) {
    assert.throws(() => containedPaths('R', bad), (e: Error & { code?: string }) => e.code === 'REPLAY_REFUSED' && /is not a path inside its code/.test(e.message), JSON.stringify(bad));
  }
  assert.equal(insideRel('.'), '');
  assert.equal(insideRel('a\0b'), null);
});

test('escapingLinks follows links through the tree the way the file system would', () => {
  const links = new Map([
    ['in', 'src/x.mjs'], // inside
    ['sub/up', '..'], // the top: inside
    ['abs', '/etc/passwd'],
    ['dotdot', '../x'],
    ['sub/deep', '../../x'],
    ['esc', 'sub/up/..'], // text stays inside, the walk leaves
    ['loop1', 'loop2'],
    ['loop2', 'loop1'],
    ['comment.mjs', '//elsewhere/outside-target.mjs'],
    ['via', 'sub/up/src'], // the top's src: inside
  ]);
  assert.deepEqual(escapingLinks(links).map((l) => l.path), ['abs', 'comment.mjs', 'dotdot', 'esc', 'loop1', 'loop2', 'sub/deep']);
  assert.deepEqual(linkedWrites(['src/a.mjs', 'in', 'sub/up/t.mjs', 'x/y.mjs'], links), ['in', 'sub/up/t.mjs']);
});

test('resolveLoaders: a package must be found in a node_modules inside the snapshot, a file must be inside it', () => {
  const snap = tempDir('flor-snap-');
  mkdirSync(join(snap, 'node_modules', 'tsx'), { recursive: true });
  mkdirSync(join(snap, 'sub', 'node_modules', '@s', 'p'), { recursive: true });
  writeFileSync(join(snap, 'sub', 'l.mjs'), '');
  mkdirSync(join(snap, 'sub', 'dir.mjs'));
  const r = resolveLoaders(snap, 'sub', [
    { flag: '--import', spec: 'tsx' },
    { flag: '--import', spec: '@s/p/register' },
    { flag: '--import', spec: 'missing' },
    { flag: '--import', spec: './l.mjs' },
    { flag: '--import', spec: './dir.mjs' },
    { flag: '--import', spec: './none.mjs' },
  ]);
  assert.deepEqual(r.argv, ['--import', 'tsx', '--import', '@s/p/register', '--import', './l.mjs']);
  assert.deepEqual(r.dropped, ['--import missing', '--import ./dir.mjs', '--import ./none.mjs']);
});

test('materialise never writes a propagated file through a link, inside or outside the snapshot, and checks out nothing then', async () => {
  const dir = makeRepo({ files: { 'real.mjs': '// real\n' } });
  const outside = tempDir('flor-out-');
  const target = join(outside, 'outside-target.mjs');
  writeFileSync(target, 'ORIGINAL\n');
  const blob = (text: string) => sh('git', ['hash-object', '-w', '--stdin'], dir, { input: text }).stdout.trim();
  const real = blob('// real\n');
  const repo = requireRepoSync(dir);
  const cases = [
    { tree: mktree(dir, [`120000 blob ${blob(`/${target}`)}\ttrain.mjs`]), why: /symbolic link\(s\) leading outside it \("train.mjs" -> "\/\/.*outside-target.mjs"\)/ },
    { tree: mktree(dir, [`120000 blob ${blob('real.mjs')}\ttrain.mjs`, `100644 blob ${real}\treal.mjs`]), why: /"train.mjs" is a symbolic link .* flor never writes propagated statements through a link/ },
    { tree: mktree(dir, [`040000 tree ${mktree(dir, [`100644 blob ${real}\ttrain.mjs`])}\treal`, `120000 blob ${blob('real')}\tsrc`]), why: /"src\/train.mjs" is a symbolic link \(or lies under one\)/, file: 'src/train.mjs' },
  ];
  for (const c of cases) {
    await assert.rejects(materialise(repo, '01HZZZZZZZZZZZZZZZZZZZZZZZ', c.tree, { [c.file ?? 'train.mjs']: '// propagated\n' }, ['']), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'REPLAY_REFUSED');
      assert.match(e.message, c.why);
      return true;
    });
  }
  assert.equal(readFileSync(target, 'utf8'), 'ORIGINAL\n');
  assert.deepEqual(existsSync(join(repo.commonDir, 'flor', 'replay')) ? readdirSync(join(repo.commonDir, 'flor', 'replay')) : [], []);
  // Links that stay inside are checked out as they are; the propagated file is a file of its own.
  const ok = mktree(dir, [`120000 blob ${blob('real.mjs')}\tlink.mjs`, `100644 blob ${real}\ttrain.mjs`]);
  const snap = await materialise(repo, '01HZZZZZZZZZZZZZZZZZZZZZZZ', ok, { 'train.mjs': '// propagated\n' }, ['']);
  assert.equal(readFileSync(join(snap.dir, 'train.mjs'), 'utf8'), '// propagated\n');
  assert.equal(readlinkSync(join(snap.dir, 'link.mjs')), 'real.mjs');
});

function mktree(dir: string, lines: string[]): string {
  return sh('git', ['mktree'], dir, { input: lines.map((l) => l + '\n').join('') }).stdout.trim();
}
