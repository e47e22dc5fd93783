//! Alerting end to end through `weir serve`: telemetry in over OTLP/HTTP,
//! rules evaluated over the real query engines, notifications out to a
//! webhook receiver on loopback.
//!
//! Latency is measured from the moment the crossing is visible to a query
//! (the metric's window closed, the logs were indexed), so the bound is
//! the engine's own: one evaluation interval, plus `group_wait` (firing)
//! or `group_interval` (resolved), plus 2 s.

#[path = "common/mod.rs"]
mod common;
#[path = "common/webhook.rs"]
mod webhook;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Server, Workspace};
use serde_json::{Value, json};
use webhook::{Received, Receiver};

const EVAL: Duration = Duration::from_secs(1);
const GROUP_WAIT: Duration = Duration::from_secs(1);
const GROUP_INTERVAL: Duration = Duration::from_secs(1);
const SLACK: Duration = Duration::from_secs(2);
/// How long a test waits for something that should take seconds.
const PATIENCE: Duration = Duration::from_secs(30);

const RULES: &str = r#"
groups:
  - name: queues
    interval: 1s
    rules:
      - record: queue:depth:max
        expr: max by (queue) (queue_depth)
      - alert: QueueTooDeep
        expr: queue_depth > 100
        labels:
          severity: page
        annotations:
          summary: "queue {{ $labels.queue }} is {{ $value }} deep"
"#;

const LOG_RULES: &str = r#"
groups:
  - name: errors
    interval: 1s
    rules:
      - alert: ErrorBurst
        expr: sum by (service_name) (count_over_time({service_name="checkout", severity_text="ERROR"}[5s])) > 5
        annotations:
          summary: "{{ $value }} errors in 5s from {{ $labels.service_name }}"
"#;

fn routing(receiver: &Receiver) -> String {
    format!(
        r#"
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {}
"#,
        receiver.url("/hook")
    )
}

/// A workspace whose metric windows are 1 s long and close at once, so a
/// point is queryable about a second after it is sent.
fn workspace(receiver: &Receiver) -> Workspace {
    let ws = Workspace::with_config("");
    let dir = ws.root.path();
    std::fs::write(dir.join("rules.yml"), RULES).unwrap();
    std::fs::write(dir.join("log-rules.yml"), LOG_RULES).unwrap();
    std::fs::write(dir.join("routing.yml"), routing(receiver)).unwrap();
    let config = format!(
        r#"{listen}
[logs]
commit_interval = "200ms"

[metrics]
tiers = [{{ window = "1s", retention = "1h" }}]
lateness = "0s"

[alerting]
rule_files = ["{dir}/rules.yml"]
log_rule_files = ["{dir}/log-rules.yml"]
routing_file = "{dir}/routing.yml"
evaluation_interval = "1s"
"#,
        listen = common::TEST_CONFIG,
        dir = dir.display()
    );
    std::fs::write(&ws.config, config).unwrap();
    ws
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn gauge(value: f64) -> Value {
    json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "broker"}}]},
        "scopeMetrics": [{"metrics": [{
            "name": "queue_depth",
            "gauge": {"dataPoints": [{
                "timeUnixNano": now_nanos().to_string(),
                "asDouble": value,
                "attributes": [{"key": "queue", "value": {"stringValue": "orders"}}]
            }]}
        }]}]
    }]})
}

fn error_logs(count: usize) -> Value {
    let records: Vec<Value> = (0..count)
        .map(|i| {
            json!({
                "timeUnixNano": now_nanos().to_string(),
                "severityText": "ERROR",
                "severityNumber": 17,
                "body": {"stringValue": format!("payment {i} failed")}
            })
        })
        .collect();
    json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
        "scopeLogs": [{"logRecords": records}]
    }]})
}

async fn post(client: &reqwest::Client, url: String, body: &Value) {
    let response = client.post(url).json(body).send().await.expect("post OTLP");
    assert!(
        response.status().is_success(),
        "{:?}",
        response.text().await
    );
}

