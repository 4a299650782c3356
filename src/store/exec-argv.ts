/**
 * The Node options a run's metadata may carry: only the loader flags replay needs to start the
 * old script the way it ran (`--import tsx`, `--require ts-node/register`, `--loader ./l.mjs`),
 * naming a package or a file of the code itself. Run metadata travels between clones, so anything
 * else (`--import data:…`, `--eval`, `--inspect`, `--expose-gc`) is never recorded and never passed
 * from metadata to a replay child. Pure: the runtime filters what it records and replay checks
 * what it reads with the same rules.
 */
import { posix } from 'node:path';

/** Accepted spellings -> the one recorded. */
const LOADER_FLAGS: Record<string, string> = {
  '--import': '--import',
  '--require': '--require',
  '-r': '--require',
  '--loader': '--loader',
  '--experimental-loader': '--loader',
};

/** A package name (npm rules, scoped or not) with an optional subpath: resolved through node_modules. */
const BARE = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*(\/[A-Za-z0-9._~@-]+)*$/;

export interface Loader {
  flag: string;
  spec: string;
}

export interface LoaderSplit {
  loaders: Loader[];
  /** What was refused, as it was written (one entry per option, a flag with its value). */
  refused: string[];
}

/** The package directory name a bare specifier resolves to (`@scope/name` or `name`), or null for a path. */
export function packageOf(spec: string): string | null {
  if (!BARE.test(spec) || spec.includes('..')) return null;
  const parts = spec.split('/');
  return spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/**
 * Whether `spec`, relative to the directory `cwd` ('/'-separated, relative to the code's top), names
 * a file inside the code: './x.mjs' or '../x.mjs' that does not climb above the top.
 */
function relativeInside(spec: string, cwd: string): boolean {
  if (!(spec.startsWith('./') || spec.startsWith('../'))) return false;
  if (spec.includes('\0') || spec.includes('\\')) return false;
  const p = posix.normalize(posix.join(cwd || '.', spec));
  return p !== '..' && !p.startsWith('../') && !posix.isAbsolute(p) && p !== '.';
}

/** A loader spec replay may pass: a package name, or a file of the code relative to `cwd`. */
export function allowedSpec(spec: string, cwd: string): boolean {
  return packageOf(spec) !== null || relativeInside(spec, cwd);
}

/**
 * Splits `execArgv` into the loader flags allowed for a run started in `cwd` (relative to the code's
 * top) and everything else. `--flag value` and `--flag=value` are both read; loaders come back as
 * `{flag, spec}` with the flag in its one recorded spelling.
 */
export function splitLoaders(execArgv: readonly string[], cwd: string): LoaderSplit {
  const loaders: Loader[] = [];
  const refused: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    const flag = LOADER_FLAGS[name];
    if (!flag) {
      refused.push(a);
      continue;
    }
    let spec: string | undefined;
    let written = a;
    if (eq > 0) spec = a.slice(eq + 1);
    else {
      spec = execArgv[i + 1];
      if (spec !== undefined) {
        written = `${a} ${spec}`;
        i++;
      }
    }
    if (spec !== undefined && allowedSpec(spec, cwd)) loaders.push({ flag, spec });
    else refused.push(written);
  }
  return { loaders, refused };
}

export function loaderArgv(loaders: readonly Loader[]): string[] {
  return loaders.flatMap((l) => [l.flag, l.spec]);
}

/**
 * What the runtime records of `process.execArgv`: the loader flags only. `toRelative` turns an
 * absolute loader path into one relative to the run's cwd when it lies inside the code (null when
 * it does not), since an absolute path of this machine means nothing in another clone's snapshot.
 */
export function recordableExecArgv(execArgv: readonly string[], cwd: string, toRelative: (abs: string) => string | null): string[] {
  const rewritten: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (!LOADER_FLAGS[name]) {
      rewritten.push(a);
      continue;
    }
    const spec = eq > 0 ? a.slice(eq + 1) : execArgv[++i];
    if (spec === undefined) {
      rewritten.push(a);
      continue;
    }
    let s = spec;
    if (s.startsWith('file://')) {
      try {
        s = decodeURIComponent(new URL(s).pathname);
      } catch {
        // left as it is: refused below
      }
    }
    if (s.startsWith('/')) s = toRelative(s) ?? s;
    rewritten.push(name, s);
  }
  return loaderArgv(splitLoaders(rewritten, cwd).loaders);
}
