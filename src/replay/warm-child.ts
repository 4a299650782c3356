/**
 * A replay child started before its task (warm.ts): Node has booted and the work tree's
 * 'git-flor' package is loaded while the orchestrator still propagates and checks out the run's
 * code. It waits on fd 3 for one task: the replay spec's path, the script, its argv and cwd. It
 * then becomes that task's process, the way `node <script> <argv>` in that cwd would have started:
 * Node's own entry point (Module.runMain) runs the script as the main module, CommonJS or ES
 * module, with process.argv[1] the script. Only tasks started without Node options come here, so
 * process.execArgv is the same empty list either way.
 * It imports Node's built-ins only, and few of them (no node:net): it must boot fast, and nothing of
 * it may be in the script's way.
 * Run as `node warm-child.js <work tree>`; it exits when fd 3 closes without a task (the
 * orchestrator is done with it, or gone).
 */
import Module, { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// Required, not imported: an ES import of node:fs builds its module namespace, whose getters load
// fs/promises and the streams (~5 ms of each replay child's CPU; the task's script may never use them).
const { closeSync, read, writeSync } = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');

/** What the orchestrator sends, one JSON line (warm.ts WarmTask). */
interface WarmTask {
  /** Environment variables the task sets on top of the ones this process started with. */
  env: Record<string, string>;
  cwd: string;
  script: string;
  argv: string[];
}

const top = process.argv[2];
// The package the scripts of this work tree import: its module graph is loaded now, and the
// script's `import … from 'git-flor'` finds it in the module map (the same file, by its real
// path). A script that resolves another copy loads that one; this one then just stays unused
// (the runtime starts nothing before a flor call).
let preload: Promise<unknown> = Promise.resolve();
if (top) {
  try {
    const entry = createRequire(join(top, 'package.json')).resolve('git-flor');
    preload = import(pathToFileURL(entry).href).catch(() => undefined);
  } catch {
    // not installed there: the script loads what it imports, as a cold start would
  }
}

// fd 3 is read with fs.read on libuv's thread pool, not through a net.Socket: node:net and the
// streams it loads cost each warm process ~10 ms of CPU on the cores the replay needs, and a
// script that never opens a socket never loads them. Node hands a child its pipes in blocking
// mode (libuv's socketpair), so the read waits there for the one line of the task.
let got = Buffer.alloc(0);
const next = (): void => {
  const chunk = Buffer.allocUnsafe(64 * 1024);
  read(3, chunk, 0, chunk.length, null, (err, n) => {
    // Closed without a task (the orchestrator is done with this process, or gone), or unreadable.
    if (err || n === 0) process.exit(0);
    got = Buffer.concat([got, chunk.subarray(0, n)]);
    const nl = got.indexOf(10);
    if (nl < 0) {
      next();
      return;
    }
    const task = JSON.parse(got.toString('utf8', 0, nl)) as WarmTask;
    try {
      // Told at once (the channel closes with the orchestrator's end of it): a warm process that
      // died before this is replaced by a process of the task's own.
      writeSync(3, 'r');
    } catch {
      // the orchestrator is gone: the script notices at its first flush, as any orphaned child
    }
    try {
      closeSync(3);
    } catch {
      // already gone
    }
    void preload.then(() => run(task));
  });
};
next();

function run(task: WarmTask): void {
  Object.assign(process.env, task.env);
  process.chdir(task.cwd);
  process.argv = [process.argv[0]!, task.script, ...task.argv];
  (Module as unknown as { runMain(): void }).runMain();
}
