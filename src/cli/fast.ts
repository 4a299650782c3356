/**
 * The CLI's path around yargs, for the commands people type most (`runs`, `show`, `log`), for `replay` (each shard of a sharded replay pays its start) and for `git flor -h`.
 * Loading yargs costs about as much as starting node, so these are parsed here when the arguments
 * are plain: a command module that exports `options` (the yargs option
 * definitions its builder also uses) is parsed from its `command` string and those options.
 * Anything this parser is not sure of (help, an unknown or short option, a bad choice, a missing
 * positional, `--`) returns null and yargs parses it, so yargs stays the judge of every usage
 * error. A test compares both parsers' results on sample argvs.
 */
import type { CommandModule, Options } from 'yargs';

export interface FastModule {
  // biome-ignore lint/suspicious/noExplicitAny: each command types its own args; a list of them has no common type
  command: CommandModule<any, any>;
  /** The options of `command` (its builder gives yargs the same object). */
  options?: Record<string, Options>;
}

interface Positional {
  name: string;
  required: boolean;
  variadic: boolean;
}

function positionals(usage: string): Positional[] {
  const out: Positional[] = [];
  for (const m of usage.matchAll(/([<[])([^\]>]+)[\]>]/g)) {
    const variadic = m[2]!.endsWith('..');
    out.push({ name: variadic ? m[2]!.slice(0, -2) : m[2]!, required: m[1] === '<', variadic });
  }
  return out;
}

function typeOf(o: Options): 'boolean' | 'number' | 'string' | null {
  if (o.type === 'boolean' || o.boolean) return 'boolean';
  if (o.type === 'number' || o.number) return 'number';
  if (o.type === 'string' || o.string || o.choices || o.type === undefined) return 'string';
  return null;
}

const NUMBER = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

function shortAlias(o: Options): boolean {
  return typeof o.alias === 'string' && o.alias.length === 1;
}

/** `--sort -acc`: yargs would read `-acc` as flags, so a value given to --sort is attached to it. */
export function attachSortValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--sort' && i + 1 < argv.length && argv[i + 1]!.startsWith('-') && !argv[i + 1]!.startsWith('--')) out.push(`--sort=${argv[++i]}`);
    else out.push(argv[i]!);
  }
  return out;
}

/** Parsed arguments as yargs would give them to the handler, or null when yargs must parse. */
export function fastArgs(mod: FastModule, argv: string[]): Record<string, unknown> | null {
  const opts = mod.options;
  const usage = mod.command.command;
  if (!opts || typeof usage !== 'string') return null;
  const out: Record<string, unknown> = {};
  const seen = new Set<string>();
  const pos: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-')) {
      pos.push(a);
      continue;
    }
    if (!a.startsWith('--') || a === '--') return null;
    const eq = a.indexOf('=');
    let key = a.slice(2, eq < 0 ? undefined : eq);
    let negated = false;
    if (!Object.hasOwn(opts, key) && key.startsWith('no-') && Object.hasOwn(opts, key.slice(3))) {
      key = key.slice(3);
      negated = true;
    }
    if (!Object.hasOwn(opts, key) || seen.has(key)) return null;
    seen.add(key);
    const o = opts[key]!;
    const type = typeOf(o);
    // A one-letter alias (`-n` for --limit) is given the value too, as yargs does; the short form itself goes to yargs.
    if (type === null || (o.alias !== undefined && !shortAlias(o)) || o.coerce || o.count || o.nargs !== undefined) return null;
    if (type === 'boolean') {
      if (eq >= 0) return null;
      out[key] = !negated;
      if (shortAlias(o)) out[o.alias as string] = !negated;
      continue;
    }
    if (negated) return null;
    // An array option takes every following word up to the next option, as yargs does (`--run=A B` too).
    const values: string[] = [];
    if (eq >= 0) values.push(a.slice(eq + 1));
    while (i + 1 < argv.length && !argv[i + 1]!.startsWith('-') && (o.array || values.length === 0)) values.push(argv[++i]!);
    if (values.length === 0 || (!o.array && values.length !== 1)) return null;
    let parsed: unknown[] = values;
    if (type === 'number') {
      if (!values.every((v) => NUMBER.test(v))) return null;
      parsed = values.map(Number);
    }
    if (o.choices && !parsed.every((v) => (o.choices as unknown[]).includes(v))) return null;
    out[key] = o.array ? parsed : parsed[0];
    if (shortAlias(o)) out[o.alias as string] = out[key];
  }
  for (const [key, o] of Object.entries(opts)) {
    if (seen.has(key)) continue;
    if (o.demandOption) return null;
    if (o.default !== undefined) {
      out[key] = o.default;
      if (shortAlias(o)) out[o.alias as string] = o.default;
    }
  }
  const spec = positionals(usage);
  let p = 0;
  for (const s of spec) {
    if (s.variadic) {
      out[s.name] = pos.slice(p);
      p = pos.length;
      if (s.required && (out[s.name] as string[]).length === 0) return null;
    } else if (p < pos.length) out[s.name] = pos[p++];
    else if (s.required) return null;
  }
  if (p < pos.length) return null;
  // yargs also gives a hyphenated option under its camel-case name.
  for (const k of Object.keys(out)) if (k.includes('-')) out[k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = out[k];
  return out;
}

