// The shell: hash routing (`#/page?key=value`, so every view is a
// shareable URL), shared helpers, and the page modules.

const pages = {
  logs: () => import("./logs.js"),
  metrics: () => import("./metrics.js"),
  alerts: () => import("./alerts.js"),
  pipeline: () => import("./pipeline.js"),
  dashboards: () => import("./boards.js"),
};

/// Builds an element: el("td", {class: "x", onclick: f}, "text", child).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/// Fetches JSON; throws an Error whose message says what went wrong.
export async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (e) {
    throw new Error(`Weir did not answer ${path}: is \`weir serve\` running? (${e.message})`);
  }
  const text = await response.text();
  let body;
  try { body = text ? JSON.parse(text) : null; } catch { body = text; }
  if (!response.ok) {
    const message = (body && (body.error || body.message)) || text || response.statusText;
    throw new Error(`${response.status}: ${message}`);
  }
  return body;
}

export function errorBox(error, hint) {
  return el("div", { class: "error", role: "alert" }, String(error.message || error), hint ? `\n${hint}` : "");
}

export function emptyBox(text) {
  return el("p", { class: "state" }, text);
}

/// The hash's parameters.
export function params() {
  const [, query = ""] = location.hash.slice(1).split("?");
  return new URLSearchParams(query);
}

/// Replaces the hash's parameters without re-rendering the page.
export function setParams(values) {
  const [path] = location.hash.slice(1).split("?");
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v !== undefined && v !== null && v !== "") search.set(k, v);
  history.replaceState(null, "", `#${path || "/logs"}?${search}`);
}

const UNITS = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 };

/// Milliseconds of a duration such as `15m`, `1h`, `7d`; null if not one.
export function duration(text) {
  const m = /^(\d+)(s|m|h|d|w)$/.exec((text || "").trim());
  return m ? Number(m[1]) * UNITS[m[2]] : null;
}

/// [start, end] in ms from a relative range (`1h`) or from/to values.
export function range(p) {
  const now = Date.now();
  const from = p.get("from"), to = p.get("to");
  if (from) {
    const start = Date.parse(from), end = to ? Date.parse(to) : now;
    if (!Number.isNaN(start) && !Number.isNaN(end) && start < end) return [start, end];
  }
  return [now - (duration(p.get("range")) || 3600e3), now];
}

/// A range picker: relative choices plus absolute from/to.
export function rangePicker(p, onchange) {
  const choices = ["5m", "15m", "1h", "6h", "24h", "7d", "custom"];
  const current = p.get("from") ? "custom" : (p.get("range") || "1h");
  const select = el("select", { "aria-label": "time range", name: "range" },
    choices.map((c) => el("option", { value: c, selected: c === current }, c === "custom" ? "absolute…" : `last ${c}`)));
  const toLocal = (ms) => new Date(ms - new Date().getTimezoneOffset() * 60e3).toISOString().slice(0, 16);
  const [start, end] = range(p);
  const from = el("input", { type: "datetime-local", name: "from", value: toLocal(start), "aria-label": "from" });
  const to = el("input", { type: "datetime-local", name: "to", value: toLocal(end), "aria-label": "to" });
  const custom = el("span", { class: "bar", style: current === "custom" ? "" : "display:none" }, from, to);
  const value = () => select.value === "custom"
    ? { from: new Date(from.value).toISOString(), to: new Date(to.value).toISOString() }
    : { range: select.value };
  select.addEventListener("change", () => {
    custom.style.display = select.value === "custom" ? "" : "none";
    if (select.value !== "custom") onchange(value());
  });
  from.addEventListener("change", () => onchange(value()));
  to.addEventListener("change", () => onchange(value()));
  return { node: el("span", { class: "bar" }, select, custom), value };
}

export function formatTime(ms) {
  const d = new Date(ms);
  return d.toISOString().replace("T", " ").replace("Z", "");
}

export function formatBytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function labelChips(labels) {
  return el("span", { class: "labels" },
    Object.entries(labels || {}).map(([k, v]) => el("span", { class: "label" }, `${k}="${v}"`)));
}

let cleanup = null;

async function route() {
  const [path] = location.hash.slice(1).split("?");
  const name = (path || "/logs").replace(/^\//, "") || "logs";
  const page = pages[name] ? name : "logs";
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page);
  if (cleanup) { cleanup(); cleanup = null; }
  const view = document.getElementById("view");
  view.replaceChildren(el("p", { class: "state" }, "Loading…"));
  try {
    const module = await pages[page]();
    cleanup = (await module.render(view, params())) || null;
  } catch (e) {
    view.replaceChildren(errorBox(e, "Reload the page; if it persists, check `weir serve`'s log."));
  }
}

window.addEventListener("hashchange", route);
if (!location.hash) history.replaceState(null, "", "#/logs");
route();
