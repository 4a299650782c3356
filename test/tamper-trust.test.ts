/**
 * What a fetched ledger may make the victim believe, once it has been read: a run the victim
 * already saw cannot be changed under the same id, a fetched copy of the victim's own ledger is not
 * the victim's writing, and with `flor.verifyLedgerSignatures` another ledger's code runs only
 * under a good signature on its tip (a real SSH key made here; `gpg.format=ssh`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { cleanup, fsckClean, gitIn, runNode, sh, tempDir, writeFiles } from './helpers/repo.js';
import { cli } from './helpers/cli.js';
import { closeReaders } from '../src/store/objects.js';
import { pack } from '../src/store/pack.js';
import { forgeRun, metaFor, network, rawMeta, TRAIN, writerOf } from './tamper-support.js';

/** Today's code: one statement the recorded runs never ran, so a replay has something to do. */
const TODAY = TRAIN.replace("  flor.log('loss', lr / (epoch + 1));\n", "  flor.log('loss', lr / (epoch + 1));\n  flor.log('half', lr / 2);\n");

let evil = '';
let victim = '';
let evilW = '';
let victimW = '';
let evilRun = '';

async function runsJson(dir: string): Promise<Array<{ run: string; args: Record<string, unknown> }>> {
  return JSON.parse((await cli(dir, ['runs', '--format', 'json'])).stdout);
}

/** A commit on `ref` of `dir` whose tree is the tip's with one file replaced (plumbing, like an attacker). */
function replaceFile(dir: string, ref: string, path: string, data: Buffer | string): void {
  const idx = join(tempDir('flor-idx-'), 'index');
  const env = { ...process.env, GIT_INDEX_FILE: idx };
  const blob = sh('git', ['hash-object', '-w', '--stdin'], dir, { input: data as string }).stdout.trim();
  sh('git', ['read-tree', ref], dir, { env });
  sh('git', ['update-index', '--add', '--cacheinfo', `100644,${blob},${path}`], dir, { env });
  const tree = sh('git', ['write-tree'], dir, { env }).stdout.trim();
  const commit = sh('git', ['commit-tree', tree, '-p', ref, '-m', 'forged'], dir).stdout.trim();
  gitIn(dir, 'update-ref', ref, commit);
}

before(async () => {
  const net = await network(['evil', 'victim']);
  evil = net.clones.evil!;
  victim = net.clones.victim!;
  runNode(evil, 'train.mjs');
  runNode(victim, 'train.mjs');
  evilW = writerOf(evil);
  victimW = writerOf(victim);
  evilRun = (await runsJson(evil))[0]!.run;
  await runsJson(victim);
  await cli(evil, ['push']);
  await cli(victim, ['push']);
  gitIn(victim, 'fetch', '-q');
  assert.equal((await runsJson(victim)).length, 2);
  writeFiles(victim, { 'train.mjs': TODAY });
});

after(() => {
  closeReaders();
  cleanup();
});

test('a run the victim already read cannot be changed under its id: the first copy is read, stderr and doctor say so', async () => {
  const ledger = `refs/flor/ledgers/${evilW}`;
  const path = `runs/${evilRun.slice(0, 2)}/${evilRun}/run.msgpack`;
  const meta = rawMeta({ ...metaFor(evil), id: evilRun, args: { lr: 9 } });
  // A fast-forward that keeps every run, with the run's metadata swapped.
  replaceFile(evil, ledger, path, pack(meta));
  gitIn(evil, 'push', '-q', '--no-verify', 'origin', ledger);
  gitIn(victim, 'fetch', '-q');
  const r = await cli(victim, ['runs', '--format', 'json']);
  const row = (JSON.parse(r.stdout) as Array<{ run: string; args: Record<string, unknown> }>).find((x) => x.run === evilRun)!;
  assert.deepEqual(row.args, { lr: 0.5 });
  assert.match(r.stderr, new RegExp(`ledger refs/flor/remotes/origin/ledgers/${evilW} changed 1 run\\(s\\) it held \\(${evilRun}; the copies seen first are read\\)`));
  const d = await cli(victim, ['doctor'], true);
  assert.equal(d.status, 1);
  assert.match(d.stdout, new RegExp(`changed 1 run\\(s\\) it held \\(${evilRun}`));
  assert.match(d.stdout, new RegExp(`run ${evilRun}: .*a different copy of the run's metadata or code; the copy in refs/flor/remotes/origin/ledgers/${evilW} as first read \\([0-9a-f]{12}\\) \\(writer ${evilW}\\) is used`));
  // Accepting the change is deleting the seen tip.
  gitIn(victim, 'update-ref', '-d', `refs/flor/seen/origin/${evilW}`);
  const now = (await runsJson(victim)).find((x) => x.run === evilRun)!;
  assert.deepEqual(now.args, { lr: 9 });
  fsckClean(victim);
});

