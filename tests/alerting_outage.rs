//! A receiver outage across a restart: the webhook answers 503 for 30 s,
//! Weir is restarted in the middle of it, then the receiver recovers.
//! Every notification must arrive, and every attempt at one notification
//! must carry the same `webhook-id` and the same body.

#[path = "common/mod.rs"]
mod common;
#[path = "common/webhook.rs"]
mod webhook;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{Server, Workspace};
use webhook::Receiver;

const OUTAGE: Duration = Duration::from_secs(30);

/// Two rules that fire as soon as they are evaluated, in two groups.
const RULES: &str = r#"
groups:
  - name: always
    interval: 1s
    rules:
      - alert: DiskAlmostFull
        expr: vector(1)
        labels: {severity: ticket}
      - alert: ReplicaLagging
        expr: vector(2)
        labels: {severity: page}
"#;

fn workspace(receiver: &Receiver) -> Workspace {
    let ws = Workspace::with_config("");
    let dir = ws.root.path();
    std::fs::write(dir.join("rules.yml"), RULES).unwrap();
    let routing = format!(
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
        signing_secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
"#,
        receiver.url("/hook")
    );
    std::fs::write(dir.join("routing.yml"), routing).unwrap();
    let config = format!(
        r#"{listen}
[alerting]
rule_files = ["{dir}/rules.yml"]
routing_file = "{dir}/routing.yml"
evaluation_interval = "1s"

[alerting.outbox]
initial_backoff = "500ms"
max_backoff = "2s"
"#,
        listen = common::TEST_CONFIG,
        dir = dir.display()
    );
    std::fs::write(&ws.config, config).unwrap();
    ws
}

#[test]
fn notifications_survive_a_receiver_outage_and_a_restart() {
    let receiver = Receiver::start(503);
    let ws = workspace(&receiver);
    let outage_began = Instant::now();
    let first = Server::start(&ws);
    // Both notifications are tried, and refused, before the restart.
    receiver.wait_until(Duration::from_secs(20), "attempts at both alerts", |got| {
        let names: BTreeSet<String> = got
            .iter()
            .map(|r| r.json()["commonLabels"]["alertname"].to_string())
            .collect();
        names.len() == 2 && got.len() >= 4
    });
    let status = first.stop(libc::SIGTERM);
    assert!(status.success(), "first weir serve exited with {status}");
    let second = Server::start(&ws);

    let left = OUTAGE.saturating_sub(outage_began.elapsed());
    std::thread::sleep(left);
    receiver.set_status(200);
    let got = receiver.wait_until(Duration::from_secs(30), "both delivered", |got| {
        got.iter().filter(|r| r.status == 200).count() >= 2
    });
    // Let any stray duplicate arrive before judging.
    std::thread::sleep(Duration::from_secs(3));
    let got = {
        let mut all = receiver.received();
        all.sort_by_key(|r| r.at);
        assert!(all.len() >= got.len());
        all
    };

    let mut by_alert: BTreeMap<String, Vec<&webhook::Received>> = BTreeMap::new();
    for request in &got {
        let name = request.json()["commonLabels"]["alertname"]
            .as_str()
            .unwrap()
            .to_owned();
        by_alert.entry(name).or_default().push(request);
    }
    assert_eq!(
        by_alert.keys().collect::<Vec<_>>(),
        ["DiskAlmostFull", "ReplicaLagging"]
    );
    for (name, attempts) in &by_alert {
        let ids: BTreeSet<&str> = attempts.iter().map(|r| r.header("webhook-id")).collect();
        assert_eq!(
            ids.len(),
            1,
            "{name}: every attempt has one webhook-id: {ids:?}"
        );
        let bodies: BTreeSet<&[u8]> = attempts.iter().map(|r| r.body.as_slice()).collect();
        assert_eq!(bodies.len(), 1, "{name}: every attempt sends the same body");
        let delivered = attempts.iter().filter(|r| r.status == 200).count();
        assert_eq!(delivered, 1, "{name}: delivered exactly once");
        assert_eq!(
            attempts.last().unwrap().status,
            200,
            "{name}: nothing after delivery"
        );
        let refused = attempts.iter().filter(|r| r.status == 503).count();
        assert!(
            refused >= 2,
            "{name}: retried during the outage ({refused} refusals)"
        );
        assert!(
            attempts
                .iter()
                .all(|r| r.header("webhook-signature").starts_with("v1,"))
        );
        eprintln!("{name}: {refused} refused attempts, then delivered");
    }
    // The history shows the attempts since the restart, refusals first.
    let history: serde_json::Value = {
        let url = format!(
            "http://{}/api/v1/notifications?limit=1000",
            second.listen_address("http")
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
    };
    let attempts = history["data"]["attempts"].as_array().unwrap();
    let outcomes: BTreeSet<(&str, Option<u64>)> = attempts
        .iter()
        .map(|a| (a["outcome"].as_str().unwrap(), a["status"].as_u64()))
        .collect();
    assert!(outcomes.contains(&("delivered", Some(200))), "{history}");
    assert!(outcomes.contains(&("retrying", Some(503))), "{history}");
    assert!(
        attempts
            .iter()
            .any(|a| a["error"].as_str().is_some_and(|e| e.contains("503"))),
        "{history}"
    );
    assert_eq!(history["data"]["pending"], serde_json::json!([]));
    let status = second.stop(libc::SIGTERM);
    assert!(status.success(), "second weir serve exited with {status}");
}
