/**
 * `git flor ui` in a real browser (Debian's chromium through playwright-core, never a downloaded
 * one) against a real repository with recorded runs. Screenshots of each view are saved under
 * test-artifacts/ui/ (the path is printed) for a person to look at.
 *
 * One browser and one page for the file: each test reloads the page (the cookie stays). The tests
 * that only read come first on one recorded repository; the ones that change it (a live run, a
 * replay, another clone's run, a damaged run) come last, in that order.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import { findRepoSync } from '../src/store/git.js';
import { startUi, type UiServer } from '../src/ui/server.js';
import { cleanup, linkFlor, makeRepo, startNode, gitIn, sh, tempDir, testEnv, writeFiles, ROOT } from './helpers/repo.js';
import { cli } from './helpers/cli.js';

const CHROMIUM = process.env.FLOR_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-artifacts', 'ui');

const SCRIPT = (decay: string) => `import { flor } from 'git-flor';
const lr = flor.arg('lr', 0.1);
let w = 5;
for (const epoch of flor.loop('epoch', [0, 1, 2, 3])) {
  for (const step of flor.loop('step', [0, 1, 2])) {
    w -= lr * w${decay};
    flor.log('loss', w * w);
  }
  flor.log('acc', 1 / (1 + w * w));
}
`;

let dir = '';
let other = '';
let ui: UiServer;
let browser: Browser;
let page: Page;
let errors: string[] = [];
let outside: string[] = [];
let expected: Array<Record<string, unknown>> = [];
const runOf = (lr: number) => expected.find((r) => (r.args as Record<string, number>).lr === lr)!.run as string;

/** A user script run to its end, asynchronously: runs that need not wait for each other do not. */
function record(cwd: string, script: string, args: string[]): Promise<void> {
  const child = startNode(cwd, script, args);
  child.stdout!.resume();
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`node ${script} ${args.join(' ')} exited ${code}:\n${err}`)))),
  );
}

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set FLOR_CHROMIUM`);
  // The browser starts while the runs record.
  const launching = chromium.launch({
    executablePath: CHROMIUM,
    // As root in a container chromium needs --no-sandbox; the rest keeps it off the network.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  dir = makeRepo({ files: { 'train.mjs': SCRIPT('') } });
  await Promise.all([record(dir, 'train.mjs', ['--lr', '0.1']), record(dir, 'train.mjs', ['--lr', '0.3'])]);
  writeFiles(dir, { 'train.mjs': SCRIPT(' * 0.7') });
  gitIn(dir, 'commit', '-qam', 'v2: smaller steps');
  // Another clone (for the trust test) records its run beside this clone's third one; its ledger
  // is fetched only by that test.
  other = join(tempDir('flor-ui-other-'), 'o');
  gitIn(dir, 'branch', '-f', 'for-clone', 'HEAD');
  gitIn(tempDir(), 'clone', '-q', '-b', 'for-clone', dir, other);
  linkFlor(other);
  gitIn(other, 'config', 'flor.writer', 'otherclone');
  await Promise.all([record(dir, 'train.mjs', ['--lr', '0.2']), record(other, 'train.mjs', ['--lr', '0.25'])]);
  // Readers finish the captures the runs left to detached processes.
  await cli(other, ['runs']);
  expected = JSON.parse((await cli(dir, ['runs', '--format', 'json'])).stdout);
  // The page hears of a changed history within a tenth of a second, not half a second.
  ui = await startUi({ repo: findRepoSync(dir)!, port: 0, stampMs: 100 });
  browser = await launching;
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('request', (r) => {
    if (!r.url().startsWith(`http://127.0.0.1:${ui.port}/`)) outside.push(r.url());
  });
  await page.goto(ui.url); // the token moves into the page's cookie
  await page.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });
  mkdirSync(SHOTS, { recursive: true });
  console.log(`# screenshots: ${SHOTS}`);
});

after(async () => {
  await browser?.close();
  await ui?.close(); // a second close (the last test closes it) is harmless
  cleanup();
});

