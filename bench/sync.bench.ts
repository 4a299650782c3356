/**
 * Sync benchmarks (issue 5):
 *  - an idle post-commit hook: `git commit` in a clone with flor's hooks vs one without, same run,
 *    interleaved; target <= 100 ms extra per commit.
 *  - fetch of 1,000 runs' history: 1,000 runs appended with the store's appendRun into one clone
 *    and pushed; `git flor fetch` (whole CLI process: fetch + notes rebuild) in another clone vs a
 *    plain `git fetch` of the same refs in a third. Target <= 3 s.
 * Real Git repositories in temp dirs; the built dist/ (run `npx tsc` first).
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeRepo, cleanup, flor, gitIn, sh, tempDir } from '../test/helpers/repo.js';
import { addRun } from '../test/sync-support.js';
import { closeReaders } from '../src/store/objects.js';

const COMMITS = 15;
const RUNS = 1000;
const HOOK_TARGET_MS = 100;
const FETCH_TARGET_MS = 3000;

function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function benchHook(): void {
  const withFlor = makeRepo({ files: { 'a.txt': 'a\n' } });
  const plain = makeRepo({ files: { 'a.txt': 'a\n' } });
  flor(withFlor, ['init']);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < COMMITS; i++) {
    a.push(timed(() => gitIn(withFlor, 'commit', '-q', '--allow-empty', '-m', `c${i}`)));
    b.push(timed(() => gitIn(plain, 'commit', '-q', '--allow-empty', '-m', `c${i}`)));
  }
  const extra = median(a) - median(b);
  console.log(
    `BENCH sync.idle-post-commit: +${extra.toFixed(1)} ms per commit (${(median(a) / median(b)).toFixed(2)}x vs plain git commit ${median(b).toFixed(1)} ms, target <= +${HOOK_TARGET_MS} ms) ${extra <= HOOK_TARGET_MS ? 'PASS' : 'FAIL'}`,
  );
}

async function benchFetch(): Promise<void> {
  const root = tempDir('flor-bench-remote-');
  const bare = join(root, 'r.git');
  gitIn(root, 'init', '-q', '--bare', bare);
  const src = makeRepo({ files: { 'train.js': 'console.log(1)\n' } });
  gitIn(src, 'remote', 'add', 'origin', bare);
  const t0 = performance.now();
  for (let i = 0; i < RUNS; i++) await addRun(src, { loss: i });
  const writeMs = performance.now() - t0;
  closeReaders();
  flor(src, ['push', 'origin']);
  gitIn(src, 'push', '-q', '--no-verify', 'origin', 'main');

  const dst = makeRepo({ files: { 'b.txt': 'b\n' } });
  gitIn(dst, 'remote', 'add', 'origin', bare);
  const base = makeRepo({ files: { 'c.txt': 'c\n' } });
  gitIn(base, 'remote', 'add', 'origin', bare);
  const plainMs = timed(() => sh('git', ['fetch', '-q', '--no-tags', 'origin', '+refs/flor/ledgers/*:refs/flor/remotes/origin/ledgers/*'], base));
  const florMs = timed(() => flor(dst, ['fetch', 'origin']));
  const writer = gitIn(src, 'config', 'flor.writer');
  if (gitIn(dst, 'rev-parse', `refs/flor/remotes/origin/ledgers/${writer}`) !== gitIn(src, 'rev-parse', `refs/flor/ledgers/${writer}`)) {
    throw new Error('git flor fetch did not bring the ledger');
  }
  console.log(
    `BENCH sync.fetch-1000-runs: ${florMs.toFixed(0)} ms for git flor fetch incl. notes rebuild (${(florMs / plainMs).toFixed(1)}x vs plain git fetch ${plainMs.toFixed(0)} ms; writing the runs took ${(writeMs / 1000).toFixed(1)} s, target <= ${FETCH_TARGET_MS} ms) ${florMs <= FETCH_TARGET_MS ? 'PASS' : 'FAIL'}`,
  );
}

export async function run(): Promise<void> {
  try {
    benchHook();
    await benchFetch();
  } finally {
    closeReaders();
    cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
