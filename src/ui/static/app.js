// git flor ui: the page. Every number it shows comes from the server's JSON API, which is the
// query engine's own output; this file only lays it out.
'use strict';
(() => {
  const $ = (sel) => document.querySelector(sel);
  const INT_INCRS = [1, 2, 5].flatMap((m) => [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7].map((p) => m * p)).sort((a, b) => a - b);
  const NUMBER = new Intl.NumberFormat(navigator.language);
  const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
  const state = { where: '', rows: [], selected: new Set(), names: [], charts: [], loopsByName: {} };

  function status(text, error) {
    const s = $('#status');
    s.textContent = text;
    s.className = error ? 'error' : '';
  }

  async function fetchOk(path) {
    const res = await fetch(path, { credentials: 'same-origin' });
    if (!res.ok) {
      const e = (await res.json().catch(() => ({}))).error || {};
      throw new Error((e.message || `HTTP ${res.status}`) + (e.hint ? `\nhint: ${e.hint}` : ''));
    }
    return res;
  }

  async function get(path) {
    return (await fetchOk(path)).json();
  }

  // uPlot leaves a gap at null; a NaN would reach the canvas. Most columns have none: those stay
  // the Float64Array the response holds.
  function gapsAsNull(col) {
    for (const v of col) if (Number.isNaN(v)) return Array.from(col, (y) => (Number.isNaN(y) ? null : y));
    return col;
  }

  /**
   * Curves as the server aligned them (src/ui/chart-data.ts): a JSON header, then float64 columns
   * wrapped where they lie in the response, never parsed as text.
   */
  async function getCurves(path) {
    const buf = await (await fetchOk(path)).arrayBuffer();
    const len = new DataView(buf).getUint32(0, true);
    const head = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, len)));
    const start = (4 + len + 7) & ~7;
    const cols = head.columns.map(([at, n]) => gapsAsNull(new Float64Array(buf, start + at * 8, n)));
    const curves = {};
    for (const [name, c] of Object.entries(head.charts)) {
      curves[name] = { xs: cols[c.x], runs: c.runs.map((r) => ({ ...r, y: cols[r.y], smooth: r.smooth === null ? null : cols[r.smooth] })) };
    }
    return { ...head, curves };
  }

  function cellText(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  function cellValue(row, col) {
    if (col.kind === 'arg') {
      if (Object.hasOwn(row, col.name)) return row[col.name];
      const bare = col.name.startsWith('arg.') ? col.name.slice(4) : col.name;
      return row.args ? row.args[bare] : undefined;
    }
    return row[col.name];
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c));
    return e;
  }

  async function loadRuns() {
    const q = new URLSearchParams();
    if (state.where) q.set('where', state.where);
    const body = await get(`/api/runs?${q}`);
    state.rows = body.rows;
    state.flat = body.flat;
    const cols = body.flat.filter((c) => !c.detail || c.name === 'version');
    const thead = $('#runs thead');
    const tbody = $('#runs tbody');
    thead.replaceChildren(el('tr', {}, el('th', {}, ''), ...cols.map((c) => el('th', { 'data-col': c.name }, c.name))));
    const rows = [];
    let group = null;
    const visible = new Set(body.rows.map((r) => r.run));
    for (const id of [...state.selected]) if (!visible.has(id)) state.selected.delete(id);
    for (const r of body.rows) {
      const version = r.version ?? '(no commit)';
      if (version !== group) {
        group = version;
        const subject = r.commit && body.subjects[r.commit] !== undefined ? ` — ${body.subjects[r.commit]}` : '';
        rows.push(el('tr', { class: 'group' }, el('td', { colspan: String(cols.length + 1) }, `${version}${subject}`)));
      }
      const box = el('input', { type: 'checkbox', 'aria-label': `select run ${r.run}` });
      box.checked = state.selected.has(r.run);
      box.addEventListener('change', () => {
        if (box.checked) state.selected.add(r.run);
        else state.selected.delete(r.run);
        tr.classList.toggle('selected', box.checked);
        drawCharts().catch((e) => status(e.message, true));
      });
      const tds = cols.map((c) => {
        const v = cellValue(r, c);
        if (c.name === 'run') return el('td', { class: 'run' }, el('a', { href: `#run=${r.run}`, title: r.run, onclick: (ev) => { ev.preventDefault(); showRun(r.run).catch((e) => status(e.message, true)); } }, body.short[r.run] || r.run));
        return el('td', { class: typeof v === 'number' ? 'num' : '' }, cellText(v));
      });
      const isLive = body.live.includes(r.run);
      const tr = el('tr', { class: (state.selected.has(r.run) ? 'selected' : '') + (isLive ? ' live' : ''), 'data-run': r.run, title: isLive ? 'recording now (read from its journal)' : '' }, el('td', {}, box), ...tds);
      rows.push(tr);
    }
    for (const b of body.broken) rows.push(el('tr', { class: 'damaged' }, el('td', {}, ''), el('td', { colspan: String(cols.length) }, `run ${b.id || '?'} is damaged: ${b.error}`)));
    tbody.replaceChildren(...rows);
    $('#notes').textContent = body.notes.join(' ');
    status(`${body.rows.length} run${body.rows.length === 1 ? '' : 's'}${state.where ? ` matching ${state.where}` : ''}`);
  }

  async function loadNames() {
    const body = await get('/api/names');
    const sel = $('#names');
    // Loaded again as runs come and grow: the names chosen stay chosen.
    const before = new Set([...sel.selectedOptions].map((o) => o.value));
    const keep = body.names.some((n) => before.has(n.name));
    sel.replaceChildren(...body.names.map((n, i) => {
      const o = el('option', { value: n.name }, `${n.name} (${n.runs} run${n.runs === 1 ? '' : 's'})`);
      o.selected = keep ? before.has(n.name) : i === 0;
      return o;
    }));
    sel.size = Math.min(6, Math.max(1, body.names.length));
  }

  /** The runs to chart, or null for every run (no filter, nothing selected): no list to wait for. */
  function chosenRuns() {
    if (state.selected.size > 0) return [...state.selected];
    return state.where ? state.rows.map((r) => r.run) : null;
  }

  // Draws overlap (a name chosen while the hindsight replay's segments land): only the latest
  // one may draw, or each would add its charts to the emptied box and they would show twice.
  let chartDraw = 0;

  async function drawCharts() {
    const draw = ++chartDraw;
    const names = [...$('#names').selectedOptions].map((o) => o.value);
    for (const c of state.charts) c.destroy();
    state.charts = [];
    $('#charts').replaceChildren();
    const runs = chosenRuns();
    $('#compare-tab').disabled = state.selected.size < 2;
    $('#selection').textContent = state.selected.size ? `${state.selected.size} selected run${state.selected.size === 1 ? '' : 's'}` : 'all listed runs';
    if (names.length === 0 || runs?.length === 0) return;
    const q = new URLSearchParams();
    for (const n of names) q.append('name', n);
    for (const r of runs || []) q.append('run', r);
    const x = $('#x').value;
    if (x) q.set('x', x);
    const w = Number($('#smooth').value);
    if (w > 0) q.set('smooth', String(w));
    const t0 = performance.now();
    let body;
    try {
      body = await getCurves(`/api/curves?${q}`);
    } catch (e) {
      if (draw !== chartDraw) return;
      // A loop the newly chosen name is never logged in: fall back to record order.
      if (x) {
        $('#x').value = '';
        return drawCharts();
      }
      throw e;
    }
    if (draw !== chartDraw) return;
    refreshLoops(body.loops);
    state.curves = body.curves;
    for (const name of names) drawChart(name, body.curves[name], w > 0, body.x);
    // A chart takes its box's width when the box joins the grid, and each box added after it
    // narrows the grid's columns: sized again once all are in, they no longer overlap.
    for (const u of state.charts) if ($('#charts').contains(u.root)) u.setSize({ width: Math.max(320, u.root.parentElement.clientWidth || 480), height: 260 });
    document.body.dataset.chartMs = String(Math.round(performance.now() - t0));
  }

  function refreshLoops(loops) {
    const all = new Set();
    for (const l of Object.values(loops)) for (const k of l) all.add(k);
    const sel = $('#x');
    const cur = sel.value;
    sel.replaceChildren(el('option', { value: '' }, 'record order'), ...[...all].map((k) => el('option', { value: k }, k)));
    sel.value = all.has(cur) ? cur : '';
  }

  function drawChart(name, chart, smoothed, x, into) {
    const hover = el('p', { class: 'hover' }, '\u00a0');
    const box = el('div', { class: 'chart', 'data-name': name }, el('h3', {}, name), hover);
    (into || $('#charts')).append(box);
    const curves = chart ? chart.runs : [];
    if (curves.length === 0) {
      box.append(el('p', {}, 'no values for the chosen runs'));
      return;
    }
    // Hairlines when there are many runs: a wider stroke hides the others, and is what costs the
    // canvas most (200 curves of 1,000 points).
    const stroke = curves.length > 20 ? 1 : 1.5;
    const data = [chart.xs];
    const series = [{ label: x || 'record' }];
    const runOf = [null];
    curves.forEach((c, i) => {
      const color = PALETTE[i % PALETTE.length];
      const label = `${c.short} ${c.version || ''}`.trim();
      if (smoothed) {
        // Raw curves stay faint underneath; their legend rows (u-raw) would only double the list.
        data.push(c.y);
        series.push({ label: `${label} (raw)`, stroke: `${color}40`, width: 1, spanGaps: true, class: 'u-raw' });
        runOf.push(null);
      }
      data.push(smoothed ? c.smooth : c.y);
      series.push({ label, stroke: color, width: stroke, spanGaps: true });
      runOf.push(c.run);
    });
    const logy = $('#logy').checked;
    const width = Math.max(320, box.clientWidth || 480);
    const u = new uPlot({
      width,
      height: 260,
      series,
      scales: { x: { time: false }, y: logy ? { distr: 3 } : {} },
      // x is an iteration or a record's position: whole numbers, so no tick falls between two.
      axes: [{
        label: x || 'record order',
        incrs: INT_INCRS,
        values: (_u, splits) => {
          box.dataset.xticks = splits.join(' ');
          return splits.map((v) => v.toLocaleString('en-US'));
        },
      }, {
        // uPlot's own labels (thinned to 1, 2, 5 of each decade on a log scale), kept readable.
        values: (_u, splits) => {
          box.dataset.yticks = splits.filter((v) => v !== null && v !== undefined).join(' ');
          return splits.map((v) => (v === null || v === undefined ? '' : NUMBER.format(v)));
        },
      }],
      legend: { live: true },
      hooks: { setCursor: [(u) => showNearest(u, hover, runOf)] },
    }, data, box);
    u.root.dataset.series = String(curves.length);
    state.charts.push(u);
  }

  /**
   * The run under the cursor: of the drawn (not raw) curves at the cursor's x, the one nearest to
   * it vertically. Among 200 legend entries the hovered line would be hard to find.
   */
  function showNearest(u, out, runOf) {
    const { idx, top } = u.cursor;
    let best = null;
    let dist = Infinity;
    if (idx !== null && idx !== undefined) {
      for (let i = 1; i < u.series.length; i++) {
        const s = u.series[i];
        const v = u.data[i][idx];
        if (!s.show || runOf[i] === null || v === null || v === undefined) continue;
        const d = Math.abs(u.valToPos(v, 'y') - top);
        if (d < dist) (dist = d), (best = i);
      }
    }
    if (best === null) {
      out.textContent = '\u00a0';
      delete out.dataset.run;
      return;
    }
    const at = u.data[0][idx];
    out.textContent = `${u.series[best].label}: ${cellText(u.data[best][idx])} at ${u.series[0].label} ${cellText(at)}`;
    out.dataset.run = runOf[best];
  }

  /** A unified diff, one line per element, coloured by what the line is. */
  function diffBlock(patch) {
    const pre = el('pre', { class: 'diff' });
    for (const line of patch.split('\n')) {
      const cls = line.startsWith('+++') || line.startsWith('---') || line.startsWith('diff ') ? 'file' : line.startsWith('+') ? 'add' : line.startsWith('-') ? 'del' : line.startsWith('@@') ? 'hunk' : '';
      pre.append(el('span', cls ? { class: cls } : {}, line + '\n'));
    }
    return pre;
  }

  async function showCompare() {
    const ids = [...state.selected];
    const rows = ids.map((id) => state.rows.find((r) => r.run === id)).filter(Boolean);
    const argNames = [...new Set(rows.flatMap((r) => Object.keys(r.args || {})))].sort();
    const differs = (n) => new Set(rows.map((r) => JSON.stringify(r.args?.[n] ?? null))).size > 1;
    const shown = argNames.filter(differs);
    $('#compare-args thead').replaceChildren(el('tr', {}, el('th', {}, 'run'), el('th', {}, 'version'), el('th', {}, 'status'), ...shown.map((n) => el('th', {}, n))));
    $('#compare-args tbody').replaceChildren(...rows.map((r) => el('tr', { 'data-run': r.run }, el('td', {}, r.run), el('td', {}, r.version || ''), el('td', {}, r.status),
      ...shown.map((n) => el('td', { class: 'differs' }, cellText(r.args?.[n]))))));
    if (shown.length === 0) $('#compare-args tbody').append(el('tr', {}, el('td', { colspan: '3' }, 'the args are the same in every selected run')));
    const code = $('#compare-code');
    code.replaceChildren();
    for (const other of ids.slice(1)) {
      const d = await get(`/api/diff?a=${encodeURIComponent(ids[0])}&b=${encodeURIComponent(other)}`);
      const head = el('h3', {}, `code: ${ids[0].slice(0, 10)} → ${other.slice(0, 10)}`);
      code.append(head, d.code.same ? el('p', { class: 'same-code' }, 'the same code ran') : diffBlock(d.code.patch));
    }
    // Curves overlaid: the charts of the chosen names, for the selected runs only.
    const names = [...$('#names').selectedOptions].map((o) => o.value);
    const holder = $('#compare-charts');
    holder.replaceChildren();
    if (names.length) {
      const q = new URLSearchParams();
      for (const n of names) q.append('name', n);
      for (const r of ids) q.append('run', r);
      const body = await getCurves(`/api/curves?${q}`);
      for (const n of names) drawChart(n, body.curves[n], false, null, holder);
    }
    document.body.dataset.compared = ids.join(',');
  }

  async function showRun(id) {
    const body = await get(`/api/run/${encodeURIComponent(id)}`);
    const m = body.meta;
    $('#run-title').textContent = `run ${body.run}`;
    const facts = [
      ['status', m.status + (m.error ? ` — ${m.error}` : '')],
      ['command', ['node', ...(m.execArgv || []), m.script, ...(m.argv || [])].join(' ')],
      ['args', JSON.stringify(m.args)],
      ['commit', `${m.commit || '(none)'}${m.branch ? ` on ${m.branch}` : ''}${m.dirty ? ' (dirty)' : ''}`],
      ['time', `${m.start} → ${m.end || '(running)'}`],
      ['records', String(m.records)],
      ['loops', (m.loops || []).map((l) => `${l.name}${l.parent ? ` in ${l.parent}` : ''} ×${l.iterations}`).join(', ')],
      ['ledgers', body.ledgers.join(', ')],
    ];
    $('#run-meta').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    $('#run-segments tbody').replaceChildren(...body.segments.map((s) => el('tr', {},
      el('td', {}, s.name), el('td', {}, s.source), el('td', { class: 'num' }, String(s.records)), el('td', {}, s.names.join(', ')),
      el('td', {}, s.provenance ? `${s.provenance.statements.join(', ')} by ${s.provenance.writer} at ${s.provenance.time}` : ''))));
    const code = $('#run-code');
    if (body.code.error) code.replaceChildren(el('p', {}, body.code.error));
    else if (!m.dirty) code.replaceChildren(el('p', {}, 'the code that ran is its commit (no uncommitted changes)'));
    else code.replaceChildren(diffBlock(body.code.patch));
    $('#run-view').hidden = false;
    $('#run-view').scrollIntoView();
  }

  // Parallel coordinates: args and final values, one polyline per run, brushable axes.
  const brushes = new Map(); // axis name -> [lo, hi] in data units
  function parallelAxes() {
    const cols = (state.flat || []).filter((c) => c.kind === 'arg' || (c.kind === 'value' && !c.detail));
    return cols
      .map((c) => {
        const values = state.rows.map((r) => cellValue(r, c));
        const nums = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
        if (nums.length > 0 && nums.length === values.filter((v) => v !== null && v !== undefined).length) {
          let lo = Math.min(...nums);
          let hi = Math.max(...nums);
          if (lo === hi) (lo -= 1), (hi += 1);
          return { col: c, kind: 'num', lo, hi, at: (v) => (typeof v === 'number' ? (v - lo) / (hi - lo) : null) };
        }
        const cats = [...new Set(values.filter((v) => v !== null && v !== undefined).map(cellText))].sort();
        if (cats.length === 0) return null;
        return { col: c, kind: 'cat', cats, at: (v) => (v === null || v === undefined ? null : cats.length === 1 ? 0.5 : cats.indexOf(cellText(v)) / (cats.length - 1)) };
      })
      .filter(Boolean);
  }

  function drawParallel() {
    const NS = 'http://www.w3.org/2000/svg';
    const axes = parallelAxes();
    const holder = $('#parallel');
    holder.replaceChildren();
    if (axes.length < 2) {
      holder.append(el('p', {}, 'Parallel coordinates need at least two args or logged values.'));
      return;
    }
    const W = Math.max(600, holder.clientWidth || 1000);
    const H = 360;
    const top = 30;
    const bottom = 30;
    const ph = H - top - bottom;
    const xOf = (i) => 60 + (i * (W - 120)) / (axes.length - 1);
    const yOf = (t) => top + (1 - t) * ph;
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('width', String(W));
    svg.setAttribute('height', String(H));
    const mk = (tag, attrs, text) => {
      const e = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
      if (text !== undefined) e.textContent = text;
      return e;
    };
    const lines = state.rows.map((r) => {
      const pts = axes.map((a, i) => {
        const t = a.at(cellValue(r, a.col));
        return t === null ? null : `${xOf(i).toFixed(1)},${yOf(t).toFixed(1)}`;
      });
      const path = mk('polyline', { class: 'run', points: pts.filter(Boolean).join(' '), 'data-run': r.run });
      path.append(mk('title', {}, `${r.run} ${r.version || ''}`));
      svg.append(path);
      return { r, path };
    });
    const apply = () => {
      let kept = 0;
      for (const { r, path } of lines) {
        const inside = axes.every((a) => {
          const b = brushes.get(a.col.name);
          if (!b) return true;
          const t = a.at(cellValue(r, a.col));
          return t !== null && t >= b[0] && t <= b[1];
        });
        path.classList.toggle('out', !inside);
        if (inside) kept++;
      }
      $('#parallel-count').textContent = `${kept} of ${lines.length} runs inside the brushed ranges`;
      document.body.dataset.parallelKept = String(kept);
    };
    axes.forEach((a, i) => {
      const g = mk('g', { class: 'axis', 'data-axis': a.col.name });
      const x = xOf(i);
      g.append(mk('line', { x1: x, x2: x, y1: top, y2: top + ph }));
      g.append(mk('text', { x, y: top - 10, 'text-anchor': 'middle', 'font-weight': 'bold' }, a.col.name));
      const ticks = a.kind === 'num' ? [a.lo, (a.lo + a.hi) / 2, a.hi] : a.cats;
      for (const v of ticks) {
        const t = a.kind === 'num' ? (v - a.lo) / (a.hi - a.lo) : a.at(v);
        g.append(mk('text', { x: x - 6, y: yOf(t) + 4, 'text-anchor': 'end' }, a.kind === 'num' ? cellText(v) : v));
      }
      const band = mk('rect', { class: 'brush', x: x - 8, width: 16, y: 0, height: 0, visibility: 'hidden' });
      // The grab area reaches past both ends, so a drag can start beyond the extreme values.
      const grab = mk('rect', { class: 'grab', x: x - 12, width: 24, y: top - 12, height: ph + 24 });
      const show = () => {
        const b = brushes.get(a.col.name);
        if (!b) return band.setAttribute('visibility', 'hidden');
        band.setAttribute('visibility', 'visible');
        band.setAttribute('y', String(yOf(b[1])));
        band.setAttribute('height', String(yOf(b[0]) - yOf(b[1])));
      };
      let from = null;
      const tOf = (ev) => {
        const box = svg.getBoundingClientRect();
        return Math.min(1, Math.max(0, 1 - (ev.clientY - box.top - top) / ph));
      };
      grab.addEventListener('pointerdown', (ev) => {
        from = tOf(ev);
        grab.setPointerCapture(ev.pointerId);
      });
      grab.addEventListener('pointermove', (ev) => {
        if (from === null) return;
        const to = tOf(ev);
        brushes.set(a.col.name, [Math.min(from, to), Math.max(from, to)]);
        show();
        apply();
      });
      grab.addEventListener('pointerup', (ev) => {
        const to = tOf(ev);
        if (from !== null && Math.abs(to - from) < 0.01) brushes.delete(a.col.name); // a click clears
        from = null;
        show();
        apply();
      });
      g.append(band, grab);
      svg.append(g);
      show();
    });
    holder.append(svg);
    apply();
  }

  // Hindsight: the dry-run plan, then the replay, its progress streamed by the server.
  async function post(path, body) {
    const res = await fetch(path, { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const out = await res.json().catch(() => ({ error: { message: `HTTP ${res.status}` } }));
    if (!res.ok) {
      const e = out.error || {};
      throw new Error((e.message || `HTTP ${res.status}`) + (e.hint ? `\nhint: ${e.hint}` : ''));
    }
    return out;
  }
  const hindsightNames = () => $('#hindsight-names').value.split(/[\s,]+/).filter(Boolean);
  const trusted = () => [...document.querySelectorAll('#hindsight-writers input:checked')].map((i) => i.value);
  function showWriters(writers) {
    const others = writers.filter((w) => !w.trusted || trusted().includes(w.writer));
    $('#hindsight-trust').hidden = others.length === 0;
    const keep = new Set(trusted());
    $('#hindsight-writers').replaceChildren(...others.map((w) => {
      const box = el('input', { type: 'checkbox', value: w.writer });
      box.checked = keep.has(w.writer);
      return el('label', { class: 'writer' }, box, ` trust writer ${w.writer} (${w.runs} run${w.runs === 1 ? '' : 's'})`);
    }));
  }
  $('#hindsight').addEventListener('submit', (ev) => {
    ev.preventDefault();
    $('#hindsight-out').textContent = 'planning…';
    // The last replay's outcome was for another plan: beside this one it read as this one's. A
    // replay still running keeps its line (its next update redraws it anyway).
    if (!replayBusy(document.body.dataset.replay)) {
      $('#hindsight-progress').textContent = '';
      clearReport();
    }
    $('#hindsight-start').disabled = true;
    post('/api/replay/plan', { names: hindsightNames(), allowWriters: trusted() })
      .then((r) => {
        $('#hindsight-out').textContent = [...r.plan, ...r.report].join('\n') || 'nothing to replay: every run has these names';
        showWriters(r.writers);
        $('#hindsight-start').disabled = false;
      })
      .catch((e) => { $('#hindsight-out').textContent = e.message; });
  });
  // A writer ticked or unticked changes whose code would run: plan again, so the page never shows
  // a plan that differs from what Replay does.
  $('#hindsight-writers').addEventListener('change', () => $('#hindsight').requestSubmit());
  $('#hindsight-start').addEventListener('click', () => {
    $('#hindsight-start').disabled = true;
    clearReport();
    post('/api/replay/start', { names: hindsightNames(), allowWriters: trusted() }).then((r) => showJob(r.job)).catch((e) => { $('#hindsight-progress').textContent = e.message; });
  });
  /** A replay in this state has no outcome yet, and its progress line is its own. */
  function replayBusy(state) {
    return state === 'running' || state === 'waiting';
  }
  function clearReport() {
    $('#hindsight-report').textContent = '';
    $('#hindsight-report').className = '';
  }
  function showJob(job) {
    if (!job) return;
    $('#hindsight-progress').textContent = `${job.names.join(', ')}: ${job.line}`;
    document.body.dataset.replay = job.state;
    const busy = replayBusy(job.state);
    $('#hindsight-start').disabled = busy;
    if (!busy) {
      const lines = job.error ? [job.error.message, job.error.hint ? `hint: ${job.error.hint}` : ''] : job.report;
      $('#hindsight-report').textContent = lines.filter(Boolean).join('\n');
      $('#hindsight-report').className = job.findings || job.error ? 'findings' : '';
      // The new name is chartable now: list it and draw it beside what was chosen.
      loadNames().then(() => {
        for (const o of $('#names').options) if (job.names.includes(o.value)) o.selected = true;
        return refresh();
      }).catch((e) => status(e.message, true));
    }
  }

  function showView(name) {
    for (const b of document.querySelectorAll('nav button')) b.classList.toggle('active', b.dataset.view === name);
    $('#main-view').hidden = name !== 'main';
    $('#parallel-view').hidden = name !== 'parallel';
    $('#hindsight-view').hidden = name !== 'hindsight';
    $('#compare-view').hidden = name !== 'compare';
    if (name === 'compare') showCompare().catch((e) => status(e.message, true));
    if (name === 'hindsight') get('/api/replay').then((r) => showJob(r.job)).catch(() => {});
    if (name === 'parallel') drawParallel();
  }
  for (const b of document.querySelectorAll('nav button')) b.addEventListener('click', () => showView(b.dataset.view));

  async function refresh() {
    // Unfiltered with nothing selected, the chart is of every run: it need not wait for the table.
    if (chosenRuns() === null) await Promise.all([loadRuns(), drawCharts()]);
    else {
      await loadRuns();
      await drawCharts();
    }
    if (!$('#parallel-view').hidden) drawParallel();
  }

  $('#filter').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.where = $('#where').value.trim();
    refresh().catch((e) => status(e.message, true));
  });
  for (const id of ['#names', '#x', '#logy']) $(id).addEventListener('change', () => drawCharts().catch((e) => status(e.message, true)));
  $('#smooth').addEventListener('input', () => { $('#smooth-value').textContent = $('#smooth').value; });
  $('#smooth').addEventListener('change', () => drawCharts().catch((e) => status(e.message, true)));
  $('#close-run').addEventListener('click', () => { $('#run-view').hidden = true; });

  // A live run (still recording) grows: the server says when the history changed.
  let pending = null;
  function watch() {
    const es = new EventSource('/api/events');
    es.addEventListener('replay', (ev) => showJob(JSON.parse(ev.data)));
    es.addEventListener('change', () => {
      if (pending) return;
      pending = setTimeout(() => {
        pending = null;
        // The names' run counts change too (a live run logs its first value of a name).
        loadNames()
          .then(refresh)
          .then(() => { document.body.dataset.generation = String(Number(document.body.dataset.generation || 0) + 1); })
          .catch((e) => status(e.message, true));
      }, 200);
    });
  }

  // For tests and the curious: how many points a run's curve of a name has right now.
  window.__florPoints = (name, run) => {
    const c = (state.curves?.[name]?.runs || []).find((x) => x.run === run);
    return c ? c.points : 0;
  };

  (async () => {
    // The first chart is of every run (nothing is filtered or selected yet): it is fetched beside the
    // runs table, not after it.
    await Promise.all([loadRuns(), loadNames().then(drawCharts)]);
    document.body.dataset.ready = '1';
    watch();
  })().catch((e) => status(e.message, true));
})();
