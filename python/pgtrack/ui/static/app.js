/* pgtrack ui: the dashboard's only script (no library). Every value from the database reaches the
   page through textContent or an attribute, never as HTML. Views: experiments, experiment (runs,
   charts, hyperparameters, sweep), run, compare. Live: the open view polls its experiment's version
   every second and redraws when it changes. Access: the printed URL carries the token in its fragment
   (#token=...); it is kept in sessionStorage (this origin, so this port, and this tab) and sent with
   every /api/ request as an Authorization header, never as a cookie (a browser sends a host's cookies
   to every port of it). */
"use strict";

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const SVGNS = "http://www.w3.org/2000/svg";
const app = document.getElementById("app");
let poller = null;
const NO_TOKEN = "open the URL that pgtrack ui printed (it carries the access token)";
const TOKEN_KEY = "pgtrack_token";
const TOKEN = window.pgtrackOffline ? null : takeToken();  // a report fetches nothing

/* The token of the address (#token=... as printed; ?token=... as older versions printed it), else the
   one this tab kept. Taken out of the address bar at once (history, bookmarks, a shared screen); the
   rest of the fragment (#tab=charts) and of the query stays. */
function takeToken() {
  let found = null;
  const rest = [];
  for (const part of location.hash.replace(/^#/, "").split("&")) {
    if (!part) continue;
    if (part.startsWith("token=")) {
      const raw = part.slice("token=".length);
      try { found = decodeURIComponent(raw); } catch (e) { found = raw; }
    } else rest.push(part);
  }
  let search = location.search;
  const query = new URLSearchParams(location.search);
  if (query.has("token")) {
    if (found === null) found = query.get("token");
    query.delete("token");
    search = query.toString() ? `?${query}` : "";
  }
  if (found !== null) history.replaceState(null, "", location.pathname + search + (rest.length ? `#${rest.join("&")}` : ""));
  try {
    if (found) sessionStorage.setItem(TOKEN_KEY, found);
    return sessionStorage.getItem(TOKEN_KEY) || found || null;
  } catch (e) {  // storage disabled: this page only
    return found || null;
  }
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  return node;
}

async function api(path) {
  if (window.pgtrackOffline) return window.pgtrackOffline(path);  // pgtrack report: the data is in the file
  if (!TOKEN) throw new Error(NO_TOKEN);
  const response = await fetch(path, { credentials: "omit", headers: { Authorization: `Bearer ${encodeURIComponent(TOKEN)}` } });
  if (response.status === 403) throw new Error(`the dashboard refused this tab's access token: ${NO_TOKEN}`);
  let body;
  try { body = await response.json(); } catch (e) { throw new Error(response.status + " " + response.statusText); }
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function showError(error) {
  app.replaceChildren(el("p", { className: "error" }, String(error.message || error)));
}

function crumbs(...items) {
  const box = document.getElementById("crumbs");
  box.replaceChildren(...items.map(([text, href]) => href ? el("a", { href }, text, " /") : el("span", {}, text)));
}

function fmt(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    const abs = Math.abs(value);
    return abs !== 0 && (abs < 1e-3 || abs >= 1e5) ? value.toExponential(3) : String(Number(value.toPrecision(5)));
  }
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${r}s` : `${r}s`;
}

function colorOf(index) { return PALETTE[index % PALETTE.length]; }

function configLabel(row, fields) {
  const parts = fields.filter((f) => row[f] !== null && row[f] !== undefined).map((f) => `${f}=${fmt(row[f])}`);
  return `#${row.id}` + (parts.length ? " " + parts.join(" ") : "");
}

/* -- live updates ------------------------------------------------------------------------------ */

function live(url, onChange) {
  stopLive();
  if (window.pgtrackOffline) return;  // a report does not change
  const badge = document.getElementById("live");
  let last = null;
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const { version } = await api(url);
      badge.textContent = "live";
      badge.className = "";
      if (last !== null && version !== last) await onChange();
      last = version;
    } catch (e) {
      badge.textContent = "offline";
      badge.className = "stale";
    } finally {
      busy = false;
    }
  };
  tick();
  poller = setInterval(tick, 1000);
}

function stopLive() {
  if (poller) clearInterval(poller);
  poller = null;
}

