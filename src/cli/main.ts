/**
 * `git flor` entry: parse, run one command, print errors, choose the exit code.
 * Every command module is registered explicitly: yargs' commandDir finds nothing under tsx.
 * yargs is loaded only when needed (~80 ms, about what node itself takes to start): the common
 * commands (fast.ts) and `git flor -h` are answered without it, and yargs stays the judge of
 * everything else (help of a command, usage errors, the other commands).
 */
import type { Argv, CommandModule } from 'yargs';
import { reportError, UsageError } from './print.js';
import { suggest } from '../query/names.js';
import { fastArgs, topHelp, type FastModule } from './fast.js';
import { closePager, loadTerminalConfig, needsTerminalConfig, setupTerminal, stdoutDirect, stdoutInfo, takeGlobalFlags, useDirectStdout } from './terminal.js';
import { endEarly } from '../replay/warm-early.js';

type Loader = () => Promise<FastModule>;

// To add a command: one entry here, name -> its module, and its line in SUMMARY below. A module
// that also exports its `options` (see commands/log.ts) is parsed without yargs (fast.ts). Modules load lazily: `git flor log` loads
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
  names: () => import('./commands/names.js'),
  tag: () => import('./commands/tag.js'),
  untag: () => import('./commands/untag.js'),
  note: () => import('./commands/note.js'),
  rm: () => import('./commands/rm.js'),
  gc: () => import('./commands/gc.js'),
  checkpoints: () => import('./commands/checkpoints.js'),
};

/**
 * `git flor -h` without yargs: each command's usage and description, as in its module (a test
 * compares this help with yargs' own). `null`: hidden from help. A command missing here makes
 * `-h` fall back to yargs, which is slower but never wrong.
 */
const SUMMARY: Record<string, readonly [usage: string, describe: string] | null> = {
  runs: ['runs', 'One row per run of every version: args and logged values, filtered and sorted'],
  show: ['show <run>', 'Show one run: metadata, args, loops, names logged, and its code changes when it ran dirty'],
  log: ['log <names..>', 'One table of logged values across every run of every version'],
  doctor: ['doctor', 'Recover runs from orphaned journals, verify flor refs and objects (exit 1 on damage left)'],
  replay: ['replay [names..]', "Fill in names old runs never logged: propagate today's statements into each version and replay it from its checkpoints"],
  init: ['init', 'Set up this clone: writer id, hooks, `git log` display of runs, fetch of other clones\' run history (idempotent)'],
  uninstall: ['uninstall', 'Remove the hooks and config that `git flor init` added (run history in refs/flor is kept)'],
  push: ['push [remote]', "Push this clone's run history (its ledger ref) to a remote; `git push` does it too once `git flor init` ran"],
  fetch: ['fetch [remote]', "Fetch other clones' run history into refs/flor/remotes/<remote>/ and rebuild the notes index"],
  hook: null,
  propagate: ['propagate <rev> [path..]', "Print a file as of REV (commit or run id) with today's flor.log statements inserted"],
  plot: ['plot <names..>', 'Line chart of logged values, one line per run, in the terminal or as SVG'],
  sql: ['sql <query>', 'SQL over every run and every logged value (DuckDB: tables runs and logs)'],
  diff: ['diff <a> <b>', 'Compare two runs: args, the code that ran, status, duration, and every logged name'],
  ui: ['ui', 'A local web page over the history: runs, charts, run details'],
  names: ['names', 'Every name the runs logged and every arg they took: in how many runs, how many values, in which loops'],
  tag: ['tag <run> <tags..>', "Tag a run: its tags show in runs and show, and `--where \"tag = 'x'\"` picks it"],
  untag: ['untag <run> <tags..>', 'Take tags off a run'],
  note: ['note <run> <text>', 'Give a run a note (replacing its note; "" clears it): shown in runs and show'],
  rm: ['rm <runs..>', 'Hide runs from every view (`--all` shows them); nothing is deleted, `rm --undo` restores them'],
  gc: ['gc', 'Delete the local checkpoints of runs removed with `git flor rm` (no other run shares them)'],
  checkpoints: ['checkpoints <action> <dir>', 'Copy checkpoints between this clone and a shared directory (push or fetch), so replays elsewhere can start from them'],
};

