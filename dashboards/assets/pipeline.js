// Pipeline: topics and partitions with offsets and sizes, each worker's
// consumer lag, ingest rates and rejected items (from /metrics, sampled
// twice), disk use, and the index and window store sizes.

import { api, el, emptyBox, errorBox, formatBytes } from "./app.js";

/// Sums of `weir_ingest_*_total` counters by metric and signal.
function counters(text) {
  const out = {};
  for (const line of text.split("\n")) {
    const m = /^(weir_ingest_(?:accepted|rejected|received)_items_total)\{([^}]*)\}\s+([0-9.eE+-]+)/.exec(line);
    if (!m) continue;
    const signal = /signal="([^"]*)"/.exec(m[2])?.[1] || "";
    const key = `${m[1]}|${signal}`;
    out[key] = (out[key] || 0) + Number(m[3]);
  }
  return out;
}

async function metricsText() {
  const response = await fetch("/metrics");
  return response.ok ? response.text() : "";
}

function table(head, rows, cls) {
  return el("div", { class: "scroll" }, el("table", { class: cls },
    el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c)))))));
}

export async function render(view) {
  const cards = el("div", { class: "cards", id: "cards" });
  const rates = el("section", { id: "rates" }, el("p", { class: "state" }, "Measuring ingest rates…"));
  const topics = el("section", { id: "topics" });
  const workers = el("section", { id: "workers" });
  view.replaceChildren(cards, el("h2", {}, "Ingest"), rates, el("h2", {}, "Workers"), workers, el("h2", {}, "Topics"), topics);

  let previous = null;
  async function refresh() {
    try {
      const status = await api("/api/v1/status/pipeline");
      cards.replaceChildren(
        el("div", { class: "card" }, "Data dir", el("b", {}, formatBytes(status.disk.total_bytes)), status.data_dir),
        el("div", { class: "card" }, "Log", el("b", {}, formatBytes(status.disk.log_bytes))),
        el("div", { class: "card" }, "Log index", el("b", {}, formatBytes(status.index.bytes)), `${status.index.documents} documents`),
        el("div", { class: "card" }, "Window store", el("b", {}, formatBytes(status.disk.metrics_bytes)),
          `${status.windows.blocks.reduce((a, b) => a + b, 0)} blocks, ${status.windows.head_windows.reduce((a, b) => a + b, 0)} head windows`));
      workers.replaceChildren(status.workers.length
        ? table(["group", "topic", "partition", "next offset", "high watermark", "lag"],
          status.workers.map((w) => [w.group, w.topic, w.partition, w.next_offset, w.high_watermark, w.lag]), "workers")
        : emptyBox("No workers running yet."));
      topics.replaceChildren(table(["topic", "partition", "log start", "high watermark", "size", "segments"],
        status.topics.flatMap((t) => t.partitions.map((p) => [t.name, p.partition, p.log_start, p.high_watermark, formatBytes(p.size_bytes), p.segments])), "topics"));
    } catch (e) {
      cards.replaceChildren(errorBox(e, "The status API answers once the log has opened."));
    }
    try {
      const now = { at: performance.now(), values: counters(await metricsText()) };
      if (previous) {
        const seconds = (now.at - previous.at) / 1000;
        const signals = [...new Set(Object.keys(now.values).map((k) => k.split("|")[1]))].sort();
        const rate = (name, signal) => {
          const key = `weir_ingest_${name}_items_total|${signal}`;
          return (((now.values[key] || 0) - (previous.values[key] || 0)) / seconds).toFixed(1);
        };
        const total = (name, signal) => now.values[`weir_ingest_${name}_items_total|${signal}`] || 0;
        rates.replaceChildren(signals.length
          ? table(["signal", "accepted/s", "rejected/s", "accepted", "rejected"],
            signals.map((s) => [s, rate("accepted", s), rate("rejected", s), total("accepted", s), total("rejected", s)]), "rates")
          : emptyBox("Nothing received yet. Point an OTLP exporter at :4317 (gRPC) or :4318 (HTTP)."));
      }
      previous = now;
    } catch (e) {
      rates.replaceChildren(errorBox(e));
    }
  }
  await refresh();
  window.__weir = { page: "pipeline" };
  const timer = setInterval(refresh, 3000);
  return () => clearInterval(timer);
}