test("a run only in a fetched copy of the victim's own ledger is not the victim's: its code runs only with consent", async () => {
  // The attacker adds a run under the victim's writer id on the remote; a fetch without flor's
  // negative refspec brings it in as refs/flor/remotes/origin/ledgers/<victim>.
  const ref = `refs/flor/ledgers/${victimW}`;
  gitIn(evil, 'fetch', '-q', 'origin', `+${ref}:${ref}`);
  const forged = forgeRun(evil, ref, rawMeta(metaFor(evil, { writer: victimW })));
  gitIn(evil, 'push', '-q', '--no-verify', '-f', 'origin', ref);
  gitIn(victim, 'fetch', '-q', 'origin', `+refs/flor/ledgers/*:refs/flor/remotes/origin/ledgers/*`);
  assert.ok((await runsJson(victim)).some((x) => x.run === forged));

  const dry = await cli(victim, ['replay', 'half', '--dry-run']);
  assert.match(dry.stdout, new RegExp(`code of writer ${victimW} runs for 1 run\\(s\\) \\(this clone\\)`));
  assert.match(dry.stdout, new RegExp(`code of writer ${victimW} is NOT run for 1 run\\(s\\) found only in a fetched copy of this clone's own ledger: not trusted`));
  assert.match(dry.stderr, new RegExp(`run ${forged}: refused: only in refs/flor/remotes/origin/ledgers/${victimW}, a fetched copy of this clone's own ledger`));
  const ok = await cli(victim, ['replay', 'half', '--dry-run', '--allow-writer', victimW]);
  assert.match(ok.stdout, new RegExp(`code of writer ${victimW} runs for 1 run\\(s\\) found only in a fetched copy of this clone's own ledger \\(allowed by --allow-writer\\)`));
  gitIn(victim, 'update-ref', '-d', `refs/flor/remotes/origin/ledgers/${victimW}`);
  gitIn(victim, 'update-ref', '-d', `refs/flor/seen/origin/${victimW}`);
  fsckClean(victim);
});

test('flor.verifyLedgerSignatures: another ledger replays only under a good signature on its tip (SSH key)', async () => {
  const keys = tempDir('flor-keys-');
  const key = join(keys, 'signer');
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'signer@example.com', '-f', key], keys);
  // The signer: a third clone whose ledger commits are signed.
  const net = await network(['signer']);
  const signer = net.clones.signer!;
  gitIn(signer, 'config', 'gpg.format', 'ssh');
  gitIn(signer, 'config', 'user.signingKey', `${key}.pub`);
  gitIn(signer, 'config', 'flor.signLedger', 'true');
  runNode(signer, 'train.mjs');
  const signerW = writerOf(signer);
  const ledger = `refs/flor/ledgers/${signerW}`;
  await runsJson(signer);
  assert.match(gitIn(signer, 'cat-file', 'commit', ledger), /^gpgsig -----BEGIN SSH SIGNATURE-----/m);
  // The victim fetches the signer's ledger straight from the signer's clone.
  gitIn(victim, 'remote', 'add', 'signer', signer);
  await cli(victim, ['fetch', 'signer']);
  gitIn(victim, 'config', 'flor.trustedWriters', signerW);
  gitIn(victim, 'config', 'flor.verifyLedgerSignatures', 'true');

  // No allowed signers configured: Git cannot vouch for the key.
  let dry = await cli(victim, ['replay', 'half', '--dry-run']);
  const lines = () => dry.stdout + dry.stderr;
  assert.match(lines(), new RegExp(`code of writer ${signerW} is NOT run for 1 run\\(s\\): its ledger tip has no good signature \\(flor.verifyLedgerSignatures\\)`));
  assert.match(lines(), /refused: the tip [0-9a-f]{12} of refs\/flor\/remotes\/signer\/ledgers\/\S+ has no good signature/);

  const allowed = join(keys, 'allowed_signers');
  writeFileSync(allowed, `signer@example.com ${sh('cat', [`${key}.pub`], keys).stdout.trim()}\n`);
  gitIn(victim, 'config', 'gpg.ssh.allowedSignersFile', allowed);
  dry = await cli(victim, ['replay', 'half', '--dry-run']);
  assert.match(lines(), new RegExp(`code of writer ${signerW} runs for 1 run\\(s\\) \\(trusted in git config flor.trustedWriters, signed by signer@example.com\\)`));

  // Someone without the key adds to the signer's ledger: the new tip is unsigned, nothing of it runs.
  gitIn(signer, 'config', 'flor.signLedger', 'false');
  forgeRun(signer, ledger, rawMeta(metaFor(signer)));
  await cli(victim, ['fetch', 'signer']);
  dry = await cli(victim, ['replay', 'half', '--dry-run']);
  assert.match(lines(), new RegExp(`code of writer ${signerW} is NOT run for 2 run\\(s\\): its ledger tip has no good signature`));
  // The victim's own runs never need a signature.
  assert.match(lines(), new RegExp(`code of writer ${victimW} runs for 1 run\\(s\\) \\(this clone\\)`));
  gitIn(victim, 'config', '--unset', 'flor.verifyLedgerSignatures');
  fsckClean(victim);
});
