/**
 * Runs a bundle that scripts/bundle.ts wrote as one function expression (CommonJS's five
 * parameters, then the caller's), compiled with a V8 code cache kept beside it. Node 20 keeps no
 * compiled code between runs for ES modules (`module.enableCompileCache` came with Node 22), and
 * loading, compiling and linking modules was most of a CLI command's time. So the bytecode a
 * process compiled is saved at its exit, once per bundle, key (the CLI's command) and Node
 * version and flags, under `v8-cache/` beside the bundle, and handed to V8 by the next process;
 * V8 itself checks that it matches its version and flags, and compiles afresh when not (the cache
 * is then written again). The cache is written only where the bundle is writable, so it is
 * trusted as much as the code it stands for; where it cannot be written (a read-only install),
 * the bundle is compiled each time, as if there were no cache. A one-file CommonJS package is
 * loaded the same way (requireCached: @babel/parser for propagation). Node's built-ins are taken with
 * require: an ES import of `node:fs` would build its namespace, which loads the streams.
 */
import { createRequire } from 'node:module';
import { markLate } from './late-exit.js';

const getBuiltin = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
// process.getBuiltinModule (Node 20.16) skips the CommonJS loader's require: compiling its
// functions was a few ms of a run's start.
const builtin = getBuiltin ? (id: string) => getBuiltin.call(process, id) : createRequire(import.meta.url);
const fs = builtin('node:fs') as typeof import('node:fs');
const path = builtin('node:path') as typeof import('node:path');
const vm = builtin('node:vm') as typeof import('node:vm');
const { fileURLToPath } = builtin('node:url') as typeof import('node:url');

/**
 * The `require` a bundle is given: its built-ins through process.getBuiltinModule where Node has
 * it, anything else (a package, `require.resolve`, `require.cache`) through a require made for
 * the bundle's file at first use.
 */
function bundleRequire(file: string): NodeJS.Require {
  if (!getBuiltin) return createRequire(file);
  let real: NodeJS.Require | undefined;
  const get = () => (real ??= createRequire(file));
  // node:module (which loads the source-map support) only once the bundle uses it: its
  // modules import createRequire, and call it to load a package.
  const nodeModule = new Proxy({}, { get: (_, k) => (getBuiltin.call(process, 'node:module') as Record<string | symbol, unknown>)[k] });
  const req = ((id: string) => (id === 'node:module' ? nodeModule : id.startsWith('node:') ? getBuiltin.call(process, id) : get()(id))) as NodeJS.Require;
  req.resolve = ((id: string, options?: { paths?: string[] }) => get().resolve(id, options)) as NodeJS.RequireResolve;
  Object.defineProperties(req, {
    cache: { get: () => get().cache },
    main: { get: () => get().main },
    extensions: { get: () => get().extensions },
  });
  return req;
}

/** A bundle's last line names its content: `// (id <hex>)`, written by scripts/bundle.ts. */
const ID = /\(id ([0-9a-f]{8,64})\)/;

/** FNV-1a of the flags this process runs with: a cache made under other flags would be rejected. */
function flagsKey(): string {
  return flagsKeyOf(process.execArgv, process.env.NODE_OPTIONS);
}

