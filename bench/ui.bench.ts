/**
 * `git flor ui` over 200 runs x 5,000 records (the query bench's repository), in Debian's chromium:
 * - first view usable (runs table and the chart of the most-logged name drawn), target <= 1.5 s;
 * - a chart of all 200 runs of one name (fetch, align, draw), target <= 500 ms.
 * Baseline in the same run: the same browser loading a static asset of the same server.
 */
import { performance } from 'node:perf_hooks';
import { chromium } from 'playwright-core';
import { requireRepoSync } from '../src/store/git.js';
import { startUi } from '../src/ui/server.js';
import { cleanup } from '../test/helpers/repo.js';
import { buildBenchRepo } from './query.bench.js';

const FIRST_VIEW_MS = 1500;
const CHART_MS = 500;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function run(): Promise<void> {
  const { dir } = await buildBenchRepo();
  const ui = await startUi({ repo: requireRepoSync(dir), port: 0 });
  const browser = await chromium.launch({
    executablePath: process.env.FLOR_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(ui.url); // sets the cookie; the first load also warms the server's readers
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
    const rows = await page.$$eval('#runs tbody tr[data-run]', (t) => t.length);
    const series = await page.$eval('.chart [data-series]', (e) => Number(e.getAttribute('data-series')));
    if (rows !== 200 || series !== 200) throw new Error(`expected 200 rows and 200 series, got ${rows} and ${series}`);

    const first: number[] = [];
    const base: number[] = [];
    const chart: number[] = [];
    for (let i = 0; i < 3; i++) {
      let t0 = performance.now();
      await page.goto(`http://127.0.0.1:${ui.port}/static/app.css`);
      base.push(performance.now() - t0);
      t0 = performance.now();
      await page.goto(`http://127.0.0.1:${ui.port}/`);
      await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
      first.push(performance.now() - t0);
      // Switch the chart to acc and back to loss: fetch + align + draw of 200 curves.
      for (const name of ['acc', 'loss']) {
        t0 = performance.now();
        await page.selectOption('#names', name);
        await page.waitForFunction((n) => document.querySelector(`.chart[data-name="${n}"] [data-series="200"]`) !== null, name, { timeout: 60_000 });
        if (name === 'loss') chart.push(performance.now() - t0);
      }
    }
    const f = median(first);
    const b = median(base);
    const c = median(chart);
    console.log(`BENCH ui-first-view-200x5000: ${f.toFixed(0)} ms median of 3 (${(f / b).toFixed(1)}x vs a static asset = ${b.toFixed(0)} ms, target <= ${FIRST_VIEW_MS} ms) ${f <= FIRST_VIEW_MS ? 'PASS' : 'FAIL'}`);
    console.log(`BENCH ui-chart-200-runs: ${c.toFixed(0)} ms median of 3 (${(c / b).toFixed(1)}x vs a static asset = ${b.toFixed(0)} ms, target <= ${CHART_MS} ms) ${c <= CHART_MS ? 'PASS' : 'FAIL'}`);
  } finally {
    await browser.close();
    await ui.close();
    cleanup();
  }
}