/**
 * yargs' top-level help, laid out the way yargs (cliui) lays it out: usage, a two-column command
 * list whose first column is at most half the width, and the help option with its type at the
 * right edge. `rows` are [usage, description] of each command shown.
 */
export function topHelp(scriptName: string, usage: string, rows: ReadonlyArray<readonly [string, string]>, width: number): string {
  const lines: string[] = [];
  for (const l of usage.replace(/\$0/g, scriptName).split('\n')) lines.push(...wrap(l, width));
  lines.push('', 'Commands:');
  const first = rows.map(([u]) => `${scriptName} ${u}`);
  const col = Math.min(Math.max(...first.map((f) => f.length)), Math.floor(width * 0.5)) + 4;
  rows.forEach(([, describe], i) => lines.push(...twoColumns(first[i]!, describe, col, width)));
  lines.push('', 'Options:');
  const sw = '-h, --help';
  const [line] = twoColumns(sw, 'Show help', sw.length + 4, width);
  const extra = '[boolean]';
  // cliui puts the type on the same line when it fits after the text, else on a line of its own
  lines.push(line!.length + 2 <= width - extra.length ? line!.padEnd(width - extra.length) + extra : line!, ...(line!.length + 2 <= width - extra.length ? [] : [extra.padStart(width)]));
  return lines.join('\n');
}

/** A span row as cliui renders it: `  first  ` in a column of `col`, the text wrapped beside it. */
function twoColumns(first: string, text: string, col: number, width: number): string[] {
  const left = wrap(first, col - 4);
  const right = wrap(text, width - col);
  const n = Math.max(left.length, right.length);
  const out: string[] = [];
  for (let r = 0; r < n; r++) {
    const l = r < left.length ? `  ${left[r]!.padEnd(col - 4)}  ` : ' '.repeat(col);
    out.push((l + (right[r] ?? '')).replace(/ +$/, ''));
  }
  return out;
}

/**
 * Word wrap at `width` columns as wrap-ansi does it in cliui's `hard` mode, for plain text: greedy,
 * and a word longer than a line starts on the current line when that saves a break.
 */
export function wrap(text: string, width: number): string[] {
  if (text.trim() === '') return [''];
  const rows = [''];
  const words = text.split(' ');
  words.forEach((word, index) => {
    rows[rows.length - 1] = rows.at(-1)!.trimStart();
    let len = rows.at(-1)!.length;
    if (index !== 0 && len > 0) {
      rows[rows.length - 1] += ' ';
      len++;
    }
    if (word.length > width) {
      const thisLine = 1 + Math.floor((word.length - (width - len) - 1) / width);
      const nextLine = Math.floor((word.length - 1) / width);
      if (nextLine < thisLine) rows.push('');
      let visible = rows.at(-1)!.length;
      for (let c = 0; c < word.length; c++) {
        if (visible + 1 <= width) rows[rows.length - 1] += word[c]!;
        else {
          rows.push(word[c]!);
          visible = 0;
        }
        visible++;
        if (visible === width && c < word.length - 1) {
          rows.push('');
          visible = 0;
        }
      }
      return;
    }
    if (len + word.length > width && len > 0 && word.length > 0) rows.push('');
    rows[rows.length - 1] += word;
  });
  return rows.map((r) => r.replace(/ +$/, ''));
}
