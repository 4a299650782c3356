/**
 * What bin/git-flor.cjs (started by bin/git-flor) runs once `npm run build` has bundled the CLI (scripts/bundle.ts builds this
 * module into dist/cli/boot.cjs): the whole CLI is one CommonJS file, dist/cli/cli.cjs, compiled
 * with a V8 code cache kept per command (code-cache.ts), since each command compiles different
 * code. The bundle's import() of a package (duckdb, …) is this module's: a script compiled from a
 * cache loses its dynamic-import callback in Node 20. yargs is bundled too, into yargs.cjs beside
 * cli.cjs, run the same way, with a cache per command, by the import of it.
 */
import { runCached } from '../code-cache.js';
import { startEarly } from '../replay/warm-early.js';
import { isQueryCommand } from './query-commands.js';
import { fileURLToPath } from 'node:url';

interface Cli {
  main(argv: string[]): Promise<void>;
}

/** Which cache a command uses: its own. */
function commandKey(argv: string[]): string {
  const first = argv[0] ?? '';
  if (first === '-h' || first === '--help') return 'help';
  return /^[a-z]{1,20}$/.test(first) ? first : 'other';
}

/**
 * The argvs that are `git flor -h` and nothing else (main.ts takes `help` alone as `-h`): help.cjs
 * answers them. Any other (a global flag beside it, say) goes to cli.cjs, whose main.ts answers
 * the same.
 */
function isTopHelp(argv: readonly string[]): boolean {
  return argv.length === 1 && (argv[0] === '-h' || argv[0] === '--help' || argv[0] === 'help');
}

interface Query {
  main(argv: string[]): Promise<boolean>;
}

export async function main(argv: string[]): Promise<void> {
  // A command that replays starts its first replay child now, while this one compiles the CLI.
  startEarly(argv, () => fileURLToPath(new URL('../replay/warm-child.js', import.meta.url)));
  const key = commandKey(argv);
  // yargs is a bundle of its own (scripts/bundle.ts bundleYargs), read only by what yargs parses.
  const load = (specifier: string): Promise<unknown> => (specifier === 'yargs' ? Promise.resolve().then(() => runCached(new URL('yargs.cjs', import.meta.url), key, [load])) : import(specifier));
  // `git flor -h` reads help.cjs, a few KB, instead of every command's code (help-main.ts).
  if (isTopHelp(argv)) return (runCached(new URL('help.cjs', import.meta.url), key, [load]) as Cli).main(argv);
  // runs, show and log read query.cjs, half of cli.cjs, which answers unless the argv needs more.
  if (isQueryCommand(argv[0]) && (await (runCached(new URL('query.cjs', import.meta.url), key, [load]) as Query).main(argv))) return;
  const cli = runCached(new URL('cli.cjs', import.meta.url), key, [load]) as Cli;
  return cli.main(argv);
}
