//! `weir loadgen` against in-test OTLP receivers: a tonic gRPC server built
//! from opentelemetry-proto's generated services and an axum OTLP/HTTP
//! server. Each counts what it decodes, checks it looks like the product
//! promises (services, fresh timestamps, ids, distinct series), and the
//! tests compare those counts with the loadgen's report.

mod common;

#[path = "loadgen/collector.rs"]
mod collector;
#[path = "loadgen/inspect.rs"]
mod inspect;

use std::process::Output;

use collector::{Collector, Reply};

fn loadgen(args: &[&str]) -> Output {
    common::weir()
        .arg("loadgen")
        .args(args)
        .output()
        .expect("run weir loadgen")
}

/// The `key: value` lines of the report.
fn report(output: &Output) -> std::collections::BTreeMap<String, String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter_map(|line| line.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn number(report: &std::collections::BTreeMap<String, String>, key: &str) -> u64 {
    report
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in report: {report:?}"))
        .parse()
        .unwrap()
}

fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "weir loadgen failed: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `requests` requests of `batch` records and checks the server and
/// the report agree on every count.
fn run_and_compare(
    collector: &Collector,
    protocol: &str,
    signal: &str,
    extra: &[&str],
    requests: u64,
    batch: u64,
) {
    let endpoint = collector.endpoint();
    let (requests_text, batch_text) = (requests.to_string(), batch.to_string());
    let mut args = vec![
        "--protocol",
        protocol,
        "--signal",
        signal,
        "--endpoint",
        &endpoint,
        "--requests",
        &requests_text,
        "--batch-size",
        &batch_text,
        "--concurrency",
        "4",
    ];
    args.extend_from_slice(extra);
    let output = loadgen(&args);
    assert_ok(&output);
    let report = report(&output);
    let received = collector.received();
    assert_eq!(
        received.problems,
        Vec::<String>::new(),
        "the server saw malformed content"
    );
    assert_eq!(received.requests, requests);
    assert_eq!(received.records, requests * batch);
    assert_eq!(number(&report, "requests"), requests);
    assert_eq!(number(&report, "requests_acknowledged"), requests);
    assert_eq!(number(&report, "requests_failed"), 0);
    assert_eq!(number(&report, "records_acknowledged"), requests * batch);
    assert_eq!(report["failures"], "none");
    assert!(report["latency_ms"].starts_with("p50="), "{report:?}");
    assert!(
        (18..=20).contains(&received.services.len()),
        "services seen: {:?}",
        received.services
    );
}

#[test]
fn grpc_logs_arrive_complete_from_twenty_services() {
    let collector = Collector::grpc(Reply::default());
    run_and_compare(&collector, "grpc", "logs", &[], 20, 100);
    let received = collector.received();
    // Several services per request, one resource each.
    assert!(
        received.resources >= 3 * received.requests,
        "{} resources",
        received.resources
    );
}

#[test]
fn grpc_metrics_cover_the_requested_series() {
    let collector = Collector::grpc(Reply::default());
    run_and_compare(&collector, "grpc", "metrics", &["--series", "300"], 10, 100);
    let received = collector.received();
    assert_eq!(received.series, 300, "every series reported, none invented");
}

#[test]
fn grpc_traces_with_gzip_and_token() {
    let collector = Collector::grpc(Reply::default());
    run_and_compare(
        &collector,
        "grpc",
        "traces",
        &["--compression", "gzip", "--token", "s3cret"],
        12,
        200,
    );
    assert_eq!(
        collector.received().authorization,
        vec!["Bearer s3cret".to_string()]
    );
}

#[test]
fn http_logs_uncompressed() {
    let collector = Collector::http(Reply::default());
    run_and_compare(&collector, "http", "logs", &[], 16, 128);
    assert_eq!(collector.received().gzipped, 0);
}

#[test]
fn http_logs_gzip_with_token() {
    let collector = Collector::http(Reply::default());
    run_and_compare(
        &collector,
        "http",
        "logs",
        &["--compression", "gzip", "--token", "t0k"],
        16,
        128,
    );
    let received = collector.received();
    assert_eq!(received.gzipped, 16);
    assert_eq!(received.authorization, vec!["Bearer t0k".to_string()]);
}

#[test]
fn http_metrics_and_traces() {
    let collector = Collector::http(Reply::default());
    run_and_compare(
        &collector,
        "http",
        "metrics",
        &["--compression", "gzip"],
        8,
        250,
    );
    let collector = Collector::http(Reply::default());
    run_and_compare(&collector, "http", "traces", &[], 8, 250);
}

#[test]
fn partial_success_rejections_are_summed() {
    for collector in [
        Collector::grpc(Reply {
            rejected: 3,
            ..Reply::default()
        }),
        Collector::http(Reply {
            rejected: 3,
            ..Reply::default()
        }),
    ] {
        let endpoint = collector.endpoint();
        let output = loadgen(&[
            "--protocol",
            collector.protocol(),
            "--endpoint",
            &endpoint,
            "--requests",
            "7",
            "--batch-size",
            "10",
        ]);
        assert_ok(&output);
        let report = report(&output);
        assert_eq!(number(&report, "records_rejected"), 21, "{report:?}");
        assert_eq!(number(&report, "requests_acknowledged"), 7);
    }
}

#[test]
fn failed_requests_are_counted_by_status_and_exit_1_when_all_fail() {
    let collector = Collector::http(Reply {
        http_status: 503,
        ..Reply::default()
    });
    let output = loadgen(&[
        "--protocol",
        "http",
        "--endpoint",
        &collector.endpoint(),
        "--requests",
        "5",
        "--batch-size",
        "10",
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = report(&output);
    assert_eq!(report["failures"], "HTTP 503=5");
    assert_eq!(number(&report, "requests_failed"), 5);

    let collector = Collector::grpc(Reply {
        grpc_unavailable: true,
        ..Reply::default()
    });
    let output = loadgen(&[
        "--endpoint",
        &collector.endpoint(),
        "--requests",
        "4",
        "--batch-size",
        "10",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(report_failures(&output), "grpc Unavailable=4");
}

fn report_failures(output: &Output) -> String {
    report(output)["failures"].clone()
}

#[test]
fn bad_endpoints_stop_the_run_before_it_starts() {
    let output = loadgen(&["--endpoint", "https://127.0.0.1:4317", "--requests", "1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("TLS"));

    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for protocol in ["grpc", "http"] {
        let endpoint = format!("http://127.0.0.1:{port}");
        let output = loadgen(&[
            "--protocol",
            protocol,
            "--endpoint",
            &endpoint,
            "--requests",
            "1",
        ]);
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("connect to"), "{stderr}");
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn rate_limit_paces_the_run() {
    let collector = Collector::grpc(Reply::default());
    // 2,000 records/s in requests of 100: 20 requests take about a second.
    let output = loadgen(&[
        "--endpoint",
        &collector.endpoint(),
        "--requests",
        "20",
        "--batch-size",
        "100",
        "--rate",
        "2000",
    ]);
    assert_ok(&output);
    let seconds: f64 = report(&output)["seconds"].parse().unwrap();
    assert!((0.9..3.0).contains(&seconds), "took {seconds} s");
    assert_eq!(collector.received().records, 2000);
}

/// Throughput of the load generator itself against the in-test receivers
/// (which decode and inspect every request). Not a test of Weir; run with
/// `cargo test --release -p weir --test loadgen -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, seconds per case"]
fn throughput_against_the_in_test_receivers() {
    for (protocol, compression) in [
        ("grpc", "none"),
        ("grpc", "gzip"),
        ("http", "none"),
        ("http", "gzip"),
    ] {
        for signal in ["logs", "metrics", "traces"] {
            let collector = if protocol == "grpc" {
                Collector::grpc(Reply::default())
            } else {
                Collector::http(Reply::default())
            };
            let output = loadgen(&[
                "--protocol",
                protocol,
                "--endpoint",
                &collector.endpoint(),
                "--signal",
                signal,
                "--compression",
                compression,
                "--duration",
                "3s",
            ]);
            assert_ok(&output);
            let report = report(&output);
            println!(
                "{protocol:<5} {compression:<5} {signal:<8} {:>9} records/s {:>8} MB/s  latency ms {}",
                report["records_per_sec"], report["mb_per_sec"], report["latency_ms"]
            );
        }
    }
}
