/**
 * The door to Git (src/store/git.ts): flor reads a few of Git's messages to tell a lost race from
 * a failure, so they must not arrive translated into the user's language.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { makeRepo, cleanup, gitIn, testEnv, ROOT } from './helpers/repo.js';

after(cleanup);

test("Git's messages reach flor untranslated whatever the user's LANGUAGE", () => {
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  const head = gitIn(dir, 'rev-parse', 'HEAD');
  gitIn(dir, 'update-ref', 'refs/flor/x', head);
  const create = ['update-ref', 'refs/flor/x', head, '0'.repeat(40)];
  // What the user would see in German where Git has a German catalog (this machine does).
  const plain = spawnSync('git', create, { cwd: dir, env: testEnv({ LANGUAGE: 'de', LANG: 'C.UTF-8' }), encoding: 'utf8' });
  assert.notEqual(plain.status, 0);
  const viaFlor = spawnSync(process.execPath, ['--input-type=module', '-e', `
    const { git } = await import(${JSON.stringify(join(ROOT, 'dist', 'store', 'git.js'))});
    const r = await git(${JSON.stringify(create)}, { cwd: process.cwd(), okCodes: [128] });
    process.stdout.write(r.stderr);
  `], { cwd: dir, env: testEnv({ LANGUAGE: 'de', LANG: 'C.UTF-8' }), encoding: 'utf8' });
  assert.equal(viaFlor.status, 0, viaFlor.stderr);
  assert.match(viaFlor.stdout, /^fatal: update_ref failed for ref 'refs\/flor\/x': cannot lock ref 'refs\/flor\/x': reference already exists/);
});

test('every git flor starts is told to speak untranslated messages, whatever catalogs this machine has', () => {
  // Whether a German catalog is installed varies by machine; what Git is given does not. A `!`
  // alias runs a shell with the environment the git process itself received.
  const dir = makeRepo({ files: { 'a.txt': 'a\n' } });
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
    const { git } = await import(${JSON.stringify(join(ROOT, 'dist', 'store', 'git.js'))});
    const r = await git(['-c', 'alias.lang=!echo "LANGUAGE=$LANGUAGE"', 'lang'], { cwd: process.cwd() });
    process.stdout.write(r.stdout);
  `], { cwd: dir, env: testEnv({ LANGUAGE: 'de', LANG: 'C.UTF-8' }), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'LANGUAGE=en\n');
});