async fn get_json(client: &reqwest::Client, url: String) -> Value {
    client
        .get(url)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("JSON")
}

/// Polls `query` at `url` until `done` holds for its result; returns when.
async fn visible(
    client: &reqwest::Client,
    url: String,
    query: &str,
    done: impl Fn(&Value) -> bool,
) -> Instant {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let answer: Value = client
            .get(&url)
            .query(&[("query", query)])
            .send()
            .await
            .expect("query")
            .json()
            .await
            .expect("JSON");
        if done(&answer["data"]["result"]) {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "{query} never satisfied: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn notifications_of<'a>(got: &'a [Received], alertname: &str, status: &str) -> Vec<&'a Received> {
    got.iter()
        .filter(|r| {
            let body = r.json();
            body["status"] == status && body["commonLabels"]["alertname"] == alertname
        })
        .collect()
}

fn wait_for(receiver: &Receiver, alertname: &str, status: &str) -> (Instant, Value, Received) {
    let got = receiver.wait_until(PATIENCE, &format!("{status} {alertname}"), |got| {
        !notifications_of(got, alertname, status).is_empty()
    });
    let first = notifications_of(&got, alertname, status)[0].clone();
    (first.at, first.json(), first)
}

#[test]
fn a_metric_crossing_its_threshold_fires_then_resolves() {
    let receiver = Receiver::start(200);
    let ws = workspace(&receiver);
    let server = Server::start(&ws);
    let otlp = server.listen_address("otlp_http");
    let http = server.listen_address("http");
    let rt = runtime();
    let client = reqwest::Client::new();

    let value = Arc::new(AtomicU64::new(5f64.to_bits()));
    let feeder = {
        let value = Arc::clone(&value);
        let client = client.clone();
        rt.spawn(async move {
            loop {
                let v = f64::from_bits(value.load(Ordering::SeqCst));
                post(&client, format!("http://{otlp}/v1/metrics"), &gauge(v)).await;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let query_url = format!("http://{http}/api/v1/query");
    rt.block_on(visible(&client, query_url.clone(), "queue_depth", |r| {
        r.as_array().is_some_and(|a| !a.is_empty())
    }));
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        receiver.received().is_empty(),
        "nothing fires below the threshold"
    );

    value.store(500f64.to_bits(), Ordering::SeqCst);
    let crossed = rt.block_on(visible(
        &client,
        query_url.clone(),
        "queue_depth > 100",
        |r| r.as_array().is_some_and(|a| !a.is_empty()),
    ));
    let (fired_at, body, request) = wait_for(&receiver, "QueueTooDeep", "firing");
    let latency = fired_at.saturating_duration_since(crossed);
    eprintln!("firing notification {latency:?} after the crossing was queryable");
    assert!(
        latency <= EVAL + GROUP_WAIT + SLACK,
        "firing took {latency:?}"
    );
    assert_eq!(request.path, "/hook");
    assert!(request.header("webhook-id").starts_with("msg_"));
    assert_eq!(body["version"], "4");
    assert_eq!(body["receiver"], "hook");
    let alert = &body["alerts"][0];
    assert_eq!(alert["status"], "firing");
    assert_eq!(alert["labels"]["alertname"], "QueueTooDeep");
    assert_eq!(alert["labels"]["severity"], "page");
    assert_eq!(alert["labels"]["queue"], "orders");
    assert_eq!(alert["labels"]["service_name"], "broker");
    assert_eq!(alert["annotations"]["summary"], "queue orders is 500 deep");
    assert_eq!(alert["endsAt"], "0001-01-01T00:00:00Z");

    // The engine's own APIs agree.
    let alerts = rt.block_on(get_json(&client, format!("http://{http}/api/v1/alerts")));
    let listed = &alerts["data"]["alerts"][0];
    assert_eq!(listed["labels"]["alertname"], "QueueTooDeep", "{alerts}");
    assert_eq!(listed["state"], "firing");
    let rules = rt.block_on(get_json(
        &client,
        format!("http://{http}/api/v1/rules?type=alert"),
    ));
    let names: Vec<&str> = rules["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["QueueTooDeep", "ErrorBurst"], "{rules}");

    // The recorded series and ALERTS are in the window store.
    rt.block_on(visible(
        &client,
        query_url.clone(),
        "queue:depth:max",
        |r| {
            r.as_array().is_some_and(|a| {
                a.iter()
                    .any(|s| s["metric"]["queue"] == "orders" && s["value"][1] == "500")
            })
        },
    ));
    rt.block_on(visible(
        &client,
        query_url.clone(),
        r#"ALERTS{alertname="QueueTooDeep", alertstate="firing"}"#,
        |r| {
            r.as_array()
                .is_some_and(|a| a.len() == 1 && a[0]["metric"]["severity"] == "page")
        },
    ));

    value.store(5f64.to_bits(), Ordering::SeqCst);
    let dropped = rt.block_on(visible(&client, query_url, "queue_depth > 100", |r| {
        r.as_array().is_some_and(|a| a.is_empty())
    }));
    let (resolved_at, body, _) = wait_for(&receiver, "QueueTooDeep", "resolved");
    let latency = resolved_at.saturating_duration_since(dropped);
    eprintln!("resolved notification {latency:?} after the drop was queryable");
    assert!(
        latency <= EVAL + GROUP_INTERVAL + SLACK,
        "resolving took {latency:?}"
    );
    assert_eq!(body["alerts"][0]["status"], "resolved");
    assert_ne!(body["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");

    feeder.abort();
    let status = server.stop(libc::SIGTERM);
    assert!(status.success(), "weir serve exited with {status}");
}

#[test]
fn a_burst_of_error_logs_fires_a_log_rule_then_resolves() {
    let receiver = Receiver::start(200);
    let ws = workspace(&receiver);
    let server = Server::start(&ws);
    let otlp = server.listen_address("otlp_http");
    let http = server.listen_address("http");
    let rt = runtime();
    let client = reqwest::Client::new();
    let query = r#"sum by (service_name) (count_over_time({service_name="checkout", severity_text="ERROR"}[5s])) > 5"#;
    let query_url = format!("http://{http}/loki/api/v1/query");

    rt.block_on(post(
        &client,
        format!("http://{otlp}/v1/logs"),
        &error_logs(3),
    ));
    std::thread::sleep(Duration::from_secs(2));
    assert!(receiver.received().is_empty(), "three errors are no burst");

    rt.block_on(post(
        &client,
        format!("http://{otlp}/v1/logs"),
        &error_logs(10),
    ));
    let crossed = rt.block_on(visible(&client, query_url.clone(), query, |r| {
        r.as_array().is_some_and(|a| !a.is_empty())
    }));
    let (fired_at, body, _) = wait_for(&receiver, "ErrorBurst", "firing");
    let latency = fired_at.saturating_duration_since(crossed);
    eprintln!("firing notification {latency:?} after the burst was queryable");
    assert!(
        latency <= EVAL + GROUP_WAIT + SLACK,
        "firing took {latency:?}"
    );
    let alert = &body["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "ErrorBurst");
    assert_eq!(alert["labels"]["service_name"], "checkout");
    assert!(
        alert["annotations"]["summary"]
            .as_str()
            .unwrap()
            .ends_with("errors in 5s from checkout"),
        "{alert}"
    );

    let quiet = rt.block_on(visible(&client, query_url, query, |r| {
        r.as_array().is_some_and(|a| a.is_empty())
    }));
    let (resolved_at, body, _) = wait_for(&receiver, "ErrorBurst", "resolved");
    let latency = resolved_at.saturating_duration_since(quiet);
    eprintln!("resolved notification {latency:?} after the burst left the range");
    assert!(
        latency <= EVAL + GROUP_INTERVAL + SLACK,
        "resolving took {latency:?}"
    );
    assert_eq!(body["alerts"][0]["status"], "resolved");

    let status = server.stop(libc::SIGTERM);
    assert!(status.success(), "weir serve exited with {status}");
}
