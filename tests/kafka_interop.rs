//! Weir's Kafka listener against three real clients: kcat (librdkafka's
//! command line), confluent-kafka (librdkafka) and kafka-python 3 with its
//! default idempotent producer, driven through
//! `tests/interop/kafka_clients.py` (installed into `.venv` by
//! `scripts/setup-interop`).
//!
//! Each client produces 100,000 messages with no compression, gzip and
//! zstd, and reads them back: same keys, values and headers, in order per
//! partition. Then: a consumer group of three splits six partitions and
//! rebalances when one leaves, its committed offsets survive a restart;
//! ListOffsets by timestamp; a Kafka consumer decodes `otlp_logs` with the
//! OpenTelemetry protobuf classes, and Weir's own log indexers appear as
//! a consumer group with their offsets; a compacted topic keeps only the
//! newest value per key.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, Workspace};
use serde_json::{Value, json};

const MESSAGES: usize = 100_000;
const KCAT: &str = "/usr/bin/kcat";

const CONFIG: &str = r#"
[listen]
otlp_grpc = "127.0.0.1:0"
otlp_http = "127.0.0.1:0"
http = "127.0.0.1:0"
kafka = "127.0.0.1:0"

[log]
cleanup_interval = "1s"

[log.topic_defaults]
partitions = 4
"#;

/// The interop venv's Python, or `None` (and a skip) outside CI when it
/// has not been installed.
fn python() -> Option<std::path::PathBuf> {
    let python = common::interop_python();
    if python.exists() {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing: scripts/setup-interop installs the Kafka clients",
        python.display()
    );
    eprintln!("skipped: the interop venv is not installed (scripts/setup-interop)");
    None
}

fn script() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop/kafka_clients.py")
        .display()
        .to_string()
}

/// Runs a mode of the client script; its JSON answer.
fn clients(python: &Path, bootstrap: &str, args: &[&str]) -> Value {
    let output = Command::new(python)
        .arg(script())
        .args(args)
        .args(["--bootstrap", bootstrap])
        .stdin(Stdio::null())
        .output()
        .expect("run kafka_clients.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let answer: Value = serde_json::from_str(last).unwrap_or_else(|_| {
        panic!(
            "kafka_clients.py {args:?} printed no JSON; stdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(
        output.status.success(),
        "kafka_clients.py {args:?}: {answer}"
    );
    answer
}

fn start() -> (Workspace, Server, String) {
    let ws = Workspace::with_config(CONFIG);
    let server = Server::start(&ws);
    let bootstrap = server.listen_address("kafka").to_string();
    (ws, server, bootstrap)
}

fn roundtrip(client: &str) {
    let Some(python) = python() else { return };
    let (_ws, server, bootstrap) = start();
    for codec in ["none", "gzip", "zstd"] {
        let topic = format!("roundtrip-{client}-{codec}");
        let count = MESSAGES.to_string();
        let answer = clients(
            &python,
            &bootstrap,
            &[
                "roundtrip",
                "--client",
                client,
                "--codec",
                codec,
                "--count",
                &count,
                "--topic",
                &topic,
            ],
        );
        eprintln!("{codec}: {answer}");
        assert_eq!(answer["consumed"], MESSAGES, "{codec}: {answer}");
        assert_eq!(answer["missing"], 0, "{codec}: {answer}");
        assert_eq!(answer["problems"], json!([]), "{codec}: {answer}");
        assert_eq!(answer["partitions_used"], 4, "{codec}: {answer}");
        assert_eq!(answer["idempotent"], true, "{codec}: {answer}");
    }
    assert!(server.stop(libc::SIGTERM).success());
}

#[test]
fn kafka_python_produces_and_consumes_every_codec() {
    roundtrip("kafka-python");
}

#[test]
fn confluent_kafka_produces_and_consumes_every_codec() {
    roundtrip("confluent");
}

#[test]
fn kcat_produces_and_consumes_every_codec() {
    if !Path::new(KCAT).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{KCAT} is missing: scripts/setup-interop installs it"
        );
        eprintln!("skipped: {KCAT} is not installed");
        return;
    }
    let (_ws, server, bootstrap) = start();
    for codec in ["none", "gzip", "zstd"] {
        let topic = format!("kcat-{codec}");
        let mut input = String::with_capacity(MESSAGES * 32);
        for i in 0..MESSAGES {
            input.push_str(&format!(
                "key-{}\tvalue-{i}-{}\n",
                i % 101,
                "x".repeat(i % 64)
            ));
        }
        let mut producer = Command::new(KCAT)
            .args([
                "-P", "-b", &bootstrap, "-t", &topic, "-K", "\t", "-z", codec,
            ])
            .args([
                "-H",
                "client=kcat",
                "-X",
                "acks=all",
                "-X",
                "enable.idempotence=true",
            ])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kcat -P");
        producer
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let produced = producer.wait_with_output().unwrap();
        assert!(
            produced.status.success(),
            "kcat -P: {}",
            String::from_utf8_lossy(&produced.stderr)
        );

        let consumed = Command::new(KCAT)
            .args([
                "-C",
                "-b",
                &bootstrap,
                "-t",
                &topic,
                "-e",
                "-q",
                "-o",
                "beginning",
            ])
            .args(["-f", "%p\t%o\t%k\t%s\t%h\n"])
            .output()
            .expect("kcat -C");
        assert!(
            consumed.status.success(),
            "kcat -C: {}",
            String::from_utf8_lossy(&consumed.stderr)
        );
        let text = String::from_utf8(consumed.stdout).unwrap();
        let mut seen = BTreeSet::new();
        let mut last: BTreeMap<u32, (u64, usize)> = BTreeMap::new();
        for line in text.lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 5, "{line}");
            let partition: u32 = fields[0].parse().unwrap();
            let offset: u64 = fields[1].parse().unwrap();
            let i: usize = fields[3]
                .strip_prefix("value-")
                .and_then(|v| v.split('-').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{line}"));
            assert_eq!(fields[2], format!("key-{}", i % 101), "{line}");
            assert_eq!(
                fields[3],
                format!("value-{i}-{}", "x".repeat(i % 64)),
                "{line}"
            );
            assert_eq!(fields[4], "client=kcat", "{line}");
            if let Some((o, j)) = last.get(&partition) {
                assert!(
                    offset > *o && i > *j,
                    "partition {partition} out of order at {line}"
                );
            }
            last.insert(partition, (offset, i));
            assert!(seen.insert(i), "message {i} read twice");
        }
        assert_eq!(seen.len(), MESSAGES, "{codec}: every message read back");
        assert_eq!(last.len(), 4, "{codec}: keys spread over the 4 partitions");
    }
    assert!(server.stop(libc::SIGTERM).success());
}