const USAGE = '$0 <command> [options]\n\nMultiversion hindsight logging for JS/TS scripts, stored in Git refs under refs/flor/.';

/** `git flor -h` at `width` columns, or null when SUMMARY does not cover every command. */
export function helpText(width: number): string | null {
  const names = Object.keys(COMMANDS);
  if (!names.every((n) => SUMMARY[n] !== undefined)) return null;
  return topHelp('git flor', USAGE, names.flatMap((n) => (SUMMARY[n] ? [SUMMARY[n]!] : [])), width);
}

/** Every command module (help lists them all). */
// biome-ignore lint/suspicious/noExplicitAny: each command types its own args; a list of them has no common type
export function allCommands(): Promise<Array<CommandModule<any, any>>> {
  return commandsFor([]);
}

/** The help width yargs is given (see buildCli). */
function helpWidth(): number {
  return Math.min(110, stdoutInfo().columns || 100);
}

/**
 * Answers argv without yargs when it can: `-h`, or a command whose module declares its options
 * (fast.ts) called with arguments the fast parser fully understands. Null: let yargs do it.
 */
let helpOnly = false;

async function fastRun(argv: string[]): Promise<boolean> {
  if (argv.length === 1 && (argv[0] === '-h' || argv[0] === '--help')) {
    const text = helpText(helpWidth());
    if (text === null) return false;
    const { out } = await import('./print.js');
    await out(text + '\n');
    helpOnly = true;
    return true;
  }
  const first = argv[0];
  if (first === undefined || !Object.hasOwn(COMMANDS, first)) return false;
  const mod = await COMMANDS[first]!();
  const args = fastArgs(mod, argv.slice(1));
  if (!args) return false;
  await mod.command.handler!({ ...args, _: [first], $0: 'git flor' });
  return true;
}

/** The command modules this argv needs: the one it names, or all of them. */
// biome-ignore lint/suspicious/noExplicitAny: as allCommands
async function commandsFor(argv: string[]): Promise<Array<CommandModule<any, any>>> {
  const first = argv[0];
  const names = first !== undefined && Object.hasOwn(COMMANDS, first) ? [first] : Object.keys(COMMANDS);
  return Promise.all(names.map(async (n) => (await COMMANDS[n]!()).command));
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

/** The commands help lists (hidden ones are never suggested), and `help`. */
function visibleCommands(): string[] {
  return [...Object.keys(SUMMARY).filter((n) => SUMMARY[n] !== null), 'help'];
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
  helpOnly = false;
  const global = takeGlobalFlags(argv);
  argv = attachSortValues(global.argv);
  // `git flor help CMD` is `git flor CMD --help`, as `git help` is for Git's commands.
  const asked = argv[0] === 'help' ? argv[1] : undefined;
  if (argv[0] === 'help') argv = asked === undefined ? ['-h'] : [asked, '--help'];
  if (needsTerminalConfig()) await loadTerminalConfig();
  setupTerminal(argv[0] ?? '', global.flags);
  try {
    if (asked !== undefined && !Object.hasOwn(COMMANDS, asked)) throw unknownCommand(asked);
    if (await fastRun(argv)) return 0;
    await (await buildCli(argv, await commandsFor(argv))).parseAsync();
    return 0;
  } catch (e) {
    return reportError(e);
  } finally {
    // The derived cache is written in the background while a query computes: done before the exit.
    if (!helpOnly) await (await import('../store/derived-cache.js')).settleCacheWrites();
    await closePager();
  }
}

export async function main(argv: string[]): Promise<void> {
  useDirectStdout();
  const code = await run(argv);
  process.exitCode = code;
  // The store's long-lived `git cat-file` processes: ended and reaped before exit (never orphaned).
  // `git flor -h` opened none: it skips loading the store.
  if (!helpOnly) await (await import('../store/objects.js')).closeReaders();
  // The replay child started with the command (cli/boot.ts) that no replay took: ended and reaped.
  await endEarly();
  // Flush what is queued, then leave even if a pool or a child process someone forgot still holds
  // the event loop: a CLI that lingers after printing its answer looks hung.
  // On Linux, writes to a pipe, a file or a terminal are synchronous: nothing is queued (and
  // process.stdout and process.stderr are not made just to ask).
  if (!stdoutDirect()) await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  if (process.platform !== 'linux') await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
  process.exit(code);
}
