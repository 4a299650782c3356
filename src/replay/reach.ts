/**
 * Which files a run's entry script reaches through its imports, and files read as Node would
 * find them: a run's code tree holds the whole work tree, so "the tree contains the file" says
 * nothing about whether the script that ran ever loaded it. Symbolic links are followed inside the
 * tree on both sides (a run's code tree stores the link text as a blob, the work tree follows it),
 * so a link and its target are one file.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { join, relative, sep, posix } from 'node:path';
import { builtinModules } from 'node:module';
import { parse } from '../propagate/packages.js';
import type { Node } from '@babel/types';
import { parseTree, type CatFile, type TreeEntry } from '../store/git.js';
import { readPath } from '../store/objects.js';
import { parserOptions, SOURCE_EXTENSIONS } from '../propagate/source.js';
import { forEachChild } from '../propagate/ast.js';

export interface ResolvedFile {
  /** The path of the regular file the request led to, links followed ('/'-separated, top-relative). */
  path: string;
  text: string;
}

/** Files of one version: `resolve` follows links the way the file system would, never out of it. */
export interface FileSource {
  resolve(path: string): Promise<ResolvedFile | null>;
}

const LINK_MODE = '120000';
const MAX_LINKS = 16;

/** A Git tree's files; a symlink entry's blob is its target, followed like a file system would. */
export function treeFiles(cat: CatFile, tree: string): FileSource {
  const dirs = new Map<string, Promise<Map<string, TreeEntry> | null>>();
  const dir = (path: string): Promise<Map<string, TreeEntry> | null> => {
    let d = dirs.get(path);
    if (!d) {
      d = (path === '' ? cat.read(tree) : readPath(cat, tree, path)).then((o) => (o && o.type === 'tree' ? new Map(parseTree(o.data).map((e) => [e.name, e])) : null));
      dirs.set(path, d);
    }
    return d;
  };
  const resolve = async (path: string, links: number): Promise<ResolvedFile | null> => {
    const parts = path.split('/');
    const cur: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (cur.length === 0) return null; // above the tree
        cur.pop();
        continue;
      }
      const e = (await dir(cur.join('/')))?.get(part);
      if (!e) return null;
      if (e.mode === LINK_MODE) {
        if (links >= MAX_LINKS) return null;
        const target = (await cat.read(e.oid))?.data.toString('utf8');
        if (target === undefined || target.startsWith('/')) return null; // an absolute link leaves the tree
        return resolve([...cur, target, ...parts.slice(i + 1)].join('/'), links + 1);
      }
      cur.push(part);
      const last = i === parts.length - 1 || parts.slice(i + 1).every((p) => p === '' || p === '.');
      if (last) {
        if (e.type !== 'blob') return null;
        const o = await cat.read(e.oid);
        return o && o.type === 'blob' ? { path: cur.join('/'), text: o.data.toString('utf8') } : null;
      }
      if (e.type !== 'tree') return null;
    }
    return null;
  };
  return { resolve: (path) => resolve(path, 0) };
}

/** The work tree's files under `top`, links followed by the file system; nothing outside `top`. */
export function workTreeFiles(top: string): FileSource {
  let realTop: string;
  try {
    realTop = realpathSync(top);
  } catch {
    realTop = top;
  }
  return {
    resolve: async (path) => {
      try {
        const real = realpathSync(join(top, path));
        const rel = relative(realTop, real);
        if (rel === '' || rel.startsWith('..') || rel.startsWith(sep)) return null;
        return { path: rel.split(sep).join('/'), text: readFileSync(real, 'utf8') };
      } catch {
        return null;
      }
    },
  };
}

/** Module specifiers a file loads with literal names; `open` when one is computed or the file does not parse. */
export function importsOf(path: string, text: string): { specs: string[]; open: boolean } {
  if (!/\b(import|require|export)\b/.test(text)) return { specs: [], open: false };
  let ast;
  try {
    ast = parse(text, parserOptions(path));
  } catch {
    return { specs: [], open: true };
  }
  const specs: string[] = [];
  let open = false;
  const literal = (n: Node | null | undefined): string | null => {
    if (!n) return null;
    if (n.type === 'StringLiteral') return n.value;
    if (n.type === 'TemplateLiteral' && n.expressions.length === 0) return n.quasis[0]!.value.cooked ?? null;
    return null;
  };
  const visit = (n: Node): void => {
    switch (n.type) {
      case 'ImportDeclaration':
      case 'ExportAllDeclaration':
        specs.push(n.source.value);
        return;
      case 'ExportNamedDeclaration':
        if (n.source) specs.push(n.source.value);
        break;
      case 'TSImportEqualsDeclaration':
        if (n.moduleReference.type === 'TSExternalModuleReference') specs.push(n.moduleReference.expression.value);
        return;
      case 'CallExpression': {
        const dynamic = n.callee.type === 'Import';
        const req = n.callee.type === 'Identifier' && n.callee.name === 'require';
        if (dynamic || req) {
          const s = literal(n.arguments[0] as Node | undefined);
          if (s !== null) specs.push(s);
          else open = true;
        }
        break;
      }
      case 'ImportExpression': {
        const s = literal(n.source);
        if (s !== null) specs.push(s);
        else open = true;
        break;
      }
    }
    forEachChild(n, visit);
  };
  visit(ast.program);
  return { specs, open };
}