/* -- charts ------------------------------------------------------------------------------------ */

function ticks(lo, hi, count, log) {
  if (log) {
    const out = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(Math.pow(10, e));
    return out.filter((t) => t >= lo * 0.999 && t <= hi * 1.001);
  }
  const span = hi - lo || 1;
  const step = Math.pow(10, Math.floor(Math.log10(span / count)));
  const unit = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= count) || step * 10;
  const out = [];
  for (let t = Math.ceil(lo / unit) * unit; t <= hi + unit * 1e-9; t += unit) out.push(Number(t.toPrecision(12)));
  return out;
}

function smooth(values, weight) {
  if (!weight) return values;
  let last = null;
  return values.map((v) => (v === null ? null : (last = last === null ? v : last * weight + v * (1 - weight))));
}

/* series: [{label, color, x: [], y: [], lo: [], hi: [], runId}]; options: {title, logY, logX, xLabel, categories} */
function drawChart(series, options) {
  const W = 560, H = 300, L = 58, R = 12, T = 10, B = 34;
  const box = el("div", { className: "chart", "data-chart": options.title });
  box.appendChild(el("h3", {}, options.title));
  const all = series.flatMap((s) => s.x.map((x, i) => [x, s.y[i], s.lo ? s.lo[i] : s.y[i], s.hi ? s.hi[i] : s.y[i]]))
    .filter(([x, y]) => x !== null && y !== null && Number.isFinite(x) && Number.isFinite(y));
  const usable = (v, log) => Number.isFinite(v) && (!log || v > 0);
  const xs = all.map((p) => p[0]).filter((v) => usable(v, options.logX));
  const ys = all.flatMap((p) => options.band === false ? [p[1]] : [p[1], p[2], p[3]]).filter((v) => usable(v, options.logY));
  if (!xs.length || !ys.length) {
    box.appendChild(el("p", { className: "muted" }, "no values yet"));
    return box;
  }
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { y0 = options.logY ? y0 / 2 : y0 - 1; y1 = options.logY ? y1 * 2 : y1 + 1; }
  const tx = (v) => options.logX ? Math.log10(v) : v, ty = (v) => options.logY ? Math.log10(v) : v;
  const sx = (v) => L + (tx(v) - tx(x0)) / (tx(x1) - tx(x0)) * (W - L - R);
  const sy = (v) => H - B - (ty(v) - ty(y0)) / (ty(y1) - ty(y0)) * (H - T - B);
  const root = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img" });
  for (const t of ticks(y0, y1, 5, options.logY)) {
    root.appendChild(svg("line", { x1: L, x2: W - R, y1: sy(t), y2: sy(t), stroke: "#eee" }));
    const label = svg("text", { x: L - 4, y: sy(t) + 4, "text-anchor": "end", "font-size": 10, fill: "#555" });
    label.textContent = fmt(t);
    root.appendChild(label);
  }
  const categories = options.categories;
  const xticks = categories ? categories.map((_, i) => i) : ticks(x0, x1, 6, options.logX);
  for (const t of xticks) {
    const label = svg("text", { x: sx(t), y: H - B + 14, "text-anchor": "middle", "font-size": 10, fill: "#555" });
    label.textContent = categories ? String(categories[t]).slice(0, 12) : fmt(t);
    root.appendChild(label);
  }
  const xl = svg("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", "font-size": 11, fill: "#333" });
  xl.textContent = options.xLabel || "step";
  root.appendChild(xl);
  root.appendChild(svg("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "none", stroke: "#ccc" }));
  for (const s of series) {
    const pts = s.x.map((x, i) => [x, s.y[i], s.lo ? s.lo[i] : null, s.hi ? s.hi[i] : null])
      .filter(([x, y]) => usable(x, options.logX) && usable(y, options.logY));
    if (s.lo && options.band !== false && pts.length > 1) {
      const upper = pts.filter((p) => usable(p[3], options.logY)).map((p) => `${sx(p[0]).toFixed(1)},${sy(p[3]).toFixed(1)}`);
      const lower = pts.filter((p) => usable(p[2], options.logY)).reverse().map((p) => `${sx(p[0]).toFixed(1)},${sy(p[2]).toFixed(1)}`);
      root.appendChild(svg("polygon", { points: upper.concat(lower).join(" "), fill: s.color, "fill-opacity": 0.12, stroke: "none" }));
    }
    if (options.markers) {
      for (const [x, y] of pts) root.appendChild(svg("circle", { cx: sx(x), cy: sy(y), r: 3, fill: s.color, "fill-opacity": 0.75 }));
    } else if (pts.length) {
      root.appendChild(svg("polyline", { points: pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" "),
                                         fill: "none", stroke: s.color, "stroke-width": 1.5, "data-series": s.label }));
    }
  }
  const tip = el("div", { className: "tooltip" });
  const cursor = svg("line", { y1: T, y2: H - B, stroke: "#999", "stroke-dasharray": "3 3", visibility: "hidden" });
  root.appendChild(cursor);
  root.addEventListener("mousemove", (event) => {
    const rect = root.getBoundingClientRect();
    const px = event.clientX - rect.left;
    let best = null;
    const lines = [];
    for (const s of series) {
      let pick = null;
      s.x.forEach((x, i) => {
        if (x === null || s.y[i] === null) return;
        const d = Math.abs(sx(x) - px);
        if (pick === null || d < pick.d) pick = { d, x, y: s.y[i] };
      });
      if (pick && pick.d < 40) {
        lines.push([s, pick]);
        if (best === null || pick.d < best.d) best = pick;
      }
    }
    if (!best) { tip.style.display = "none"; cursor.setAttribute("visibility", "hidden"); return; }
    cursor.setAttribute("x1", sx(best.x)); cursor.setAttribute("x2", sx(best.x)); cursor.setAttribute("visibility", "visible");
    tip.replaceChildren(el("div", {}, `${options.xLabel || "step"} ${fmt(best.x)}`),
      ...lines.slice(0, 12).map(([s, p]) => el("div", {}, el("span", { style: null }, "\u25a0 "), `${s.label}: ${fmt(p.y)}`)));
    tip.querySelectorAll("span").forEach((span, i) => { span.style.color = lines[i][0].color; });
    tip.style.display = "block";
    tip.style.left = Math.min(px + 14, W - 180) + "px";
    tip.style.top = "30px";
  });
  root.addEventListener("mouseleave", () => { tip.style.display = "none"; cursor.setAttribute("visibility", "hidden"); });
  box.appendChild(root);
  box.appendChild(tip);
  const legend = el("div", { className: "legend" });
  for (const s of series.slice(0, 60)) {
    const swatch = el("i");
    swatch.style.background = s.color;
    legend.appendChild(el("span", { title: s.label }, swatch, s.label));
  }
  box.appendChild(legend);
  return box;
}

