//! Interop with the real OpenTelemetry Python SDK: its OTLP exporters
//! (gRPC and HTTP/protobuf) send logs, metrics and spans to `weir serve`;
//! after a clean stop, every item must be in the telemetry topics exactly as
//! the SDK sent it, one resource per record, keyed by `service.name`.
//!
//! `tests/interop/otel_sdk_emit.py` does the sending and writes a JSON
//! description of what it sent; this test compares field by field. Before
//! stopping the server it also searches the log index: every log record
//! must be found by term, phrase, field, attribute and time range within
//! 2 s of the SDK's acknowledged export, and every metric must answer
//! PromQL through the Prometheus-compatible API within two window
//! lengths. Its
//! peers come from `scripts/setup-interop` (the test fails, naming it, when
//! they are missing).

mod common;

use std::collections::BTreeSet;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, Workspace, interop_python, ready_address, topic_records};
use log_core::{OTLP_LOGS, OTLP_METRICS, OTLP_SPANS, TENANT_HEADER};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Exemplar, Metric, exemplar, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{Span, status::StatusCode};
use prost::Message;
use serde_json::{Map, Value, json};

/// How long the SDK may take to export everything (its own export timeouts
/// are 10 s per call; loopback needs far less).
const EMIT_TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn python_sdk_over_grpc() {
    interop("grpc", "none");
}

#[test]
fn python_sdk_over_grpc_with_gzip() {
    interop("grpc", "gzip");
}

#[test]
fn python_sdk_over_http_protobuf() {
    interop("http", "none");
}

#[test]
fn python_sdk_over_http_protobuf_with_gzip() {
    interop("http", "gzip");
}

/// The ports come from the readiness line, which tracing colours when
/// stderr is a terminal.
#[test]
fn listener_addresses_are_read_from_a_coloured_readiness_line() {
    let line = "\x1b[2m2026-01-01T00:00:00Z\x1b[0m \x1b[32m INFO\x1b[0m \x1b[2mweir::serve\x1b[0m\x1b[2m:\x1b[0m \
                weir is ready \x1b[3mhttp\x1b[0m\x1b[2m=\x1b[0m127.0.0.1:7070 \
                \x1b[3motlp_grpc\x1b[0m\x1b[2m=\x1b[0m127.0.0.1:43117 \
                \x1b[3motlp_http\x1b[0m\x1b[2m=\x1b[0m[::1]:4318";
    assert_eq!(
        ready_address(line, "otlp_grpc").to_string(),
        "127.0.0.1:43117"
    );
    assert_eq!(ready_address(line, "otlp_http").to_string(), "[::1]:4318");
    assert_eq!(ready_address(line, "http").to_string(), "127.0.0.1:7070");
}

/// Runs the SDK against a fresh server over `protocol` and checks that
/// Weir stored exactly what it sent.
fn interop(protocol: &str, compression: &str) {
    let python = interop_python();
    let workspace = Workspace::new();
    let server = Server::start(&workspace);
    let listener = match protocol {
        "grpc" => "otlp_grpc",
        _ => "otlp_http",
    };
    let endpoint = format!("http://{}", server.listen_address(listener));
    let sent_path = workspace.root.path().join("sent.json");
    emit(
        &python,
        protocol,
        compression,
        &endpoint,
        &sent_path,
        &workspace,
    );
    let acknowledged = Instant::now();
    let sent: Value =
        serde_json::from_slice(&std::fs::read(&sent_path).expect("read sent.json")).unwrap();
    check_searchable(server.listen_address("http"), &sent, acknowledged);
    check_metrics_queryable(server.listen_address("http"), acknowledged);
    let status = server.stop(libc::SIGTERM);
    assert_eq!(
        status.code(),
        Some(0),
        "weir serve exit status after SIGTERM"
    );

    let service = sent["service_name"].as_str().expect("service_name");
    let stored = Stored::read(&workspace.data_dir, service);
    stored.check_resources_and_scopes(&sent);
    check_logs(&stored.logs, &sent["logs"]);
    check_metrics(&stored.metrics, &sent["metrics"]);
    check_spans(&stored.spans, &sent["spans"]);
}