/** Where Node (or a TypeScript loader) may find relative specifier `spec` of `from`. */
function candidates(from: string, spec: string): string[] {
  const base = posix.join(posix.dirname(from), spec);
  const out = [base];
  // TypeScript sources import their siblings by the emitted name (`./util.js` for util.ts).
  const ts: Record<string, string[]> = { '.js': ['.ts', '.tsx'], '.jsx': ['.tsx'], '.mjs': ['.mts'], '.cjs': ['.cts'] };
  const ext = posix.extname(base);
  for (const t of ts[ext] ?? []) out.push(base.slice(0, -ext.length) + t);
  for (const e of SOURCE_EXTENSIONS) out.push(base + e);
  for (const e of SOURCE_EXTENSIONS) out.push(`${base}/index${e}`);
  return out;
}

export interface Reach {
  /** The wanted files the roots load, directly or through other files. */
  reached: Set<string>;
  /**
   * A root or an import could not be followed (a script not in the tree, a computed `import(x)`/`require(x)`, a `#subpath` import, a
   * bare name that is no installed package — a path alias, say —, a file that does not parse): a
   * wanted file not reached may still be loaded.
   */
  open: boolean;
}

const BUILTIN = new Set(builtinModules);

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/**
 * Follows the relative imports of `roots` (paths in `src`) until every file of `wanted` is found
 * or nothing is left to read. Package imports (bare specifiers) are not followed: a run's code tree
 * holds the project, not its node_modules. `isPackage` tells an installed package from a name the
 * project maps to its own files (tsconfig paths, a bundler alias), which cannot be followed here.
 */
export async function reachedFiles(src: FileSource, roots: string[], wanted: ReadonlySet<string>, isPackage: (name: string) => boolean = () => true): Promise<Reach> {
  const reached = new Set<string>();
  const seen = new Set<string>();
  let open = false;
  let queue: Array<{ path: string; text: string }> = [];
  const visit = (f: ResolvedFile | null): void => {
    if (!f || seen.has(f.path)) return;
    seen.add(f.path);
    if (wanted.has(f.path)) reached.add(f.path);
    queue.push(f);
  };
  for (const r of roots) {
    const f = await src.resolve(r);
    // A script that is not a file of this version (`node -e`, a path outside the tree): its
    // imports are unknown, so every file may be loaded.
    if (!f) open = true;
    visit(f);
  }
  while (queue.length && reached.size < wanted.size) {
    const batch = queue;
    queue = [];
    for (const f of batch) {
      const { specs, open: o } = importsOf(f.path, f.text);
      if (o) open = true;
      for (const s of specs) {
        if (!s.startsWith('./') && !s.startsWith('../')) {
          const bare = !s.startsWith('/') && !/^[a-z]+:/.test(s);
          if (s.startsWith('#') || (bare && !BUILTIN.has(packageName(s)) && !isPackage(packageName(s)))) open = true;
          continue;
        }
        let found: ResolvedFile | null = null;
        for (const c of candidates(f.path, s)) if ((found = await src.resolve(c))) break;
        visit(found);
      }
    }
  }
  return { reached, open };
}

/**
 * The files a run starts from: its entry script, and the local modules its node options preload
 * (`--import ./setup.mjs`, `--require ./env.cjs`, resolved from its working directory).
 */
export function entryRoots(meta: { script: string; cwd: string; execArgv: string[] }): string[] {
  const roots = [meta.script];
  const a = meta.execArgv;
  for (let i = 0; i < a.length; i++) {
    const m = /^(--import|--require|-r|--loader|--experimental-loader)(?:=(.*))?$/.exec(a[i]!);
    if (!m) continue;
    const v = m[2] ?? a[++i];
    if (v && (v.startsWith('./') || v.startsWith('../'))) roots.push(posix.join(meta.cwd, v));
  }
  return roots;
}
