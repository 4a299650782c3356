/**
 * yargs, bundled on its own into dist/cli/yargs.cjs (scripts/bundle.ts bundleCli): the CLI bundle
 * imports the package `yargs`, and boot.ts hands it this bundle, run with a code cache of its own.
 * Only the commands and help that yargs parses load it; `runs`, `show`, `log` and `-h` (fast.ts)
 * no longer read its ~190 KB with every start.
 */
export { default } from 'yargs';
