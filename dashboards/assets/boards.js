// Dashboards: definitions from YAML files (and the built-in `weir`
// dashboard), a grid of panels, each a PromQL or LogQL query drawn as a
// chart or a table.

import { api, el, emptyBox, errorBox, labelChips, params, range, rangePicker, setParams } from "./app.js";
import { lineChart } from "./chart.js";
import { chartQuery, stepFor } from "./metrics.js";

async function logqlPanel(container, panel, start, end) {
  const step = stepFor(end - start);
  const body = await api(`/loki/api/v1/query_range?${new URLSearchParams({ query: panel.query, start: start * 1e6, end: end * 1e6, step })}`);
  if (body.data.resultType !== "matrix") {
    container.replaceChildren(emptyBox("A LogQL panel needs a metric query, such as count_over_time({...}[1m])."));
    return;
  }
  const series = body.data.result.map((s) => ({
    name: Object.entries(s.metric).map(([k, v]) => `${k}="${v}"`).join(", ") || "{}",
    points: s.values.map(([t, v]) => [t * 1000, Number(v)]),
  }));
  if (!series.length) container.replaceChildren(emptyBox("No data in this range."));
  else lineChart(container, series);
}

async function tablePanel(container, panel, end) {
  const path = panel.language === "logql"
    ? `/loki/api/v1/query?${new URLSearchParams({ query: panel.query, time: end * 1e6 })}`
    : `/api/v1/query?${new URLSearchParams({ query: panel.query, time: end / 1000 })}`;
  const body = await api(path);
  const rows = body.data.result || [];
  if (!rows.length) { container.replaceChildren(emptyBox("No series.")); return; }
  container.replaceChildren(el("table", {}, el("tbody", {}, rows.map((r) =>
    el("tr", {}, el("td", {}, labelChips(r.metric)), el("td", {}, r.value ? r.value[1] : ""))))));
}

export async function render(view, p) {
  let listing;
  try {
    listing = await api("/api/v1/dashboards");
  } catch (e) {
    view.replaceChildren(errorBox(e));
    return;
  }
  const boards = listing.dashboards;
  const chosen = boards.find((b) => b.id === p.get("id")) || boards[0];
  const select = el("select", { "aria-label": "dashboard", name: "id" },
    boards.map((b) => el("option", { value: b.id, selected: b === chosen }, b.title)));
  const picker = rangePicker(p, () => draw());
  const grid = el("div", { class: "grid", id: "panels" });
  const problems = listing.errors.length ? errorBox(new Error(listing.errors.join("\n")), "Fix these files in the dashboards directory; the others load.") : "";
  view.replaceChildren(el("div", { class: "bar" }, select, picker.node), problems, grid);
  select.addEventListener("change", () => { setParams({ id: select.value, ...picker.value() }); draw(); });

  async function draw() {
    const board = boards.find((b) => b.id === select.value) || chosen;
    setParams({ id: board.id, ...picker.value() });
    const [start, end] = range(new URLSearchParams(picker.value()));
    if (!board.panels.length) { grid.replaceChildren(emptyBox("This dashboard has no panels.")); return; }
    grid.replaceChildren(...board.panels.map((panel) => {
      const body = el("div", {}, el("p", { class: "state" }, "Loading…"));
      const node = el("div", { class: "panel" }, el("h3", {}, panel.title), body);
      const work = panel.kind === "table"
        ? tablePanel(body, panel, end)
        : panel.language === "logql" ? logqlPanel(body, panel, start, end) : chartQuery(body, panel.query, start, end);
      work.catch((e) => body.replaceChildren(errorBox(e)));
      return node;
    }));
    window.__weir = { page: "dashboards", panels: board.panels.length };
  }
  if (!params().get("id")) setParams({ id: chosen.id, ...picker.value() });
  await draw();
}
