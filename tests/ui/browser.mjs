// Weir's web UI in headless Debian Chromium, driven by playwright-core.
// Run by tests/ui_browser.rs against a `weir serve` it has seeded:
//
//   node tests/ui/browser.mjs BASE_URL OTLP_HTTP_URL SCREENSHOT_DIR
//
// For each viewport (1280x800 and 390x844) every page is opened, its
// seeded data checked, its main interaction exercised, the console
// watched for errors, and a screenshot saved. Prints one JSON line of
// measurements; exits 1 with the failures otherwise.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [base, otlp, out] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
const failures = [];
const report = { viewports: {} };

function check(ok, what) {
  if (!ok) failures.push(what);
  return ok;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

async function sendLog(body) {
  const now = BigInt(Date.now()) * 1000000n;
  const request = { resourceLogs: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "tailer" } }] },
    scopeLogs: [{ logRecords: [{ timeUnixNano: now.toString(), severityText: "INFO", body: { stringValue: body } }] }] }] };
  const response = await fetch(`${otlp}/v1/logs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request) });
  if (!response.ok) throw new Error(`OTLP send failed: ${response.status}`);
}

for (const [name, viewport] of [["desktop", { width: 1280, height: 800 }], ["phone", { width: 390, height: 844 }]]) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(`${m.text()}`); });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  const measured = {};
  report.viewports[name] = measured;
  const shot = (label) => page.screenshot({ path: `${out}/${name}-${label}.png` });
  const fits = async (label) => {
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `${name} ${label}: the page is ${overflow}px wider than the viewport`);
  };

  // Each page runs on its own: a failure is recorded with what the page
  // showed, and the next page still runs.
  const section = async (label, body) => {
    try {
      await body();
    } catch (e) {
      const shown = await page.textContent("#view").catch(() => "");
      failures.push(`${name} ${label}: ${e.message.split("\n")[0]}; the page showed: ${shown.slice(0, 400)}`);
      await shot(`${label}-failed`).catch(() => {});
    }
  };

  // The shell.
  await page.goto(`${base}/#/pipeline`, { waitUntil: "load" });
  measured.shell_load_ms = await page.evaluate(() => Math.round(performance.getEntriesByType("navigation")[0].loadEventEnd));

  // Logs: 1,000 hits render; search, expand, filter by a field value.
  await section("logs", async () => {
    await page.goto(`${base}/#/logs?q=*&range=1h`);
    await page.waitForFunction(() => document.querySelectorAll("#hits li.hit").length >= 1000, null, { timeout: 20000 });
    const logs = await page.evaluate(() => window.__weir);
    measured.logs_hits = logs.hits;
    measured.logs_render_ms = Math.round(logs.renderMs);
    measured.logs_fetch_ms = Math.round(logs.fetchMs);
    check(await page.locator("#histogram svg rect").count() > 0, `${name} logs: no histogram bars`);
    await fits("logs");
    await shot("logs");
    await page.fill("input[name=q]", "severity_text:ERROR");
    await page.press("input[name=q]", "Enter");
    await page.waitForFunction(() => document.querySelector("#summary")?.textContent.includes("hits") && document.querySelectorAll("#hits li.hit").length > 0);
    const severities = await page.$$eval("#hits .sev", (nodes) => [...new Set(nodes.map((n) => n.textContent))]);
    check(severities.length === 1 && severities[0] === "ERROR", `${name} logs: ERROR search showed ${severities}`);
    check(page.url().includes("severity_text"), `${name} logs: the URL does not carry the query`);
    await page.locator("#hits li.hit .line").first().click();
    const value = page.locator("#hits li.hit .fields span:text-is('service_name') + .v").first();
    if (check(await value.count() > 0, `${name} logs: no service_name value in the expanded fields`)) {
      const service = await value.textContent();
      await value.click();
      await page.waitForFunction((v) => document.querySelector("input[name=q]").value.includes(`service_name:"${v}"`), service);
      await page.waitForFunction(() => document.querySelector("#summary")?.textContent.includes("hits"));
      const services = await page.$$eval("#hits li.hit", (nodes) => nodes.length);
      check(services > 0, `${name} logs: filtering on a field value found nothing`);
    }
    // Live tail: a record sent now appears at the top.
    await page.fill("input[name=q]", "service_name:tailer");
    await page.press("input[name=q]", "Enter");
    await page.waitForFunction(() => document.querySelector("#summary")?.textContent.length > 0 && !document.querySelector("#summary").textContent.includes("Searching"));
    await page.check("input[name=tail]");
    await page.waitForTimeout(300);
    const marker = `tail-${name}-${Date.now()}`;
    await sendLog(marker);
    await page.waitForFunction((m) => [...document.querySelectorAll("#hits .body")].some((n) => n.textContent === m), marker, { timeout: 15000 })
      .catch(() => check(false, `${name} logs: the live tail never showed ${marker}`));
    await page.uncheck("input[name=tail]");
  });

  // Metrics: completion, then a chart of two series with a legend.
  await section("metrics", async () => {
    await page.goto(`${base}/#/metrics?range=5m`);
    await page.waitForFunction(() => [...document.querySelectorAll("#metric-names option")].some((o) => o.value === "queue_depth"), null, { timeout: 10000 })
      .catch(() => check(false, `${name} metrics: queue_depth is not offered for completion`));
    await page.fill("input[name=query]", "queue_depth");
    await page.press("input[name=query]", "Enter");
    await page.waitForSelector("#chart svg path", { timeout: 15000 }).catch(() => check(false, `${name} metrics: no chart`));
    const legend = await page.$$eval("#chart .legend span", (nodes) => nodes.map((n) => n.textContent));
    check(legend.length === 2 && legend.every((l) => l.includes("queue_depth")), `${name} metrics: legend ${JSON.stringify(legend)}`);
    const box = await page.locator("#chart .chart").boundingBox();
    if (box) {
      await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
      check(await page.locator("#chart .tip:not([hidden])").count() === 1, `${name} metrics: no hover values`);
    }
    await fits("metrics");
    await shot("metrics");
  });

  // Alerts: the firing alert, silence it, expire the silence; rules and
  await section("alerts", async () => {
    // the history with its errors.
    await page.goto(`${base}/#/alerts`);
    await page.waitForSelector("tr.alert", { timeout: 15000 });
    check((await page.textContent("#alerts")).includes("AlwaysFiring"), `${name} alerts: AlwaysFiring is not listed`);
    check((await page.textContent("#rules")).includes("AlwaysFiring"), `${name} alerts: the rule is not listed`);
    await page.waitForSelector("tr.attempt", { timeout: 20000 }).catch(() => check(false, `${name} alerts: no notification history`));
    check(/refused|error|connect/i.test(await page.textContent("#history")), `${name} alerts: the history shows no error`);
    await page.locator("tr.alert button", { hasText: "Silence" }).first().click();
    await page.fill("#alerts input[name=comment]", `maintenance ${name}`);
    await page.fill("#alerts input[name=author]", "browser-test");
    await page.locator("#alerts button", { hasText: "Create silence" }).click();
    const row = page.locator("tr.silence", { hasText: `maintenance ${name}` });
    await row.waitFor({ timeout: 10000 });
    check((await row.textContent()).includes("active"), `${name} alerts: the new silence is not active`);
    await shot("alerts");
    await row.locator("button", { hasText: "Expire" }).click();
    await page.waitForFunction((c) => [...document.querySelectorAll("tr.silence")].some((r) => r.textContent.includes(c) && r.textContent.includes("expired")), `maintenance ${name}`, { timeout: 10000 })
      .catch(() => check(false, `${name} alerts: the silence did not expire`));
    await fits("alerts");
  });

  // Pipeline: topics, workers, ingest rates.
  await section("pipeline", async () => {
    await page.goto(`${base}/#/pipeline`);
    await page.waitForSelector("table.topics", { timeout: 10000 });
    check((await page.textContent("#topics")).includes("otlp_logs"), `${name} pipeline: otlp_logs is not listed`);
    check((await page.textContent("#workers")).includes("weir-logs-indexer"), `${name} pipeline: no log indexer workers`);
    await page.waitForSelector("table.rates", { timeout: 15000 }).catch(() => check(false, `${name} pipeline: no ingest rates`));
    check((await page.textContent("#cards")).includes("documents"), `${name} pipeline: no index size`);
    await fits("pipeline");
    await shot("pipeline");
  });

  // Dashboards: the built-in one and one from the directory.
  await section("dashboards", async () => {
    await page.goto(`${base}/#/dashboards?range=5m`);
    await page.waitForSelector("#panels .panel", { timeout: 10000 });
    check(await page.locator("#panels .panel").count() >= 2, `${name} dashboards: the weir dashboard has no panels`);
    await page.waitForFunction(() => ![...document.querySelectorAll("#panels .panel")].some((p) => p.textContent.includes("Loading")), null, { timeout: 15000 });
    const broken = await page.$$eval("#panels .panel", (panels) => panels.filter((p) => p.querySelector(".error")).map((p) => p.textContent));
    check(broken.length === 0, `${name} dashboards: panels failed: ${broken.join(" | ")}`);
    await page.selectOption("select[name=id]", "queues");
    await page.waitForSelector("#panels .panel svg path", { timeout: 15000 }).catch(() => check(false, `${name} dashboards: the queues chart is empty`));
    await fits("dashboards");
    await shot("dashboards");
  });

  check(errors.length === 0, `${name}: console errors: ${errors.join(" | ")}`);
  await context.close();
}

await browser.close();
console.log(JSON.stringify(report));
if (failures.length) {
  console.error(failures.join("\n"));
  process.exit(1);
}