/* -- experiments --------------------------------------------------------------------------------- */

async function experimentsView() {
  crumbs(["experiments"]);
  const rows = await api("/api/experiments");
  const statuses = [...new Set(rows.flatMap((r) => Object.keys(r.by_status)))].sort();
  const table = el("table", { id: "experiments" },
    el("thead", {}, el("tr", {}, ["id", "name", "runs", ...statuses, "last activity", "comment"].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((r) => el("tr", { "data-experiment-id": r.id },
      el("td", { className: "num" }, r.id), el("td", {}, el("a", { href: `/experiments/${r.id}` }, r.name)),
      el("td", { className: "num" }, r.runs),
      statuses.map((s) => el("td", { className: "num" }, r.by_status[s] ? el("span", { className: `status status-${s}` }, r.by_status[s]) : "")),
      el("td", {}, r.last_activity ? new Date(r.last_activity).toLocaleString() : ""), el("td", {}, r.comment || "")))));
  app.replaceChildren(el("h1", {}, "Experiments"), rows.length ? el("div", { className: "wrap" }, table)
    : el("p", { className: "muted" }, "no experiments yet"));
}

/* -- one experiment -------------------------------------------------------------------------------- */

const state = { sort: null, desc: false, filter: "", offset: 0, limit: 100, hidden: new Set(["args", "started", "updated"]),
                selected: new Set(), tab: "runs", smoothing: 0, logY: false, axis: "step", group: "" };

async function experimentView(id) {
  const info = await api(`/api/experiments/${id}`);
  if (window.pgtrackOffline) crumbs([`report of ${info.generated || ""}`]); else crumbs(["experiments", "/"], [info.name]);
  const header = el("div", {}, el("h1", {}, info.name),
    el("p", { className: "muted" }, `experiment ${info.id} \u00b7 ${info.runs} runs` + (info.comment ? ` \u00b7 ${info.comment}` : "")));
  const tabs = el("div", { className: "tabs" });
  const body = el("div", { id: "tab" });
  const views = { runs: runsTab, charts: chartsTab, hyperparameters: paramsTab, sweep: sweepTab };
  const show = async (name) => {
    state.tab = name;
    if (!window.pgtrackOffline) history.replaceState(null, "", name === "runs" ? location.pathname : `${location.pathname}#tab=${name}`);
    tabs.querySelectorAll("button").forEach((b) => b.classList.toggle("on", b.dataset.tab === name));
    try { await views[name](info, body); } catch (e) { body.replaceChildren(el("p", { className: "error" }, e.message)); }
  };
  const wanted = /tab=(\w+)/.exec(location.hash);
  if (wanted && views[wanted[1]]) state.tab = wanted[1];
  // #sort=COLUMN (and #desc=1): open sorted; a report opens sorted by its primary metric, best first
  const sortWanted = /sort=([^&]+)/.exec(location.hash);
  if (sortWanted) { state.sort = decodeURIComponent(sortWanted[1]); state.desc = /desc=1/.test(location.hash); }
  else if (window.pgtrackOffline && info.primary) { state.sort = `best ${info.primary}`; state.desc = info.directions[info.primary] === "max"; }
  for (const name of Object.keys(views)) tabs.appendChild(el("button", { "data-tab": name, on: { click: () => show(name) } }, name));
  app.replaceChildren(header, tabs, body);
  await show(state.tab);
  live(`/api/experiments/${id}/version`, async () => {
    Object.assign(info, await api(`/api/experiments/${id}`));  // new runs, new metrics
    await views[state.tab](info, body, true);
  });
}

function runsQuery(info, extra) {
  const q = new URLSearchParams({ offset: state.offset, limit: state.limit, filter: state.filter, ...(extra || {}) });
  if (state.sort) { q.set("sort", state.sort); q.set("desc", state.desc ? "1" : "0"); }
  return `/api/experiments/${info.id}/runs?${q}`;
}

async function runsTab(info, body, refresh) {
  let page;
  try { page = await api(runsQuery(info)); } catch (e) { page = { error: e.message }; }
  const filter = el("input", { type: "text", id: "filter", placeholder: "filter, e.g. lr < 0.01 and status = COMPLETED", value: state.filter });
  let timer = null;
  filter.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { state.filter = filter.value; state.offset = 0; runsTab(info, body); }, 250);
  });
  if (refresh && document.activeElement && document.activeElement.id === "filter") return runsTableOnly(info, body, page);
  const chooser = el("details", { className: "columns" }, el("summary", {}, "columns"),
    el("div", {}, (page.columns || info.columns).map((c) => el("label", {},
      el("input", { type: "checkbox", checked: !state.hidden.has(c), on: { change: (e) => {
        if (e.target.checked) state.hidden.delete(c); else state.hidden.add(c);
        runsTableOnly(info, body, page);
      } } }), " ", c))));
  const compare = el("button", { id: "compare", on: { click: () => {
    if (state.selected.size) location.href = `/compare?runs=${[...state.selected].join(",")}`;
  } } }, "compare selected");
  body.replaceChildren(el("div", { className: "controls" }, filter, chooser, window.pgtrackOffline ? null : compare, el("span", { id: "paging" })),
    el("div", { id: "table" }));
  runsTableOnly(info, body, page);
  filter.focus();
  filter.setSelectionRange(filter.value.length, filter.value.length);
}

