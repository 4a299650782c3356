/**
 * A small recorded history for query tests: the same script run four times over two commits,
 * one run dirty, one failed, plus a replay segment on the first run. Values are deterministic so
 * tests can compute what every query must return.
 */
import { replayOfEpoch1 } from './segments.js';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyRepo, makeRepo, runNode, flor, gitIn, sh, ROOT } from './repo.js';
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

/**
 * The history, recorded once per build of dist/ and copied for each test file that asks (six
 * files read it; recording it costs four runs, each a node process and its capturer). The
 * recording is made in a directory of its own, then renamed into place under a name keyed by this
 * checkout, Node, dist/'s build and this recipe; a rename is atomic, so a template that exists is
 * complete. Two files recording at the same moment never wait for each other: the one whose
 * rename comes second drops its own and copies the first's. A copy is the same repository (same
 * run ids and writer id) in a temp dir of the caller's.
 */
export async function recordHistory(): Promise<History> {
  const template = join(tmpdir(), `flor-history-${templateKey()}`);
  if (!existsSync(join(template, 'history.json'))) {
    const made = await recordInto(mkdtempSync(join(tmpdir(), 'flor-history-new-')));
    try {
      renameSync(made, template);
    } catch {
      rmSync(made, { recursive: true, force: true }); // another file's recording got there first
    }
    pruneTemplates(template);
  }
  const dir = copyRepo(join(template, 'repo'));
  const { c1, c2, ids } = JSON.parse(readFileSync(join(template, 'history.json'), 'utf8')) as Omit<History, 'dir'>;
  return { dir, c1, c2, ids };
}

/** Records the history, then copies it to `root`/repo, its ids and commits to `root`/history.json. */
async function recordInto(root: string): Promise<string> {
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
  sh('cp', ['-a', dir, join(root, 'repo')], root);
  writeFileSync(join(root, 'history.json'), JSON.stringify({ c1, c2, ids, root: ROOT }));
  return root;
}

/** This checkout, Node's version, the newest module of dist/ and the recipe (this file and segments.ts). */
function templateKey(): string {
  const h = createHash('sha256').update(`${ROOT}\0${process.version}\0${newestMtime(join(ROOT, 'dist'))}`);
  for (const f of ['history.ts', 'segments.ts']) h.update(readFileSync(join(ROOT, 'test', 'helpers', f)));
  return h.digest('hex').slice(0, 16);
}

/** Of the .js files only: the CLI writes its V8 code cache under dist/ as it runs. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.js')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Templates of this checkout's earlier builds are removed once 10 minutes old (a file still
 * copying one started before the build), any other a day old (another checkout's current one is
 * kept).
 */
function pruneTemplates(keep: string): void {
  const now = Date.now();
  for (const n of readdirSync(tmpdir())) {
    const p = join(tmpdir(), n);
    if (!n.startsWith('flor-history-') || p === keep) continue;
    try {
      const age = now - statSync(p).mtimeMs;
      const ours = existsSync(join(p, 'history.json')) && (JSON.parse(readFileSync(join(p, 'history.json'), 'utf8')) as { root?: string }).root === ROOT;
      if (age > 24 * 3600_000 || (ours && age > 10 * 60_000)) rmSync(p, { recursive: true, force: true });
    } catch {
      // removed meanwhile by another file's prune
    }
  }
}

/** The built CLI in a process of its own: stdout, stderr and the exit code (never throws on exit 2). */
export async function florIn(dir: string, args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const r = flor(dir, args, { allowFail: true });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
