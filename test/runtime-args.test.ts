/** flor.arg parsing: pure, no processes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArg, recordableArg } from '../src/runtime/args.js';
import { isFlorError } from '../src/errors.js';

function badArg(fn: () => unknown, name: string, why: RegExp): void {
  assert.throws(fn, (e: unknown) => isFlorError(e, 'BAD_ARG') && e.message.includes(`--${name}`) && why.test(e.message));
}

test('absent: the default, whatever its type', () => {
  assert.equal(parseArg('lr', 0.1, ['--other', '3']), 0.1);
  assert.equal(parseArg('name', 'x', []), 'x');
  assert.equal(parseArg('flag', false, ['pos']), false);
  assert.deepEqual(parseArg('layers', [1, 2], []), [1, 2]);
});

test('numbers: --x v and --x=v, negatives, last one wins', () => {
  assert.equal(parseArg('lr', 0.1, ['--lr', '0.02']), 0.02);
  assert.equal(parseArg('lr', 0.1, ['--lr=3e-4']), 3e-4);
  assert.equal(parseArg('lr', 0.1, ['--lr', '-0.5']), -0.5);
  assert.equal(parseArg('epochs', 3, ['--epochs', '5', '--epochs=7']), 7);
  badArg(() => parseArg('lr', 0.1, ['--lr', 'fast']), 'lr', /not a number/);
  badArg(() => parseArg('lr', 0.1, ['--lr=']), 'lr', /not a number/);
});

test('missing value is an error naming the argument', () => {
  badArg(() => parseArg('lr', 0.1, ['--lr']), 'lr', /missing value/);
  badArg(() => parseArg('lr', 0.1, ['--lr', '--epochs', '3']), 'lr', /missing value/);
  badArg(() => parseArg('name', 'a', ['--name']), 'name', /missing value/);
});

test('booleans: bare flag, --no-flag, explicit words', () => {
  assert.equal(parseArg('fast', false, ['--fast']), true);
  assert.equal(parseArg('fast', true, ['--no-fast']), false);
  assert.equal(parseArg('fast', false, ['--fast=true']), true);
  assert.equal(parseArg('fast', true, ['--fast', 'false']), false);
  // a bare flag does not swallow a positional argument that is not a boolean word
  assert.equal(parseArg('fast', false, ['--fast', 'data.csv']), true);
  badArg(() => parseArg('fast', false, ['--fast=maybe']), 'fast', /not a boolean/);
});

test('strings are taken as given', () => {
  assert.equal(parseArg('opt', 'sgd', ['--opt', 'adam']), 'adam');
  assert.equal(parseArg('opt', 'sgd', ['--opt=a=b']), 'a=b');
  assert.equal(parseArg('opt', 'sgd', ['--opt', '-1']), '-1');
});

test('JSON for arrays and objects, checked against the default kind', () => {
  assert.deepEqual(parseArg('layers', [1], ['--layers', '[64,32]']), [64, 32]);
  assert.deepEqual(parseArg('cfg', { a: 1 }, ['--cfg={"a":2,"b":[true]}']), { a: 2, b: [true] });
  badArg(() => parseArg('layers', [1], ['--layers', '{"a":1}']), 'layers', /JSON array/);
  badArg(() => parseArg('cfg', { a: 1 }, ['--cfg', '[1]']), 'cfg', /JSON object/);
  badArg(() => parseArg('cfg', { a: 1 }, ['--cfg', '{nope']), 'cfg', /not JSON/);
});

test('options after -- are not ours; other argv is untouched', () => {
  const argv = ['--lr', '0.5', '--', '--lr', '9'];
  assert.equal(parseArg('lr', 0.1, argv), 0.5);
  assert.deepEqual(argv, ['--lr', '0.5', '--', '--lr', '9']);
  assert.equal(parseArg('l', 1, ['--lr', '2']), 1, 'a prefix of another option is not a match');
});

test('a name that cannot be an option is refused', () => {
  assert.throws(() => parseArg('bad name', 1, []), (e: unknown) => isFlorError(e, 'BAD_ARG_NAME'));
  assert.throws(() => parseArg('', 1, []), (e: unknown) => isFlorError(e, 'BAD_ARG_NAME'));
});

test('an arg is recorded as it was when read: later changes to the object do not reach the record', () => {
  const cfg = { lr: 0.1, layers: [1, 2], w: Float32Array.of(1, 2) };
  const rec = recordableArg(cfg) as { lr: number; layers: number[]; w: Float32Array };
  cfg.lr *= 0.5;
  cfg.layers.push(3);
  cfg.w[0] = 9;
  assert.deepEqual(rec, { lr: 0.1, layers: [1, 2], w: Float32Array.of(1, 2) });
  assert.equal(recordableArg(undefined), null);
  assert.equal(recordableArg(3), 3);
});
