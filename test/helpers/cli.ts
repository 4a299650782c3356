/**
 * The CLI called in-process (src/cli/main.ts `run`), for tests where a process adds nothing.
 * Writes to stdout/stderr made by the call (tracked through its async context) are captured;
 * everything else, such as the test runner's own reports, goes through untouched. Tests of one
 * file run one at a time, so the working directory can be swapped for the call.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { run } from '../../src/cli/main.js';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

const current = new AsyncLocalStorage<{ out: string[]; err: string[] }>();

function route(stream: NodeJS.WriteStream, pick: (s: { out: string[]; err: string[] }) => string[]): void {
  const original = stream.write.bind(stream) as (...a: unknown[]) => boolean;
  stream.write = ((chunk: string | Uint8Array, enc?: unknown, cb?: unknown) => {
    const s = current.getStore();
    if (!s) return original(chunk, enc, cb);
    pick(s).push(typeof chunk === 'string' ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8'));
    const done = typeof enc === 'function' ? enc : cb;
    if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
    return true;
  }) as typeof stream.write;
}
route(process.stdout, (s) => s.out);
route(process.stderr, (s) => s.err);

export async function florIn(cwd: string, args: string[]): Promise<CliResult> {
  const store = { out: [] as string[], err: [] as string[] };
  const was = process.cwd();
  process.chdir(cwd);
  try {
    const status = await current.run(store, () => run(args));
    return { status, stdout: store.out.join(''), stderr: store.err.join('') };
  } finally {
    process.chdir(was);
  }
}

/** florIn that also asserts exit 0 (as `flor()` throws on a failure), unless `allowFail`. */
export async function cli(cwd: string, args: string[], allowFail = false): Promise<CliResult> {
  const r = await florIn(cwd, args);
  if (!allowFail && r.status !== 0) throw new Error(`git flor ${args.join(' ')} failed (${r.status}) in ${cwd}\n${r.stdout}\n${r.stderr}`);
  return r;
}
