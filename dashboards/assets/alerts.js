// Alerts: firing and pending alerts (silence one from its labels), rules
// with their state and last evaluation, silences (expire), and the
// notification history with each attempt's status and error.

import { api, el, emptyBox, errorBox, formatTime, labelChips } from "./app.js";

function matcherText(m) {
  const op = m.isRegex ? (m.isEqual === false ? "!~" : "=~") : (m.isEqual === false ? "!=" : "=");
  return `${m.name}${op}"${m.value}"`;
}

function silenceForm(labels, done) {
  const matchers = Object.entries(labels).map(([name, value]) => ({ name, value, isRegex: false, isEqual: true }));
  const rows = matchers.map((m) => el("label", { class: "label" }, el("input", { type: "checkbox", checked: true, dataset: { name: m.name } }), ` ${matcherText(m)}`));
  const hours = el("select", { name: "duration", "aria-label": "duration" }, ["1", "2", "4", "8", "24"].map((h) => el("option", { value: h }, `${h} h`)));
  const comment = el("input", { name: "comment", placeholder: "why (required)", required: true, "aria-label": "comment" });
  const author = el("input", { name: "author", placeholder: "who", value: localStorage.getItem("weir.author") || "", "aria-label": "author" });
  const status = el("span");
  const form = el("form", { class: "bar", onsubmit: async (e) => {
    e.preventDefault();
    const chosen = matchers.filter((m, i) => rows[i].querySelector("input").checked);
    if (!chosen.length) { status.replaceChildren(errorBox(new Error("Pick at least one matcher."))); return; }
    const now = Date.now();
    localStorage.setItem("weir.author", author.value);
    try {
      const body = await api("/api/v2/silences", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({
        matchers: chosen, startsAt: new Date(now).toISOString(), endsAt: new Date(now + Number(hours.value) * 3600e3).toISOString(),
        createdBy: author.value || "weir-ui", comment: comment.value,
      }) });
      done(body.silenceID);
    } catch (error) { status.replaceChildren(errorBox(error)); }
  } }, el("div", { class: "labels" }, rows), hours, comment, author, el("button", { type: "submit" }, "Create silence"), status);
  return form;
}

