// Small SVG charts of our own: a multi-series line chart with a legend and
// hover values, and a stacked bar histogram.

import { el, formatTime } from "./app.js";

const NS = "http://www.w3.org/2000/svg";
const COLORS = ["#1f6fb5", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#c2255c", "#5f3dc4", "#364fc7", "#087f5b"];
export const SEVERITY_COLORS = { ERROR: "#b42318", FATAL: "#7a271a", WARN: "#dc6803", INFO: "#2e90fa", DEBUG: "#98a2b3", TRACE: "#d0d5dd" };

function svg(tag, attrs) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function niceNumber(v) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + "G";
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v * 100) / 100);
  return v.toPrecision(3);
}

function frame(container) {
  const width = Math.max(container.clientWidth, 200);
  const height = Math.max(container.clientHeight, 120);
  const pad = { l: 48, r: 8, t: 8, b: 22 };
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
  container.replaceChildren(root);
  return { root, width, height, pad };
}

function axes(f, xmin, xmax, ymin, ymax) {
  const { root, width, height, pad } = f;
  const x = (t) => pad.l + ((t - xmin) / Math.max(xmax - xmin, 1)) * (width - pad.l - pad.r);
  const y = (v) => height - pad.b - ((v - ymin) / Math.max(ymax - ymin, 1e-12)) * (height - pad.t - pad.b);
  for (let i = 0; i <= 4; i++) {
    const v = ymin + ((ymax - ymin) * i) / 4;
    root.append(svg("line", { x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v), stroke: "#eef1f4" }));
    const label = svg("text", { x: pad.l - 4, y: y(v) + 4, "text-anchor": "end", "font-size": 10, fill: "#5b6470" });
    label.textContent = niceNumber(v);
    root.append(label);
  }
  for (let i = 0; i <= 3; i++) {
    const t = xmin + ((xmax - xmin) * i) / 3;
    const label = svg("text", { x: x(t), y: height - 6, "text-anchor": i === 0 ? "start" : i === 3 ? "end" : "middle", "font-size": 10, fill: "#5b6470" });
    label.textContent = formatTime(t).slice(5, 16);
    root.append(label);
  }
  return { x, y };
}

/// series: [{name, points: [[t_ms, value], ...]}]
export function lineChart(container, series) {
  const legend = el("div", { class: "legend" });
  const area = el("div", { class: "chart" });
  container.replaceChildren(area, legend);
  const all = series.flatMap((s) => s.points);
  if (!all.length) {
    area.replaceChildren(el("p", { class: "state" }, "No data points in this range."));
    return;
  }
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]).filter(Number.isFinite);
  let ymin = Math.min(0, ...ys), ymax = Math.max(...ys);
  if (ymax === ymin) ymax = ymin + 1;
  const f = frame(area);
  const { x, y } = axes(f, Math.min(...xs), Math.max(...xs), ymin, ymax);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const d = s.points.filter((p) => Number.isFinite(p[1])).map((p, j) => `${j ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join("");
    f.root.append(svg("path", { d, fill: "none", stroke: color, "stroke-width": 1.5 }));
    legend.append(el("span", { style: `--c:${color}` }, s.name));
  });
  const cursor = svg("line", { y1: f.pad.t, y2: f.height - f.pad.b, stroke: "#98a2b3", visibility: "hidden" });
  f.root.append(cursor);
  const tip = el("div", { class: "tip", hidden: true });
  area.append(tip);
  const times = [...new Set(xs)].sort((a, b) => a - b);
  area.addEventListener("mousemove", (event) => {
    const box = area.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * f.width;
    let best = times[0];
    for (const t of times) if (Math.abs(x(t) - px) < Math.abs(x(best) - px)) best = t;
    cursor.setAttribute("x1", x(best)); cursor.setAttribute("x2", x(best));
    cursor.setAttribute("visibility", "visible");
    const rows = series.map((s, i) => {
      const p = s.points.find((q) => q[0] === best);
      return p ? el("div", {}, el("span", { style: `color:${COLORS[i % COLORS.length]}` }, "■ "), `${s.name}: ${niceNumber(p[1])}`) : null;
    });
    tip.replaceChildren(el("div", {}, formatTime(best)), ...rows);
    tip.hidden = false;
    const left = Math.min(event.clientX - box.left + 12, box.width - tip.offsetWidth - 4);
    tip.style.left = `${Math.max(0, left)}px`;
    tip.style.top = "4px";
  });
  area.addEventListener("mouseleave", () => { tip.hidden = true; cursor.setAttribute("visibility", "hidden"); });
}

/// buckets: [{t, counts: {key: n}}], stacked in `order`.
export function barChart(container, buckets, interval) {
  const area = el("div", { class: "chart", style: "height:120px" });
  const legend = el("div", { class: "legend" });
  container.replaceChildren(area, legend);
  if (!buckets.length) {
    area.replaceChildren(el("p", { class: "state" }, "No records in this range."));
    return;
  }
  const keys = [...new Set(buckets.flatMap((b) => Object.keys(b.counts)))];
  const totals = buckets.map((b) => Object.values(b.counts).reduce((a, c) => a + c, 0));
  const f = frame(area);
  const t0 = buckets[0].t, t1 = buckets[buckets.length - 1].t + interval;
  const { x, y } = axes(f, t0, t1, 0, Math.max(1, ...totals));
  const w = Math.max(1, x(t0 + interval) - x(t0) - 1);
  for (const b of buckets) {
    let base = 0;
    for (const k of keys) {
      const n = b.counts[k] || 0;
      if (!n) continue;
      const rect = svg("rect", { x: x(b.t), y: y(base + n), width: w, height: Math.max(0, y(base) - y(base + n)), fill: SEVERITY_COLORS[k] || COLORS[keys.indexOf(k) % COLORS.length] });
      const title = svg("title", {});
      title.textContent = `${formatTime(b.t)} ${k}: ${n}`;
      rect.append(title);
      f.root.append(rect);
      base += n;
    }
  }
  for (const k of keys) legend.append(el("span", { style: `--c:${SEVERITY_COLORS[k] || COLORS[keys.indexOf(k) % COLORS.length]}` }, k || "(none)"));
}
