/**
 * Capture of a run with 1M records (a journal of 10 chunks, as the runtime writes it) into the
 * ledger, the way a finishing run does it: spawn `capture-main` on the journal and wait.
 * Target <= 1.5 s. Baseline, measured in the same run: `git hash-object -w` of the same segment
 * bytes (the unavoidable cost of putting that many bytes into Git).
 */
import { makeMeta } from '../test/helpers/store-fixtures.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openJournal, journalPath, readJournal } from '../src/store/journal.js';
import { encodeSegment, makeSegment } from '../src/store/segment.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TARGET_MS = 1500;

function sh(cmd: string, args: string[], cwd: string, input?: Buffer): string {
  const r = spawnSync(cmd, args, { cwd, input, maxBuffer: 1 << 28, env: { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString().trim();
}

const B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
function ulid(): string {
  let t = '';
  let x = Date.now();
  for (let i = 0; i < 10; i++) (t = B32[x % 32]! + t), (x = Math.floor(x / 32));
  for (let i = 0; i < 16; i++) t += B32[Math.floor(Math.random() * 32)];
  return t;
}

/** 100 epochs x 10,000 steps, one `loss` per step: 1M records, 1,000,100 frames, 10 chunks. */
function writeJournal(commonDir: string, id: string, tree: string, commit: string): void {
  const w = openJournal(commonDir, id);
  w.append({
    t: 'start',
    meta: makeMeta({ id, commit }),
    codeTree: tree,
    pid: process.pid,
    host: hostname(),
  });
  const EPOCHS = 100;
  const STEPS = 10_000;
  let frames = 0;
  for (let chunk = 0; chunk < 10; chunk++) {
    const epochs = EPOCHS / 10;
    const nf = epochs * (STEPS + 1);
    const n = epochs * STEPS;
    const parent = new Int32Array(nf);
    const loop = new Int32Array(nf);
    const iter = new Int32Array(nf);
    const name = new Int32Array(n);
    const frame = new Int32Array(n);
    const num = new Float64Array(n);
    let f = 0;
    let r = 0;
    for (let e = 0; e < epochs; e++) {
      const ef = frames + f;
      parent[f] = -1;
      loop[f] = 0;
      iter[f++] = chunk * epochs + e;
      for (let s = 0; s < STEPS; s++) {
        parent[f] = ef;
        loop[f] = 1;
        iter[f] = s;
        frame[r] = frames + f++;
        num[r++] = Math.random() / (1 + s);
      }
    }
    frames += nf;
    w.append({ t: 'chunk', names: chunk ? [] : ['loss'], loops: chunk ? [] : ['epoch', 'step'], frames: { parent, loop, iter }, name, frame, num, kind: new Uint8Array(n), other: [] });
  }
  w.append({ t: 'end', status: 'ok', exitCode: 0, error: null, end: new Date().toISOString(), loops: [{ name: 'epoch', parent: null, iterations: EPOCHS }, { name: 'step', parent: 'epoch', iterations: STEPS }], outerMs: [], checkpointing: [] });
  w.close();
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'flor-bench-capture-'));
  try {
    sh('git', ['init', '-q', '-b', 'main'], dir);
    writeFileSync(join(dir, 'train.js'), 'console.log(1)\n');
    sh('git', ['add', '-A'], dir);
    sh('git', ['commit', '-q', '-m', 'x'], dir);
    const commit = sh('git', ['rev-parse', 'HEAD'], dir);
    const tree = sh('git', ['rev-parse', 'HEAD^{tree}'], dir);
    const commonDir = join(dir, '.git');

    // Baseline: the segment bytes this journal becomes, written by plain `git hash-object -w`.
    const baseId = ulid();
    writeJournal(commonDir, baseId, tree, commit);
    const seg = encodeSegment(makeSegment(baseId, 'forward', readJournal(journalPath(commonDir, baseId)).records));
    rmSync(journalPath(commonDir, baseId));
    let t = performance.now();
    sh('git', ['hash-object', '-w', '--stdin'], dir, seg);
    const baseMs = performance.now() - t;

    const id = ulid();
    writeJournal(commonDir, id, tree, commit);
    t = performance.now();
    const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'store', 'capture-main.js'), journalPath(commonDir, id)], { cwd: dir });
    const ms = performance.now() - t;
    if (r.status !== 0) throw new Error(`capture-main failed: ${r.stderr}`);
    const landed = sh('git', ['for-each-ref', '--format=%(refname)', 'refs/flor/ledgers'], dir);
    if (!landed) throw new Error('no ledger after capture');
    const mb = (seg.length / 1e6).toFixed(1);
    console.log(
      `BENCH capture-1M-records: ${ms.toFixed(0)} ms (${(ms / baseMs).toFixed(2)}x vs git hash-object -w of the ${mb} MB segment = ${baseMs.toFixed(0)} ms, target <= ${TARGET_MS} ms) ${ms <= TARGET_MS ? 'PASS' : 'FAIL'}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await run();