/** The page as it first opens, with this test's errors and outside requests collected afresh. */
async function openPage(): Promise<{ page: Page; errors: string[]; outside: string[] }> {
  errors = [];
  outside = [];
  await page.goto(`http://127.0.0.1:${ui.port}/`);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });
  return { page, errors, outside };
}

function raw(path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port: ui.port, path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    r.on('error', reject);
    r.end();
  });
}

test('only the token and the bound address get an answer', async () => {
  const host = `127.0.0.1:${ui.port}`;
  assert.equal(await raw('/', { Host: host }), 401, 'no token');
  assert.equal(await raw('/?token=wrong', { Host: host }), 401, 'wrong token');
  assert.equal(await raw(`/?token=${ui.token}`, { Host: host }), 303, 'right token: moved into a cookie');
  assert.equal(await raw('/api/runs', { Host: host, Cookie: `flor_ui_${ui.port}=${ui.token}` }), 200);
  assert.equal(await raw('/api/runs', { Host: host, Cookie: `flor_ui_${ui.port}=nope` }), 401);
  // DNS rebinding: a page served as evil.example that resolves to 127.0.0.1 sends its own Host.
  assert.equal(await raw(`/?token=${ui.token}`, { Host: `evil.example:${ui.port}` }), 403);
  assert.equal(await raw('/api/runs', { Host: `localhost:${ui.port}`, Cookie: `flor_ui_${ui.port}=${ui.token}` }), 200);
  assert.equal(await raw('/api/runs', { Host: `localhost:${ui.port + 1}`, Cookie: `flor_ui_${ui.port}=${ui.token}` }), 403);
});

test('the runs view shows the rows and values of `git flor runs --format json`, grouped by version', async () => {
  const { page, errors, outside } = await openPage();
  const rows = await page.$$eval('#runs tbody tr[data-run]', (trs) => trs.map((tr) => tr.getAttribute('data-run')));
  assert.deepEqual(rows, expected.map((r) => r.run));
  const headers = await page.$$eval('#runs thead th', (ths) => ths.map((t) => t.textContent));
  const lrAt = headers.indexOf('lr');
  assert.ok(lrAt > 0, `an lr column of its own: ${headers.join(' | ')}`);
  const lrs = await page.$$eval('#runs tbody tr[data-run]', (trs, i) => trs.map((tr) => tr.children[i]!.textContent), lrAt);
  assert.deepEqual(lrs, expected.map((r) => String((r.args as Record<string, number>).lr)));
  const accAt = headers.indexOf('last(acc)');
  const accs = await page.$$eval('#runs tbody tr[data-run]', (trs, i) => trs.map((tr) => Number(tr.children[i]!.textContent)), accAt);
  accs.forEach((a, i) => assert.ok(Math.abs(a - (expected[i]!['last(acc)'] as number)) < 1e-5, `acc of row ${i}`));
  const groups = await page.$$eval('#runs tbody tr.group', (trs) => trs.map((t) => t.textContent));
  assert.equal(groups.length, 2);
  assert.match(groups[1]!, /v2: smaller steps/);
  await page.screenshot({ path: join(SHOTS, 'runs.png'), fullPage: true });
  assert.deepEqual(errors, []);
  assert.deepEqual(outside, [], 'no request leaves the machine');
});

