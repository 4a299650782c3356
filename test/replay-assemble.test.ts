import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, lstatSync, readlinkSync, mkdirSync, chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkFidelity, concatRecords, frameContexts, recordsEnd, sameValue } from '../src/replay/assemble.js';
import { keyed } from './helpers/segments.js';
import { materialise, propagatedTree } from '../src/replay/snapshot.js';
import { KIND_NUMBER, KIND_OTHER, type RecordColumns, type Value } from '../src/store/records.js';
import { requireRepoSync } from '../src/store/git.js';
import { makeRepo, gitIn, cleanup } from './helpers/repo.js';

after(cleanup);

/** Columns from (name, [loop, iter][] outermost first, value) triples, numbered the way a task would. */
function cols(recs: Array<[string, Array<[string, number]>, Value]>): RecordColumns {
  const names: string[] = [];
  const loops: string[] = [];
  const fp: number[] = [], fl: number[] = [], fi: number[] = [];
  const frameOf = new Map<string, number>();
  const name: number[] = [], frame: number[] = [], num: number[] = [], kind: number[] = [];
  const other: Value[] = [];
  for (const [n, ctx, v] of recs) {
    if (!names.includes(n)) names.push(n);
    let parent = -1;
    for (const [l, it] of ctx) {
      if (!loops.includes(l)) loops.push(l);
      const k = `${parent}:${l}:${it}`;
      let f = frameOf.get(k);
      if (f === undefined) {
        f = fp.length;
        fp.push(parent); fl.push(loops.indexOf(l)); fi.push(it);
        frameOf.set(k, f);
      }
      parent = f;
    }
    name.push(names.indexOf(n));
    frame.push(parent);
    if (typeof v === 'number') { num.push(v); kind.push(KIND_NUMBER); } else { num.push(NaN); kind.push(KIND_OTHER); other.push(v); }
  }
  return {
    names, loops, frames: { parent: Int32Array.from(fp), loop: Int32Array.from(fl), iter: Int32Array.from(fi) },
    name: Int32Array.from(name), frame: Int32Array.from(frame), num: Float64Array.from(num), kind: Uint8Array.from(kind), other,
  };
}

test('segments concatenate in order into one set of columns with shared frames', () => {
  const a = cols([['loss', [['epoch', 0], ['step', 0]], 1], ['acc', [['epoch', 0]], 0.5], ['new', [['epoch', 0]], 'x']]);
  const b = cols([['new', [['epoch', 1]], 'y'], ['loss', [['epoch', 1], ['step', 0]], 2], ['acc', [['epoch', 1]], 0.75]]);
  const c = concatRecords([a, b], (n) => n !== 'loss');
  assert.deepEqual(keyed(c).map((r) => [r.name, r.ctx, r.value]), [
    ['acc', 'epoch=0', 0.5], ['new', 'epoch=0', 'x'], ['new', 'epoch=1', 'y'], ['acc', 'epoch=1', 0.75],
  ]);
  assert.deepEqual(c.loops, ['epoch']);
  assert.equal(c.frames.parent.length, 2); // the step frames of the dropped 'loss' records are not carried
});

test("frameContexts names each frame's loop iterations (made once per frame) as walking its parents does, and keyed counts occurrences per name and context", () => {
  const recs: Array<[string, Array<[string, number]>, Value]> = [['top', [], 1]];
  for (let e = 0; e < 3; e++) {
    recs.push(['lr', [['epoch', e]], e]);
    for (let s = 0; s < 4; s++) for (let b = 0; b < 2; b++) recs.push(['loss', [['epoch', e], ['step', s], ['batch', b]], e * 100 + s * 10 + b]);
    recs.push(['lr', [['epoch', e]], -e]);
  }
  const c = cols(recs);
  const k = keyed(c);
  assert.equal(k.length, c.name.length);
  const ctxOf = frameContexts(c);
  k.forEach((r, i) => assert.equal(ctxOf(c.frame[i]!), r.ctx, `record ${i}`));
  assert.equal(ctxOf(-1), '');
  assert.equal(k.find((r) => r.name === 'loss' && r.value === 231)!.ctx, 'epoch=2/step=3/batch=1');
  assert.deepEqual(k.filter((r) => r.name === 'lr' && r.ctx === 'epoch=1').map((r) => [r.occurrence, r.value]), [[0, 1], [1, -1]]);
});