/** The flags part of a cache's name for a process run with `execArgv` and `nodeOptions`. */
export function flagsKeyOf(execArgv: readonly string[], nodeOptions: string | undefined): string {
  const text = `${execArgv.join('\0')}\0${nodeOptions ?? ''}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16);
}

/**
 * The cache file for this bundle and key, or null when the bundle names no id. The id is a hash
 * of the bundle's text; size and mtime guard against a bundle edited in place, since V8 checks no
 * more than the source's length.
 */
export function cachePath(bundle: string, source: string, st: { size: number; mtimeMs: number }, key: string): string | null {
  const id = ID.exec(source.slice(-100))?.[1];
  if (!id) return null;
  const name = `${key}-${id}-${st.size}-${Math.floor(st.mtimeMs)}-${process.version}-${process.arch}-${flagsKey()}.bin`;
  return path.join(path.dirname(bundle), 'v8-cache', name);
}

/**
 * Caches kept per key and directory: the CLI's bundles share their command's key (query.cjs,
 * cli.cjs, yargs.cjs), each once per set of Node flags in use, so the bound is loose; a cache
 * pruned while still in use is written again by the next process that misses it.
 */
export const KEEP_PER_KEY = 12;

function save(file: string, key: string, script: import('node:vm').Script): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, script.createCachedData());
    fs.renameSync(tmp, file); // whole or not at all, for a concurrent process reading it
  } catch {
    // not writable here: the bundle is compiled each time
    return;
  }
  prune(file, key);
}

/**
 * Removes all but the KEEP_PER_KEY newest caches of `key` beside `file`. A cache is named by its
 * code's size, mtime and id and by the flags of the process that made it, so every rebuild of a
 * bundle, every upgrade of Node and every new NODE_OPTIONS left one more (1–2 MB for
 * @babel/parser; 70 files, 18 MB, after a day of tests) that nothing read again. A process
 * reading a cache as it is removed finds none and compiles afresh.
 */
function prune(file: string, key: string): void {
  const dir = path.dirname(file);
  const prefix = `${key}-`;
  try {
    const ours = fs
      .readdirSync(dir)
      .filter((n) => n.startsWith(prefix) && n.endsWith('.bin'))
      .map((n) => ({ n, t: fs.statSync(path.join(dir, n), { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
      .sort((a, b) => b.t - a.t);
    for (const { n } of ours.slice(KEEP_PER_KEY)) if (path.join(dir, n) !== file) removeFile(path.join(dir, n));
  } catch {
    // another process pruned or the directory went: nothing to keep tidy
  }
}

/** Reads a file with its stat data, from one open file. */
function readWithStat(file: string, encoding: 'latin1' | 'utf8'): { source: string; st: import('node:fs').Stats } {
  const fd = fs.openSync(file, 'r');
  try {
    return { st: fs.fstatSync(fd), source: fs.readFileSync(fd, encoding) };
  } finally {
    fs.closeSync(fd);
  }
}

/** The cache a first process leaves when a second one is to complete it (see runCached's `twice`). */
function firstOf(file: string): string {
  return file.replace(/\.bin$/, '.first.bin');
}

function readCache(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined; // none yet
  }
}

/**
 * Compiles `source` as `filename` with the cache in `file` (none: null), and runs it: the function
 * it is. `twice`: the first process saves its cache as `.first.bin`, and the process that takes
 * that one saves `file`, with what both compiled.
 */
function compileCached(source: string, filename: string, file: string | null, key: string, twice = false): (...a: unknown[]) => void {
  const final = file ? readCache(file) : undefined;
  const first = file && twice && final === undefined ? readCache(firstOf(file)) : undefined;
  const cachedData = final ?? first;
  const script = new vm.Script(source, { filename, cachedData });
  const taken = cachedData !== undefined && !script.cachedDataRejected;
  // Saved at exit, when it holds every function the process compiled, not just the top level:
  // after a run's own exit listener too (late-exit.ts), so its end's functions are in it. Where
  // no cache was taken, or only a first process's: the first of two saves its own as that.
  if (file && !(taken && final !== undefined)) {
    const to = twice && final === undefined && !(taken && first !== undefined) ? firstOf(file) : file;
    process.once(
      'exit',
      markLate(() => {
        save(to, key, script);
        if (to === file && first !== undefined) removeFile(firstOf(file));
      }),
    );
  }
  return script.runInThisContext() as (...a: unknown[]) => void;
}

function removeFile(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // gone already (another process completed it too)
  }
}

/**
 * Runs the bundle at `url` with `extra` after CommonJS's arguments; its module.exports. `twice`:
 * the cache is completed by the second process (compileCached), for code whose first process takes
 * other paths than the ones after it: a repository's first recorded run has no stat cache yet, so
 * a cache it alone saved lacked the start every later run takes, which each then compiled.
 */
export function runCached(url: URL, key: string, extra: unknown[], twice = false): unknown {
  const bundle = fileURLToPath(url);
  const { source, st } = readWithStat(bundle, 'latin1'); // esbuild writes ASCII
  const module = { exports: {} };
  compileCached(source, bundle, cachePath(bundle, source, st, key), key, twice)(module.exports, bundleRequire(bundle), module, bundle, path.dirname(bundle), ...extra);
  return module.exports;
}

/**
 * `require` of a CommonJS package that is one self-contained file (@babel/parser's 1.8 MB, say),
 * through the same cache: kept in `v8-cache/` beside that file, so written only where the
 * package is writable and trusted as much as its code, and named by the file's size and mtime
 * (it has no id line) with Node's version and flags. Not entered in require's cache: the caller
 * keeps what it returns.
 */
export function requireCached(from: string, id: string, key: string): unknown {
  const file = createRequire(from).resolve(id);
  const { source, st } = readWithStat(file, 'utf8');
  const name = `${key}-${st.size}-${Math.floor(st.mtimeMs)}-${process.version}-${process.arch}-${flagsKey()}.bin`;
  const module = { exports: {} };
  // Module.wrap's text: the module function CommonJS makes of a file.
  compileCached(`(function (exports, require, module, __filename, __dirname) { ${source}\n});`, file, path.join(path.dirname(file), 'v8-cache', name), key)(module.exports, createRequire(file), module, file, path.dirname(file));
  return module.exports;
}
