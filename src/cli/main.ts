/**
 * `git flor` entry: parse, run one command, print errors, choose the exit code.
 * Every command module is registered explicitly: yargs' commandDir finds nothing under tsx.
 * yargs is loaded only when needed (~80 ms, about what node itself takes to start): the common
 * commands (fast.ts) and `git flor -h` are answered without it, and yargs stays the judge of
 * everything else (help of a command, usage errors, the other commands).
 */
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from './print.js';
import { suggest } from '../query/names.js';
import { attachSortValues, fastArgs, type FastModule } from './fast.js';
import { takeGlobalFlags, useDirectStdout } from './terminal.js';
import { COMMAND_NAMES, SUMMARY, USAGE, helpWidth, printHelp, type CommandName } from './help.js';
import { leave, runInTerminal } from './entry.js';

type Loader = () => Promise<FastModule>;

// To add a command: one entry here, name -> its module, and its name and line in help.ts. A module
// that also exports its `options` (see commands/log.ts) is parsed without yargs (fast.ts). Modules load lazily: `git flor log` loads
// only commands/log.js, while `--help` and unknown commands load them all (yargs needs every one to
// list or suggest them). Every `git flor` start pays for what it imports (measured: node alone
// 90 ms, yargs 80 ms, the replay machinery ~95 ms, ajv ~50 ms) and `git flor log` has a 1 s budget.
// Inside a command module, prefer `await import()` of heavy parts in the handler.
const COMMANDS: Record<CommandName, Loader> = {
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
  names: () => import('./commands/names.js'),
  tag: () => import('./commands/tag.js'),
  untag: () => import('./commands/untag.js'),
  note: () => import('./commands/note.js'),
  rm: () => import('./commands/rm.js'),
  gc: () => import('./commands/gc.js'),
  checkpoints: () => import('./commands/checkpoints.js'),
};


/** Every command module (help lists them all). */
// biome-ignore lint/suspicious/noExplicitAny: each command types its own args; a list of them has no common type
export function allCommands(): Promise<Array<CommandModule<any, any>>> {
  return commandsFor([]);
}

/**
 * Answers argv without yargs when it can: `-h`, or a command whose module declares its options
 * (fast.ts) called with arguments the fast parser fully understands. Null: let yargs do it.
 */
let helpOnly = false;

async function fastRun(argv: string[]): Promise<boolean> {
  if (argv.length === 1 && (argv[0] === '-h' || argv[0] === '--help')) {
    await printHelp();
    helpOnly = true;
    return true;
  }
  const first = argv[0];
  if (!isCommand(first)) return false;
  const mod = await COMMANDS[first]();
  const args = fastArgs(mod, argv.slice(1));
  if (!args) return false;
  await mod.command.handler!({ ...args, _: [first], $0: 'git flor' });
  return true;
}

/** The command modules this argv needs: the one it names, or all of them. */
// biome-ignore lint/suspicious/noExplicitAny: as allCommands
async function commandsFor(argv: string[]): Promise<Array<CommandModule<any, any>>> {
  const first = argv[0];
  const names = isCommand(first) ? [first] : COMMAND_NAMES;
  return Promise.all(names.map(async (n) => (await COMMANDS[n]()).command));
}

// biome-ignore lint/suspicious/noExplicitAny: as allCommands
export async function buildCli(argv: string[], commands: Array<CommandModule<any, any>>): Promise<Argv> {
  const { default: yargs } = await import('yargs');
  let cli = yargs(argv)
    .scriptName('git flor')
    .usage(USAGE)
    .demandCommand(1, 'name a command')
    .strict()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(helpWidth())
    .exitProcess(false)
    .fail((msg, err) => {
      if (err) throw err;
      const first = argv.find((a) => !a.startsWith('-')) ?? '';
      if (first && !Object.hasOwn(COMMANDS, first)) throw unknownCommand(first);
      const command = Object.hasOwn(COMMANDS, first) ? first : '';
      const unknown = /^Unknown arguments?: (.+)$/.exec(msg ?? '');
      if (unknown) throw unknownArgument(unknown[1]!.split(', '), argv, command, Object.keys((cli as unknown as { getOptions(): { key: Record<string, unknown> } }).getOptions().key));
      throw new UsageError(msg, command);
    });
  for (const c of commands) cli = cli.command(c);
  // yargs lays out the whole help text after every command handler starts, in case a failure
  // needs it later (30-50 ms of string widths per command). Ours never prints it after a handler
  // ran (.fail throws), and `--help` lays it out itself, so the cache is never filled.
  (cli as unknown as { getInternalMethods(): { getUsageInstance(): { cacheHelpMessage(): void } } }).getInternalMethods().getUsageInstance().cacheHelpMessage = () => undefined;
  return cli;
}

function isCommand(name: string | undefined): name is CommandName {
  return name !== undefined && Object.hasOwn(COMMANDS, name);
}

/** The commands help lists (hidden ones are never suggested), and `help`. */
function visibleCommands(): string[] {
  return [...COMMAND_NAMES.filter((n) => SUMMARY[n] !== null), 'help'];
}

function unknownCommand(name: string): UsageError {
  const near = suggest(name, visibleCommands());
  return new UsageError(`unknown command '${name}'`, '', near.map((n) => `'${n}'`).join(' or '));
}

/** yargs' "Unknown argument: x" as flor says it: an option with the closest known one, or a stray word. */
function unknownArgument(names: string[], argv: string[], command: string, known: string[]): UsageError {
  const name = names[0]!;
  const asOption = argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`) || a === `-${name}`);
  if (!asOption) return new UsageError(`unexpected argument '${name}'${command ? ` to ${command}` : ''}`, command);
  const flag = name.length === 1 ? `-${name}` : `--${name}`;
  const options = known.filter((k) => k.length > 1 && !/[A-Z]/.test(k) && k !== '$0' && k !== '_');
  const near = suggest(name, options);
  return new UsageError(`unknown option '${flag}'${command ? ` for ${command}` : ''}`, command, near.map((n) => `'--${n}'`).join(' or '));
}

/** Runs one command and returns its exit code without exiting (tests and embedders call this). */
export async function run(argv: string[]): Promise<number> {
  helpOnly = false;
  const global = takeGlobalFlags(argv);
  argv = attachSortValues(global.argv);
  // `git flor help CMD` is `git flor CMD --help`, as `git help` is for Git's commands.
  const asked = argv[0] === 'help' ? argv[1] : undefined;
  if (argv[0] === 'help') argv = asked === undefined ? ['-h'] : [asked, '--help'];
  return runInTerminal(
    argv[0] ?? '',
    global.flags,
    async () => {
      if (asked !== undefined && !Object.hasOwn(COMMANDS, asked)) throw unknownCommand(asked);
      if (await fastRun(argv)) return;
      await (await buildCli(argv, await commandsFor(argv))).parseAsync();
    },
    // The derived cache is written in the background while a query computes: done before the exit.
    async () => {
      if (!helpOnly) await (await import('../store/derived-cache.js')).settleCacheWrites();
    },
  );
}

export async function main(argv: string[]): Promise<void> {
  useDirectStdout();
  const code = await run(argv);
  process.exitCode = code;
  // The store's long-lived `git cat-file` processes: ended and reaped before exit (never orphaned).
  // `git flor -h` opened none: it skips loading the store.
  if (!helpOnly) await (await import('../store/objects.js')).closeReaders();
  await leave(code);
}