#[test]
fn a_group_splits_partitions_rebalances_and_keeps_offsets_across_a_restart() {
    let Some(python) = python() else { return };
    let (ws, server, bootstrap) = start();
    let answer = clients(
        &python,
        &bootstrap,
        &["group", "--topic", "orders", "--group", "billing"],
    );
    let partitions = |members: &Value| -> (usize, BTreeSet<u64>, Vec<usize>) {
        let map = members.as_object().unwrap();
        let all: BTreeSet<u64> = map
            .values()
            .flat_map(|ps| ps.as_array().unwrap().iter().map(|p| p.as_u64().unwrap()))
            .collect();
        let sizes = map
            .values()
            .map(|ps| ps.as_array().unwrap().len())
            .collect();
        (map.len(), all, sizes)
    };
    let (members, all, sizes) = partitions(&answer["first"]);
    assert_eq!(members, 3, "{answer}");
    assert_eq!(all, (0..6).collect(), "{answer}");
    assert_eq!(sizes, [2, 2, 2], "{answer}");
    let (members, all, _) = partitions(&answer["second"]);
    assert_eq!(members, 2, "{answer}");
    assert_eq!(all, (0..6).collect(), "after a member left: {answer}");
    assert_eq!(answer["read"], 600, "{answer}");
    let expected = json!({"0": 100, "1": 100, "2": 100, "3": 100, "4": 100, "5": 100});
    assert_eq!(answer["committed"], expected);

    assert!(server.stop(libc::SIGTERM).success());
    let server = Server::start(&ws);
    let bootstrap = server.listen_address("kafka").to_string();
    let after = clients(
        &python,
        &bootstrap,
        &[
            "committed",
            "--group",
            "billing",
            "--topic",
            "orders",
            "--partitions",
            "6",
        ],
    );
    assert_eq!(
        after["committed"], expected,
        "committed offsets after a restart"
    );
    assert!(server.stop(libc::SIGTERM).success());
}

