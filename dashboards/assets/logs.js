// Logs: search (tantivy syntax, or LogQL when the query starts with `{`),
// a volume histogram by severity, hits newest first with expandable
// fields (click a value to filter on it), and a live tail.

import { api, el, emptyBox, errorBox, formatTime, range, rangePicker, setParams } from "./app.js";
import { barChart } from "./chart.js";

const LIMIT = 1000;

function flatten(doc) {
  const out = [];
  for (const [k, v] of Object.entries(doc)) {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v)) out.push([`${k}.${k2}`, typeof v2 === "object" ? JSON.stringify(v2) : String(v2)]);
    } else if (v !== "" && v !== 0 && k !== "offset") {
      out.push([k, typeof v === "object" ? JSON.stringify(v) : String(v)]);
    }
  }
  return out;
}

function hitNode(hit, addFilter) {
  const ms = Math.floor((hit.timestamp_nanos || 0) / 1e6);
  const sev = hit.severity_text || "";
  const fields = el("div", { class: "fields", hidden: true });
  const body = typeof hit.body === "string" ? hit.body : JSON.stringify(hit.body);
  const line = el("div", { class: "line", role: "button", tabindex: 0, onclick: () => {
    if (!fields.childElementCount) {
      for (const [k, v] of flatten(hit)) {
        fields.append(el("span", {}, k), el("span", { class: "v", title: "filter on this value", onclick: () => addFilter(k, v) }, v));
      }
    }
    fields.hidden = !fields.hidden;
  } },
    el("span", { class: "ts" }, formatTime(ms)),
    el("span", { class: `sev sev-${sev}` }, sev || "–"),
    el("span", { class: "hide-narrow" }, hit.service_name || ""),
    el("span", { class: "body" }, body));
  return el("li", { class: "hit" }, line, fields);
}

/// Escapes a value for the search syntax.
function quote(v) {
  return `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

export async function render(view, p) {
  let query = p.get("q") || "*";
  const input = el("input", { class: "query", name: "q", value: query, "aria-label": "query",
    placeholder: 'service_name:checkout AND severity_text:ERROR   or   {service_name="checkout"} |= "timeout"' });
  const picker = rangePicker(p, () => run());
  const tailBox = el("input", { type: "checkbox", name: "tail", "aria-label": "live tail" });
  const form = el("form", { class: "bar", onsubmit: (e) => { e.preventDefault(); run(); } },
    input, picker.node, el("button", { type: "submit" }, "Search"),
    el("label", {}, tailBox, " Live tail"));
  const histogram = el("div", { id: "histogram" });
  const summary = el("p", { class: "state", id: "summary" }, "Searching…");
  const hits = el("ul", { class: "hits", id: "hits" });
  view.replaceChildren(form, histogram, summary, hits);

  let source = null;
  const stopTail = () => { if (source) { source.close(); source = null; } };

  function addFilter(field, value) {
    const term = `${field}:${quote(value)}`;
    input.value = !input.value.trim() || input.value.trim() === "*" ? term : `${input.value.trim()} AND ${term}`;
    run();
  }

  async function run() {
    query = input.value.trim() || "*";
    const chosen = picker.value();
    setParams({ q: query, ...chosen });
    const [start, end] = range(new URLSearchParams(chosen));
    const startIso = new Date(start).toISOString(), endIso = new Date(end).toISOString();
    summary.className = "state";
    summary.textContent = "Searching…";
    hits.replaceChildren();
    try {
      let docs;
      const t0 = performance.now();
      if (query.startsWith("{")) {
        histogram.replaceChildren(emptyBox("The volume histogram is drawn for search-syntax queries."));
        const body = await api(`/loki/api/v1/query_range?${new URLSearchParams({ query, start: start * 1e6, end: end * 1e6, limit: LIMIT, direction: "backward" })}`);
        docs = body.data.result.flatMap((s) => s.values.map(([ns, line]) => ({
          timestamp_nanos: Number(ns), body: line, service_name: s.stream.service_name || "", severity_text: s.stream.severity_text || "", ...{ labels: s.stream },
        }))).sort((a, b) => b.timestamp_nanos - a.timestamp_nanos).slice(0, LIMIT);
        summary.textContent = `${docs.length} lines`;
      } else {
        const search = new URLSearchParams({ query, start: startIso, end: endIso, limit: LIMIT });
        const [found, hist] = await Promise.all([
          api(`/api/v1/logs/search?${search}`),
          api(`/api/v1/logs/histogram?${new URLSearchParams({ query, start: startIso, end: endIso, by: "severity" })}`),
        ]);
        barChart(histogram, hist.buckets.map((b) => ({ t: b.timestamp_ms, counts: b.by_severity || (b.count ? { "": b.count } : {}) })), hist.interval_ms);
        docs = found.hits;
        summary.textContent = `${found.num_hits} hits${found.num_hits > docs.length ? `, newest ${docs.length} shown` : ""} · ${(found.elapsed_time_micros / 1000).toFixed(1)} ms`;
      }
      const fetched = performance.now();
      if (!docs.length) {
        hits.replaceChildren(emptyBox("No log records match. Widen the time range, or search for * to see everything."));
      } else {
        const fragment = document.createDocumentFragment();
        for (const doc of docs) fragment.append(hitNode(doc, addFilter));
        hits.replaceChildren(fragment);
      }
      await new Promise((r) => requestAnimationFrame(() => r()));
      window.__weir = { page: "logs", hits: docs.length, fetchMs: fetched - t0, renderMs: performance.now() - fetched };
    } catch (e) {
      summary.className = "";
      summary.replaceChildren(errorBox(e, "Check the query syntax: the error names the position."));
    }
    if (tailBox.checked) startTail();
  }

  function startTail() {
    stopTail();
    if (query.startsWith("{")) return;
    source = new EventSource(`/api/v1/logs/tail?${new URLSearchParams({ query })}`);
    source.addEventListener("log", (event) => {
      const doc = JSON.parse(event.data);
      hits.prepend(hitNode(doc, addFilter));
      while (hits.childElementCount > LIMIT) hits.lastElementChild.remove();
    });
    source.onerror = () => { summary.textContent = "Live tail disconnected; it reconnects on its own."; };
  }

  tailBox.addEventListener("change", () => (tailBox.checked ? startTail() : stopTail()));
  await run();
  return stopTail;
}
