// Metrics: a PromQL box with metric-name and label completion from the
// API, and a line chart of the range query, its step chosen from the
// range (about 250 points).

import { api, el, emptyBox, errorBox, range, rangePicker, setParams } from "./app.js";
import { lineChart } from "./chart.js";

/// A step in seconds for about 250 points, rounded to a readable value.
export function stepFor(rangeMs) {
  const raw = rangeMs / 1000 / 250;
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];
  return steps.find((s) => s >= raw) || 86400;
}

function seriesName(metric) {
  const name = metric.__name__ || "";
  const rest = Object.entries(metric).filter(([k]) => k !== "__name__").map(([k, v]) => `${k}="${v}"`);
  return rest.length ? `${name}{${rest.join(", ")}}` : name || "{}";
}

export async function chartQuery(container, query, start, end) {
  const step = stepFor(end - start);
  const body = await api(`/api/v1/query_range?${new URLSearchParams({ query, start: start / 1000, end: end / 1000, step })}`);
  const series = body.data.result.map((s) => ({
    name: seriesName(s.metric),
    points: s.values.map(([t, v]) => [t * 1000, Number(v)]),
  }));
  if (!series.length) {
    container.replaceChildren(emptyBox("The query matched no series in this range."));
  } else {
    lineChart(container, series);
  }
  return { series: series.length, step };
}

export async function render(view, p) {
  const input = el("input", { class: "query", name: "query", list: "metric-names", value: p.get("query") || "", "aria-label": "PromQL query",
    placeholder: "sum by (service_name) (rate(http_server_request_duration_seconds_count[5m]))" });
  const names = el("datalist", { id: "metric-names" });
  const labelHints = el("div", { class: "labels", id: "label-hints" });
  const picker = rangePicker(p, () => run());
  const form = el("form", { class: "bar", onsubmit: (e) => { e.preventDefault(); run(); } },
    input, names, picker.node, el("button", { type: "submit" }, "Run"));
  const info = el("p", { class: "state", id: "info" }, "Type a PromQL query, or pick a metric name.");
  const chart = el("div", { id: "chart" });
  view.replaceChildren(form, labelHints, info, chart);

  api("/api/v1/label/__name__/values").then((body) => {
    names.replaceChildren(...body.data.map((n) => el("option", { value: n })));
  }).catch(() => {});

  let hinted = "";
  input.addEventListener("input", async () => {
    const metric = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(input.value)?.[0] || "";
    if (!metric || metric === hinted) return;
    hinted = metric;
    try {
      const body = await api(`/api/v1/labels?${new URLSearchParams({ "match[]": metric })}`);
      labelHints.replaceChildren(...body.data.filter((l) => l !== "__name__").map((l) =>
        el("button", { type: "button", class: "secondary", onclick: () => {
          const v = input.value;
          input.value = v.includes("{") ? v.replace(/}\s*$/, `, ${l}=""}`) : `${v}{${l}=""}`;
          input.focus();
        } }, l)));
    } catch { labelHints.replaceChildren(); }
  });

  async function run() {
    const query = input.value.trim();
    const chosen = picker.value();
    setParams({ query, ...chosen });
    if (!query) return;
    const [start, end] = range(new URLSearchParams(chosen));
    info.className = "state";
    info.textContent = "Running…";
    try {
      const { series, step } = await chartQuery(chart, query, start, end);
      info.textContent = `${series} series · step ${step}s`;
      window.__weir = { page: "metrics", series };
    } catch (e) {
      info.className = "";
      info.replaceChildren(errorBox(e, "The error names the position in the query."));
      chart.replaceChildren();
    }
  }
  if (input.value) await run();
}