function runsTableOnly(info, body, page) {
  const holder = body.querySelector("#table");
  const paging = body.querySelector("#paging");
  if (!holder) return;
  if (page.error) { holder.replaceChildren(el("p", { className: "error" }, page.error)); return; }
  const columns = page.columns.filter((c) => !state.hidden.has(c));
  const head = el("tr", {}, el("th", {}, ""), columns.map((c) => el("th", { className: "sortable", "data-column": c,
    on: { click: () => { state.desc = state.sort === c ? !state.desc : false; state.sort = c; state.offset = 0; runsTab(info, body); } } },
    c + (state.sort === c ? (state.desc ? " \u25bc" : " \u25b2") : ""))));
  const rows = page.rows.map((r) => {
    const tr = el("tr", { "data-run-id": r.id, className: [r.id === page.best_id ? "best" : "", state.selected.has(r.id) ? "selected" : ""].join(" ").trim() || null },
      el("td", {}, el("input", { type: "checkbox", checked: state.selected.has(r.id), on: { change: (e) => {
        if (e.target.checked) state.selected.add(r.id); else state.selected.delete(r.id);
        tr.classList.toggle("selected", e.target.checked);
      } } })),
      columns.map((c) => {
        const v = r[c];
        if (c === "id") return el("td", { className: "num" }, window.pgtrackOffline ? String(v) : el("a", { href: `/runs/${v}` }, v));
        if (c === "status") return el("td", {}, el("span", { className: `status status-${v}`, title: v === "LOST" ? "a live status, but its worker has been silent for longer than the experiment's lost_after" : null }, v));
        if (c === "duration") return el("td", { className: "num" }, fmtDuration(v));
        if (c === "error") return el("td", { className: "err", title: v || "" }, v || "");
        if (c === "started" || c === "updated") return el("td", {}, v ? new Date(v).toLocaleString() : "");
        return el("td", { className: typeof v === "number" ? "num" : null }, fmt(v));
      }));
    return tr;
  });
  holder.replaceChildren(el("div", { className: "wrap" }, el("table", { id: "runs", "data-total": page.total, "data-matched": page.matched },
    el("thead", {}, head), el("tbody", {}, rows))));
  const last = Math.min(page.offset + page.limit, page.matched);
  paging.replaceChildren(`${page.matched ? page.offset + 1 : 0}\u2013${last} of ${page.matched}` +
      (page.matched !== page.total ? ` (of ${page.total})` : "") + " ",
    el("button", { disabled: page.offset === 0, on: { click: () => { state.offset = Math.max(0, state.offset - state.limit); runsTab(info, body); } } }, "\u2190"),
    el("button", { disabled: last >= page.matched, on: { click: () => { state.offset += state.limit; runsTab(info, body); } } }, "\u2192"),
    page.primary ? el("span", { className: "muted" }, ` best by ${page.primary} (${page.directions[page.primary]}) highlighted`) : "");
}

