/**
 * `git flor` entry: parse, run one command, print errors, choose the exit code.
 * Every command module is registered explicitly: yargs' commandDir finds nothing under tsx.
 */
import yargs from 'yargs';
import type { Argv, CommandModule } from 'yargs';
import { reportError, UsageError } from './print.js';
import { closeReaders } from '../store/objects.js';

type Loader = () => Promise<{ command: CommandModule<any, any> }>;

// To add a command: one entry here, name -> its module. Modules load lazily: `git flor log` loads
// only commands/log.js, while `--help` and unknown commands load them all (yargs needs every one to
// list or suggest them). Every `git flor` start pays for what it imports (measured: node alone
// 90 ms, yargs 80 ms, the replay machinery ~95 ms, ajv ~50 ms) and `git flor log` has a 1 s budget.
// Inside a command module, prefer `await import()` of heavy parts in the handler.
const COMMANDS: Record<string, Loader> = {
  runs: () => import('./commands/runs.js'),
  show: () => import('./commands/show.js'),
  log: () => import('./commands/log.js'),
  doctor: () => import('./commands/doctor.js'),
  replay: () => import('./commands/replay.js'),
  init: () => import('./commands/init.js'),
  uninstall: () => import('./commands/uninstall.js'),
  push: () => import('./commands/push.js'),
  fetch: () => import('./commands/fetch.js'),
  hook: () => import('./commands/hook.js'),
  propagate: () => import('./commands/propagate.js'),
  plot: () => import('./commands/plot.js'),
  sql: () => import('./commands/sql.js'),
  diff: () => import('./commands/diff.js'),
  ui: () => import('./commands/ui.js'),
};

/** The command modules this argv needs: the one it names, or all of them. */
async function commandsFor(argv: string[]): Promise<Array<CommandModule<any, any>>> {
  const first = argv[0];
  const names = first !== undefined && Object.hasOwn(COMMANDS, first) ? [first] : Object.keys(COMMANDS);
  return Promise.all(names.map(async (n) => (await COMMANDS[n]!()).command));
}

export function buildCli(argv: string[], commands: Array<CommandModule<any, any>>): Argv {
  let cli = yargs(argv)
    .scriptName('git flor')
    .usage('$0 <command> [options]\n\nMultiversion hindsight logging for JS/TS scripts, stored in Git refs under refs/flor/.')
    .demandCommand(1, 'name a command')
    .recommendCommands()
    .strict()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      if (err) throw err;
      const first = argv.find((a) => !a.startsWith('-')) ?? '';
      // With recommendCommands, yargs' whole message for an unknown command is its guess.
      if (first && !Object.hasOwn(COMMANDS, first) && /^Did you mean /.test(msg ?? '')) throw new UsageError(`unknown command '${first}'. ${msg}`, '');
      throw new UsageError(msg, Object.hasOwn(COMMANDS, first) ? first : '');
    });
  for (const c of commands) cli = cli.command(c);
  return cli;
}

/** `--sort -acc`: yargs would read `-acc` as flags, so a value given to --sort is attached to it. */
function attachSortValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--sort' && i + 1 < argv.length && argv[i + 1]!.startsWith('-') && !argv[i + 1]!.startsWith('--')) out.push(`--sort=${argv[++i]}`);
    else out.push(argv[i]!);
  }
  return out;
}

/** Runs one command and returns its exit code without exiting (tests and embedders call this). */
export async function run(argv: string[]): Promise<number> {
  argv = attachSortValues(argv);
  try {
    await buildCli(argv, await commandsFor(argv)).parseAsync();
    return 0;
  } catch (e) {
    return reportError(e);
  }
}

export async function main(argv: string[]): Promise<void> {
  // `git flor log x | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  const code = await run(argv);
  process.exitCode = code;
  closeReaders(); // the store's long-lived `git cat-file` processes end with their stdin
  // Flush what is queued, then leave even if a pool or a child process someone forgot still holds
  // the event loop: a CLI that lingers after printing its answer looks hung.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
  process.exit(code);
}
