/**
 * A line chart as one standalone SVG document: what `git flor plot --output chart.svg` writes.
 * The terminal chart package draws text only; this is the same chart for a file a browser, an
 * editor or a pull request can show. Pure: series in, text out, no fonts or scripts fetched.
 */

export interface SvgSeries {
  label: string;
  xs: number[];
  ys: number[];
}

export interface SvgChartOptions {
  title: string;
  xLabel: string;
  series: SvgSeries[];
  width?: number;
  height?: number;
}

/** Ten colours that stay apart for the common kinds of colour blindness (Tableau 10). */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' }[c]!};`).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '\ufffd');
}

/** 1, 2 or 5 times a power of ten, so ticks read as round numbers. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (lo === hi) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

function label(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e5 || a < 1e-3 ? v.toExponential(1) : String(Number(v.toPrecision(4)));
}

/** Several charts stacked in one document, one panel per name. */
export function svgCharts(panels: SvgChartOptions[]): string {
  if (panels.length === 1) return svgChart(panels[0]!);
  const W = Math.max(...panels.map((p) => p.width ?? 800));
  const heights = panels.map((p) => p.height ?? 420);
  const H = heights.reduce((a, b) => a + b, 0);
  let y = 0;
  const inner = panels.map((p, i) => {
    const body = svgChart(p).replace('<svg ', `<svg x="0" y="${y}" `);
    y += heights[i]!;
    return body;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">\n${inner.join('')}</svg>\n`;
}

export function svgChart(o: SvgChartOptions): string {
  const W = o.width ?? 800;
  const H = o.height ?? 420;
  const legendRows = o.series.length;
  const M = { left: 64, right: 16, top: 36, bottom: 44 + 18 * legendRows };
  const pw = Math.max(10, W - M.left - M.right);
  const ph = Math.max(10, H - M.top - M.bottom);
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (const s of o.series) {
    for (const x of s.xs) (x0 = Math.min(x0, x)), (x1 = Math.max(x1, x));
    for (const y of s.ys) (y0 = Math.min(y0, y)), (y1 = Math.max(y1, y));
  }
  const empty = !Number.isFinite(x0) || !Number.isFinite(y0);
  if (empty) (x0 = 0), (x1 = 1), (y0 = 0), (y1 = 1);
  if (x0 === x1) (x0 -= 1), (x1 += 1);
  if (y0 === y1) (y0 -= Math.abs(y0) * 0.1 || 1), (y1 += Math.abs(y1) * 0.1 || 1);
  const px = (x: number) => M.left + ((x - x0) / (x1 - x0)) * pw;
  const py = (y: number) => M.top + ph - ((y - y0) / (y1 - y0)) * ph;
  const f = (n: number) => n.toFixed(1);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${M.left}" y="22" font-size="15" font-weight="bold">${escapeXml(o.title)}</text>`);
  for (const t of niceTicks(y0, y1)) {
    out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${f(py(t))}" y2="${f(py(t))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 6}" y="${f(py(t) + 4)}" text-anchor="end" fill="#444">${escapeXml(label(t))}</text>`);
  }
  for (const t of niceTicks(x0, x1)) {
    out.push(`<line x1="${f(px(t))}" x2="${f(px(t))}" y1="${M.top + ph}" y2="${M.top + ph + 4}" stroke="#444"/>`);
    out.push(`<text x="${f(px(t))}" y="${M.top + ph + 17}" text-anchor="middle" fill="#444">${escapeXml(label(t))}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${M.left + pw / 2}" y="${M.top + ph + 34}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  if (empty) out.push(`<text x="${M.left + pw / 2}" y="${M.top + ph / 2}" text-anchor="middle" fill="#888">no numeric values</text>`);
  o.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const pts = s.xs.map((x, j) => `${f(px(x))},${f(py(s.ys[j]!))}`).join(' ');
    if (s.xs.length === 1) out.push(`<circle cx="${f(px(s.xs[0]!))}" cy="${f(py(s.ys[0]!))}" r="3" fill="${color}"><title>${escapeXml(s.label)}</title></circle>`);
    else if (s.xs.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts}"><title>${escapeXml(s.label)}</title></polyline>`);
    const ly = M.top + ph + 52 + 18 * i;
    out.push(`<line x1="${M.left}" x2="${M.left + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="3"/>`);
    out.push(`<text x="${M.left + 24}" y="${ly}">${escapeXml(s.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