async function chartRows(info) {
  const page = await api(runsQuery(info, { limit: 1000, offset: 0 }));
  let rows = page.rows;
  if (state.selected.size) rows = rows.filter((r) => state.selected.has(r.id));
  else rows = rows.slice(state.offset, state.offset + Math.min(state.limit, state.group ? 200 : 20));
  return { page, rows };
}

async function chartsTab(info, body) {
  const controls = el("div", { className: "controls" },
    el("label", {}, "smoothing ", el("input", { type: "range", min: 0, max: 0.99, step: 0.01, value: state.smoothing,
      on: { change: (e) => { state.smoothing = Number(e.target.value); chartsTab(info, body); } } })),
    el("label", {}, el("input", { type: "checkbox", checked: state.logY, on: { change: (e) => { state.logY = e.target.checked; chartsTab(info, body); } } }), " log y"),
    el("label", {}, "x ", el("select", { on: { change: (e) => { state.axis = e.target.value; chartsTab(info, body); } } },
      ["step", "progress"].map((a) => el("option", { value: a, selected: state.axis === a }, a)))),
    el("label", {}, "mean \u00b1 std over ", el("select", { on: { change: (e) => { state.group = e.target.value; chartsTab(info, body); } } },
      el("option", { value: "" }, "(no grouping)"), info.fields.map((f) => el("option", { value: f, selected: state.group === f }, f)))),
    el("span", { className: "muted" }, state.selected.size ? `${state.selected.size} selected runs` : "the runs of the table's page (select runs to choose)"));
  const holder = el("div", { className: "charts", id: "charts" });
  body.replaceChildren(controls, holder);
  const { rows } = await chartRows(info);
  if (!rows.length || !info.metrics.length) { holder.appendChild(el("p", { className: "muted" }, "no metrics logged yet")); return; }
  const ids = rows.map((r) => r.id);
  const byId = new Map(rows.map((r) => [r.id, r]));
  await Promise.all(info.metrics.map(async (metric) => {
    const slot = el("div");
    holder.appendChild(slot);
    const data = await api(`/api/experiments/${info.id}/curves?metric=${encodeURIComponent(metric)}&runs=${ids.join(",")}&buckets=200&axis=${state.axis}`);
    slot.replaceWith(drawChart(seriesOf(data.series, byId, info.fields), { title: metric, logY: state.logY, xLabel: state.axis }));
  }));
}