#[test]
fn roundrobin_and_cooperative_sticky_assignors_split_and_rebalance() {
    let Some(python) = python() else { return };
    let (_ws, server, bootstrap) = start();
    for strategy in ["roundrobin", "cooperative-sticky"] {
        let topic = format!("orders-{strategy}");
        let group = format!("billing-{strategy}");
        let answer = clients(
            &python,
            &bootstrap,
            &[
                "group",
                "--topic",
                &topic,
                "--group",
                &group,
                "--strategy",
                strategy,
            ],
        );
        for phase in ["first", "second"] {
            let members = answer[phase].as_object().unwrap();
            let all: BTreeSet<u64> = members
                .values()
                .flat_map(|ps| ps.as_array().unwrap().iter().map(|p| p.as_u64().unwrap()))
                .collect();
            let held: usize = members
                .values()
                .map(|ps| ps.as_array().unwrap().len())
                .sum();
            assert_eq!(all, (0..6).collect(), "{strategy} {phase}: {answer}");
            assert_eq!(held, 6, "{strategy} {phase}: no partition twice: {answer}");
        }
        assert_eq!(answer["read"], 600, "{strategy}: {answer}");
    }
    assert!(server.stop(libc::SIGTERM).success());
}

#[test]
fn list_offsets_by_timestamp_finds_the_first_record_at_or_after_it() {
    let Some(python) = python() else { return };
    let (_ws, server, bootstrap) = start();
    let answer = clients(&python, &bootstrap, &["times", "--topic", "clock"]);
    assert_eq!(
        answer["found"],
        json!({"0": 0, "1": 1, "37": 37, "99": 99, "500": 38, "-1": -1})
    );
    assert!(server.stop(libc::SIGTERM).success());
}

#[test]
fn a_kafka_consumer_decodes_otlp_logs_as_the_sdk_sent_them() {
    let Some(python) = python() else { return };
    let (_ws, server, bootstrap) = start();
    let otlp = server.listen_address("otlp_http");
    let records: Vec<Value> = (0..5)
        .map(|i| json!({"timeUnixNano": "1700000000000000000", "body": {"stringValue": format!("line {i}")}}))
        .collect();
    let resources: Vec<Value> = ["checkout", "cart"]
        .iter()
        .map(|service| {
            json!({
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeLogs": [{"logRecords": records}]
            })
        })
        .collect();
    let body = json!({ "resourceLogs": resources });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let response = reqwest::Client::new()
            .post(format!("http://{otlp}/v1/logs"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    });
    let answer = clients(&python, &bootstrap, &["otlp", "--count", "10"]);
    let mut expected: Vec<String> = (0..5)
        .flat_map(|i| [format!("line {i}"), format!("line {i}")])
        .collect();
    expected.sort();
    assert_eq!(answer["bodies"], json!(expected));
    assert_eq!(answer["services"], json!(["cart", "checkout"]));

    // The log indexers show up as a consumer group that has caught up:
    // the two records (one per resource) are behind them.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let groups = clients(
            &python,
            &bootstrap,
            &["groups", "--group", "weir-logs-indexer"],
        );
        let ids = groups["groups"].as_array().unwrap();
        assert!(ids.contains(&json!("otlp-reader")), "{groups}");
        let offsets = groups["offsets"].as_object().unwrap();
        let total: i64 = offsets
            .iter()
            .filter(|(tp, _)| tp.starts_with("otlp_logs/"))
            .map(|(_, o)| o.as_i64().unwrap().max(0))
            .sum();
        if ids.contains(&json!("weir-logs-indexer")) && total == 2 {
            assert_eq!(offsets.len(), 4, "{groups}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the indexers never appeared as a group: {groups}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(server.stop(libc::SIGTERM).success());
}

#[test]
fn a_compacted_topic_keeps_only_the_newest_value_per_key() {
    let Some(python) = python() else { return };
    let (_ws, server, bootstrap) = start();
    clients(&python, &bootstrap, &["compact", "--topic", "profiles"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = clients(
            &python,
            &bootstrap,
            &["read-compacted", "--topic", "profiles"],
        );
        let values = answer["values"].as_object().unwrap();
        assert_eq!(values.len(), 50, "every key is still there: {answer}");
        if values.values().all(|v| *v == json!(["v2"])) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "compaction never removed old values: {answer}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(server.stop(libc::SIGTERM).success());
}

#[test]
fn the_kafka_benchmark_runs_and_reads_back_everything() {
    let Some(python) = python() else { return };
    let (_ws, server, bootstrap) = start();
    let bench = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/kafka_bench.py");
    let output = Command::new(&python)
        .arg(bench)
        .args([bootstrap.as_str(), "5000", "1024", "4", "5000"])
        .output()
        .expect("run kafka_bench.py");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let field = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
            .parse()
            .unwrap()
    };
    assert_eq!(field("produce_errors"), 0.0);
    assert_eq!(field("fetched_messages"), 5500.0, "full speed and paced");
    assert!(field("produce_mb_per_s") > 0.0 && field("paced_latency_p99_ms") > 0.0);
    assert!(server.stop(libc::SIGTERM).success());
}
