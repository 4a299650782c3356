/**
 * `git flor -h` (`--help`, `help`) as a bundle of its own, dist/cli/help.cjs, which boot.ts runs
 * instead of cli.cjs for those argvs: the help needs the command list and the terminal, not the
 * 626 KB of every command, whose text every start read and whose code cache it deserialised
 * (callgrind and timings in scripts/bundle.ts bundleHelp). The same steps as main.ts's run and main
 * take for that argv; a test compares the two.
 */
import { printHelp } from './help.js';
import { reportError } from './print.js';
import { closePager, loadTerminalConfig, needsTerminalConfig, setupTerminal, takeGlobalFlags, useDirectStdout } from './terminal.js';
import { leave } from './leave.js';

/** What main.ts's run does for `-h`: the terminal set up for it, the help written. */
async function run(argv: string[]): Promise<number> {
  const global = takeGlobalFlags(argv);
  if (needsTerminalConfig()) await loadTerminalConfig();
  // main.ts takes `help` alone as `-h`.
  setupTerminal(global.argv[0] === 'help' ? '-h' : (global.argv[0] ?? ''), global.flags);
  try {
    await printHelp();
    return 0;
  } catch (e) {
    return reportError(e);
  } finally {
    await closePager();
  }
}

export async function main(argv: string[]): Promise<void> {
  useDirectStdout();
  const code = await run(argv);
  process.exitCode = code;
  await leave(code);
}
