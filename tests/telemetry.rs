//! `/metrics` covers every component: ingest, the log (appends and
//! syncs), the log indexer, the metric windows, the alert engine, the
//! HTTP query APIs and the Kafka listener, each under its own prefix.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Server, Workspace};
use serde_json::json;

#[test]
fn metrics_cover_every_component() {
    let ws = Workspace::new();
    let rules = ws.root.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: A\n        expr: vector(1)\n",
    )
    .unwrap();
    std::fs::write(
        &ws.config,
        format!(
            "{}\n[alerting]\nrule_files = [\"{}\"]\nevaluation_interval = \"1s\"\n",
            common::TEST_CONFIG,
            rules.display()
        ),
    )
    .unwrap();
    let server = Server::start(&ws);
    let http = server.listen_address("http");
    let otlp = server.listen_address("otlp_http");
    let kafka = server.listen_address("kafka");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        .to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    rt.block_on(async {
        let logs = json!({"resourceLogs": [{"resource": {}, "scopeLogs": [{"logRecords": [
            {"timeUnixNano": now, "body": {"stringValue": "hello"}}]}]}]});
        let metrics = json!({"resourceMetrics": [{"resource": {}, "scopeMetrics": [{"metrics": [
            {"name": "queue_depth", "gauge": {"dataPoints": [{"timeUnixNano": now, "asDouble": 1.0}]}}]}]}]});
        for (path, body) in [("/v1/logs", logs), ("/v1/metrics", metrics)] {
            let r = client.post(format!("http://{otlp}{path}")).json(&body).send().await.unwrap();
            assert!(r.status().is_success());
        }
        client.get(format!("http://{http}/api/v1/query?query=up")).send().await.unwrap();
        client.get(format!("http://{http}/api/v1/logs/search?query=*")).send().await.unwrap();
    });
    // A Kafka ApiVersions v0 request: size, api key 18, version 0,
    // correlation id 1, null client id.
    let mut stream = TcpStream::connect(kafka).unwrap();
    stream
        .write_all(&[0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff])
        .unwrap();
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).unwrap();

    let wanted = [
        "weir_ingest_accepted_items_total",
        "weir_log_appended_batches_total",
        "weir_log_sync_duration_seconds",
        "weir_log_index_documents_total",
        "weir_metric_active_series",
        "weir_alerting_group_evaluations_total",
        "weir_alerting_dispatch_groups",
        "weir_http_requests_total{route=\"/api/v1/query\"",
        "weir_kafka_requests_total{api=\"api_versions\"}",
    ];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = rt.block_on(async {
            client
                .get(format!("http://{http}/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        });
        let missing: Vec<&&str> = wanted.iter().filter(|w| !text.contains(**w)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/metrics lacks {missing:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(server.stop(libc::SIGTERM).success());
}