/** checkFidelity as its rule reads, from keyed(): every kept replayed record against the recorded one of the same name, loop iterations and occurrence. */
function fidelityByKeys(recorded: RecordColumns, replayed: RecordColumns, skip: (i: number) => boolean) {
  const existing = new Set(recorded.names);
  const rec = new Map(keyed(recorded).map((r) => [`${r.name}\u0000${r.ctx}\u0000${r.occurrence}`, r.value]));
  return keyed(replayed, (n, i) => existing.has(n) && !skip(i))
    .filter((r) => { const k = `${r.name}\u0000${r.ctx}\u0000${r.occurrence}`; return !rec.has(k) || !sameValue(rec.get(k)!, r.value); })
    .map((r) => { const k = `${r.name}\u0000${r.ctx}\u0000${r.occurrence}`; return { run: 'R', name: r.name, at: r.ctx, occurrence: r.occurrence, recorded: rec.has(k) ? rec.get(k) : undefined, replayed: r.value }; });
}

test('fidelity: occurrences per name and loop iterations, a name logged twice in one iteration, records past the recorded ones, skipped records', () => {
  const recorded = cols([['a', [], 1], ['a', [], 2], ['x', [['e', 0]], 'p'], ['x', [['e', 0]], 'q'], ['y', [['e', 0], ['s', 1]], 5], ['x', [['e', 1]], 'r'], ['y', [['e', 1], ['s', 0]], NaN]]);
  const replayed = cols([
    ['a', [], 1], ['new', [], 0], ['x', [['e', 0]], 'p'], ['y', [['e', 0], ['s', 1]], 5], ['x', [['e', 0]], 'Q'], ['x', [['e', 0]], 'extra'],
    ['y', [['e', 1], ['s', 0]], NaN], ['x', [['e', 1]], 'r'], ['a', [], 3], ['a', [], 4], ['y', [['e', 2], ['s', 0]], 1],
  ]);
  for (const skip of [() => false, (i: number) => i === 4, (i: number) => i % 2 === 1]) {
    const got = checkFidelity('R', recorded, replayed, skip);
    assert.deepEqual(got, fidelityByKeys(recorded, replayed, skip));
  }
  assert.deepEqual(checkFidelity('R', recorded, replayed).map((m) => [m.name, m.at, m.occurrence, m.recorded ?? 'none', m.replayed]), [
    ['x', 'e=0', 1, 'q', 'Q'], ['x', 'e=0', 2, 'none', 'extra'], ['a', '', 1, 2, 3], ['a', '', 2, 'none', 4], ['y', 'e=2/s=0', 0, 'none', 1],
  ]);
});

test('fidelity: equal values pass, a different value or a record with no recorded twin is reported', () => {
  const recorded = cols([['acc', [['epoch', 0]], 0.5], ['acc', [['epoch', 1]], 0.75], ['tag', [], 'v1'], ['w', [], new Float64Array([1, 2])]]);
  const same = cols([['acc', [['epoch', 1]], 0.75], ['wnorm', [['epoch', 1]], 3], ['w', [], new Float64Array([1, 2])]]);
  assert.deepEqual(checkFidelity('R', recorded, same), []);
  const diff = cols([['acc', [['epoch', 1]], 0.7500001], ['acc', [['epoch', 2]], 1], ['tag', [], 'v1'], ['w', [], new Float32Array([1, 2])]]);
  const m = checkFidelity('R', recorded, diff);
  assert.deepEqual(m.map((x) => [x.name, x.at, x.recorded === undefined ? 'none' : x.recorded instanceof Float64Array ? 'f64' : x.recorded]), [
    ['acc', 'epoch=1', 0.75], ['acc', 'epoch=2', 'none'], ['w', '', 'f64'],
  ]);
  assert.equal(sameValue(NaN, NaN), true);
  assert.equal(sameValue({ a: [1, 'x'] }, { a: [1, 'x'] }), true);
  assert.equal(sameValue({ a: [1, 'x'] }, { a: [1, 'y'] }), false);
});

