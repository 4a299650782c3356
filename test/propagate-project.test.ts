/**
 * Multi-file propagation (propagateProject) and Git's rename detection (findRenames) on a real repo.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { propagate, propagateProject } from '../src/propagate/index.js';
import { findRenames } from '../src/store/renames.js';
import { requireRepoSync } from '../src/store/git.js';
import { makeRepo, gitIn, cleanup, writeFiles } from './helpers/repo.js';
import { snapshotWorkTree } from '../src/store/worktree.js';
import { isFlorError } from '../src/errors.js';

after(cleanup);

const OLD_TRAIN = `import { flor } from 'git-flor';
import { step } from './model.js';

for (const epoch of flor.loop('epoch', [0, 1, 2])) {
  const loss = step(epoch);
}
`;
const NEW_TRAIN = `import { flor } from 'git-flor';
import { step } from './model.js';

for (const epoch of flor.loop('epoch', [0, 1, 2])) {
  const loss = step(epoch);
  flor.log('loss', loss);
}
`;
const OLD_MODEL = `export function step(epoch) {
  const g = epoch * 0.5;
  return g * 2;
}
`;
const NEW_MODEL = `import { flor } from 'git-flor';

export function step(epoch) {
  const g = epoch * 0.5;
  flor.log('g', g);
  return g * 2;
}
`;
const NEW_EVAL = `import { flor } from 'git-flor';
export function evaluate(m) {
  flor.log('acc', m.acc);
}
`;

test('propagateProject: follows renames, adds the flor import, reports files absent in the old version', () => {
  const r = propagateProject({
    newFiles: new Map([
      ['src/train.js', NEW_TRAIN],
      ['src/model.js', NEW_MODEL],
      ['src/eval.js', NEW_EVAL],
      ['README.md', "flor.log('x', 1) in prose is not code"],
    ]),
    oldFiles: new Map([
      ['train.js', OLD_TRAIN],
      ['src/model.js', OLD_MODEL],
    ]),
    renames: new Map([['src/train.js', 'train.js']]),
  });
  assert.deepEqual([...r.files.keys()].sort(), ['src/model.js', 'train.js']);
  assert.equal(r.files.get('train.js'), NEW_TRAIN);
  assert.equal(
    r.files.get('src/model.js'),
    `import { flor } from 'git-flor';\nexport function step(epoch) {\n  const g = epoch * 0.5;\n  flor.log('g', g);\n  return g * 2;\n}\n`,
  );
  assert.deepEqual(
    r.report.map((s) => [s.file, s.oldFile, s.name, s.status, s.code ?? null]),
    [
      ['src/eval.js', null, 'acc', 'failed', 'FILE_ABSENT'],
      ['src/model.js', 'src/model.js', 'g', 'inserted', null],
      ['src/train.js', 'train.js', 'loss', 'inserted', null],
    ],
  );
});

test('propagateProject: names restrict; statements already there are existing; unchanged files are not returned', () => {
  const r = propagateProject({
    newFiles: new Map([['train.js', NEW_TRAIN], ['model.js', NEW_MODEL]]),
    oldFiles: new Map([['train.js', NEW_TRAIN], ['model.js', OLD_MODEL]]),
    renames: new Map(),
    names: ['loss'],
  });
  assert.equal(r.files.size, 0);
  assert.deepEqual(r.report.map((s) => [s.file, s.name, s.status]), [['train.js', 'loss', 'existing']]);
});

test('propagateProject: a file of today that does not parse is reported, not thrown', () => {
  const r = propagateProject({
    newFiles: new Map([['train.js', "import { flor } from 'git-flor';\nflor.log('a', 1\n"]]),
    oldFiles: new Map([['train.js', OLD_TRAIN]]),
    renames: new Map(),
  });
  assert.equal(r.files.size, 0);
  assert.equal(r.report.length, 1);
  assert.equal(r.report[0]!.status, 'failed');
  assert.equal(r.report[0]!.code, 'PARSE_FAILED');
  assert.match(r.report[0]!.reason!, /train\.js does not parse/);
});

test('propagate: an old version that does not parse fails every statement with the reason', () => {
  const r = propagate({ newText: NEW_TRAIN, oldText: 'for (const x of {\n', path: 'train.js' });
  assert.equal(r.text, 'for (const x of {\n');
  assert.deepEqual(r.failed.map((f) => [f.name, f.code]), [['loss', 'OLD_PARSE']]);
});

test('propagate: nothing to carry returns the old text byte for byte (CRLF, no final newline)', () => {
  const oldText = 'const a = 1;\r\nconst b = 2;';
  const r = propagate({ newText: 'const a = 1;\n', oldText, path: 'x.ts' });
  assert.equal(r.text, oldText);
  const r2 = propagate({ newText: "import { flor } from 'git-flor';\nconst a = 1;\nflor.log('a', a);\n", oldText, path: 'x.ts' });
  assert.equal(r2.text, "import { flor } from 'git-flor';\r\nconst a = 1;\r\nflor.log('a', a);\r\nconst b = 2;");
});

test('propagate: a statement in a brace-less if body is reported, not half-moved', () => {
  const newText = "import { flor } from 'git-flor';\nlet x = 1;\nif (x) flor.log('x', x);\n";
  const r = propagate({ newText, oldText: "import { flor } from 'git-flor';\nlet x = 1;\n", path: 'a.js' });
  assert.deepEqual(r.failed.map((f) => [f.name, f.code]), [['x', 'NOT_IN_BLOCK']]);
});

test('propagate: more distinct lines than one UTF-16 unit can code is a clear error', () => {
  const lines = Array.from({ length: 64_000 }, (_, i) => `const v${i} = ${i};`).join('\n');
  const text = `import { flor } from 'git-flor';\n${lines}\nflor.log('v0', v0);\n`;
  assert.throws(
    () => propagate({ newText: text, oldText: `import { flor } from 'git-flor';\n${lines}\n`, path: 'big.js' }),
    (e: unknown) => isFlorError(e, 'FILE_TOO_LARGE'),
  );
});

test('propagate: 45,000 distinct lines (past diff-match-patch\'s own 40,000 cap) still align exactly', () => {
  const lines = Array.from({ length: 45_000 }, (_, i) => `const v${i} = ${i};`);
  const oldText = `import { flor } from 'git-flor';\n${lines.join('\n')}\n`;
  const newLines = [...lines];
  newLines.splice(44_000, 0, "flor.log('v43999', v43999);");
  const r = propagate({ newText: `import { flor } from 'git-flor';\n${newLines.join('\n')}\n`, oldText, path: 'big.js' });
  assert.deepEqual(r.failed, []);
  assert.equal(r.inserted[0]!.at, 44_002);
  assert.equal(r.text.split('\n')[44_001], "flor.log('v43999', v43999);");
});

test('findRenames: Git rename detection maps today\'s path to the old one', async () => {
  const dir = makeRepo({ files: { 'train.js': OLD_TRAIN + '// a long enough file to be recognised\n'.repeat(5), 'model.js': OLD_MODEL } });
  const repo = requireRepoSync(dir);
  const oldTree = gitIn(dir, 'rev-parse', 'HEAD^{tree}');
  gitIn(dir, 'mv', 'train.js', 'main train.js');
  writeFiles(dir, { 'main train.js': NEW_TRAIN + '// a long enough file to be recognised\n'.repeat(5), 'extra.js': 'export {};\n' });
  const newTree = await snapshotWorkTree(repo);
  const renames = await findRenames(repo, oldTree, newTree);
  assert.deepEqual([...renames], [['main train.js', 'train.js']]);
  assert.deepEqual([...(await findRenames(repo, oldTree, oldTree))], []);
});
