/**
 * examples/: each file is parsed and checked, and its exact shell commands run in a local
 * simulation: N shards as N clones in parallel processes pushing to one bare remote, over file://
 * (Kubernetes, GitHub Actions) and over HTTP (Slurm; `git http-backend` behind a local server).
 * What the engines provide is provided the way they do it: the Job's and the array's environment
 * variables, GitHub's `${{ }}` expressions and $GITHUB_OUTPUT, actions/checkout as a clone. This
 * machine has no registry access, so `npm ci` is an `npm` on PATH that installs the one dependency
 * the examples need, git-flor, from this checkout (as node_modules/git-flor and its .bin link).
 * Needs the built dist/.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { trainSource } from '../fixtures/train/source.js';
import { requireRepoSync } from '../src/store/git.js';
import { readableRuns } from '../src/store/ledger.js';
import { parseYaml, type Yaml } from './helpers/yaml.js';
import { serveHttp, type HttpRemote } from './helpers/sync.js';
import { cleanup, gitIn, makeRepo, ROOT, runNode, tempDir, testEnv, writeFiles } from './helpers/repo.js';
import { cli, type CliResult } from './helpers/cli.js';

after(cleanup);

const ARGS = ['--epochs', '4', '--steps', '12'];
const EX = join(ROOT, 'examples');
let origin = '';
let remoteRoot = '';
let bare = '';
let writer = '';
let http: HttpRemote;
let shim = '';

before(async () => {
  origin = makeRepo({ files: { 'train.mjs': trainSource(1) } });
  runNode(origin, 'train.mjs', ARGS, { env: { FLOR_CKPT_SHARE: '1' } });
  writeFiles(origin, { 'train.mjs': trainSource(3) });
  gitIn(origin, 'commit', '-qam', 'v3');
  runNode(origin, 'train.mjs', ARGS, { env: { FLOR_CKPT_SHARE: '1' } });
  writeFiles(origin, { 'train.mjs': trainSource(4) });
  gitIn(origin, 'commit', '-qam', 'v4: wnorm, gnorm, avg_loss');
  assert.equal((await readableRuns(requireRepoSync(origin))).length, 2);
  remoteRoot = tempDir('flor-examples-remote-');
  bare = join(remoteRoot, 'project.git');
  gitIn(remoteRoot, 'init', '-q', '--bare', '-b', 'main', bare);
  gitIn(bare, 'config', 'http.receivepack', 'true');
  gitIn(origin, 'remote', 'add', 'origin', bare);
  gitIn(origin, 'push', '-q', 'origin', 'main');
  await cli(origin, ['push']);
  writer = gitIn(origin, 'config', 'flor.writer');
  http = await serveHttp(remoteRoot);
  shim = tempDir('flor-npm-');
  writeFileSync(join(shim, 'npm'), `#!/bin/sh
# npm ci, offline: the examples' one dependency, from this checkout
[ "$1" = ci ] || { echo "npm $1: not available offline" >&2; exit 1; }
rm -rf node_modules && mkdir -p node_modules/.bin
ln -s '${ROOT}' node_modules/git-flor
ln -s ../git-flor/bin/git-flor node_modules/.bin/git-flor
`);
  chmodSync(join(shim, 'npm'), 0o755);
});

after(() => http?.stop());

/** A shell script as the engine runs it, with its environment; stdout+stderr and the status. */
function sh(shell: string[], script: string, cwd: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(shell[0]!, [...shell.slice(1), script], { cwd, env: testEnv({ ...env, PATH: `${shim}:${process.env.PATH}`, HOME: cwd }), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

/**
 * `git flor ARGS` on the recording clone, in-process: it only plans, pushes, fetches and reads
 * there (a replay child would get this process's loader flags). Exit 0.
 */
function onOrigin(args: string[]): Promise<CliResult> {
  return cli(origin, args);
}

/** A plan for `names` saved on the recording clone and pushed, as each example's comment says to do first. */
async function makePlan(names: string[], shards: number): Promise<string> {
  const r = await onOrigin(['replay', ...names, '--plan', '--shards', String(shards), '--json']);
  const id = (JSON.parse(r.stdout) as { id: string }).id;
  await onOrigin(['push']);
  return id;
}

/**
 * After the shards: the recording clone fetches, and has nothing left to replay. `trusting`: whose
 * work it counts besides its own plans' (a plan saved on a CI runner has that runner's writer).
 */
async function assertAllReplayed(names: string[], trusting: string[] = []): Promise<void> {
  await onOrigin(['fetch']);
  const dry = await onOrigin(['replay', ...names, '--dry-run', ...trusting.flatMap((w) => ['--allow-writer', w])]);
  assert.match(dry.stderr, new RegExp(`2 run\\(s\\) already have ${names.join(', ')}`), dry.stdout + dry.stderr);
  const table = (await onOrigin(['log', ...names])).stdout;
  assert.match(table.split('\n')[0]!, new RegExp(names.join('.*')));
  assert.match(table, /replayed/);
}

const obj = (y: Yaml | undefined): Record<string, Yaml> => {
  assert.ok(y && typeof y === 'object' && !Array.isArray(y), `a mapping: ${JSON.stringify(y)}`);
  return y as Record<string, Yaml>;
};
const list = (y: Yaml | undefined): Yaml[] => {
  assert.ok(Array.isArray(y), `a sequence: ${JSON.stringify(y)}`);
  return y;
};

test('kubernetes/replay-job.yaml: an Indexed Job whose pods, run as 3 clones at once over file://, replay every task', async () => {
  const job = obj(parseYaml(readFileSync(join(EX, 'kubernetes', 'replay-job.yaml'), 'utf8')));
  assert.equal(job.apiVersion, 'batch/v1');
  assert.equal(job.kind, 'Job');
  const spec = obj(job.spec);
  assert.equal(spec.completionMode, 'Indexed');
  assert.ok(Number.isInteger(spec.completions) && (spec.completions as number) >= 1);
  assert.ok(Number.isInteger(spec.parallelism) && (spec.parallelism as number) >= 1 && (spec.parallelism as number) <= (spec.completions as number));
  const pod = obj(obj(spec.template).spec);
  assert.ok(['Never', 'OnFailure'].includes(pod.restartPolicy as string), 'a Job pod may not restart Always');
  const [c, ...more] = list(pod.containers).map(obj);
  assert.equal(more.length, 0);
  assert.equal(typeof c!.image, 'string');
  const env = new Map(list(c!.env).map(obj).map((e) => [e.name as string, e]));
  // The shard count the pods read is the Job's completions.
  assert.equal(Number(env.get('FLOR_SHARDS')!.value), spec.completions);
  const secret = obj(obj(env.get('REPO_URL')!.valueFrom).secretKeyRef);
  assert.ok(secret.name && secret.key, 'the clone URL (with its credentials) comes from a Secret');
  const command = list(c!.command) as string[];
  const [script, ...rest] = list(c!.args) as string[];
  assert.equal(rest.length, 0);
  assert.match(script!, /git flor replay --plan "\$FLOR_PLAN" --shard auto/);
  assert.match(script!, /git flor push/);

  const shards = spec.completions as number;
  const id = await makePlan(['wnorm'], shards);
  const pods = Array.from({ length: shards }, (_, i) => {
    const work = tempDir('flor-pod-'); // the container's workingDir
    const vars: Record<string, string> = { JOB_COMPLETION_INDEX: String(i), REPO_URL: pathToFileURL(bare).href };
    for (const [name, e] of env) if (e.value !== undefined) vars[name] = String(e.value);
    Object.assign(vars, { FLOR_PLAN: id, FLOR_ALLOW_WRITER: writer });
    return sh([...command], script!, work, vars);
  });
  for (const p of await Promise.all(pods)) assert.equal(p.code, 0, p.out);
  await assertAllReplayed(['wnorm']);
});

test('slurm/replay.sbatch: a job array whose tasks, run as 3 clones at once over HTTP with shared checkpoints, replay every task', async () => {
  const text = readFileSync(join(EX, 'slurm', 'replay.sbatch'), 'utf8');
  assert.match(text, /^#!\/bin\/bash\n/);
  const directives = new Map([...text.matchAll(/^#SBATCH --([a-z-]+)(?:=(\S+))?$/gm)].map((m) => [m[1]!, m[2] ?? '']));
  const array = /^(\d+)-(\d+)$/.exec(directives.get('array') ?? '');
  assert.ok(array, '--array=FIRST-LAST');
  const [min, max] = [Number(array[1]), Number(array[2])];
  assert.ok(directives.has('cpus-per-task') && directives.has('time'));
  // sbatch stops reading directives at the first command.
  const firstCommand = text.split('\n').findIndex((l) => l && !l.startsWith('#'));
  assert.ok(text.split('\n').slice(firstCommand).every((l) => !l.startsWith('#SBATCH')));

  const count = max - min + 1;
  const id = await makePlan(['gnorm'], count);
  const ckpt = tempDir('flor-ckpt-');
  await onOrigin(['checkpoints', 'push', ckpt]);
  const scratch = tempDir('flor-scratch-');
  const tasks = Array.from({ length: count }, (_, k) =>
    sh(['bash', '-c'], text.replace(/^#!.*\n/, ''), scratch, {
      SLURM_ARRAY_JOB_ID: '4242', SLURM_ARRAY_TASK_ID: String(min + k), SLURM_ARRAY_TASK_COUNT: String(count),
      SLURM_ARRAY_TASK_MIN: String(min), SLURM_ARRAY_TASK_MAX: String(max), SLURM_CPUS_PER_TASK: '1',
      FLOR_PLAN: id, FLOR_ALLOW_WRITER: writer, REPO_URL: http.url('project.git'), FLOR_CKPT_DIR: ckpt, FLOR_WORK_DIR: scratch,
    }).then((r) => {
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /fetched \d+ checkpoint\(s\)/);
      return r;
    }),
  );
  await Promise.all(tasks);
  await assertAllReplayed(['gnorm']);
});

/** `${{ … }}` as GitHub evaluates it before the shell sees the script (the contexts the example uses). */
function expand(script: string, ctx: Record<string, string>): string {
  return script.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expr: string) => {
    assert.ok(expr in ctx, `the simulation knows \${{ ${expr} }}`);
    return ctx[expr]!;
  });
}

test('github-actions/replay.yml: plan, a matrix of 3 shards at once over file://, and a table job that prints every value', async () => {
  const wf = obj(parseYaml(readFileSync(join(EX, 'github-actions', 'replay.yml'), 'utf8')));
  const inputs = obj(obj(obj(wf.on).workflow_dispatch).inputs);
  assert.deepEqual(Object.keys(inputs).sort(), ['names', 'writers']);
  const jobs = obj(wf.jobs);
  assert.deepEqual(Object.keys(jobs), ['plan', 'replay', 'table']);
  assert.equal(obj(jobs.replay).needs, 'plan');
  assert.equal(obj(jobs.table).needs, 'replay');
  const matrix = list(obj(obj(obj(jobs.replay).strategy).matrix).shard);
  const wfEnv = Object.fromEntries(Object.entries(obj(wf.env)).map(([k, v]) => [k, String(v)]));
  assert.deepEqual(matrix, Array.from({ length: Number(wfEnv.FLOR_SHARDS) }, (_, i) => i), 'the matrix lists shards 0..FLOR_SHARDS-1');

  const given = { 'inputs.names': 'avg_loss', 'inputs.writers': writer };
  /** One job on a fresh runner: actions/checkout is a clone, setup-node is this node, `run` steps are bash -eo pipefail. */
  const runJob = async (name: string, ctx: Record<string, string>): Promise<{ outputs: Record<string, string>; out: string }> => {
    const dir = join(tempDir('flor-runner-'), 'project');
    const outputs: Record<string, string> = {};
    let all = '';
    for (const step of list(obj(jobs[name]).steps).map(obj)) {
      if (typeof step.uses === 'string') {
        if (step.uses.startsWith('actions/checkout@')) gitIn(tempDir(), 'clone', '-q', pathToFileURL(bare).href, dir);
        else assert.match(step.uses, /^actions\/setup-node@/);
        continue;
      }
      const file = join(tempDir('flor-gh-'), 'output');
      writeFileSync(file, '');
      const r = await sh(['bash', '--noprofile', '--norc', '-eo', 'pipefail', '-c'], expand(String(step.run), ctx), dir, { ...wfEnv, GITHUB_OUTPUT: file });
      assert.equal(r.code, 0, `${name}: ${step.run}\n${r.out}`);
      all += r.out;
      if (typeof step.id === 'string') {
        for (const l of readFileSync(file, 'utf8').split('\n').filter(Boolean)) outputs[`steps.${step.id}.outputs.${l.slice(0, l.indexOf('='))}`] = l.slice(l.indexOf('=') + 1);
      }
    }
    const declared = obj(obj(jobs[name]).outputs ?? {});
    const jobOut: Record<string, string> = {};
    for (const [k, v] of Object.entries(declared)) jobOut[k] = expand(String(v), outputs);
    return { outputs: jobOut, out: all };
  };
  const planned = await runJob('plan', given);
  assert.match(planned.outputs.plan!, /^[0-9a-f]{12}$/);
  const shards = await Promise.all(matrix.map((s) => runJob('replay', { ...given, 'matrix.shard': String(s), 'needs.plan.outputs.plan': planned.outputs.plan! })));
  for (const s of shards) assert.match(s.out, /shard \d\/3 of plan/);
  const table = await runJob('table', given);
  assert.match(table.out, /avg_loss.*replayed/);
  // The plan was saved on a runner: this clone counts its shards' work once it trusts that writer.
  const planner = /plan saved by writer ([0-9a-f]{16})/.exec(planned.out)?.[1];
  assert.ok(planner, planned.out);
  await assertAllReplayed(['avg_loss'], [planner]);
});

// The example files only name `git flor` commands that exist and options their help lists.
test('every git flor command line of the examples is one the CLI accepts', async () => {
  const files = ['kubernetes/replay-job.yaml', 'slurm/replay.sbatch', 'github-actions/replay.yml'].map((f) => readFileSync(join(EX, f), 'utf8'));
  const lines = files.flatMap((t) => [...t.matchAll(/git flor ([a-z]+)([^\n]*)/g)]);
  assert.ok(lines.length >= 8);
  const help = new Map<string, string>();
  for (const [, cmd, rest] of lines) {
    if (!help.has(cmd!)) help.set(cmd!, (await onOrigin([cmd!, '--help'])).stdout);
    for (const opt of rest!.matchAll(/(?:^|\s)(--[a-z-]+)/g)) assert.ok(help.get(cmd!)!.includes(opt[1]!), `git flor ${cmd} ${opt[1]}`);
  }
});