test('the snapshot is the run\'s code with the propagated files written over it, node_modules linked, user index untouched', async () => {
  const dir = makeRepo({ files: { 'src/train.mjs': 'old\n', 'run.sh': '#!/bin/sh\n', 'README': 'r\n' } });
  chmodSync(join(dir, 'run.sh'), 0o755);
  gitIn(dir, 'commit', '-q', '-am', 'x');
  mkdirSync(join(dir, 'src', 'node_modules'), { recursive: true });
  const repo = requireRepoSync(dir);
  const base = gitIn(dir, 'rev-parse', 'HEAD^{tree}');
  const indexBefore = readFileSync(join(dir, '.git', 'index'));
  const files = { 'src/train.mjs': 'new\n', 'run.sh': '#!/bin/sh\necho\n' };
  const tree = await propagatedTree(repo, base, files);
  assert.notEqual(tree, base);
  assert.equal(gitIn(dir, 'cat-file', 'blob', `${tree}:src/train.mjs`), 'new');
  assert.match(gitIn(dir, 'ls-tree', tree, 'run.sh'), /^100755 /);
  const snap = await materialise(repo, 'RUN1', base, files, ['src']);
  assert.equal(readFileSync(join(snap.dir, 'src', 'train.mjs'), 'utf8'), 'new\n');
  assert.equal(statSync(join(snap.dir, 'run.sh')).mode & 0o111, 0o111);
  assert.equal(readFileSync(join(snap.dir, 'README'), 'utf8'), 'r\n');
  assert.ok(lstatSync(join(snap.dir, 'node_modules')).isSymbolicLink());
  assert.equal(readlinkSync(join(snap.dir, 'node_modules')), join(dir, 'node_modules'));
  assert.equal(readlinkSync(join(snap.dir, 'src', 'node_modules')), join(dir, 'src', 'node_modules'));
  assert.ok(snap.dir.startsWith(join(dir, '.git', 'flor', 'replay')));
  assert.deepEqual(readFileSync(join(dir, '.git', 'index')), indexBefore);
  assert.equal(gitIn(dir, 'status', '--porcelain'), '');
  // a second materialisation of the same tree reuses the directory
  const again = await materialise(repo, 'RUN1', base, files, ['src']);
  assert.equal(again.dir, snap.dir);
  assert.ok(existsSync(join(snap.dir, '.flor-snapshot')));
});

test('recordsEnd: the last record of a run, its loop iterations and occurrence, and whether it follows the loops', () => {
  const E = (e: number, s?: number): Array<[string, number]> => (s === undefined ? [['epoch', e]] : [['epoch', e], ['step', s]]);
  assert.equal(recordsEnd(cols([])), null);
  assert.deepEqual(recordsEnd(cols([['lr', [], 1], ['loss', E(0, 0), 3], ['loss', E(0, 1), 2], ['loss', E(1, 0), 1], ['loss', E(1, 0), 0.5]])), {
    name: 'loss', at: [['epoch', 1], ['step', 0]], occurrence: 1, afterLoops: false,
  });
  assert.deepEqual(recordsEnd(cols([['lr', [], 1], ['acc', E(0), 0.5], ['final', [], 2], ['final', [], 3]])), { name: 'final', at: [], occurrence: 1, afterLoops: true });
  assert.deepEqual(recordsEnd(cols([['lr', [], 1], ['lr', [], 2]])), { name: 'lr', at: [], occurrence: 1, afterLoops: false });
});
