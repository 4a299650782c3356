/**
 * `git flor -h` without yargs: the commands' list and the top-level help text. A bundle of its own
 * reads this (dist/cli/help.cjs, through help-main.ts) so that `git flor -h` reads none of the
 * CLI's commands; main.ts lists the same commands (COMMANDS, typed by CommandName).
 */
import { topHelp } from './fast.js';
import { out } from './print.js';
import { stdoutInfo } from './terminal.js';

/** Every command, in the order help lists them (main.ts maps each to its module). */
export const COMMAND_NAMES = ['runs', 'show', 'log', 'doctor', 'replay', 'init', 'uninstall', 'push', 'fetch', 'hook', 'propagate', 'plot', 'sql', 'diff', 'ui', 'names', 'tag', 'untag', 'note', 'rm', 'gc', 'checkpoints'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/**
 * Each command's usage and description, as in its module (a test compares this help with yargs'
 * own), in the order help lists them. `null`: hidden from help.
 */
export const SUMMARY: Record<CommandName, readonly [usage: string, describe: string] | null> = {
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

export const USAGE = '$0 <command> [options]\n\nMultiversion hindsight logging for JS/TS scripts, stored in Git refs under refs/flor/.';

/** `git flor -h` at `width` columns. */
export function helpText(width: number): string {
  return topHelp('git flor', USAGE, COMMAND_NAMES.flatMap((n) => (SUMMARY[n] ? [SUMMARY[n]!] : [])), width);
}

/** The help width yargs is given too (main.ts buildCli). */
export function helpWidth(): number {
  return Math.min(110, stdoutInfo().columns || 100);
}

/** Writes the top-level help to stdout (through the pager when one is chosen). */
export function printHelp(): Promise<void> {
  return out(`${helpText(helpWidth())}\n`);
}