export async function render(view) {
  const sections = {
    alerts: el("section", { id: "alerts" }),
    rules: el("section", { id: "rules" }),
    silences: el("section", { id: "silences" }),
    history: el("section", { id: "history" }),
  };
  view.replaceChildren(
    el("h2", {}, "Firing and pending"), sections.alerts,
    el("h2", {}, "Silences"), sections.silences,
    el("h2", {}, "Rules"), sections.rules,
    el("h2", {}, "Notifications"), sections.history);

  async function load(section, path, draw) {
    try {
      draw(await api(path));
    } catch (e) {
      const hint = String(e.message).startsWith("503") ? "The alert engine is starting; this page refreshes every few seconds." : "";
      section.replaceChildren(errorBox(e, hint));
    }
  }

  // A refresh leaves the alerts alone while a silence form is open.
  const refresh = () => Promise.all([
    sections.alerts.querySelector("form") ? null : load(sections.alerts, "/api/v1/alerts", (body) => {
      const alerts = body.data.alerts;
      if (!alerts.length) { sections.alerts.replaceChildren(emptyBox("Nothing is firing or pending.")); return; }
      sections.alerts.replaceChildren(el("div", { class: "scroll" }, el("table", {},
        el("thead", {}, el("tr", {}, el("th", {}, "state"), el("th", {}, "labels"), el("th", { class: "hide-narrow" }, "annotations"), el("th", {}, "since"), el("th", {}, ""))),
        el("tbody", {}, alerts.map((a) => {
          const slot = el("td", { colspan: 5 });
          const extra = el("tr", { hidden: true }, slot);
          return [el("tr", { class: "alert" },
            el("td", {}, el("span", { class: `pill ${a.state}` }, a.state)),
            el("td", {}, labelChips(a.labels)),
            el("td", { class: "hide-narrow" }, Object.entries(a.annotations).map(([k, v]) => el("div", {}, el("b", {}, `${k}: `), v))),
            el("td", {}, a.activeAt.replace("T", " ").slice(0, 19)),
            el("td", {}, el("button", { class: "secondary", type: "button", onclick: () => {
              slot.replaceChildren(silenceForm(a.labels, () => { slot.replaceChildren(); extra.hidden = true; refresh(); }));
              extra.hidden = false;
            } }, "Silence"))), extra];
        })))));
    }),
    load(sections.silences, "/api/v2/silences", (silences) => {
      if (!silences.length) { sections.silences.replaceChildren(emptyBox("No silences. Silence an alert from its row above.")); return; }
      sections.silences.replaceChildren(el("div", { class: "scroll" }, el("table", {},
        el("thead", {}, el("tr", {}, el("th", {}, "state"), el("th", {}, "matchers"), el("th", {}, "until"), el("th", { class: "hide-narrow" }, "by"), el("th", {}, "comment"), el("th", {}, ""))),
        el("tbody", {}, silences.map((s) => el("tr", { class: "silence", dataset: { id: s.id } },
          el("td", {}, el("span", { class: "pill" }, s.status.state)),
          el("td", {}, el("span", { class: "labels" }, s.matchers.map((m) => el("span", { class: "label" }, matcherText(m))))),
          el("td", {}, s.endsAt.replace("T", " ").slice(0, 19)),
          el("td", { class: "hide-narrow" }, s.createdBy),
          el("td", {}, s.comment),
          el("td", {}, s.status.state === "expired" ? "" : el("button", { class: "danger", type: "button", onclick: async () => {
            try { await api(`/api/v2/silence/${encodeURIComponent(s.id)}`, { method: "DELETE" }); refresh(); }
            catch (e) { sections.silences.prepend(errorBox(e)); }
          } }, "Expire"))))))));
    }),
    load(sections.rules, "/api/v1/rules", (body) => {
      const rules = body.data.groups.flatMap((g) => g.rules.map((r) => ({ group: g.name, ...r })));
      if (!rules.length) { sections.rules.replaceChildren(emptyBox("No rules loaded. Set [alerting] rule_files or log_rule_files and reload (SIGHUP or POST /-/reload).")); return; }
      sections.rules.replaceChildren(el("div", { class: "scroll" }, el("table", {},
        el("thead", {}, el("tr", {}, el("th", {}, "rule"), el("th", {}, "state"), el("th", { class: "hide-narrow" }, "query"), el("th", {}, "last evaluation"), el("th", {}, "health"))),
        el("tbody", {}, rules.map((r) => el("tr", { class: "rule" },
          el("td", {}, `${r.group} / ${r.name}`),
          el("td", {}, el("span", { class: `pill ${r.state || r.type}` }, r.state || r.type)),
          el("td", { class: "hide-narrow" }, el("code", {}, r.query)),
          el("td", {}, r.lastEvaluation.replace("T", " ").slice(0, 19)),
          el("td", {}, r.health, r.lastError ? el("div", { class: "error" }, r.lastError) : ""))))))); 
    }),
    load(sections.history, "/api/v1/notifications?limit=100", (body) => {
      const { attempts, pending } = body.data;
      if (!attempts.length && !pending.length) { sections.history.replaceChildren(emptyBox("No notifications sent yet.")); return; }
      sections.history.replaceChildren(
        pending.length ? el("p", { class: "state" }, `${pending.length} waiting for delivery`) : "",
        el("div", { class: "scroll" }, el("table", {},
          el("thead", {}, el("tr", {}, el("th", {}, "time"), el("th", {}, "receiver"), el("th", { class: "hide-narrow" }, "integration"), el("th", {}, "outcome"), el("th", {}, "error"))),
          el("tbody", {}, attempts.map((a) => el("tr", { class: "attempt" },
            el("td", {}, formatTime(a.atMs).slice(0, 19)),
            el("td", {}, a.receiver),
            el("td", { class: "hide-narrow" }, a.integration),
            el("td", {}, a.outcome, a.status ? ` (${a.status})` : ""),
            el("td", {}, a.error || "")))))));
    }),
  ]);
  await refresh();
  window.__weir = { page: "alerts" };
  const timer = setInterval(refresh, 5000);
  return () => clearInterval(timer);
}
