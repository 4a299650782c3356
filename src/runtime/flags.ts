/**
 * The script's command line as flor.arg sees it: which flags name no arg (a typo such as
 * `--temprature` would otherwise be silently ignored), and `-h`/`--help`, which lists the args.
 * An arg exists only once its flor.arg call has run, so both are judged at one point: the first
 * flor.loop, or the end of a script that has none. Args declared after that are not known then.
 *
 * These checks and a value that does not parse are the one place where flor ends the process,
 * as the script's own argument parser would.
 */
import type { Value } from '../store/records.js';

/** FLOR_SCRIPT_HELP=0 (or false/no/off) leaves `--help` to a script that handles it itself. */
export const SCRIPT_HELP_ENV = 'FLOR_SCRIPT_HELP';

/** The options part of argv: everything before a `--`. */
function options(argv: readonly string[]): readonly string[] {
  const end = argv.indexOf('--');
  return end < 0 ? argv : argv.slice(0, end);
}

export function wantsHelp(argv: readonly string[]): boolean {
  return options(argv).some((a) => a === '-h' || a === '--help');
}

function off(text: string | undefined): boolean {
  return text !== undefined && ['0', 'false', 'no', 'off'].includes(text.trim().toLowerCase());
}

/** `--help` is flor's unless FLOR_SCRIPT_HELP or `git config flor.scriptHelp` says no (the environment wins). */
export function scriptHelpEnabled(env: NodeJS.ProcessEnv, config: ReadonlyMap<string, string> | null): boolean {
  const e = env[SCRIPT_HELP_ENV];
  if (e !== undefined && e.trim() !== '') return !off(e);
  return !off(config?.get('flor.scripthelp'));
}

function typeName(v: unknown): string {
  if (v === null) return 'JSON';
  if (Array.isArray(v)) return 'JSON array';
  return typeof v === 'object' ? 'JSON object' : typeof v;
}

function shown(v: unknown): string {
  if (typeof v === 'string') return v === '' || /\s/.test(v) ? JSON.stringify(v) : v;
  if (typeof v === 'bigint') return String(v);
  return JSON.stringify(v) ?? String(v);
}

export class ScriptFlags {
  /** Declared args by name, with their defaults, in declaration order. */
  private readonly declared = new Map<string, unknown>();
  private judged = false;

  constructor(private readonly argv: readonly string[]) {}

  declare(name: string, def: unknown): void {
    if (!this.declared.has(name)) this.declared.set(name, def);
  }

  /** Flags (`--name`, `--name=v`, `--no-name`) that name no declared arg, in argv order. */
  unknown(): string[] {
    const out: string[] = [];
    for (const tok of options(this.argv)) {
      if (!tok.startsWith('--') || tok === '--help') continue;
      const name = tok.slice(2).split('=', 1)[0]!;
      if (name === '' || this.declared.has(name)) continue;
      if (name.startsWith('no-') && typeof this.declared.get(name.slice(3)) === 'boolean') continue;
      if (!out.includes(tok.split('=', 1)[0]!)) out.push(tok.split('=', 1)[0]!);
    }
    return out;
  }

  /** The one warning about unknown flags, or '' (given once, at the first judging point). */
  judge(): string {
    if (this.judged) return '';
    this.judged = true;
    const bad = this.unknown();
    if (bad.length === 0) return '';
    const known = [...this.declared.keys()].map((n) => `--${n}`);
    return `git flor: ${bad.join(', ')} ${bad.length === 1 ? 'matches' : 'match'} no flor.arg of this script, and flor ignores ${bad.length === 1 ? 'it' : 'them'}; known args: ${known.length ? known.join(', ') : '(none)'}\n`;
  }

  /** What `node script -h` prints: each arg with its type and default. */
  help(script: string): string {
    const rows = [...this.declared].map(([name, def]) => [typeof def === 'boolean' ? `--${name}, --no-${name}` : `--${name} <${typeName(def)}>`, `default ${shown(def as Value)}`] as const);
    const w = Math.max(0, ...rows.map(([f]) => f.length));
    let text = `usage: node ${script} [--name value]...\n\n`;
    text += rows.length ? `flor args:\n${rows.map(([f, d]) => `  ${f.padEnd(w)}  ${d}`).join('\n')}\n` : 'flor args: (none declared before the first flor.loop)\n';
    text += '\nArgs declared after the first flor.loop are not listed. `git config flor.scriptHelp false` leaves --help to the script.\n';
    return text;
  }
}