function seriesOf(raw, byId, fields) {
  if (!state.group) {
    return raw.map((s, i) => ({ label: configLabel(byId.get(s.run_id) || { id: s.run_id }, fields), color: colorOf(i), runId: s.run_id,
                               x: s.x, y: smooth(s.mean, state.smoothing), lo: s.lo, hi: s.hi }));
  }
  const rest = fields.filter((f) => f !== state.group);
  const groups = new Map();
  for (const s of raw) {
    const row = byId.get(s.run_id) || {};
    const key = rest.map((f) => `${f}=${fmt(row[f])}`).join(" ") || "all runs";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(s);
  }
  return [...groups.entries()].map(([key, members], i) => {
    const buckets = new Map();
    for (const s of members) s.bucket.forEach((b, j) => {
      if (!buckets.has(b)) buckets.set(b, { x: s.x[j], v: [] });
      buckets.get(b).v.push(s.mean[j]);
    });
    const ordered = [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([, p]) => p);
    const mean = ordered.map((p) => p.v.reduce((a, b) => a + b, 0) / p.v.length);
    const std = ordered.map((p, j) => Math.sqrt(p.v.reduce((a, b) => a + (b - mean[j]) ** 2, 0) / p.v.length));
    const m = smooth(mean, state.smoothing);
    return { label: `${key} (n=${members.length}, mean \u00b1 std over ${state.group})`, color: colorOf(i),
             x: ordered.map((p) => p.x), y: m, lo: m.map((v, j) => v - std[j]), hi: m.map((v, j) => v + std[j]) };
  });
}

async function paramsTab(info, body) {
  const page = await api(runsQuery(info, { limit: 1000, offset: 0 }));
  const primary = page.primary;
  body.replaceChildren();
  if (!primary || !info.fields.length) { body.appendChild(el("p", { className: "muted" }, "no identifying fields or no metric yet")); return; }
  const key = `best ${primary}`;
  const rows = page.rows.filter((r) => typeof r[key] === "number");
  body.appendChild(el("h2", {}, `Parallel coordinates (color: best ${primary}, ${page.directions[primary]} is best)`));
  body.appendChild(parallel(rows, [...info.fields, key], key, page.directions[primary]));
  body.appendChild(el("h2", {}, `Best ${primary} by hyperparameter`));
  const charts = el("div", { className: "charts" });
  for (const field of info.fields) {
    const values = rows.map((r) => r[field]).filter((v) => v !== null && v !== undefined);
    const numeric = values.length && values.every((v) => typeof v === "number");
    const distinct = [...new Set(values.map(String))];
    const categorical = !numeric || (values.every(Number.isInteger) && distinct.length <= 8);
    const categories = categorical ? distinct.sort() : null;
    const xOf = (v) => categorical ? categories.indexOf(String(v)) : v;
    const positive = numeric && values.every((v) => v > 0);
    const logX = !categorical && positive && Math.max(...values) / Math.min(...values) >= 100;
    const pts = rows.filter((r) => r[field] !== null && r[field] !== undefined);
    charts.appendChild(drawChart([{ label: `best ${primary}`, color: PALETTE[0], x: pts.map((r) => xOf(r[field])), y: pts.map((r) => r[key]) }],
      { title: field, xLabel: field, logX, categories, markers: true, band: false }));
  }
  body.appendChild(charts);
}

