/**
 * `git flor init` / `git flor uninstall`: per-clone setup, and its exact undoing.
 *
 * init: writer id (store), `notes.displayRef` (added beside any the user has), a fetch refspec per
 * remote (so a plain `git fetch` brings other clones' ledgers; fetch refspecs never change what a
 * plain `git push` sends), and the hooks. What init added is recorded in
 * `<commonDir>/flor/install.json`, so uninstall takes out exactly that even if core.hooksPath
 * changed in between. Run history (refs/flor/*, .git/flor) is data, not setup: uninstall keeps it.
 * A remote added after init gets its refspecs from remote-config.ts when git flor first touches it,
 * so uninstall finds flor's refspecs by their shape on every remote rather than from install.json.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync, rmdirSync } from 'node:fs';
import { dirname, basename, isAbsolute, join, resolve } from 'node:path';
import { homedir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { repoCwd, type RepoInfo } from '../store/git.js';
import { FlorError } from '../errors.js';
import { configScope, configuredRemotes, configValue, configValues, gitAtLeast, hasRef, setConfig } from '../store/git-config.js';
import { LEDGERS, NOTES_REF, REMOTES } from '../store/refs.js';
import { ensureFetchRefspecs, installStatePath } from './remote-config.js';
import { HOOK_NAMES, installHook, uninstallHook } from './hooks.js';
import type { HookAction, HookName, UninstallAction } from './hooks.js';

/** This package's hooks/ (dist/sync/install.js and src/sync/install.ts are both two levels down). */
export const PACKAGE_HOOKS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'hooks');

interface InstallState {
  version: 1;
  writerCreated: boolean;
  hooks: Array<{ name: HookName; path: string }>;
}

function readState(repo: RepoInfo): InstallState | null {
  try {
    return JSON.parse(readFileSync(installStatePath(repo), 'utf8')) as InstallState;
  } catch {
    return null;
  }
}


const config = setConfig;

export type Husky = 'husky-v9' | 'husky-v4-8' | null;

export interface HookPlace {
  /** Directory the hook files we edit live in. */
  dir: string;
  /** core.hooksPath as configured, or null for the default `<commonDir>/hooks`. */
  hooksPath: string | null;
  husky: Husky;
  /** Hook files in a directory inside the work tree may be tracked: the user decides to commit them. */
  inWorkTree: boolean;
}

/**
 * Where hooks go. Husky v9 sets core.hooksPath=.husky/_ and regenerates that directory on every
 * `npm install`, but runs `.husky/<hook>` from it with `sh -e`: the block goes there. Husky 4–8 sets
 * core.hooksPath=.husky, whose files are the hooks themselves.
 */
export function hookPlace(repo: RepoInfo): HookPlace {
  const raw = configValue(repo, 'core.hooksPath');
  if (!raw) return { dir: join(repo.commonDir, 'hooks'), hooksPath: null, husky: null, inWorkTree: false };
  const expanded = raw.startsWith('~/') ? join(homedir(), raw.slice(2)) : raw;
  // Git runs hooks at the top of the work tree, so that is what a relative hooksPath means.
  const abs = isAbsolute(expanded) ? expanded : resolve(repoCwd(repo), expanded);
  const inWorkTree = !!repo.top && (abs + '/').startsWith(repo.top + '/');
  if (basename(abs) === '_' && basename(dirname(abs)) === '.husky') return { dir: dirname(abs), hooksPath: raw, husky: 'husky-v9', inWorkTree };
  if (basename(abs) === '.husky') return { dir: abs, hooksPath: raw, husky: 'husky-v4-8', inWorkTree };
  return { dir: abs, hooksPath: raw, husky: null, inWorkTree };
}

export interface InitReport {
  writer: string;
  writerCreated: boolean;
  displayRef: 'added' | 'present';
  fetch: Array<{ remote: string; refspecs: string[]; added: boolean }>;
  place: HookPlace;
  hooks: Array<{ name: HookName; path: string; action: HookAction }>;
  notes: string[];
}

