//! The web UI in a real browser: `weir serve` seeded with logs, metrics, a
//! firing alert whose notifications fail, and a dashboard file; then
//! `tests/ui/browser.mjs` drives headless Debian Chromium through every
//! page at 1280×800 and 390×844 (playwright-core, installed by
//! `scripts/setup-interop`). Screenshots land in
//! `target/ui-screenshots/`; the shell's load time and the time to render
//! 1,000 log hits are printed, not asserted.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Server, Workspace};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const RECORDS: usize = 1200;

const RULES: &str = r#"
groups:
  - name: always
    interval: 1s
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        labels: {severity: page}
        annotations: {summary: "fires for the browser test"}
"#;

/// Notifications go to a port nothing listens on, so the history has
/// errors to show.
const ROUTING: &str = r#"
route:
  receiver: nowhere
  group_wait: 0s
  group_interval: 1s
receivers:
  - name: nowhere
    webhook_configs:
      - url: http://127.0.0.1:9/hook
"#;

const DASHBOARD: &str = r#"
title: Queues
panels:
  - title: Queue depth
    query: queue_depth
  - title: Deepest queue
    query: max(queue_depth)
    kind: table
"#;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn workspace() -> Workspace {
    let ws = Workspace::with_config("");
    let dir = ws.root.path();
    std::fs::write(dir.join("rules.yml"), RULES).unwrap();
    std::fs::write(dir.join("routing.yml"), ROUTING).unwrap();
    std::fs::create_dir(dir.join("dashboards")).unwrap();
    std::fs::write(dir.join("dashboards/queues.yml"), DASHBOARD).unwrap();
    let config = format!(
        r#"{listen}
[logs]
commit_interval = "200ms"

[metrics]
tiers = [{{ window = "1s", retention = "1h" }}]
lateness = "0s"

[alerting]
rule_files = ["{dir}/rules.yml"]
routing_file = "{dir}/routing.yml"
evaluation_interval = "1s"

[alerting.outbox]
initial_backoff = "1s"
max_backoff = "2s"

[ui]
dashboards_dir = "{dir}/dashboards"
"#,
        listen = common::TEST_CONFIG,
        dir = dir.display()
    );
    std::fs::write(&ws.config, config).unwrap();
    ws
}

/// 1,200 records over the last twenty minutes, three services and three
/// severities.
fn logs_request(now: i64) -> Value {
    let services = ["checkout", "payments", "frontend"];
    let severities = [("INFO", 9), ("WARN", 13), ("ERROR", 17)];
    let resources: Vec<Value> = services
        .iter()
        .enumerate()
        .map(|(s, service)| {
            let records: Vec<Value> = (0..RECORDS)
                .filter(|i| i % services.len() == s)
                .map(|i| {
                    let (text, number) = severities[(i / 3) % 3];
                    let at = now - 20 * 60_000 + (i as i64) * 1000;
                    json!({
                        "timeUnixNano": (at * 1_000_000).to_string(),
                        "severityText": text,
                        "severityNumber": number,
                        "body": {"stringValue": format!("request {i} handled by {service}")},
                        "attributes": [{"key": "http.method", "value": {"stringValue": if i % 2 == 0 { "GET" } else { "POST" }}}]
                    })
                })
                .collect();
            json!({
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeLogs": [{"logRecords": records}]
            })
        })
        .collect();
    json!({ "resourceLogs": resources })
}

fn gauge_request(at: i64, values: [(&str, f64); 2]) -> Value {
    let points: Vec<Value> = values
        .iter()
        .map(|(queue, v)| {
            json!({
                "timeUnixNano": (at * 1_000_000).to_string(),
                "asDouble": v,
                "attributes": [{"key": "queue", "value": {"stringValue": queue}}]
            })
        })
        .collect();
    json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "broker"}}]},
        "scopeMetrics": [{"metrics": [{"name": "queue_depth", "gauge": {"dataPoints": points}}]}]
    }]})
}

/// Two gauges every 250 ms until `stop`: a worker drops points older
/// than its watermark, which follows the wall clock, so the series are
/// grown live rather than backfilled.
async fn feed_gauges(otlp: String, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    let client = reqwest::Client::new();
    let mut step = 0u32;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let wave = (f64::from(step) / 8.0).sin();
        let body = gauge_request(
            now_ms(),
            [
                ("orders", 50.0 + 40.0 * wave),
                ("billing", 20.0 + 10.0 * wave),
            ],
        );
        let _ = client
            .post(format!("http://{otlp}/v1/metrics"))
            .json(&body)
            .send()
            .await;
        step += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn seed(otlp: &str, http: &str) {
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        let request = client.post(format!("http://{otlp}{path}")).json(&body);
        async move {
            let response = request.send().await.expect("seed");
            assert!(
                response.status().is_success(),
                "{:?}",
                response.text().await
            );
        }
    };
    let now = now_ms();
    post("/v1/logs", logs_request(now)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let hits: Value = client
            .get(format!(
                "http://{http}/api/v1/logs/search?query=*&limit=0&since=1h"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let series: Value = client
            .get(format!("http://{http}/api/v1/query?query=queue_depth"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ready = hits["num_hits"].as_u64() >= Some(RECORDS as u64)
            && series["data"]["result"]
                .as_array()
                .is_some_and(|a| a.len() == 2);
        if ready {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "seeded data never became queryable: {hits} {series}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn every_page_works_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let playwright = root.join("tests/ui/node_modules/playwright-core");
    if !Path::new(CHROMIUM).exists() || !playwright.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "Chromium or playwright-core is missing: scripts/setup-interop installs both"
        );
        eprintln!("skipped: Chromium or playwright-core is not installed (scripts/setup-interop)");
        return;
    }
    let ws = workspace();
    let server = Server::start(&ws);
    let http = server.listen_address("http").to_string();
    let otlp = server.listen_address("otlp_http").to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let feeder = rt.spawn(feed_gauges(otlp.clone(), std::sync::Arc::clone(&stop)));
    rt.block_on(seed(&otlp, &http));
    // A few seconds of points, so the charts have lines.
    std::thread::sleep(Duration::from_secs(4));

    let screenshots = root.join("target/ui-screenshots");
    let output = Command::new("node")
        .arg(root.join("tests/ui/browser.mjs"))
        .arg(format!("http://{http}"))
        .arg(format!("http://{otlp}"))
        .arg(&screenshots)
        .output()
        .expect("run node tests/ui/browser.mjs");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    rt.block_on(feeder).expect("the gauge feeder");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser test failed:\n{stderr}\n{stdout}"
    );
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap();
    for (viewport, figures) in report["viewports"].as_object().unwrap() {
        eprintln!(
            "{viewport}: shell loaded in {} ms; {} log hits fetched in {} ms and rendered in {} ms",
            figures["shell_load_ms"],
            figures["logs_hits"],
            figures["logs_fetch_ms"],
            figures["logs_render_ms"]
        );
        assert_eq!(
            figures["logs_hits"], 1000,
            "{viewport}: the newest 1,000 hits are shown"
        );
    }
    for page in ["logs", "metrics", "alerts", "pipeline", "dashboards"] {
        for viewport in ["desktop", "phone"] {
            let shot = screenshots.join(format!("{viewport}-{page}.png"));
            assert!(shot.exists(), "no screenshot {}", shot.display());
        }
    }
    assert!(server.stop(libc::SIGTERM).success());
}
