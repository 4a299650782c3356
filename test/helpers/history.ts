/**
 * A small recorded history for query tests: the same script run four times over two commits,
 * one run dirty, one failed, plus a replay segment on the first run. Values are deterministic so
 * tests can compute what every query must return.
 */
import { replayOfEpoch1 } from './segments.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepo, runNode, flor, gitIn } from './repo.js';
import { requireRepoSync } from '../../src/store/git.js';
import { appendSegment } from '../../src/store/ledger.js';
import { encodeSegment, makeSegment } from '../../src/store/segment.js';

export const SCRIPT = (scale: number) => `import { flor } from 'git-flor';
const lr = flor.arg('lr', 0.5);
const fail = flor.arg('fail', 0);
flor.log('note', 'scale ${scale}');
for (const epoch of flor.loop('epoch', [0, 1])) {
  for (const step of flor.loop('step', [0, 1])) {
    flor.log('loss', ${scale} * lr / (1 + epoch * 2 + step));
  }
  flor.log('acc', epoch === 0 ? 0.25 : 0.5 + lr);
}
if (fail) throw new Error('boom');
`;

/** loss at (epoch, step) for a run of this scale and lr. */
export const loss = (scale: number, lr: number, epoch: number, step: number) => (scale * lr) / (1 + epoch * 2 + step);

export interface History {
  dir: string;
  c1: string;
  c2: string;
  /** run ids, oldest first: v1 lr 0.1; v1 lr 0.5; v2 dirty lr 0.2; v2 dirty lr 0.2 failed */
  ids: string[];
}

export async function recordHistory(): Promise<History> {
  const dir = makeRepo({ files: { 'train.mjs': SCRIPT(1) } });
  const c1 = gitIn(dir, 'rev-parse', 'HEAD');
  runNode(dir, 'train.mjs', ['--lr', '0.1']);
  runNode(dir, 'train.mjs');
  writeFileSync(join(dir, 'train.mjs'), SCRIPT(2));
  gitIn(dir, 'commit', '-qam', 'v2');
  const c2 = gitIn(dir, 'rev-parse', 'HEAD');
  writeFileSync(join(dir, 'train.mjs'), SCRIPT(2) + '// experiment\n');
  runNode(dir, 'train.mjs', ['--lr=0.2']);
  runNode(dir, 'train.mjs', ['--lr=0.2', '--fail', '1'], { allowFail: true });
  const ids = (JSON.parse(flor(dir, ['runs', '--format', 'json']).stdout) as Array<{ run: string }>).map((r) => r.run);
  // What a replay of the first run's epoch 1 would write: grad_norm (new), loss again (kept out).
  const records = replayOfEpoch1();
  const prov = { statements: ['grad_norm'], code: c1, time: '2026-11-23T00:00:00.000Z', writer: 'test', segments: [[1, 2]] as Array<[number, number]> };
  await appendSegment(requireRepoSync(dir), ids[0]!, 'replay-1', encodeSegment(makeSegment(ids[0]!, 'replay', records, prov)));
  return { dir, c1, c2, ids };
}

/** The built CLI in a process of its own: stdout, stderr and the exit code (never throws on exit 2). */
export async function florIn(dir: string, args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const r = flor(dir, args, { allowFail: true });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
