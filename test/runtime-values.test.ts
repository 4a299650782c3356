/**
 * A log call never breaks the user's program, and what each JS value becomes: recorded by a real
 * script in a real repository, read back through the view.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { logView } from '../src/query/runs.js';
import { rowObjects } from '../src/query/table.js';
import { requireRepoSync } from '../src/store/git.js';
import { cleanup, makeRepo, runNode } from './helpers/repo.js';

after(cleanup);

const SCRIPT = `import { flor } from 'git-flor';
const throwing = new Proxy({}, { ownKeys() { throw new Error('trap says no'); }, getPrototypeOf() { throw new Error('proto trap'); } });
const getter = { ok: 1, get bad() { throw new TypeError('getter broke'); } };
const err = Object.assign(new TypeError('boom'), { code: 'E_BOOM' });
let deep = { leaf: true };
for (let i = 0; i < 70; i++) deep = { d: deep };
const circular = { name: 'c' };
circular.self = circular;
for (const e of flor.loop('epoch', [0, 1])) {
  flor.log('baddate', new Date(NaN));
  flor.log('proxy', throwing);
  flor.log('getter', getter);
  flor.log('deep', deep);
  flor.log('circular', circular);
  flor.log('after', e);
}
flor.log('err', err);
flor.log('re', /a+b/gi);
flor.log('negzero', -0);
flor.log('boxed', [new Number(3), new String('ab')]);
flor.log('bytes', new Uint8Array([1, 2, 3]).buffer);
console.log('alive');
`;

let made: { dir: string; stdout: string; stderr: string } | null = null;
function recorded() {
  if (made) return made;
  const dir = makeRepo({ files: { 'values.mjs': SCRIPT } });
  const r = runNode(dir, 'values.mjs');
  return (made = { dir, stdout: r.stdout, stderr: r.stderr });
}

async function values(name: string) {
  const { table, known, missing } = await logView(requireRepoSync(recorded().dir), { names: [name] });
  return { rows: rowObjects(table).map((r) => r[name]), known, missing };
}

test('unstorable values (invalid Date, throwing Proxy, throwing getter) are recorded as marked errors; the run goes on', async () => {
  const { stdout } = recorded();
  assert.equal(stdout, 'alive\n');
  const bad = await values('baddate');
  assert.deepEqual(bad.missing, []);
  assert.deepEqual(bad.rows, [
    { $flor: 'unstorable', error: 'RangeError: Invalid time value' },
    { $flor: 'unstorable', error: 'RangeError: Invalid time value' },
  ]);
  assert.ok(bad.known.includes('baddate'));
  assert.deepEqual((await values('proxy')).rows[0], { $flor: 'unstorable', error: 'Error: proto trap' });
  // Only the part that cannot be read is marked; the rest of the object is kept.
  assert.deepEqual((await values('getter')).rows[0], { ok: 1, bad: { $flor: 'unstorable', error: 'TypeError: getter broke' } });
  assert.deepEqual((await values('after')).rows, [0, 1]);
});

test('one warning on stderr per name, however often the name is logged', () => {
  const lines = recorded().stderr.split('\n').filter((l) => l.startsWith('git flor:'));
  assert.deepEqual(
    lines.map((l) => /logged as '(\w+)'/.exec(l)?.[1]),
    ['baddate', 'proxy', 'getter', 'deep', 'circular'],
  );
  assert.match(lines[0]!, /could not be read \(RangeError: Invalid time value\); it is recorded as an error value/);
  assert.match(lines[3]!, /nested deeper than 64 levels \(or is circular\); it is cut there, as "\[too deep\]"/);
});

test('Error keeps name, message, stack and its own fields; RegExp is its text; -0 stays -0; boxed primitives and ArrayBuffers keep their content', async () => {
  const e = (await values('err')).rows[0] as Record<string, unknown>;
  assert.equal(e.name, 'TypeError');
  assert.equal(e.message, 'boom');
  assert.equal(e.code, 'E_BOOM');
  assert.match(e.stack as string, /^TypeError: boom\n\s+at /);
  assert.deepEqual((await values('re')).rows, ['/a+b/gi']);
  assert.ok(Object.is((await values('negzero')).rows[0], -0));
  assert.deepEqual((await values('boxed')).rows, [[3, 'ab']]);
  assert.deepEqual((await values('bytes')).rows, [new Uint8Array([1, 2, 3])]);
});

test('values nested deeper than 64 levels are cut at the 64th, circular ones too', async () => {
  let v = (await values('deep')).rows[0] as Record<string, unknown> | string;
  let depth = 0;
  while (typeof v === 'object' && v !== null && 'd' in v) {
    v = v.d as Record<string, unknown>;
    depth++;
  }
  assert.equal(v, '[too deep]');
  assert.equal(depth, 65);
  const c = (await values('circular')).rows[0] as Record<string, unknown>;
  assert.equal(c.name, 'c');
  assert.equal((c.self as Record<string, unknown>).name, 'c');
});
