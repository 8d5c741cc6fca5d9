/* pgtrack report: the dashboard's views without a server. `pgtrack report` writes one HTML file with
   the experiment's data embedded (#pgtrack-data) and this script before app.js; it answers app.js's
   API requests from that data: the runs table (sorted, filtered and paged here, with the same filter
   language as the server), the curves of the embedded runs, the sweep counts. Nothing is fetched. */
"use strict";

const OFFLINE = JSON.parse(document.getElementById("pgtrack-data").textContent);

function offlineFilter(text, columns) {
  const tokens = [];
  const re = /\s*(?:(\[[^\]]*\]|`[^`]*`)|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(<=|>=|==|!=|<>|=|<|>|~)|([()])|([^\s()<>=!~"'`[\]]+))/y;
  let pos = 0;
  while (pos < text.length && text.slice(pos).trim()) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new Error(`cannot read the filter at position ${pos}`);
    const kind = m[1] ? "column" : m[2] ? "string" : m[3] ? "op" : m[4] ? "paren" : "word";
    tokens.push([kind, m[1] || m[2] || m[3] || m[4] || m[5]]);
    pos = re.lastIndex;
  }
  const byName = new Map(columns.map((c) => [c.toLowerCase(), c]));
  let i = 0;
  const peek = () => tokens[i] || ["end", ""];
  const keyword = (w) => { if (peek()[0] === "word" && peek()[1].toLowerCase() === w) { i++; return true; } return false; };
  const column = ([kind, v]) => {
    const name = kind === "column" ? v.slice(1, -1) : v;
    const found = byName.get(name.toLowerCase());
    if (!found) throw new Error(`unknown column '${name}'; columns: ${columns.join(", ")}`);
    return found;
  };
  const truthy = (v) => !(v === null || v === undefined || v === false || v === 0 || v === "");
  const compare = (left, op, right) => {
    if (left === null || left === undefined) return (op === "!=" || op === "<>") && right !== null;
    if (typeof left === "number" && typeof right !== "number") { right = Number(right); if (Number.isNaN(right)) return op === "!=" || op === "<>"; }
    if (typeof left !== "number" || typeof right !== "number") { left = String(left).toLowerCase(); right = String(right).toLowerCase(); }
    switch (op) {
      case "~": return String(left).includes(String(right));
      case "=": case "==": return left === right;
      case "!=": case "<>": return left !== right;
      case "<": return left < right; case "<=": return left <= right;
      case ">": return left > right; default: return left >= right;
    }
  };
  const atom = () => {
    if (peek()[0] === "paren" && peek()[1] === "(") {
      i++; const inner = or();
      if ((tokens[i++] || [])[1] !== ")") throw new Error("missing )");
      return inner;
    }
    if (!["word", "column"].includes(peek()[0])) throw new Error(`expected a column, got '${peek()[1] || "the end"}'`);
    const name = column(tokens[i++]);
    if (peek()[0] !== "op") return (row) => truthy(row[name]);
    const op = tokens[i++][1];
    const [kind, raw] = tokens[i++] || ["end", ""];
    if (kind === "end" || kind === "op" || kind === "paren") throw new Error(`expected a value after ${op}`);
    let value = kind === "string" ? raw.slice(1, -1) : raw;
    if (kind === "word") value = ["null", "none"].includes(raw.toLowerCase()) ? null : (Number.isNaN(Number(raw)) ? raw : Number(raw));
    if (value === null) return (op === "=" || op === "==") ? (row) => row[name] == null : (row) => row[name] != null;
    return (row) => compare(row[name], op, value);
  };
  const not = () => (keyword("not") ? ((inner) => (row) => !inner(row))(not()) : atom());
  const and = () => { const parts = [not()]; while (keyword("and")) parts.push(not()); return (row) => parts.every((p) => p(row)); };
  const or = () => { const parts = [and()]; while (keyword("or")) parts.push(and()); return (row) => parts.some((p) => p(row)); };
  if (!text.trim()) return () => true;
  const predicate = or();
  if (i < tokens.length) throw new Error(`unexpected '${tokens[i][1]}'`);
  return predicate;
}

function offlineRuns(q) {
  const data = OFFLINE.runs;
  let rows = data.rows.filter(offlineFilter(q.get("filter") || "", data.columns));
  const sort = q.get("sort");
  if (sort) {
    const desc = q.get("desc") === "1";
    const key = (r) => r[sort];
    const present = rows.filter((r) => key(r) !== null && key(r) !== undefined);
    const missing = rows.filter((r) => key(r) === null || key(r) === undefined);
    present.sort((a, b) => {
      const x = key(a), y = key(b);
      const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return desc ? -c : c;
    });
    rows = present.concat(missing);
  }
  const offset = Number(q.get("offset") || 0), limit = Number(q.get("limit") || 100);
  return { ...data, matched: rows.length, offset, limit, rows: rows.slice(offset, offset + limit) };
}

window.pgtrackOffline = async function (path) {
  const url = new URL(path, "http://offline");
  const parts = url.pathname.split("/").filter(Boolean);  // api, experiments, id, what
  if (parts[1] === "experiments" && parts.length === 3) return OFFLINE.experiment;
  const what = parts[3];
  if (what === "runs") return offlineRuns(url.searchParams);
  if (what === "sweep") return OFFLINE.sweep;
  if (what === "version") return { version: "offline" };
  if (what === "curves") {
    const metric = url.searchParams.get("metric");
    const ids = new Set((url.searchParams.get("runs") || "").split(",").filter(Boolean).map(Number));
    const series = ((OFFLINE.curves[metric] || {}).series || []).filter((s) => !ids.size || ids.has(s.run_id));
    return { metric, axis: "step", series };
  }
  throw new Error("this report holds one experiment's runs, charts and sweep; open pgtrack ui for more");
};
