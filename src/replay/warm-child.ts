/**
 * A replay child started before its task (warm.ts): Node has booted and the work tree's
 * 'git-flor' package is loaded while the orchestrator still propagates and checks out the run's
 * code. It waits on fd 3 for one task: the replay spec's path, the script, its argv and cwd. It
 * then becomes that task's process, the way `node <script> <argv>` in that cwd would have started:
 * Node's own entry point (Module.runMain) runs the script as the main module, CommonJS or ES
 * module, with process.argv[1] the script. Only tasks started without Node options come here, so
 * process.execArgv is the same empty list either way.
 * It imports Node's built-ins only: it must boot fast, and nothing of it may be in the script's way.
 * Run as `node warm-child.js <work tree>`; it exits when fd 3 closes without a task (the
 * orchestrator is done with it, or gone).
 */
import Module, { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { writeSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

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

const channel = new Socket({ fd: 3, readable: true, writable: true });
let text = '';
let taken = false;
channel.setEncoding('utf8');
channel.on('data', (d: string) => {
  text += d;
  const nl = text.indexOf('\n');
  if (taken || nl < 0) return;
  taken = true;
  const task = JSON.parse(text.slice(0, nl)) as WarmTask;
  try {
    // Told at once (the channel closes with the orchestrator's end of it): a warm process that
    // died before this is replaced by a process of the task's own.
    writeSync(3, 'r');
  } catch {
    // the orchestrator is gone: the script notices at its first flush, as any orphaned child
  }
  channel.destroy();
  void preload.then(() => run(task));
});
const idleEnd = (): void => {
  if (!taken) process.exit(0);
};
channel.on('end', idleEnd);
channel.on('error', idleEnd);

function run(task: WarmTask): void {
  Object.assign(process.env, task.env);
  process.chdir(task.cwd);
  process.argv = [process.argv[0]!, task.script, ...task.argv];
  (Module as unknown as { runMain(): void }).runMain();
}