test('the chart opens on the most-logged name with one series per run; selecting rows narrows it', async () => {
  const { page, errors } = await openPage();
  const chosen = await page.$eval('#names', (s) => (s as HTMLSelectElement).value);
  assert.equal(chosen, 'loss', 'loss is logged 12 times a run, acc 4');
  assert.equal(await page.$eval('.chart[data-name="loss"] [data-series]', (e) => e.getAttribute('data-series')), String(expected.length));
  const legend = await page.$$eval('.chart[data-name="loss"] .u-legend tr.u-series', (trs) => trs.slice(1).map((t) => t.textContent));
  assert.equal(legend.length, expected.length);
  await page.screenshot({ path: join(SHOTS, 'charts.png'), fullPage: true });
  await page.check(`tr[data-run="${expected[0]!.run}"] input[type=checkbox]`);
  await page.waitForFunction(() => document.querySelector('.chart[data-name="loss"] [data-series]')?.getAttribute('data-series') === '1');
  // x by epoch: 4 points per run; smoothing adds the raw curve faint underneath.
  await page.selectOption('#x', 'epoch');
  await page.waitForFunction(() => document.querySelector('.chart .u-axis')?.textContent !== null && document.querySelector('.chart')?.textContent?.includes('epoch'));
  // Epochs 0..3: ticks on whole iterations only (uPlot would put some at 0.5 steps by default).
  await page.waitForFunction(() => document.querySelector('.chart[data-name="loss"]')?.getAttribute('data-xticks'));
  const ticks = (await page.$eval('.chart[data-name="loss"]', (e) => e.getAttribute('data-xticks')))!.split(' ').map(Number);
  assert.ok(ticks.length >= 2, String(ticks));
  assert.ok(ticks.every((t) => Number.isInteger(t)), `ticks ${ticks.join(', ')}`);
  await page.screenshot({ path: join(SHOTS, 'charts-epoch.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

test('hover names the nearest run and its value; a legend click hides a run; smoothing keeps the raw curve faint; log scale', async () => {
  const { page, errors } = await openPage();
  const chart = '.chart[data-name="loss"]';
  const shown = (lr: number) => {
    const r = expected.find((x) => (x.args as Record<string, number>).lr === lr)!;
    return { run: r.run as string, version: r.version as string };
  };
  // The page's own number text: 6 significant digits.
  const text = (v: number) => String(Number(v.toPrecision(6)));
  // loss at record k of the v1 run with lr 0.3: w = 5 * 0.7^(k+1), squared.
  const loss = Array.from({ length: 12 }, (_, k) => (5 * 0.7 ** (k + 1)) ** 2);
  const over = (await (await page.$(`${chart} .u-over`))!.boundingBox())!;
  // Near the bottom of the plot at fraction fx of its width: the readout once it names `run`.
  const hover = async (fx: number, run: string) => {
    await page.mouse.move(over.x + fx * (over.width - 1), over.y + over.height - 2);
    const named = () => page.getAttribute(`${chart} .hover`, 'data-run');
    await page.waitForFunction(([c, r]) => document.querySelector(`${c} .hover`)?.getAttribute('data-run') === r, [chart, run], { timeout: 5000 }).catch(async () => {
      assert.fail(`the readout names ${await named()} (${await page.textContent(`${chart} .hover`)}), not ${run}`);
    });
    return (await page.textContent(`${chart} .hover`))!;
  };
  // At record 0, near the bottom: the lowest curve there is lr 0.3's (12.25, against 18.49 and 20.25).
  let at = await hover(0, shown(0.3).run);
  assert.match(at, new RegExp(`^${shown(0.3).run.slice(0, 8)}\\w* ${shown(0.3).version}: ${text(loss[0]!)} at record 0$`));
  // Its legend entry toggles it off: the nearest drawn run is then lr 0.2's (v2: 5 * 0.86, squared).
  const label = at.slice(0, at.indexOf(':'));
  await page.locator(`${chart} .u-legend tr.u-series th`, { hasText: label }).click();
  assert.equal(await page.$$eval(`${chart} .u-legend tr.u-series.u-off`, (t) => t.length), 1);
  at = await hover(0, shown(0.2).run);
  assert.match(at, new RegExp(`: ${text((5 * 0.86) ** 2)} at record 0$`));
  // Smoothing: the debiased EMA drawn, each raw curve kept as a faint series without a legend row.
  await page.fill('#smooth', '0.9');
  await page.waitForFunction((c) => document.querySelectorAll(`${c} .u-legend tr.u-raw`).length === 3, chart);
  assert.equal(await page.$$eval(`${chart} .u-legend tr.u-raw`, (t) => t.filter((r) => getComputedStyle(r).display !== 'none').length), 0);
  let last = 0;
  let debias = 0;
  for (const y of loss) (last = last * 0.9 + 0.1 * y), (debias = debias * 0.9 + 0.1);
  at = await hover(1, shown(0.3).run);
  assert.match(at, new RegExp(`: ${text(last / debias)} at record 11$`));
  await page.screenshot({ path: join(SHOTS, 'charts-smooth.png'), fullPage: true });
  // Log scale: y ticks at 1, 2 and 5 of each decade; on the linear scale they are evenly spaced.
  const ticks = async () => (await page.getAttribute(chart, 'data-yticks'))!.split(' ').map(Number);
  const linear = await ticks();
  const step = linear[1]! - linear[0]!;
  assert.ok(linear.every((t, i) => Math.abs(t - linear[0]! - i * step) < 1e-9), `linear ticks ${linear.join(' ')}`);
  await page.check('#logy');
  await page.waitForFunction(([c, was]) => document.querySelector(c)?.getAttribute('data-yticks') !== was, [chart, linear.join(' ')] as const);
  const log = await ticks();
  assert.ok([1, 10].every((d) => log.some((t) => Math.abs(t - d) < 1e-9)), `log ticks ${log.join(' ')}`);
  assert.ok(log.every((t) => [1, 2, 5].includes(Number((t / 10 ** Math.floor(Math.log10(t) + 1e-9)).toPrecision(3)))), `log ticks ${log.join(' ')}`);
  await page.screenshot({ path: join(SHOTS, 'charts-log.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

test('a filter narrows the rows; a bad filter says where and what', async () => {
  const { page, errors } = await openPage();
  await page.fill('#where', 'lr > 0.15');
  await page.press('#where', 'Enter');
  await page.waitForFunction(() => document.querySelectorAll('#runs tbody tr[data-run]').length === 2);
  const rows = await page.$$eval('#runs tbody tr[data-run]', (trs) => trs.map((tr) => tr.getAttribute('data-run')));
  assert.deepEqual(rows, expected.filter((r) => (r.args as Record<string, number>).lr! > 0.15).map((r) => r.run));
  await page.screenshot({ path: join(SHOTS, 'filtered.png'), fullPage: true });
  await page.fill('#where', 'los < 1');
  await page.press('#where', 'Enter');
  await page.waitForSelector('#status.error');
  assert.match((await page.textContent('#status'))!, /loss/);
  assert.deepEqual(errors.filter((e) => !/status of 400/.test(e)), []);
});

test('a run opens with its status, command, args and segments', async () => {
  const { page, errors } = await openPage();
  const id = runOf(0.3);
  await page.click(`tr[data-run="${id}"] td.run a`);
  await page.waitForSelector('#run-view:not([hidden])');
  assert.equal(await page.textContent('#run-title'), `run ${id}`);
  const meta = await page.$$eval('#run-meta dt, #run-meta dd', (es) => es.map((e) => e.textContent));
  assert.equal(meta[meta.indexOf('status') + 1], 'ok');
  assert.match(meta[meta.indexOf('command') + 1]!, /^node train\.mjs --lr 0\.3$/);
  assert.equal(meta[meta.indexOf('args') + 1], '{"lr":0.3}');
  assert.deepEqual(await page.$$eval('#run-segments tbody td:first-child', (t) => t.map((x) => x.textContent)), ['forward']);
  await page.screenshot({ path: join(SHOTS, 'run.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

test('compare: the args that differ, the code diff between the code trees, the curves overlaid', async () => {
  const { page, errors } = await openPage();
  const [a, c] = [runOf(0.1), runOf(0.2)];
  assert.equal(await page.getAttribute('#compare-tab', 'disabled'), '');
  await page.check(`tr[data-run="${a}"] input[type=checkbox]`);
  await page.check(`tr[data-run="${c}"] input[type=checkbox]`);
  await page.waitForFunction(() => !document.querySelector('#compare-tab')!.hasAttribute('disabled'));
  await page.click('#compare-tab');
  await page.waitForFunction((ids) => document.body.dataset.compared === ids, `${a},${c}`, { timeout: 30_000 });
  assert.deepEqual(await page.$$eval('#compare-args thead th', (t) => t.map((x) => x.textContent)), ['run', 'version', 'status', 'lr']);
  assert.deepEqual(await page.$$eval('#compare-args tbody td.differs', (t) => t.map((x) => x.textContent)), ['0.1', '0.2']);
  const added = await page.$$eval('#compare-code pre.diff span.add', (t) => t.map((x) => x.textContent!.trim()));
  const removed = await page.$$eval('#compare-code pre.diff span.del', (t) => t.map((x) => x.textContent!.trim()));
  assert.ok(added.includes('+    w -= lr * w * 0.7;'), added.join('\n'));
  assert.ok(removed.includes('-    w -= lr * w;'), removed.join('\n'));
  assert.equal(await page.$eval('#compare-charts .chart[data-name="loss"] [data-series]', (e) => e.getAttribute('data-series')), '2');
  await page.screenshot({ path: join(SHOTS, 'compare.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

test('parallel coordinates: one polyline per run over args and final values; brushing an axis filters', async () => {
  const { page, errors } = await openPage();
  await page.click('nav button[data-view="parallel"]');
  await page.waitForSelector('#parallel svg');
  assert.equal(await page.$$eval('#parallel polyline.run', (p) => p.length), expected.length);
  const axes = await page.$$eval('#parallel g.axis', (g) => g.map((x) => x.getAttribute('data-axis')));
  assert.ok(axes.includes('lr') && axes.includes('last(acc)'), axes.join(','));
  // Brush from above the top of the lr axis (0.1 .. 0.3) down a fifth of it: only lr 0.3 stays.
  const grab = (await page.$('#parallel g.axis[data-axis="lr"] rect.grab'))!;
  const box = (await grab.boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + 1);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.25, { steps: 4 });
  await page.mouse.up();
  await page.waitForFunction(() => document.body.dataset.parallelKept === '1');
  const kept = await page.$$eval('#parallel polyline.run:not(.out)', (p) => p.map((x) => x.getAttribute('data-run')));
  assert.deepEqual(kept, expected.filter((r) => (r.args as Record<string, number>).lr === 0.3).map((r) => r.run));
  await page.screenshot({ path: join(SHOTS, 'parallel.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

test('a run recording now appears live, its curve grows, and it becomes the stored run', async () => {
  const { page, errors } = await openPage();
  // The script waits for a go file between epochs, so the test decides when it moves on.
  writeFiles(dir, {
    'slow.mjs': `import { flor } from 'git-flor';
import { existsSync } from 'node:fs';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for await (const epoch of flor.loop('epoch', [0, 1, 2, 3, 4, 5])) {
  flor.log('loss', 100 - epoch);
  while (!existsSync('go-' + epoch)) await sleep(20);
}
`,
  });
  const lossRuns = async () => Number(/^loss \((\d+) runs?\)$/.exec((await page.$eval('#names option[value="loss"]', (o) => o.textContent))!)?.[1]);
  const stored = await lossRuns();
  const child = startNode(dir, 'slow.mjs');
  try {
    await page.waitForSelector('#runs tr.live', { timeout: 20_000 });
    const id = (await page.getAttribute('#runs tr.live', 'data-run'))!;
    const statusAt = (await page.$$eval('#runs thead th', (t) => t.map((x) => x.textContent))).indexOf('status');
    assert.equal(await page.$eval(`tr[data-run="${id}"]`, (tr, i) => tr.children[i]!.textContent, statusAt), 'running');
    const points = () => page.evaluate((run) => (window as unknown as { __florPoints?: (n: string, r: string) => number }).__florPoints?.('loss', run) ?? -1, id);
    await page.waitForFunction((run) => (window as unknown as { __florPoints: (n: string, r: string) => number }).__florPoints('loss', run) === 1, id, { timeout: 20_000 });
    writeFiles(dir, { 'go-0': '', 'go-1': '' });
    await page.waitForFunction((run) => (window as unknown as { __florPoints: (n: string, r: string) => number }).__florPoints('loss', run) === 3, id, { timeout: 20_000 });
    // The names list counts the live run among the runs that logged loss.
    assert.equal(await lossRuns(), stored + 1);
    await page.screenshot({ path: join(SHOTS, 'live.png'), fullPage: true });
    writeFiles(dir, { 'go-2': '', 'go-3': '', 'go-4': '', 'go-5': '' });
    await new Promise<void>((resolve) => child.on('exit', () => resolve()));
    // Captured: no longer live, its status is the stored one, and its curve kept every point.
    await page.waitForFunction((run) => !document.querySelector(`tr.live[data-run="${run}"]`) && document.querySelector(`tr[data-run="${run}"]`) !== null, id, { timeout: 20_000 });
    await page.waitForFunction((run) => document.querySelector(`tr[data-run="${run}"]`)!.textContent!.includes('ok'), id, { timeout: 20_000 });
    // The table and the chart are separate requests: the chart may redraw a moment after the row.
    await page.waitForFunction((run) => (window as unknown as { __florPoints: (n: string, r: string) => number }).__florPoints('loss', run) === 6, id, { timeout: 20_000 }).catch(() => {});
    assert.equal(await points(), 6);
  } finally {
    child.kill('SIGKILL');
  }
  assert.deepEqual(errors, []);
});

test('hindsight: a name added to today\'s code is planned, replayed from the page, and fills a column and a curve', async () => {
  const { page, errors } = await openPage();
  const today = SCRIPT(' * 0.7').replace("  flor.log('acc', 1 / (1 + w * w));\n", "  flor.log('acc', 1 / (1 + w * w));\n  flor.log('wabs', Math.abs(w));\n");
  writeFiles(dir, { 'train.mjs': today });
  await page.click('nav button[data-view="hindsight"]');
  await page.fill('#hindsight-names', 'wabs');
  await page.click('#hindsight-plan');
  await page.waitForFunction(() => !document.querySelector('#hindsight-start')!.hasAttribute('disabled'), undefined, { timeout: 60_000 });
  assert.match((await page.textContent('#hindsight-out'))!, /3 run/);
  // The report of a replay not yet run takes no room (it showed as an empty grey box).
  assert.equal(await page.isVisible('#hindsight-report'), false);
  await page.screenshot({ path: join(SHOTS, 'hindsight-plan.png'), fullPage: true });
  await page.click('#hindsight-start');
  await page.waitForFunction(() => document.body.dataset.replay === 'done' || document.body.dataset.replay === 'failed', undefined, { timeout: 180_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.replay), 'done', (await page.textContent('#hindsight-report'))!);
  assert.notEqual(await page.getAttribute('#hindsight-report', 'class'), 'findings', (await page.textContent('#hindsight-report'))!);
  assert.equal(await page.isVisible('#hindsight-report'), true);
  await page.screenshot({ path: join(SHOTS, 'hindsight-done.png'), fullPage: true });
  await page.click('nav button[data-view="main"]');
  await page.waitForSelector('.chart[data-name="wabs"] [data-series="3"]', { timeout: 30_000 });
  // The column the replay filled holds what `git flor runs --format json` says now.
  const now = JSON.parse((await cli(dir, ['runs', '--format', 'json'])).stdout) as Array<Record<string, unknown>>;
  const headers = await page.$$eval('#runs thead th', (t) => t.map((x) => x.textContent));
  const at = headers.indexOf('last(wabs)');
  assert.ok(at > 0, headers.join(' | '));
  for (const r of now.filter((x) => x.file === 'train.mjs')) {
    const cell = await page.$eval(`tr[data-run="${r.run}"]`, (tr, i) => tr.children[i]!.textContent, at);
    assert.ok(typeof r['last(wabs)'] === 'number' && Math.abs(Number(cell) - (r['last(wabs)'] as number)) < 1e-5, `${r.run}: ${cell} vs ${r['last(wabs)']}`);
  }
  // Each chosen name has one chart, also when draws overlap (as when segments land while a name is
  // chosen): each overlapping draw used to add its charts to the emptied box, so they showed twice.
  let curveAnswers = 0;
  page.on('response', (r) => {
    if (r.url().includes('/api/curves')) curveAnswers++;
  });
  await page.$eval('#names', (s) => {
    s.dispatchEvent(new Event('change'));
    s.dispatchEvent(new Event('change'));
  });
  while (curveAnswers < 2) await new Promise((r) => setTimeout(r, 10));
  await page.waitForSelector('.chart[data-name="wabs"] [data-series="3"]');
  await page.evaluate(() => new Promise((r) => setTimeout(r, 200))); // both answers read and drawn
  const charts = await page.$$eval('#charts .chart', (cs) => cs.map((c) => c.getAttribute('data-name')));
  const chosen = await page.$$eval('#names option', (os) => os.filter((o) => (o as HTMLOptionElement).selected).map((o) => (o as HTMLOptionElement).value));
  assert.deepEqual(charts, chosen);
  // Side by side, each chart stays within its own box (the first one drawn used to span both).
  const widths = await page.$$eval('#charts .chart', (cs) => cs.map((c) => [(c.querySelector('.uplot') as HTMLElement).offsetWidth, (c as HTMLElement).clientWidth]));
  for (const [chart, box] of widths) assert.ok(chart! <= box! + 1, `a chart ${chart} px wide in a box of ${box} px`);
  await page.screenshot({ path: join(SHOTS, 'hindsight-charts.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

test('hindsight asks before it runs code another clone recorded', async () => {
  // The other clone recorded its run in before(); this clone fetches its ledger now.
  gitIn(dir, 'fetch', '-q', other, '+refs/flor/ledgers/otherclone:refs/flor/remotes/other/ledgers/otherclone');
  const { page, errors } = await openPage();
  await page.click('nav button[data-view="hindsight"]');
  await page.fill('#hindsight-names', 'wabs');
  await page.click('#hindsight-plan');
  await page.waitForSelector('#hindsight-trust:not([hidden]) input[value="otherclone"]', { timeout: 60_000 });
  assert.match((await page.textContent('#hindsight-out'))!, /code of writer otherclone is NOT run for 1 run\(s\): not trusted/);
  assert.equal(await page.isChecked('#hindsight-writers input[value="otherclone"]'), false, 'never trusted by default');
  await page.check('#hindsight-writers input[value="otherclone"]');
  await page.waitForFunction(() => /code of writer otherclone runs for 1 run\(s\)/.test(document.querySelector('#hindsight-out')!.textContent!), undefined, { timeout: 60_000 });
  // The previous test's replay ("wabs: done" and its report) is not shown beside this new plan.
  assert.equal(await page.textContent('#hindsight-progress'), '');
  assert.equal(await page.isVisible('#hindsight-report'), false);
  await page.screenshot({ path: join(SHOTS, 'hindsight-trust.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

test('a damaged run shows as damaged and every other run still shows; stopping the server leaves nothing listening', async () => {
  // Forge a run whose metadata is not msgpack into this clone's own ledger.
  const ref = gitIn(dir, 'for-each-ref', '--format=%(refname)', 'refs/flor/ledgers/');
  const index = join(dir, '.git', 'forge.index');
  const env = { GIT_INDEX_FILE: index };
  sh('git', ['read-tree', ref], dir, { env: testEnv(env) });
  const blob = sh('git', ['hash-object', '-w', '--stdin'], dir, { input: 'not msgpack' }).stdout.trim();
  const bad = '01ZZZZZZZZZZZZZZZZZZZZZZZZ';
  sh('git', ['update-index', '--add', '--cacheinfo', `100644,${blob},runs/01/${bad}/run.msgpack`], dir, { env: testEnv(env) });
  const tree = sh('git', ['write-tree'], dir, { env: testEnv(env) }).stdout.trim();
  const commit = sh('git', ['commit-tree', tree, '-p', ref, '-m', 'forged'], dir).stdout.trim();
  gitIn(dir, 'update-ref', ref, commit);

  const { page } = await openPage();
  const damaged = await page.$$eval('#runs tr.damaged', (t) => t.map((x) => x.textContent));
  assert.equal(damaged.length, 1);
  assert.match(damaged[0]!, new RegExp(`run ${bad} is damaged`));
  const rows = await page.$$eval('#runs tbody tr[data-run]', (trs) => trs.map((tr) => tr.getAttribute('data-run')));
  for (const r of expected) assert.ok(rows.includes(r.run as string), `run ${r.run} still listed`);
  await page.screenshot({ path: join(SHOTS, 'damaged.png'), fullPage: true });

  const port = ui.port;
  await ui.close();
  await assert.rejects(raw('/', { Host: `127.0.0.1:${port}` }), /ECONNREFUSED/);
});
