/**
 * What bin/git-flor runs once `npm run build` has bundled the CLI (scripts/bundle.ts builds this
 * module into dist/cli/boot.cjs): the whole CLI is one CommonJS file, dist/cli/cli.cjs, compiled
 * here with a V8 code cache. Node 20 keeps no compiled code between runs (module.enableCompileCache
 * came with Node 22), and a command spent most of its time loading, compiling and linking the
 * modules it needs. So the bytecode a command compiled is saved once, per command, bundle and Node
 * version, under dist/cli/v8-cache/, and handed to V8 by the next run of that command; V8 itself
 * checks that it matches its version and flags, and compiles afresh when not. The cache sits
 * beside the code it stands for and is written only where that code is writable, so it is trusted
 * as much as the bundle is; where it cannot be written (a read-only install), commands compile as
 * if there were no cache.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const fs = require('node:fs') as typeof import('node:fs');
const path = require('node:path') as typeof import('node:path');
const vm = require('node:vm') as typeof import('node:vm');
const { fileURLToPath } = require('node:url') as typeof import('node:url');

interface Cli {
  main(argv: string[]): Promise<void>;
}

const BUNDLE = fileURLToPath(new URL('cli.cjs', import.meta.url));
/** The bundle's last line names its content: `// (id <hex>)`, set by scripts/bundle.ts. */
const ID = /\(id ([0-9a-f]{8,64})\)/;

/** Which cache a command uses: its own, since each compiles different code. */
function commandKey(argv: string[]): string {
  const first = argv[0] ?? '';
  if (first === '-h' || first === '--help') return 'help';
  return /^[a-z]{1,20}$/.test(first) ? first : 'other';
}

/**
 * The cache file for this bundle and command, or null when the bundle names no id. The id is a
 * hash of the bundle's content; size and mtime guard against a bundle edited in place, since V8
 * checks no more than the source's length.
 */
export function cachePath(dir: string, source: string, st: { size: number; mtimeMs: number }, argv: string[]): string | null {
  const id = ID.exec(source.slice(-100))?.[1];
  if (!id) return null;
  return path.join(dir, 'v8-cache', `${commandKey(argv)}-${id}-${st.size}-${Math.floor(st.mtimeMs)}-${process.version}-${process.arch}.bin`);
}

function save(file: string, script: import('node:vm').Script): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, script.createCachedData());
    fs.renameSync(tmp, file); // whole or not at all, for a concurrent run reading it
  } catch {
    // not writable here: commands compile each time
  }
}

function load(argv: string[]): Cli {
  const fd = fs.openSync(BUNDLE, 'r');
  let source: string;
  let st: import('node:fs').Stats;
  try {
    st = fs.fstatSync(fd);
    source = fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
  const file = cachePath(path.dirname(BUNDLE), source, st, argv);
  let cachedData: Buffer | undefined;
  if (file) {
    try {
      cachedData = fs.readFileSync(file);
    } catch {
      // first run of this command with this bundle
    }
  }
  // The bundle is one function expression (exports, require, module, __filename, __dirname,
  // __florImport): its import() of a package is this module's (scripts/bundle.ts says why).
  const script = new vm.Script(source, { filename: BUNDLE, cachedData });
  // Saved at exit, when it holds every function the command compiled, not just the top level.
  if (file && (cachedData === undefined || script.cachedDataRejected)) process.once('exit', () => save(file, script));
  const module = { exports: {} as Cli };
  (script.runInThisContext() as (...a: unknown[]) => void)(module.exports, createRequire(BUNDLE), module, BUNDLE, path.dirname(BUNDLE), (specifier: string) => import(specifier));
  return module.exports;
}

export function main(argv: string[]): Promise<void> {
  return load(argv).main(argv);
}