function parallel(rows, axes, colorKey, direction) {
  const W = Math.max(420, axes.length * 140), H = 300, T = 24, B = 20;
  const root = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, id: "parallel" });
  const scales = axes.map((axis) => {
    const values = rows.map((r) => r[axis]).filter((v) => v !== null && v !== undefined);
    if (values.length && values.every((v) => typeof v === "number")) {
      const lo = Math.min(...values), hi = Math.max(...values);
      const log = lo > 0 && hi / lo >= 100;
      const t = (v) => (log ? Math.log10(v) : v);
      return (v) => (typeof v === "number" ? H - B - ((t(v) - t(lo)) / ((t(hi) - t(lo)) || 1)) * (H - T - B) : null);
    }
    const cats = [...new Set(values.map(String))].sort();
    return (v) => (v === null || v === undefined ? null : H - B - (cats.indexOf(String(v)) + 0.5) / cats.length * (H - T - B));
  });
  const xs = axes.map((_, i) => 40 + i * ((W - 80) / Math.max(1, axes.length - 1)));
  const cv = rows.map((r) => r[colorKey]);
  const lo = Math.min(...cv), hi = Math.max(...cv);
  for (const r of rows) {
    const frac = hi === lo ? 0.5 : (r[colorKey] - lo) / (hi - lo);
    const good = direction === "max" ? frac : 1 - frac;
    const pts = axes.map((a, i) => [xs[i], scales[i](r[a])]).filter(([, y]) => y !== null);
    root.appendChild(svg("polyline", { points: pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "), fill: "none",
      stroke: `hsl(${Math.round(good * 120)}, 70%, 42%)`, "stroke-opacity": 0.55, "data-run-id": r.id }));
  }
  axes.forEach((a, i) => {
    root.appendChild(svg("line", { x1: xs[i], x2: xs[i], y1: T, y2: H - B, stroke: "#333" }));
    const label = svg("text", { x: xs[i], y: 14, "text-anchor": "middle", "font-size": 11 });
    label.textContent = a;
    root.appendChild(label);
  });
  return el("div", { className: "chart" }, root);
}

async function sweepTab(info, body) {
  const s = await api(`/api/experiments/${info.id}/sweep`);
  const order = ["PENDING", "RUNNING", "LOST", "COMPLETED", "FAILED", "CANCELLED"];
  const statuses = [...new Set([...order.filter((o) => o in s.counts), ...Object.keys(s.counts)])];
  body.replaceChildren(el("div", { className: "cards", id: "sweep" },
    statuses.map((k) => el("div", { className: "card" }, el("b", { className: `status status-${k}` }, s.counts[k] || 0), k)),
    el("div", { className: "card" }, el("b", {}, s.claims_per_minute.toFixed(1)), "claims per minute (last 10 min)"),
    el("div", { className: "card" }, el("b", {}, s.eta_seconds === null ? "\u2013" : fmtDuration(s.eta_seconds)), `ETA for ${s.remaining} runs`)));
}

/* -- one run, and comparing runs ---------------------------------------------------------------- */

async function runView(id) {
  const run = await api(`/api/runs/${id}`);
  crumbs(["experiments", "/"], [run.experiment, `/experiments/${run.experiment_id}`], [`run ${run.id}`]);
  const skip = new Set(["args", "env", "tags", "identity", "error", "final_metrics", "relationships", "metrics"]);
  const fields = el("table", { id: "fields" }, el("tbody", {}, Object.entries(run).filter(([k]) => !skip.has(k)).map(([k, v]) =>
    el("tr", {}, el("th", {}, k), el("td", {}, k === "shown_status" ? el("span", { className: `status status-${v}` }, v) : fmt(v))))));
  const parts = [el("h1", {}, `Run ${run.id}`), fields];
  for (const key of ["identity", "args", "env", "tags", "final_metrics"]) {
    if (run[key] && Object.keys(run[key]).length) parts.push(el("h2", {}, key), el("pre", {}, JSON.stringify(run[key], null, 2)));
  }
  if (run.relationships.length) {
    parts.push(el("h2", {}, "relationships"), el("ul", {}, run.relationships.map((r) =>
      el("li", {}, r.direction === "to" ? `${r.kind} \u2192 ` : `\u2190 ${r.kind} of `, el("a", { href: `/runs/${r.to}` }, `run ${r.to}`)))));
  }
  if (run.error) parts.push(el("h2", {}, "error"), el("pre", { className: "error", id: "traceback" }, run.error));
  const charts = el("div", { className: "charts" });
  parts.push(el("h2", {}, "curves"), charts);
  app.replaceChildren(...parts);
  await Promise.all((run.metrics || []).map(async (metric) => {
    const data = await api(`/api/experiments/${run.experiment_id}/curves?metric=${encodeURIComponent(metric)}&runs=${run.id}&buckets=300`);
    charts.appendChild(drawChart(data.series.map((s) => ({ label: `run ${run.id}`, color: PALETTE[0], x: s.x, y: s.mean, lo: s.lo, hi: s.hi })),
                                 { title: metric }));
  }));
  live(`/api/experiments/${run.experiment_id}/version`, () => runView(id));
}

