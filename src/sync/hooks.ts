/**
 * Installing flor's hooks beside the user's, and taking them out again exactly.
 *
 * Chaining (documented in docs/sync.md): flor adds a marked block to the hook file.
 * - No hook yet: flor creates `#!/bin/sh` + block ("created"); uninstall deletes the file.
 * - An executable shell hook (or a husky hook file, which husky runs with `sh -e`): the block goes
 *   right after the shebang line, or at the top when there is none ("block"); uninstall cuts the
 *   block out, which gives back the original bytes.
 * - Anything else (another interpreter, a symlink, a non-executable file, no newline after the
 *   shebang): the user's file is renamed `<hook>.pre-flor` untouched and flor's stub runs the block,
 *   then execs it ("wrapped"); uninstall deletes the stub and renames the original back.
 * The block is idempotent (re-running init replaces it in place) and written so it cannot change
 * what the rest of a user's hook sees: it never exits except for a deliberate refusal, survives
 * `sh -e`, and gives stdin back (`exec <file`) for hooks that read it.
 */
import { chmodSync, existsSync, lstatSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const HOOK_NAMES = ['post-commit', 'post-merge', 'post-rewrite', 'pre-push'] as const;
export type HookName = (typeof HOOK_NAMES)[number];
const STDIN_HOOKS: ReadonlySet<string> = new Set(['post-rewrite', 'pre-push']);

export const BEGIN = '# >>> git flor >>>';
export const END = '# <<< git flor <<<';
export const ORIG_SUFFIX = '.pre-flor';
const SHEBANG = '#!/bin/sh\n';

export type HookAction = 'created' | 'block' | 'wrapped' | 'updated';

export interface BlockOptions {
  /** Absolute path of this package's hooks/ directory (tried first). */
  hooksDir: string;
  /** The node binary that ran init: hooks may run with a PATH that lacks node (GUI clients). */
  nodePath: string;
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The block. Candidates: this checkout's hooks/ (absolute, for this machine), then the project's
 * node_modules/git-flor (hooks run at the work-tree top), so a block committed in a shared hooks
 * directory (husky) does nothing harmful on a teammate's machine without flor.
 */
export function hookBlock(name: HookName, opts: BlockOptions): string {
  const cands = `${shq(join(opts.hooksDir, name))} node_modules/git-flor/hooks/${name}`;
  const run = `FLOR_NODE=${shq(opts.nodePath)} sh "$__flor_h" "$@"`;
  const lines = [`${BEGIN} added by \`git flor init\`; \`git flor uninstall\` removes this block`];
  if (STDIN_HOOKS.has(name)) {
    lines.push(
      '__flor_rc=0',
      `for __flor_h in ${cands}; do`,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
      '  if [ -f "$__flor_h" ] && __flor_in=$(mktemp "${TMPDIR:-/tmp}/git-flor-hook.XXXXXX"); then',
      '    cat >"$__flor_in" || :',
      `    ${run} <"$__flor_in" || __flor_rc=$?`,
      '    exec <"$__flor_in"',
      '    rm -f "$__flor_in"',
      '    break',
      '  fi',
      'done',
      'if [ "$__flor_rc" = 3 ]; then exit 1; fi',
    );
  } else {
    lines.push(`for __flor_h in ${cands}; do`, `  if [ -f "$__flor_h" ]; then ${run} </dev/null || :; break; fi`, 'done');
  }
  lines.push(END);
  return lines.join('\n') + '\n';
}

function wrapTail(name: HookName): string {
  return `__flor_orig="$(dirname "$0")/${name}${ORIG_SUFFIX}"\nif [ -x "$__flor_orig" ]; then exec "$__flor_orig" "$@"; fi\n`;
}

/** Start and end offsets of the block (end includes its final newline), or null. */
function findBlock(text: string): [number, number] | null {
  const b = text.startsWith(BEGIN) ? 0 : text.indexOf('\n' + BEGIN);
  if (b < 0) return null;
  const start = b === 0 ? 0 : b + 1;
  const e = text.indexOf('\n' + END, start);
  if (e < 0) return null;
  let end = e + 1 + END.length;
  if (text[end] === '\n') end++;
  return [start, end];
}

export function hasBlock(text: string): boolean {
  return findBlock(text) !== null;
}

function isShellScript(text: string): boolean {
  if (!text.startsWith('#!')) return true; // Git runs a hook without a shebang with sh
  const first = text.slice(0, text.indexOf('\n') < 0 ? text.length : text.indexOf('\n'));
  return /^#!\s*(\S*\/)?(env\s+)?(sh|bash|dash|ash|ksh|zsh)(\s|$)/.test(first) || /^#!\s*\/\S*\/(sh|bash|dash|ash|ksh|zsh)(\s|$)/.test(first);
}

/** Where the block goes in an existing shell hook: after the shebang line, or at the top. */
function insertAt(text: string): number | null {
  if (!text.startsWith('#!')) return 0;
  const nl = text.indexOf('\n');
  return nl < 0 ? null : nl + 1;
}

export interface InstallOne {
  path: string;
  action: HookAction;
}

/**
 * Installs (or refreshes) flor's block in `dir/name`. `shellFile` means the file is run by a shell
 * whatever its mode (husky's `sh -e .husky/<hook>`), so a block is always the right way in.
 */
export function installHook(dir: string, name: HookName, opts: BlockOptions & { shellFile?: boolean }): InstallOne {
  const path = join(dir, name);
  const block = hookBlock(name, opts);
  let st: ReturnType<typeof lstatSync> | null = null;
  try {
    st = lstatSync(path);
  } catch {
    st = null;
  }
  if (!st) {
    writeFileSync(path, SHEBANG + block, { mode: 0o755 });
    chmodSync(path, 0o755);
    return { path, action: 'created' };
  }
  if (st.isFile()) {
    const text = readFileSync(path, 'utf8');
    const at = findBlock(text);
    if (at) {
      const next = text.slice(0, at[0]) + block + text.slice(at[1]);
      if (next !== text) writeFileSync(path, next);
      return { path, action: 'updated' };
    }
    const executable = (st.mode & 0o111) !== 0;
    const pos = insertAt(text);
    if (pos !== null && isShellScript(text) && (executable || opts.shellFile)) {
      writeFileSync(path, text.slice(0, pos) + block + text.slice(pos));
      return { path, action: 'block' };
    }
  }
  const orig = path + ORIG_SUFFIX;
  if (existsSync(orig)) {
    // A previous wrap whose stub the user replaced: keep both, never overwrite the saved original.
    throw new Error(`${orig} already exists`);
  }
  renameSync(path, orig);
  writeFileSync(path, SHEBANG + block + wrapTail(name), { mode: 0o755 });
  chmodSync(path, 0o755);
  return { path, action: 'wrapped' };
}

export type UninstallAction = 'deleted' | 'unblocked' | 'unwrapped' | 'absent';

/** Removes flor's block from `path`, restoring what was there before `installHook`. */
export function uninstallHook(path: string, name: HookName): UninstallAction {
  let text: string;
  try {
    if (!lstatSync(path).isFile()) return 'absent';
    text = readFileSync(path, 'utf8');
  } catch {
    return 'absent';
  }
  const at = findBlock(text);
  if (!at) return 'absent';
  const rest = text.slice(0, at[0]) + text.slice(at[1]);
  const orig = path + ORIG_SUFFIX;
  if (rest === SHEBANG + wrapTail(name) && existsSync(orig)) {
    rmSync(path);
    renameSync(orig, path);
    return 'unwrapped';
  }
  if (rest === SHEBANG) {
    rmSync(path);
    return 'deleted';
  }
  const mode = statSync(path).mode & 0o7777;
  writeFileSync(path, rest);
  chmodSync(path, mode);
  return 'unblocked';
}
