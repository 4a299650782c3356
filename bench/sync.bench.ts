/**
 * Sync benchmarks:
 *  - an idle post-commit hook: `git commit` in a clone with flor's hooks vs one without, same run,
 *    interleaved; target <= 100 ms extra per commit.
 *  - fetch of 1,000 runs' history: a ledger of 1,000 runs (one commit each, as appendRun makes it)
 *    pushed from one clone; `git flor fetch` (whole CLI process: fetch + notes rebuild) in another
 *    clone vs a plain `git fetch` of the same refs in a third. Target <= 3 s.
 *    The ledger is written with one `git fast-import` stream in the store's tree layout (run.msgpack
 *    from the store's encodeRunMeta, segments from encodeSegment): 1,000 appendRun calls took 142 s
 *    here, which would make the bench about writing, not fetching. readableRuns on the fetching clone
 *    must then find exactly 1,000 valid runs, so a layout mistake fails the bench.
 * Real Git repositories in temp dirs; the built dist/ (run `npx tsc` first).
 */
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { makeRepo, cleanup, flor, gitIn, sh, tempDir, testEnv } from '../test/helpers/repo.js';
import { runMeta, repoOf } from '../test/helpers/sync.js';
import { closeReaders } from '../src/store/objects.js';
import { encodeRunMeta, readableRuns } from '../src/store/ledger.js';
import { encodeSegment } from '../src/store/segment.js';
import { segment } from '../test/helpers/segments.js';
import { FLOR_IDENT } from '../src/store/git.js';
import { ulid } from '../src/runtime/ulid.js';

/** `n` runs on HEAD, one ledger commit each, in one fast-import stream. */
async function writeLedger(dir: string, n: number): Promise<void> {
  const { meta, codeTree } = await runMeta(dir);
  const ref = `refs/flor/ledgers/${meta.writer}`;
  const parts: Buffer[] = [];
  const data = (b: Buffer): void => void parts.push(Buffer.from(`data ${b.length}\n`), b, Buffer.from('\n'));
  const t = Math.floor(Date.now() / 1000);
  for (let i = 0; i < n; i++) {
    const id = ulid(Date.now() + i);
    const m = { ...meta, id, args: { lr: 0.001 * i } };
    const dirPath = `runs/${id.slice(0, 2)}/${id}`;
    parts.push(Buffer.from(`commit ${ref}\nmark :${i + 1}\ncommitter ${FLOR_IDENT.GIT_COMMITTER_NAME} <${FLOR_IDENT.GIT_COMMITTER_EMAIL}> ${t} +0000\n`));
    data(Buffer.from(`run ${id} ok train.js (1 records)`));
    if (i > 0) parts.push(Buffer.from(`from :${i}\n`));
    parts.push(Buffer.from(`M 100644 inline ${dirPath}/run.msgpack\n`));
    data(encodeRunMeta(m));
    parts.push(Buffer.from(`M 040000 ${codeTree} ${dirPath}/code\n`));
    parts.push(Buffer.from(`M 100644 inline ${dirPath}/logs/forward.msgpack\n`));
    data(
      encodeSegment(segment(id, [[[], 'loss', 1 / (i + 1)]])),
    );
    parts.push(Buffer.from('\n'));
  }
  const r = spawnSync('git', ['fast-import', '--quiet'], { cwd: dir, env: testEnv(), input: Buffer.concat(parts) });
  if (r.status !== 0) throw new Error(`git fast-import failed: ${r.stderr.toString()}`);
}

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
  await writeLedger(src, RUNS);
  const writeMs = performance.now() - t0;
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
  const fetched = await readableRuns(repoOf(dst));
  if (fetched.length !== RUNS) throw new Error(`fetched ${fetched.length} runs, expected ${RUNS}`);
  console.log(
    `BENCH sync.fetch-1000-runs: ${florMs.toFixed(0)} ms for git flor fetch incl. notes rebuild (${(florMs / plainMs).toFixed(1)}x vs plain git fetch ${plainMs.toFixed(0)} ms; ledger written in ${writeMs.toFixed(0)} ms, target <= ${FETCH_TARGET_MS} ms) ${florMs <= FETCH_TARGET_MS ? 'PASS' : 'FAIL'}`,
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