/// Runs `otel_sdk_emit.py`, bounded in time; panics with its output if it
/// fails (it fails when any export does).
fn emit(
    python: &Path,
    protocol: &str,
    compression: &str,
    endpoint: &str,
    sent: &Path,
    workspace: &Workspace,
) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/otel_sdk_emit.py");
    let output = workspace.root.path().join("emit.log");
    let log = File::create(&output).expect("create emit.log");
    let mut command = Command::new(python);
    command
        .arg(&script)
        .args(["--protocol", protocol, "--endpoint", endpoint])
        .args(["--compression", compression])
        .arg(sent)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        // Nothing from the environment may redirect or reconfigure the
        // exporters; loopback never goes through a proxy.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    let mut child = command.spawn().expect("spawn the interop python");
    let deadline = Instant::now() + EMIT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for otel_sdk_emit.py") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "otel_sdk_emit.py did not finish within {EMIT_TIMEOUT:?}:\n{}",
                read_lossy(&output)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "otel_sdk_emit.py --protocol {protocol} --compression {compression} failed \
         ({status}); if a module is missing, run scripts/setup-interop:\n{}",
        read_lossy(&output)
    );
}

/// How soon after its acknowledgement a log record must be searchable.
const SEARCHABLE_WITHIN: Duration = Duration::from_secs(2);

/// A query, an optional `[start, end)`, and the bodies it must find.
type SearchCheck<'a> = (String, Option<(i64, i64)>, Vec<&'a str>);

