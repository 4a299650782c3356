/**
 * bin/git-flor and the hook stubs start Node with NODE_EXTRA_CA_CERTS moved to
 * FLOR_NODE_EXTRA_CA_CERTS (Node parses that bundle at every start); the JavaScript entry they
 * start must hand it back before anything else, so what it starts gets it as the user set it.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, testEnv } from './repo.js';

export const SOME_CA = '/some/ca bundle.pem';

/**
 * `[NODE_EXTRA_CA_CERTS, FLOR_NODE_EXTRA_CA_CERTS]` as `entry args…` leaves them in its process.env
 * at exit (what a child it starts would inherit), started as bin/git-flor starts it: with the
 * variable moved aside (`moved`), and without it at all (`unset`). Throws when either run fails.
 */
export function caAtExit(entry: string, args: string[], cwd: string): { moved: string; unset: string } {
  const probe = join(tempDir('flor-probe-'), 'probe.cjs');
  // Loaded before the entry with --require.
  writeFileSync(probe, "process.on('exit', () => process._rawDebug(JSON.stringify([process.env.NODE_EXTRA_CA_CERTS ?? null, process.env.FLOR_NODE_EXTRA_CA_CERTS ?? null])));\n");
  const run = (flor: string | undefined): string => {
    const env = testEnv(flor === undefined ? {} : { FLOR_NODE_EXTRA_CA_CERTS: flor });
    delete env.NODE_EXTRA_CA_CERTS;
    if (flor === undefined) delete env.FLOR_NODE_EXTRA_CA_CERTS;
    const r = spawnSync(process.execPath, ['--require', probe, entry, ...args], { cwd, env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${entry} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stderr.trim().split('\n').pop() ?? '';
  };
  return { moved: run(SOME_CA), unset: run(undefined) };
}
