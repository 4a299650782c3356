/**
 * Shared by test/sync*.test.ts and bench/sync.bench.ts: runs written straight into a clone's
 * ledger with the store's appendRun (the capture path is the store's and runtime's to test), and a
 * smart-HTTP Git server (`git http-backend` behind a tiny Node server in its own process, so tests
 * may block on spawnSync while it serves).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireRepoSync, gitSync } from '../../src/store/git.js';
import type { RepoInfo } from '../../src/store/git.js';
import { appendRun, ensureWriter } from '../../src/store/ledger.js';
import { encodeSegment } from '../../src/store/segment.js';
import type { RunMeta } from '../../src/store/types.js';
import { tempDir } from './repo.js';
import { makeMeta } from './store-fixtures.js';
import { segment } from './segments.js';

export function repoOf(dir: string): RepoInfo {
  return requireRepoSync(dir);
}

/** Metadata of a finished run of `train.js` made on `commit` by this clone's writer. */
export async function runMeta(dir: string, opts: { commit?: string; script?: string } = {}): Promise<{ meta: RunMeta; codeTree: string }> {
  const repo = repoOf(dir);
  const writer = await ensureWriter(repo);
  const commit = opts.commit ?? gitSync(['rev-parse', 'HEAD'], { cwd: dir }).stdout.toString().trim();
  const codeTree = gitSync(['rev-parse', `${commit}^{tree}`], { cwd: dir }).stdout.toString().trim();
  const now = new Date().toISOString();
  const meta = makeMeta({ writer, start: now, end: now, script: opts.script ?? 'train.js', commit, status: 'ok', exitCode: 0, records: 1 });

  return { meta, codeTree };
}

/** Writes one finished run made on `commit` (default HEAD) into this clone's ledger; returns its id. */
export async function addRun(dir: string, opts: { commit?: string; loss?: number; script?: string } = {}): Promise<string> {
  const { meta, codeTree } = await runMeta(dir, opts);
  const id = meta.id;
  const forward = encodeSegment(segment(id, [[[], 'loss', opts.loss ?? 0.5]]));
  await appendRun(repoOf(dir), { meta, codeTree, segments: { forward } });
  return id;
}

const SERVER = `
import http from 'node:http';
import { spawn, execFileSync } from 'node:child_process';
import { join } from 'node:path';
const root = process.argv[2];
const backend = join(execFileSync('git', ['--exec-path']).toString().trim(), 'git-http-backend');
const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://127.0.0.1');
  const env = { ...process.env, GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: '1', PATH_INFO: decodeURIComponent(u.pathname),
    REQUEST_METHOD: req.method, QUERY_STRING: u.search.slice(1), CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_ADDR: '127.0.0.1', REMOTE_USER: 'test' };
  if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = req.headers['content-encoding'];
  if (req.headers['git-protocol']) env.GIT_PROTOCOL = req.headers['git-protocol'];
  const cgi = spawn(backend, [], { env });
  req.pipe(cgi.stdin);
  let head = Buffer.alloc(0);
  let done = false;
  cgi.stdout.on('data', (d) => {
    if (done) return void res.write(d);
    head = Buffer.concat([head, d]);
    let i = head.indexOf('\\r\\n\\r\\n'), sep = 4;
    if (i < 0) { i = head.indexOf('\\n\\n'); sep = 2; }
    if (i < 0) return;
    done = true;
    let status = 200;
    for (const line of head.subarray(0, i).toString().split(/\\r?\\n/)) {
      const c = line.indexOf(':');
      const k = line.slice(0, c).trim(), v = line.slice(c + 1).trim();
      if (k.toLowerCase() === 'status') status = parseInt(v, 10); else res.setHeader(k, v);
    }
    res.writeHead(status);
    res.write(head.subarray(i + sep));
  });
  cgi.stderr.on('data', (d) => process.stderr.write(d));
  cgi.on('close', () => res.end());
});
server.listen(0, '127.0.0.1', () => console.log(String(server.address().port)));
`;

export interface HttpRemote {
  /** URL of `<root>/<name>` */
  url(name: string): string;
  stop(): void;
}

/** Serves every bare repository under `root` over smart HTTP (push enabled per repo by http.receivepack). */
export async function serveHttp(root: string): Promise<HttpRemote> {
  const file = join(tempDir('flor-http-'), 'server.mjs');
  writeFileSync(file, SERVER);
  const child: ChildProcess = spawn(process.execPath, [file, root], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (c) => reject(new Error(`http server exited ${c}`)));
  });
  return {
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    stop: () => void child.kill(),
  };
}