/// Every kind of search finds the SDK's log records, within
/// [`SEARCHABLE_WITHIN`] of their export's acknowledgement.
fn check_searchable(http: std::net::SocketAddr, sent: &Value, acknowledged: Instant) {
    let service = sent["service_name"].as_str().unwrap();
    let logs = items(&sent["logs"]);
    let first_ts = logs[0]["time_unix_nano"].as_i64().unwrap();
    let checks: Vec<SearchCheck> = vec![
        ("payment".into(), None, vec!["payment declined"]),
        (
            "\"disk almost full\"".into(),
            None,
            vec!["disk almost full"],
        ),
        (
            format!("service_name:{service} AND severity_text:ERROR"),
            None,
            vec!["payment declined"],
        ),
        (
            "attributes.user.id:u-17".into(),
            None,
            vec!["user logged in"],
        ),
        (
            "attributes.component:ledger".into(),
            None,
            vec!["invariant broken"],
        ),
        (
            format!("resource_attributes.service.name:{service}"),
            None,
            logs.iter().map(|l| body_text(&l["body"])).collect(),
        ),
        // Only the first record lies in [its timestamp, +1 ns).
        (
            "*".into(),
            Some((first_ts, first_ts + 1)),
            vec!["cache warmed"],
        ),
    ];
    let url = format!("http://{http}/api/v1/logs/search");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    for (query, range, expected) in checks {
        let mut form = vec![("query", query.clone()), ("limit", "100".to_owned())];
        if let Some((start, end)) = range {
            form.push(("start", start.to_string()));
            form.push(("end", end.to_string()));
        }
        let found = loop {
            let answer: Value = runtime.block_on(async {
                let response = client.post(&url).form(&form).send().await.expect("search");
                assert!(
                    response.status().is_success(),
                    "search {query}: {}",
                    response.status()
                );
                serde_json::from_str(&response.text().await.unwrap()).unwrap()
            });
            // A map body is indexed as its JSON text: name each hit by the
            // expected text it contains.
            let mut bodies: Vec<String> = answer["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    let body = h["body"].as_str().unwrap();
                    let named = expected.iter().find(|e| body.contains(**e));
                    named.map_or(body, |e| *e).to_owned()
                })
                .collect();
            bodies.sort();
            let mut want: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
            want.sort();
            if bodies == want {
                break acknowledged.elapsed();
            }
            assert!(
                acknowledged.elapsed() < SEARCHABLE_WITHIN,
                "search {query:?} found {bodies:?}, want {want:?}, {:?} after the acknowledgement",
                acknowledged.elapsed()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        eprintln!("search {query:?}: found after {found:?}");
    }
}

/// The default finest window: metrics are queryable within two of them.
const WINDOW: Duration = Duration::from_secs(10);

/// Every instrument the SDK sent answers PromQL through
/// `/api/v1/query` with the value it exported, within two window lengths
/// of the export's acknowledgement. The SDK exports once; its windows
/// close when the partition has been quiet for a window plus the
/// lateness and the watermark follows the wall clock.
fn check_metrics_queryable(http: std::net::SocketAddr, acknowledged: Instant) {
    let checks: [(&str, &[(&str, f64)]); 8] = [
        ("interop_requests", &[("/a", 7.0), ("/b", 5.0)]),
        ("interop_queue_depth", &[("jobs", 3.0)]),
        ("interop_temperature", &[("lab", 22.25)]),
        (
            "interop_memory_used",
            &[("heap", 1_500_000.0), ("stack", 250_000.0)],
        ),
        ("interop_latency_count", &[("/a", 5.0)]),
        ("interop_latency_sum", &[("/a", 415.0)]),
        (r#"interop_latency_bucket{le="+Inf"}"#, &[("/a", 5.0)]),
        ("interop_payload_size_count", &[("zstd", 6.0)]),
    ];
    let url = format!("http://{http}/api/v1/query");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    for (query, expected) in checks {
        let found = loop {
            let answer: Value = runtime.block_on(async {
                let response = client
                    .post(&url)
                    .form(&[("query", query)])
                    .send()
                    .await
                    .expect("query");
                let status = response.status();
                let text = response.text().await.unwrap();
                assert!(status.is_success(), "query {query}: {status}: {text}");
                serde_json::from_str(&text).unwrap()
            });
            assert_eq!(answer["data"]["resultType"], "vector", "{answer}");
            // Each series is named by its one distinguishing attribute.
            let mut got: Vec<(String, f64)> = answer["data"]["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|series| {
                    let metric = &series["metric"];
                    let name = ["route", "queue", "room", "pool", "codec"]
                        .iter()
                        .find_map(|label| metric[*label].as_str())
                        .unwrap_or_default()
                        .to_owned();
                    let value: f64 = series["value"][1].as_str().unwrap().parse().unwrap();
                    (name, value)
                })
                .collect();
            got.sort_by(|a, b| a.0.cmp(&b.0));
            let want: Vec<(String, f64)> = expected
                .iter()
                .map(|(n, v)| ((*n).to_owned(), *v))
                .collect();
            if got == want {
                break acknowledged.elapsed();
            }
            assert!(
                acknowledged.elapsed() < 2 * WINDOW,
                "query {query:?} answered {got:?}, want {want:?}, {:?} after the acknowledgement",
                acknowledged.elapsed()
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        eprintln!("query {query:?}: answered after {found:?}");
    }
}

/// A sent body as it is indexed: a string as is, a map by its message
/// (the tests search bodies by substring of what they contain).
fn body_text(body: &Value) -> &str {
    body.as_str()
        .or_else(|| body["message"].as_str())
        .unwrap_or("")
}

fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

// ---------------------------------------------------------------------------
// What Weir stored

/// What Weir stored for the run's service, decoded and flattened.
struct Stored {
    logs: Vec<LogRecord>,
    metrics: Vec<Metric>,
    spans: Vec<Span>,
    /// The resource and scopes of every stored record of the service.
    resources: Vec<Resource>,
    scopes: Vec<InstrumentationScope>,
}

impl Stored {
    /// Decodes the three telemetry topics and keeps what `service` sent,
    /// checking every record's framing on the way: one resource per value,
    /// the key is its `service.name`, the tenant header is `default`.
    fn read(data_dir: &Path, service: &str) -> Stored {
        let mut stored = Stored {
            logs: Vec::new(),
            metrics: Vec::new(),
            spans: Vec::new(),
            resources: Vec::new(),
            scopes: Vec::new(),
        };
        for request in requests::<ExportLogsServiceRequest>(data_dir, OTLP_LOGS, service, |r| {
            r.resource_logs
                .iter()
                .map(|rl| rl.resource.clone())
                .collect()
        }) {
            for resource_logs in request.resource_logs {
                stored.resources.extend(resource_logs.resource);
                for scope_logs in resource_logs.scope_logs {
                    stored.scopes.extend(scope_logs.scope);
                    stored.logs.extend(scope_logs.log_records);
                }
            }
        }
        for request in
            requests::<ExportMetricsServiceRequest>(data_dir, OTLP_METRICS, service, |r| {
                r.resource_metrics
                    .iter()
                    .map(|rm| rm.resource.clone())
                    .collect()
            })
        {
            for resource_metrics in request.resource_metrics {
                stored.resources.extend(resource_metrics.resource);
                for scope_metrics in resource_metrics.scope_metrics {
                    stored.scopes.extend(scope_metrics.scope);
                    stored.metrics.extend(scope_metrics.metrics);
                }
            }
        }
        for request in requests::<ExportTraceServiceRequest>(data_dir, OTLP_SPANS, service, |r| {
            r.resource_spans
                .iter()
                .map(|rs| rs.resource.clone())
                .collect()
        }) {
            for resource_spans in request.resource_spans {
                stored.resources.extend(resource_spans.resource);
                for scope_spans in resource_spans.scope_spans {
                    stored.scopes.extend(scope_spans.scope);
                    stored.spans.extend(scope_spans.spans);
                }
            }
        }
        stored
    }

    /// Every stored resource carries every attribute the SDK was given (it
    /// adds its own `telemetry.sdk.*`), and every scope is the SDK's.
    fn check_resources_and_scopes(&self, sent: &Value) {
        assert!(!self.resources.is_empty(), "no resource stored");
        let wanted = sent["resource_attributes"].as_object().unwrap();
        for resource in &self.resources {
            let stored = attributes(&resource.attributes);
            for (key, value) in wanted {
                assert_eq!(stored.get(key), Some(value), "resource attribute {key}");
            }
            assert_eq!(
                stored.get("telemetry.sdk.language"),
                Some(&json!("python")),
                "the SDK's own resource attributes survive"
            );
        }
        for scope in &self.scopes {
            assert_eq!(scope.name, sent["scope"]["name"], "scope name");
            assert_eq!(scope.version, sent["scope"]["version"], "scope version");
        }
    }
}

/// The decoded values of `topic`'s records whose resource is `service`'s,
/// after checking each record's framing. `resources` lists the resources
/// of a request.
fn requests<R: Message + Default>(
    data_dir: &Path,
    topic: &str,
    service: &str,
    resources: impl Fn(&R) -> Vec<Option<Resource>>,
) -> Vec<R> {
    let mut out = Vec::new();
    for record in topic_records(data_dir, topic) {
        let at = format!("{topic} offset {}", record.offset);
        let value = record
            .value
            .as_ref()
            .unwrap_or_else(|| panic!("{at}: no value"));
        let request = R::decode(value.as_ref()).unwrap_or_else(|e| panic!("{at}: {e}"));
        let resources = resources(&request);
        assert_eq!(resources.len(), 1, "{at}: one resource per record");
        let name = resources[0]
            .as_ref()
            .and_then(|r| attributes(&r.attributes).remove("service.name"))
            .unwrap_or_else(|| panic!("{at}: the resource has no service.name"));
        let name = name.as_str().expect("service.name is a string");
        assert_eq!(
            record.key.as_deref(),
            Some(name.as_bytes()),
            "{at}: the key is the service name"
        );
        let tenants: Vec<_> = record
            .headers
            .iter()
            .filter(|(key, _)| key == TENANT_HEADER)
            .map(|(_, value)| value.as_deref())
            .collect();
        assert_eq!(
            tenants,
            [Some(&b"default"[..])],
            "{at}: one {TENANT_HEADER} header"
        );
        if name == service {
            out.push(request);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// OTLP values as the JSON the script wrote

/// An OTLP value as the script describes it: the JSON types keep OTLP's
/// (an int is a JSON integer, a double always a JSON float).
fn any_value(value: &AnyValue) -> Value {
    match &value.value {
        None => Value::Null,
        Some(Any::StringValue(s)) => json!(s),
        Some(Any::BoolValue(b)) => json!(b),
        Some(Any::IntValue(i)) => json!(i),
        Some(Any::DoubleValue(d)) => json!(d),
        Some(Any::ArrayValue(array)) => Value::Array(array.values.iter().map(any_value).collect()),
        Some(Any::KvlistValue(list)) => Value::Object(attributes(&list.values)),
        Some(Any::BytesValue(bytes)) => json!({ "bytes": hex(bytes) }),
        // Only profiles use string tables; no SDK sends one here.
        Some(Any::StringValueStrindex(index)) => json!({ "strindex": index }),
    }
}

fn attributes(list: &[KeyValue]) -> Map<String, Value> {
    list.iter()
        .map(|kv| {
            let value = kv.value.as_ref().map_or(Value::Null, any_value);
            (kv.key.clone(), value)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `sent[field]` as u64, for timestamps and counts.
fn u64_of(sent: &Value, field: &str) -> u64 {
    sent[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {sent}"))
}

fn f64_of(sent: &Value, field: &str) -> f64 {
    sent[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} in {sent}"))
}

fn items(sent: &Value) -> &Vec<Value> {
    sent.as_array().expect("a JSON array")
}

// ---------------------------------------------------------------------------
// Logs

fn check_logs(stored: &[LogRecord], sent: &Value) {
    let sent = items(sent);
    assert_eq!(stored.len(), sent.len(), "log records stored: {stored:#?}");
    for want in sent {
        // Bodies are unique within a run.
        let body = &want["body"];
        let found: Vec<_> = stored
            .iter()
            .filter(|r| r.body.as_ref().map(any_value).as_ref() == Some(body))
            .collect();
        assert_eq!(found.len(), 1, "one log record with body {body}");
        let got = found[0];
        let at = format!("log {body}");
        assert_eq!(got.time_unix_nano, u64_of(want, "time_unix_nano"), "{at}");
        assert_eq!(
            got.severity_number,
            want["severity_number"].as_i64().unwrap() as i32,
            "{at}"
        );
        assert_eq!(got.severity_text, want["severity_text"], "{at}");
        assert_eq!(
            Value::Object(attributes(&got.attributes)),
            want["attributes"],
            "{at}"
        );
        assert_eq!(got.event_name, want["event_name"], "{at}");
        assert_eq!(hex(&got.trace_id), want["trace_id"], "{at}: trace id");
        assert_eq!(hex(&got.span_id), want["span_id"], "{at}: span id");
        assert_eq!(u64::from(got.flags), u64_of(want, "flags"), "{at}: flags");
        assert!(got.observed_time_unix_nano > 0, "{at}: observed time set");
    }
}

// ---------------------------------------------------------------------------
// Metrics

fn check_metrics(stored: &[Metric], sent: &Value) {
    let sent = items(sent);
    let mut stored_names: Vec<&str> = stored.iter().map(|m| m.name.as_str()).collect();
    let mut sent_names: Vec<&str> = sent.iter().map(|m| m["name"].as_str().unwrap()).collect();
    stored_names.sort();
    sent_names.sort();
    assert_eq!(stored_names, sent_names, "each metric stored once");
    for want in sent {
        let name = want["name"].as_str().unwrap();
        let got = stored.iter().find(|m| m.name == name).unwrap();
        assert_eq!(got.unit, want["unit"], "{name}: unit");
        assert_eq!(got.description, want["description"], "{name}: description");
        match (want["kind"].as_str().unwrap(), &got.data) {
            ("sum", Some(Data::Sum(sum))) => {
                assert_eq!(sum.is_monotonic, want["monotonic"], "{name}: monotonic");
                assert_eq!(
                    temporality(sum.aggregation_temporality),
                    want["temporality"],
                    "{name}"
                );
                check_number_points(name, &sum.data_points, &want["points"]);
            }
            ("gauge", Some(Data::Gauge(gauge))) => {
                check_number_points(name, &gauge.data_points, &want["points"]);
            }
            ("histogram", Some(Data::Histogram(histogram))) => {
                assert_eq!(
                    temporality(histogram.aggregation_temporality),
                    want["temporality"],
                    "{name}"
                );
                let points = items(&want["points"]);
                assert_eq!(histogram.data_points.len(), points.len(), "{name}: points");
                for want in points {
                    let at = format!("{name}{}", want["attributes"]);
                    let got = point(&histogram.data_points, want, |p| &p.attributes, &at);
                    assert_eq!(got.count, u64_of(want, "count"), "{at}: count");
                    assert_eq!(got.sum, Some(f64_of(want, "sum")), "{at}: sum");
                    assert_eq!(got.min, Some(f64_of(want, "min")), "{at}: min");
                    assert_eq!(got.max, Some(f64_of(want, "max")), "{at}: max");
                    assert_eq!(
                        json!(got.explicit_bounds),
                        want["explicit_bounds"],
                        "{at}: bounds"
                    );
                    assert_eq!(
                        json!(got.bucket_counts),
                        want["bucket_counts"],
                        "{at}: buckets"
                    );
                    check_exemplar(&got.exemplars, &want["exemplar"], &at);
                }
            }
            ("exponential_histogram", Some(Data::ExponentialHistogram(histogram))) => {
                assert_eq!(
                    temporality(histogram.aggregation_temporality),
                    want["temporality"],
                    "{name}"
                );
                let points = items(&want["points"]);
                assert_eq!(histogram.data_points.len(), points.len(), "{name}: points");
                for want in points {
                    let at = format!("{name}{}", want["attributes"]);
                    let got = point(&histogram.data_points, want, |p| &p.attributes, &at);
                    assert_eq!(got.count, u64_of(want, "count"), "{at}: count");
                    assert_eq!(got.sum, Some(f64_of(want, "sum")), "{at}: sum");
                    assert_eq!(got.min, Some(f64_of(want, "min")), "{at}: min");
                    assert_eq!(got.max, Some(f64_of(want, "max")), "{at}: max");
                    // The buckets are the SDK's to choose; they must hold
                    // every value.
                    let in_buckets: u64 = [&got.positive, &got.negative]
                        .into_iter()
                        .flatten()
                        .flat_map(|b| &b.bucket_counts)
                        .sum();
                    assert_eq!(
                        in_buckets + got.zero_count,
                        got.count,
                        "{at}: bucket counts add up to the count"
                    );
                    assert!(
                        got.positive
                            .as_ref()
                            .is_some_and(|b| !b.bucket_counts.is_empty()),
                        "{at}: positive buckets stored"
                    );
                }
            }
            (kind, data) => panic!("{name}: sent as {kind}, stored as {data:?}"),
        }
    }
}

fn temporality(value: i32) -> &'static str {
    AggregationTemporality::try_from(value).map_or("invalid", |t| t.as_str_name())
}

/// The one point of `points` whose attributes are `want["attributes"]`.
fn point<'a, P>(
    points: &'a [P],
    want: &Value,
    attributes_of: impl Fn(&P) -> &Vec<KeyValue>,
    at: &str,
) -> &'a P {
    let found: Vec<_> = points
        .iter()
        .filter(|p| Value::Object(attributes(attributes_of(p))) == want["attributes"])
        .collect();
    assert_eq!(found.len(), 1, "{at}: one point with these attributes");
    found[0]
}

fn check_number_points(
    name: &str,
    stored: &[opentelemetry_proto::tonic::metrics::v1::NumberDataPoint],
    sent: &Value,
) {
    let sent = items(sent);
    assert_eq!(stored.len(), sent.len(), "{name}: points");
    for want in sent {
        let at = format!("{name}{}", want["attributes"]);
        let got = point(stored, want, |p| &p.attributes, &at);
        let value = match got.value {
            Some(number_data_point::Value::AsInt(i)) => json!(i),
            Some(number_data_point::Value::AsDouble(d)) => json!(d),
            None => Value::Null,
        };
        assert_eq!(value, want["value"], "{at}: value");
        assert!(got.time_unix_nano > 0, "{at}: time set");
    }
}

fn check_exemplar(stored: &[Exemplar], want: &Value, at: &str) {
    let value = want["value"].as_f64().unwrap();
    let found = stored.iter().any(|e| {
        e.value == Some(exemplar::Value::AsDouble(value))
            && hex(&e.trace_id) == want["trace_id"]
            && hex(&e.span_id) == want["span_id"]
    });
    assert!(found, "{at}: exemplar {want} in {stored:?}");
}

// ---------------------------------------------------------------------------
// Spans

fn check_spans(stored: &[Span], sent: &Value) {
    let sent = items(sent);
    let ids: BTreeSet<String> = stored.iter().map(|s| hex(&s.span_id)).collect();
    assert_eq!(ids.len(), stored.len(), "no span stored twice");
    assert_eq!(stored.len(), sent.len(), "spans stored: {stored:#?}");
    for want in sent {
        let id = want["span_id"].as_str().unwrap();
        let got = stored
            .iter()
            .find(|s| hex(&s.span_id) == id)
            .unwrap_or_else(|| panic!("span {id} ({}) stored", want["name"]));
        let at = format!("span {}", want["name"]);
        assert_eq!(got.name, want["name"], "{at}");
        assert_eq!(hex(&got.trace_id), want["trace_id"], "{at}: trace id");
        assert_eq!(
            hex(&got.parent_span_id),
            want["parent_span_id"],
            "{at}: parent"
        );
        let kind = SpanKind::try_from(got.kind).map_or("invalid", |k| k.as_str_name());
        assert_eq!(kind, want["kind"], "{at}: kind");
        assert_eq!(
            got.start_time_unix_nano,
            u64_of(want, "start_time_unix_nano"),
            "{at}"
        );
        assert_eq!(
            got.end_time_unix_nano,
            u64_of(want, "end_time_unix_nano"),
            "{at}"
        );
        let status = got.status.clone().unwrap_or_default();
        let code = StatusCode::try_from(status.code).map_or("invalid", |c| c.as_str_name());
        assert_eq!(code, want["status"]["code"], "{at}: status code");
        assert_eq!(
            status.message, want["status"]["message"],
            "{at}: status message"
        );
        assert_eq!(
            Value::Object(attributes(&got.attributes)),
            want["attributes"],
            "{at}: attributes"
        );
        let events: Vec<Value> = got
            .events
            .iter()
            .map(|e| {
                json!({
                    "name": e.name,
                    "time_unix_nano": e.time_unix_nano,
                    "attributes": attributes(&e.attributes),
                })
            })
            .collect();
        assert_eq!(Value::Array(events), want["events"], "{at}: events");
    }
}