async function compareView() {
  const ids = (new URLSearchParams(location.search).get("runs") || "").split(",").filter((t) => /^\d+$/.test(t)).map(Number);
  crumbs(["experiments", "/"], ["compare"]);
  if (!ids.length) { app.replaceChildren(el("p", { className: "muted" }, "select runs on an experiment's page, then compare")); return; }
  const runs = await Promise.all(ids.map((i) => api(`/api/runs/${i}`)));
  const keys = (name) => [...new Set(runs.flatMap((r) => Object.keys(r[name] || {})))].sort();
  const rows = [];
  for (const [group, name] of [["identity", "identity"], ["args", "args"], ["final", "final_metrics"]]) {
    for (const k of keys(name)) {
      const values = runs.map((r) => (r[name] || {})[k]);
      const differ = new Set(values.map((v) => JSON.stringify(v))).size > 1;
      rows.push(el("tr", {}, el("th", {}, `${group}.${k}`), values.map((v) => el("td", { className: differ ? "diff" : null }, fmt(v)))));
    }
  }
  const head = el("tr", {}, el("th", {}, ""), runs.map((r) => el("th", {}, el("a", { href: `/runs/${r.id}` }, `run ${r.id}`), " ",
    el("span", { className: `status status-${r.shown_status}` }, r.shown_status))));
  const charts = el("div", { className: "charts" });
  app.replaceChildren(el("h1", {}, `Compare ${runs.length} runs`), el("table", { id: "diff" }, el("thead", {}, head), el("tbody", {}, rows)),
    el("h2", {}, "curves"), charts);
  const metrics = [...new Set(runs.flatMap((r) => r.metrics || []))].sort();
  const byExperiment = new Map();
  runs.forEach((r) => { if (!byExperiment.has(r.experiment_id)) byExperiment.set(r.experiment_id, []); byExperiment.get(r.experiment_id).push(r.id); });
  for (const metric of metrics) {
    const series = [];
    for (const [exp, members] of byExperiment) {
      try {
        const data = await api(`/api/experiments/${exp}/curves?metric=${encodeURIComponent(metric)}&runs=${members.join(",")}&buckets=200`);
        data.series.forEach((s) => series.push({ label: `run ${s.run_id}`, color: colorOf(ids.indexOf(s.run_id)), x: s.x, y: s.mean, lo: s.lo, hi: s.hi }));
      } catch (e) { /* a metric another experiment's runs never logged */ }
    }
    charts.appendChild(drawChart(series, { title: metric }));
  }
}

/* -- routing ------------------------------------------------------------------------------------ */

async function route() {
  stopLive();
  const path = location.pathname.replace(/\/+$/, "") || "/";
  let match;
  try {
    if (window.pgtrackOffline) await experimentView(OFFLINE.experiment.id);  // a report: its one experiment
    else if (!TOKEN) throw new Error(`no access token in this tab: ${NO_TOKEN}`);
    else if (path === "/") await experimentsView();
    else if ((match = path.match(/^\/experiments\/(\d+)$/))) await experimentView(Number(match[1]));
    else if ((match = path.match(/^\/runs\/(\d+)$/))) await runView(Number(match[1]));
    else if (path === "/compare") await compareView();
    else throw new Error(`no page ${path}`);
    document.body.dataset.ready = "1";
  } catch (e) {
    showError(e);
    document.body.dataset.ready = "error";
  }
}

route();
