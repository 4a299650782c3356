/**
 * Git's config read from one listing per process (store/git-config.ts) answers as `git config`
 * itself does, and sees writes made by other processes: compared key by key with the git binary on
 * a real repository.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, gitIn, makeRepo, ROOT, sh, tempDir, testEnv } from './helpers/repo.js';
import { requireRepoSync } from '../src/store/git.js';
import { configBoolValue, configMatching, configValue, configValues, setConfig } from '../src/store/git-config.js';

after(cleanup);

const KEYS = ['flor.writer', 'FLOR.Writer', 'flor.empty', 'core.flag', 'remote.Orig.fetch', 'remote.orig.fetch', 'remote.Orig.URL', 'flor.unset', 'b.one', 'b.two', 'b.three', 'b.four', 'b.five', 'b.bad'];

function gitGet(dir: string, key: string, type?: string): string | null {
  const r = sh('git', ['config', ...(type ? [`--type=${type}`] : []), '--get', key], dir, { allowFail: true });
  return r.status === 0 ? r.stdout.replace(/\n$/, '') : null;
}

function repoWithConfig(): string {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  appendFileSync(
    join(dir, '.git', 'config'),
    '[core]\n\tflag\n[flor]\n\tempty =\n\tWriter = abc\n[remote "Orig"]\n\turl = x\n\tfetch = a\n\tfetch = b\n' +
      '[b]\n\tone = yes\n\ttwo = Off\n\tthree = 0\n\tfour = 12\n\tfive\n\tbad = maybe\n',
  );
  return dir;
}

test('values, multi-values, case rules, valueless and empty keys, booleans: as git config --get answers', () => {
  const dir = repoWithConfig();
  const repo = requireRepoSync(dir);
  for (const k of KEYS) assert.equal(configValue(repo, k), gitGet(dir, k), k);
  assert.deepEqual(configValues(repo, 'remote.Orig.fetch'), ['a', 'b']);
  assert.deepEqual(configValues(repo, 'remote.orig.fetch'), []);
  for (const k of KEYS.filter((x) => x.startsWith('b.'))) {
    const g = gitGet(dir, k, 'bool');
    assert.equal(configBoolValue(repo, k), g === null ? null : g === 'true', k);
  }
  assert.deepEqual([...configMatching(repo, /^flor\.(writer|empty)$/)], [['flor.empty', ['']], ['flor.writer', ['abc']]]);
});

test('a write by another process, this process, or an included file is seen by the next read', () => {
  const dir = repoWithConfig();
  const repo = requireRepoSync(dir);
  assert.equal(configValue(repo, 'flor.writer'), 'abc');
  gitIn(dir, 'config', 'flor.writer', 'abd'); // same length, another process
  assert.equal(configValue(repo, 'flor.writer'), 'abd');
  setConfig(repo, ['flor.writer', 'xyz']);
  assert.equal(configValue(repo, 'flor.writer'), 'xyz');
  // An included file is not watched: with an include, every read lists again.
  const inc = join(tempDir(), 'inc.config');
  writeFileSync(inc, '[flor]\n\ttrustedWriters = one\n');
  gitIn(dir, 'config', 'include.path', inc);
  assert.deepEqual(configValues(repo, 'flor.trustedWriters'), ['one']);
  writeFileSync(inc, '[flor]\n\ttrustedWriters = two\n');
  assert.deepEqual(configValues(repo, 'flor.trustedWriters'), ['two']);
});

test('the listing is kept on disk for the next process, which starts no git config while no config file changed', () => {
  const dir = repoWithConfig();
  const trace = join(tempDir(), 'trace');
  const read = () => {
    writeFileSync(trace, '');
    const r = sh(process.execPath, ['-e', `import(${JSON.stringify(join(ROOT, 'dist', 'store', 'git-config.js'))}).then(async (c) => { const g = await import(${JSON.stringify(join(ROOT, 'dist', 'store', 'git.js'))}); console.log(c.configValue(g.requireRepoSync(process.cwd()), 'flor.writer')); })`], dir, { env: { ...testEnv(), GIT_TRACE: trace } });
    const configs = readFileSync(trace, 'utf8').split('\n').filter((l) => / built-in: git config/.test(l)).length;
    return [r.stdout.trim(), configs];
  };
  assert.deepEqual(read(), ['abc', 1]);
  assert.deepEqual(read(), ['abc', 0], 'the second process reads the kept listing');
  gitIn(dir, 'config', 'flor.writer', 'abd');
  assert.deepEqual(read(), ['abd', 1], 'a changed config file is listed again');
  assert.deepEqual(read(), ['abd', 0]);
  const inc = join(tempDir(), 'inc.config');
  writeFileSync(inc, '[flor]\n\twriter = inc\n');
  gitIn(dir, 'config', 'include.path', inc);
  assert.deepEqual(read(), ['inc', 1]);
  writeFileSync(inc, '[flor]\n\twriter = changed\n');
  assert.deepEqual(read(), ['changed', 1], 'a config with an include is never taken from disk');
});