export async function init(repo: RepoInfo, opts: { nodePath?: string } = {}): Promise<InitReport> {
  if (!repo.top) throw new FlorError('BARE_REPO', 'git flor init needs a work tree; this repository is bare', { hint: 'run it in a clone; a bare remote needs no setup' });
  if (!gitAtLeast(repo, 2, 31)) {
    throw new FlorError('GIT_TOO_OLD', 'git flor needs git 2.31 or newer (rev-parse --path-format, negative refspecs)', { hint: 'upgrade git' });
  }
  const notes: string[] = [];
  const prev = readState(repo);
  const hadWriter = configValue(repo, 'flor.writer') !== null;
  const { ensureWriter } = await import('../store/ledger.js');
  const writer = await ensureWriter(repo);
  const writerCreated = prev ? prev.writerCreated : !hadWriter;

  let displayRef: InitReport['displayRef'] = 'present';
  if (!configValues(repo, 'notes.displayRef').includes(NOTES_REF)) {
    config(repo, ['--add', 'notes.displayRef', NOTES_REF]);
    displayRef = 'added';
  }

  const fetch: InitReport['fetch'] = [];
  for (const remote of configuredRemotes(repo)) {
    const r = ensureFetchRefspecs(repo, remote, writer);
    if (r.skipped) notes.push(r.skipped);
    else fetch.push({ remote, refspecs: r.refspecs, added: r.added });
  }

  const place = hookPlace(repo);
  mkdirSync(place.dir, { recursive: true });
  const hooks: InitReport['hooks'] = [];
  for (const name of HOOK_NAMES) {
    try {
      const r = installHook(place.dir, name, { hooksDir: PACKAGE_HOOKS, nodePath: opts.nodePath ?? process.execPath, shellFile: place.husky === 'husky-v9' });
      hooks.push({ name, path: r.path, action: r.action });
    } catch (e) {
      throw new FlorError('HOOK_INSTALL', `could not install the ${name} hook in ${place.dir}: ${e instanceof Error ? e.message : String(e)}`, {
        hint: `look at ${join(place.dir, name)}*; \`git flor uninstall\` undoes the rest`,
        cause: e,
      });
    }
  }
  if (place.husky === 'husky-v9') {
    const missing = HOOK_NAMES.filter((n) => !existsSync(join(place.dir, '_', n)));
    if (missing.length) notes.push(`husky has not generated .husky/_/${missing.join(', .husky/_/')}: run \`npx husky\` so they run`);
  }
  if (place.hooksPath) {
    const scope = configScope(repo, 'core.hooksPath');
    if (scope === 'global' || scope === 'system') {
      notes.push(`core.hooksPath comes from your ${scope} config: flor's hooks in ${place.dir} run in every repository using it (they do nothing where flor has not run), and \`git flor uninstall\` anywhere removes them for all`);
    }
  }
  if (place.inWorkTree) {
    notes.push(`hooks live in the work tree (${place.dir}): commit the flor block so teammates get it, or leave it uncommitted; it does nothing on a machine without git-flor`);
  }

  const recorded = new Map((prev?.hooks ?? []).map((h) => [h.path, h]));
  for (const h of hooks) recorded.set(h.path, { name: h.name, path: h.path });
  const state: InstallState = { version: 1, writerCreated, hooks: [...recorded.values()] };
  mkdirSync(dirname(installStatePath(repo)), { recursive: true });
  writeFileSync(installStatePath(repo), JSON.stringify(state, null, 2) + '\n');
  return { writer, writerCreated: writerCreated && !hadWriter, displayRef, fetch, place, hooks, notes };
}

export interface UninstallReport {
  hooks: Array<{ path: string; action: UninstallAction }>;
  config: string[];
  writerRemoved: boolean;
}

const OUR_FETCH = new RegExp(`^(\\+${LEDGERS}\\*:${REMOTES}[^/]+/ledgers/\\*|\\^${LEDGERS}[^/*]+)$`);

export async function uninstall(repo: RepoInfo): Promise<UninstallReport> {
  const state = readState(repo);
  const targets = new Map<string, HookName>();
  for (const h of state?.hooks ?? []) targets.set(h.path, h.name);
  const place = hookPlace(repo);
  for (const n of HOOK_NAMES) targets.set(join(place.dir, n), n);
  const hooks: UninstallReport['hooks'] = [];
  for (const [path, name] of targets) {
    const action = uninstallHook(path, name);
    if (action !== 'absent') hooks.push({ path, action });
  }

  const removed: string[] = [];
  if (configValues(repo, 'notes.displayRef').includes(NOTES_REF)) {
    config(repo, ['--fixed-value', '--unset-all', 'notes.displayRef', NOTES_REF]);
    removed.push(`notes.displayRef ${NOTES_REF}`);
  }
  for (const remote of configuredRemotes(repo)) {
    for (const s of configValues(repo, `remote.${remote}.fetch`)) {
      if (!OUR_FETCH.test(s)) continue;
      config(repo, ['--fixed-value', '--unset-all', `remote.${remote}.fetch`, s]);
      removed.push(`remote.${remote}.fetch ${s}`);
    }
  }

  // The writer id names this clone's ledger; it goes only if init made it and nothing was recorded.
  let writerRemoved = false;
  const writer = configValue(repo, 'flor.writer');
  if (state?.writerCreated && writer) {
    const has = hasRef(repo, LEDGERS + writer);
    if (!has) {
      config(repo, ['--unset', 'flor.writer']);
      writerRemoved = true;
    }
  }
  rmSync(installStatePath(repo), { force: true });
  removeIfEmpty(join(repo.commonDir, 'flor'));
  return { hooks, config: removed, writerRemoved };
}

function removeIfEmpty(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // absent or not empty: nothing to do
  }
}
