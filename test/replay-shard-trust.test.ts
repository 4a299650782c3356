/**
 * Whose plan a shard's segments belong to. A plan's `writer` field is the saver's word: a clone
 * that trusts that writer counts the plan's segments only when the writer's own ledger vouches
 * for the plan, as the ledger of a run's writer is what makes the run that writer's.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, gitIn, makeRepo } from './helpers/repo.js';
import { ulid } from './helpers/store-fixtures.js';
import { findRepoSync } from '../src/store/git.js';
import { planVouchers, savePlan, type PlanDoc } from '../src/store/plans.js';
import { makeSegment } from '../src/store/segment.js';
import { segmentCounter } from '../src/replay/shard.js';
import type { Trust } from '../src/store/trust.js';
import type { RecordColumns } from '../src/store/records.js';
import type { SegmentRef } from '../src/store/ledger.js';

after(cleanup);

const noRecords = (): RecordColumns => ({
  names: [], loops: [], frames: { parent: new Int32Array(0), loop: new Int32Array(0), iter: new Int32Array(0) },
  name: new Int32Array(0), frame: new Int32Array(0), num: new Float64Array(0), kind: new Uint8Array(0), other: [],
});

test("a plan's segments count for its saver's trusters only when the saver's own ledger vouches for the plan", async () => {
  const dir = makeRepo({ files: { 'train.js': 'console.log(1)\n' } });
  const repo = findRepoSync(dir)!;
  const from = gitIn(dir, 'rev-parse', 'HEAD').trim();
  const run = ulid();
  const doc = (time: string): PlanDoc => ({
    format: 'flor-plan', version: 1, writer: 'alice', time, names: ['acc'], from, tips: {}, shards: 1,
    runs: [{ run, names: ['acc'] }], tasks: [{ run, start: 0, end: 2, runToEnd: true, estMs: 5, shard: 0 }],
  });
  // alice saves a plan in her clone; mallory saves one that claims to be alice's.
  gitIn(dir, 'config', 'flor.writer', 'alice');
  const real = await savePlan(repo, doc('2026-01-01T00:00:00.000Z'));
  gitIn(dir, 'config', 'flor.writer', 'mallory');
  const forged = await savePlan(repo, doc('2026-01-02T00:00:00.000Z'));
  assert.equal(forged.writer, 'alice');
  assert.deepEqual((await planVouchers(repo, real)).map((l) => l.ref), ['refs/flor/ledgers/alice']);
  assert.deepEqual(await planVouchers(repo, forged), []);

  // This clone (writer me) trusts alice, not the shard that wrote the segments.
  gitIn(dir, 'config', 'flor.writer', 'me');
  const trust: Trust = { own: 'me', writers: new Set(['alice']), all: false, from: new Map([['alice', 'config']]) };
  const shardSeg = (plan: string): { ref: SegmentRef; seg: ReturnType<typeof makeSegment> } => ({
    ref: { name: `replay-${plan}`, oid: '0'.repeat(40), ledger: 'refs/flor/remotes/origin/ledgers/shard1', writer: 'shard1' },
    seg: makeSegment(run, 'replay', noRecords(), { statements: ['acc'], code: 'a'.repeat(40), time: '2026-01-03T00:00:00.000Z', writer: 'shard1', segments: [[0, 2]], plan }),
  });
  const count = segmentCounter(repo, trust);
  assert.equal((await count([shardSeg(real.id)])).segments.length, 1, "alice's plan, vouched for in her ledger: its segment counts");
  assert.equal((await count([shardSeg(forged.id)])).segments.length, 0, 'a plan naming alice that her ledger does not hold counts for nothing');
  // Not trusting alice, neither counts.
  const alone = segmentCounter(repo, { ...trust, writers: new Set(), from: new Map() });
  assert.equal((await alone([shardSeg(real.id)])).segments.length, 0);
});
