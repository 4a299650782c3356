/** The README's first command: the demo must keep running end to end (rebuild first: npx tsc). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ROOT, sh, testEnv } from './helpers/repo.js';

test('fixtures/demo/demo.sh runs end to end and shows every run, the joined view and the hindsight column', () => {
  const r = sh('bash', [join(ROOT, 'fixtures/demo/demo.sh')], ROOT, { env: testEnv(), allowFail: true });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  // Into a pipe, neither the demo nor git flor writes escape codes.
  assert.doesNotMatch(r.stdout, /\x1b\[/);
  const out = r.stdout;
  const runsTable = out.split('$ git flor runs\n')[1]!.split('\n$ ')[0]!.trim().split('\n');
  assert.equal(runsTable.length, 1 + 7); // header + 3 versions x 2 runs + the dirty one
  assert.match(runsTable[0]!, /^run\s+version\s+time\s+status\s+epochs\s+lr\s+seed\s+last\(acc\)$/);
  assert.match(runsTable[7]!, /^[0-9A-Z]{8,25}\s+[0-9a-f]{7}\s+\S+\s+ok\s+2\s+0\.3\s+7\s+0\.\d+$/);
  // Deterministic training: v1 with lr 0.1 has these accuracies per epoch.
  assert.match(out, /\| [0-9A-Z]{26} \| [0-9a-f]{7} \| [^|]+ \| train\.mjs \| 0 \| 0\.1 \| 0\.09375 \|\n/);
  assert.match(out, /\| 2 \| 0\.3 \| 0\.859375 \|/);
  assert.match(out, /code that ran vs [0-9a-f]{7}:\n train\.mjs \| 2 \+-/);
  const hindsight = out.split('$ git flor log w acc --replay\n')[1]!.split('\n$ ')[0]!;
  const rows = hindsight.trim().split('\n').slice(1);
  assert.equal(rows.length, 6 * 3 + 2); // every epoch of every run, w filled by replay
  // replayed: w, and carried: w (today's statement, which no old version had)
  for (const row of rows) assert.match(row, /^[0-9A-Z]{8,25}\s+[0-9a-f]{7}\s+\S+\s+train\.mjs\s+\d\s+-?\d+\.\d+\s+[\d.]+\s+w\s+w$/);
  assert.match(r.stderr, /replayed w/);
});
