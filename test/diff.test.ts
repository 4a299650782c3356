/** `git flor diff` on a real recorded history. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup } from './helpers/repo.js';
import { florIn } from './helpers/cli.js';
import { recordHistory, loss, type History } from './helpers/history.js';

let h: History;
before(async () => {
  h = await recordHistory();
});
after(() => cleanup());

test('diff --format json: args, code trees, status, and last/min/max of every name with the difference', async () => {
  const r = await florIn(h.dir, ['diff', h.ids[0]!.slice(0, 12), h.ids[2]!, '--format', 'json']);
  assert.equal(r.status, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  assert.equal(d.a.run, h.ids[0]);
  assert.equal(d.b.run, h.ids[2]);
  assert.deepEqual([d.a.version, d.b.version, d.a.dirty, d.b.dirty, d.a.status, d.b.status], [h.c1.slice(0, 7), h.c2.slice(0, 7), false, true, 'ok', 'ok']);
  assert.equal(d.a.duration, Date.parse(d.a.end) - Date.parse(d.a.time));
  assert.deepEqual(d.changed, ['version', 'commit', 'dirty']);
  assert.deepEqual(d.args, [{ name: 'lr', a: 0.1, b: 0.2 }]);
  // The trees that ran: B is dirty, so its code is its commit plus the uncommitted line.
  assert.equal(d.code.same, false);
  assert.deepEqual(d.code.files, [{ path: 'train.mjs', added: 3, removed: 2 }]);
  assert.match(d.code.patch, /^-flor\.log\('note', 'scale 1'\);$/m);
  assert.match(d.code.patch, /^\+\/\/ experiment$/m);
  const byName = Object.fromEntries(d.names.map((n: { name: string }) => [n.name, n]));
  assert.deepEqual(Object.keys(byName), ['acc', 'grad_norm', 'loss', 'note']);
  assert.deepEqual(byName.loss, {
    name: 'loss',
    // the replay's re-executed loss (999) never replaces a recorded one
    a: { last: loss(1, 0.1, 1, 1), min: loss(1, 0.1, 1, 1), max: loss(1, 0.1, 0, 0), count: 4 },
    b: { last: loss(2, 0.2, 1, 1), min: loss(2, 0.2, 1, 1), max: loss(2, 0.2, 0, 0), count: 4 },
    delta: { last: loss(2, 0.2, 1, 1) - loss(1, 0.1, 1, 1), min: loss(2, 0.2, 1, 1) - loss(1, 0.1, 1, 1), max: loss(2, 0.2, 0, 0) - loss(1, 0.1, 0, 0) },
  });
  assert.deepEqual(byName.acc.a, { last: 0.5 + 0.1, min: 0.25, max: 0.5 + 0.1, count: 2 });
  assert.deepEqual(byName.grad_norm, { name: 'grad_norm', a: { last: 0.5, min: 0.5, max: 0.5, count: 1 }, b: null, delta: { last: null, min: null, max: null } });
  assert.deepEqual(byName.note, { name: 'note', a: { last: 'scale 1', min: null, max: null, count: 1 }, b: { last: 'scale 2', min: null, max: null, count: 1 }, delta: { last: null, min: null, max: null } });
});

test('diff text: both runs, what differs, the names side by side, then the patch; same tree says so', async () => {
  const r = await florIn(h.dir, ['diff', h.ids[2]!, h.ids[3]!]);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0]!, /^\s+run\s+version\s+status\s+duration\s+time\s+records$/);
  assert.match(lines[1]!, new RegExp(`^A\\s+${h.ids[2]}\\s+${h.c2.slice(0, 7)}\\+dirty\\s+ok\\s`));
  assert.match(lines[2]!, new RegExp(`^B\\s+${h.ids[3]}\\s+${h.c2.slice(0, 7)}\\+dirty\\s+failed\\s`));
  assert.match(r.stdout, /\ndiffer in: status; B took /);
  assert.match(r.stdout, /\nargs\nname\s+A\s+B\nfail\s+0\s+1\n/);
  assert.match(r.stdout, /\nloss\s+0\.1\s+0\.1\s+0\s+0\.1\s+0\.1\s+0\s+0\.4\s+0\.4\s+0\n/);
  assert.match(r.stdout, /\ncode: the same tree \([0-9a-f]{12}\)\n$/);
});

test('diff: an unknown run is exit 2 with a hint; an ambiguous prefix lists the candidates', async () => {
  const r = await florIn(h.dir, ['diff', h.ids[0]!, 'ZZZZ']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^git flor: no run matches ZZZZ\nhint: list runs with `git flor runs`\n$/);
  const amb = await florIn(h.dir, ['diff', '0', h.ids[0]!]);
  assert.equal(amb.status, 2);
  assert.match(amb.stderr, /^git flor: run prefix 0 matches 4 runs: /);
});
