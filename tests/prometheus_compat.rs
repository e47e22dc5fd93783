//! PromQL answers compared with a real Prometheus, where the semantics
//! overlap.
//!
//! Thirty minutes of samples, 10 s apart and stamped at 10 s boundaries
//! (so each sample is one 10 s window's point), go two ways:
//! - to Weir as OTLP (cumulative monotonic sums, gauges, a cumulative
//!   explicit-bucket histogram), through a `MetricsWorker` into an
//!   in-memory source, queried with the `PromQlEngine`;
//! - to a real Prometheus (Debian's `prometheus`, started here on
//!   loopback) as remote write, queried through its HTTP API.
//!
//! Every query is evaluated at several instants 5 s after a sample, and
//! as a range query; both answers must hold the same series with values
//! equal within 1e-9 (relative). Why the chosen queries overlap:
//! - instant selectors: Prometheus takes the newest sample within 5 m,
//!   Weir the newest window within 5 m: the same point;
//! - `rate`, `increase`, `irate` over constant-rate counters: Prometheus
//!   extrapolates the increase of the 30 samples in its range (290 s) to
//!   the range (300 s), Weir sums 30 exact window deltas (300 s): equal
//!   when the rate is constant, and the classic `histogram_quantile` of
//!   bucket rates with it;
//! - `*_over_time`, `changes`, `resets` over one point per window: the
//!   same 30 samples;
//! - aggregations, binary operators and functions act on equal inputs.
//!
//! Left out, as documented deviations (`aggregator::metrics::promql`):
//! `increase` and `rate` over a range holding a counter reset or a
//! non-constant rate (Weir exact, Prometheus extrapolated) and `delta`
//! over gauges (Weir unextrapolated).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aggregator::consumer::PartitionSink;
use aggregator::metrics::cardinality::{Cardinality, CardinalityLimits};
use aggregator::metrics::memory::MemorySource;
use aggregator::metrics::promql::{PromQlEngine, Value as Answer};
use aggregator::metrics::source::MetricMetadata;
use aggregator::metrics::window::ClosedWindow;
use aggregator::metrics::worker::{Mark, MetricsWorker, WindowConfig, WindowOutput};
use aggregator::query::QueryLimits;
use bytes::Bytes;
use log_core::Record;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValueKind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_json::Value;
use weir::bench::remote_write::{self, Sample, TimeSeries, WriteRequest};

const STEP_MS: i64 = 10_000;
const STEPS: i64 = 180;
const NS: u64 = 1_000_000;
/// The counter of `jobs_total` restarts at this step.
const RESET_AT: i64 = 90;
const BOUNDS: [f64; 5] = [0.05, 0.1, 0.25, 0.5, 1.0];
const BOUND_LABELS: [&str; 6] = ["0.05", "0.1", "0.25", "0.5", "1", "+Inf"];
/// Per-step increments of the histogram's buckets (OTLP buckets, not
/// cumulative) and of its sum.
const BUCKET_STEP: [u64; 6] = [3, 5, 2, 1, 1, 0];
const SUM_STEP: f64 = 2.3;

/// `(service, code, per-second rate)` of `http_requests_total`.
const REQUESTS: [(&str, &str, f64); 4] = [
    ("api", "200", 1.0),
    ("api", "500", 0.25),
    ("web", "200", 2.0),
    ("web", "500", 0.5),
];
const QUEUES: [&str; 3] = ["api", "web", "batch"];

fn requests_value(rate: f64, k: i64) -> f64 {
    1_000.0 + rate * (STEP_MS / 1000) as f64 * k as f64
}

fn jobs_value(k: i64) -> f64 {
    if k < RESET_AT {
        100.0 + 5.0 * k as f64
    } else {
        1.0 + 2.0 * (k - RESET_AT) as f64
    }
}

fn queue_value(service: usize, k: i64) -> f64 {
    ((k * 7 + service as i64 * 13) % 23) as f64 + service as f64 * 0.5
}

/// Cumulative OTLP bucket counts at step `k`.
fn buckets(k: i64) -> Vec<u64> {
    BUCKET_STEP.iter().map(|inc| 10 + inc * k as u64).collect()
}

/// The time of step `k`: the fixture ends a minute before the newest 10 s
/// boundary, so Prometheus' head accepts every sample and Weir's future
/// check passes.
fn step_ms(base: i64, k: i64) -> i64 {
    base + k * STEP_MS
}

// ---- Weir ----------------------------------------------------------------

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(AnyValueKind::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

fn number(start_ms: i64, time_ms: i64, value: f64, attributes: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        start_time_unix_nano: start_ms as u64 * NS,
        time_unix_nano: time_ms as u64 * NS,
        value: Some(NumberValue::AsDouble(value)),
        ..Default::default()
    }
}

fn sum(name: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.to_owned(),
        data: Some(Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

fn gauge(name: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.to_owned(),
        data: Some(Data::Gauge(Gauge {
            data_points: points,
        })),
        ..Default::default()
    }
}

fn resource(service: &str, metrics: Vec<Metric>) -> ResourceMetrics {
    ResourceMetrics {
        resource: Some(Resource {
            attributes: vec![kv("service.name", service)],
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            metrics,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Step `k` as one OTLP request.
fn otlp_step(base: i64, k: i64) -> ExportMetricsServiceRequest {
    let t = step_ms(base, k);
    let start = base - 3_600_000;
    let mut out = Vec::new();
    for service in ["api", "web"] {
        let points = REQUESTS
            .iter()
            .filter(|(s, _, _)| *s == service)
            .map(|(_, code, rate)| {
                number(start, t, requests_value(*rate, k), vec![kv("code", code)])
            })
            .collect();
        let mut metrics = vec![sum("http_requests_total", points)];
        let q = QUEUES.iter().position(|q| *q == service).unwrap();
        metrics.push(gauge(
            "queue_depth",
            vec![number(0, t, queue_value(q, k), vec![])],
        ));
        if service == "api" {
            let counts = buckets(k);
            metrics.push(Metric {
                name: "request_duration_seconds".to_owned(),
                data: Some(Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        start_time_unix_nano: start as u64 * NS,
                        time_unix_nano: t as u64 * NS,
                        count: counts.iter().sum(),
                        sum: Some(100.0 + SUM_STEP * k as f64),
                        bucket_counts: counts,
                        explicit_bounds: BOUNDS.to_vec(),
                        ..Default::default()
                    }],
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                })),
                ..Default::default()
            });
        }
        out.push(resource(service, metrics));
    }
    let jobs_start = if k < RESET_AT {
        start
    } else {
        step_ms(base, RESET_AT) - 1_000
    };
    out.push(resource(
        "batch",
        vec![
            sum(
                "jobs_total",
                vec![number(jobs_start, t, jobs_value(k), vec![])],
            ),
            gauge("queue_depth", vec![number(0, t, queue_value(2, k), vec![])]),
        ],
    ));
    ExportMetricsServiceRequest {
        resource_metrics: out,
    }
}

/// Closed tier-0 windows into a memory source.
struct IntoMemory(Arc<MemorySource>, Mutex<()>);

impl WindowOutput for IntoMemory {
    fn recover_partition(&self, _: u32, _: Mark) -> aggregator::Result<()> {
        Ok(())
    }
    fn publish(&self, _: u32, tier: usize, windows: Vec<ClosedWindow>) {
        let _guard = self.1.lock().unwrap();
        if tier == 0 {
            for w in windows {
                self.0.insert(
                    &w.series.tenant,
                    w.series.labels.clone(),
                    [w.to_window(STEP_MS)],
                );
            }
        }
    }
    fn persist(&self, _: u32, _: Mark) -> aggregator::Result<()> {
        Ok(())
    }
    fn publish_metadata(&self, _: &str, _: Vec<MetricMetadata>) {}
}

fn weir_engine(base: i64) -> PromQlEngine {
    let source = Arc::new(MemorySource::new(STEP_MS));
    let output = Arc::new(IntoMemory(Arc::clone(&source), Mutex::new(())));
    let dir = tempfile::tempdir().unwrap();
    let mut worker = MetricsWorker::open(
        0,
        dir.path().to_owned(),
        WindowConfig::default(),
        output,
        Arc::new(Cardinality::new(CardinalityLimits::default())),
    )
    .unwrap();
    let mut records: Vec<Record> = (0..STEPS)
        .map(|k| record(k as u64, &otlp_step(base, k)))
        .collect();
    // A point a minute later moves the watermark past every window.
    let flush = ExportMetricsServiceRequest {
        resource_metrics: vec![resource(
            "flush",
            vec![gauge(
                "flush",
                vec![number(0, step_ms(base, STEPS + 6), 0.0, vec![])],
            )],
        )],
    };
    records.push(record(STEPS as u64, &flush));
    worker.apply(records).unwrap();
    PromQlEngine::new(source, QueryLimits::default())
}

fn record(offset: u64, request: &ExportMetricsServiceRequest) -> Record {
    Record {
        offset,
        timestamp: 0,
        key: None,
        value: Some(Bytes::from(request.encode_to_vec())),
        headers: Vec::new(),
    }
}

// ---- Prometheus ----------------------------------------------------------

fn remote_write_request(base: i64) -> WriteRequest {
    let mut series: Vec<TimeSeries> = Vec::new();
    let mut add = |name: &str, labels: &[(&str, &str)], value: &dyn Fn(i64) -> f64| {
        let mut s = TimeSeries::new(name, labels);
        s.samples = (0..STEPS)
            .map(|k| Sample {
                value: value(k),
                timestamp: step_ms(base, k),
            })
            .collect();
        series.push(s);
    };
    for (service, code, rate) in REQUESTS {
        add(
            "http_requests_total",
            &[("service_name", service), ("code", code)],
            &move |k| requests_value(rate, k),
        );
    }
    for (i, service) in QUEUES.iter().enumerate() {
        add("queue_depth", &[("service_name", service)], &move |k| {
            queue_value(i, k)
        });
    }
    add("jobs_total", &[("service_name", "batch")], &jobs_value);
    for (i, le) in BOUND_LABELS.iter().enumerate() {
        add(
            "request_duration_seconds_bucket",
            &[("service_name", "api"), ("le", le)],
            &move |k| buckets(k)[..=i].iter().sum::<u64>() as f64,
        );
    }
    add(
        "request_duration_seconds_count",
        &[("service_name", "api")],
        &|k| buckets(k).iter().sum::<u64>() as f64,
    );
    add(
        "request_duration_seconds_sum",
        &[("service_name", "api")],
        &|k| 100.0 + SUM_STEP * k as f64,
    );
    WriteRequest { timeseries: series }
}

/// A Prometheus child on loopback, killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PROMETHEUS: &str = "/usr/bin/prometheus";

fn start_prometheus(runtime: &tokio::runtime::Runtime) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1h\n").unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let child = Command::new(PROMETHEUS)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    let prometheus = Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = reqwest::Client::new();
    loop {
        let ready = runtime.block_on(async {
            client
                .get(format!("{}/-/ready", prometheus.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        });
        if ready {
            return prometheus;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus not ready within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---- comparison ----------------------------------------------------------

/// A query result as comparable data: series by label text, each with its
/// points; a scalar is one series named `scalar`.
type Points = BTreeMap<String, Vec<(i64, f64)>>;

fn from_weir(answer: Answer) -> Points {
    let mut out = Points::new();
    match answer {
        Answer::Scalar(t, v) => {
            out.insert("scalar".into(), vec![(t, v)]);
        }
        Answer::Vector(samples) => {
            for s in samples {
                out.insert(s.labels.to_string(), vec![(s.t_ms, s.value)]);
            }
        }
        Answer::Matrix(series) => {
            for s in series {
                out.insert(s.labels.to_string(), s.points);
            }
        }
        Answer::String(..) => panic!("no string queries here"),
    }
    out
}

fn prom_labels(metric: &Value) -> String {
    let pairs: BTreeMap<&str, &str> = metric
        .as_object()
        .unwrap()
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str().unwrap()))
        .collect();
    aggregator::labels::Labels::new(pairs.into_iter().map(|(n, v)| (n.to_owned(), v.to_owned())))
        .to_string()
}

fn prom_point(pair: &Value) -> (i64, f64) {
    let t = (pair[0].as_f64().unwrap() * 1000.0).round() as i64;
    let v = match pair[1].as_str().unwrap() {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        text => text.parse().unwrap(),
    };
    (t, v)
}

fn from_prometheus(answer: &Value) -> Points {
    assert_eq!(answer["status"], "success", "{answer}");
    let data = &answer["data"];
    let mut out = Points::new();
    match data["resultType"].as_str().unwrap() {
        "scalar" => {
            out.insert("scalar".into(), vec![prom_point(&data["result"])]);
        }
        "vector" => {
            for s in data["result"].as_array().unwrap() {
                out.insert(prom_labels(&s["metric"]), vec![prom_point(&s["value"])]);
            }
        }
        "matrix" => {
            for s in data["result"].as_array().unwrap() {
                let points = s["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(prom_point)
                    .collect();
                out.insert(prom_labels(&s["metric"]), points);
            }
        }
        other => panic!("unexpected result type {other}"),
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn assert_same(query: &str, at: &str, weir: &Points, prometheus: &Points) {
    let names = |p: &Points| p.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(weir),
        names(prometheus),
        "{query} at {at}: different series"
    );
    for (labels, points) in weir {
        let other = &prometheus[labels];
        assert_eq!(
            points.len(),
            other.len(),
            "{query} at {at}: {labels}: point counts"
        );
        for ((t1, v1), (t2, v2)) in points.iter().zip(other) {
            assert_eq!(t1, t2, "{query} at {at}: {labels}: times");
            assert!(
                close(*v1, *v2),
                "{query} at {at}: {labels} at {t1}: weir {v1}, prometheus {v2}"
            );
        }
    }
}

const QUERIES: &[&str] = &[
    "http_requests_total",
    "queue_depth",
    "jobs_total",
    "sum by (service_name) (http_requests_total)",
    "rate(http_requests_total[5m])",
    "increase(http_requests_total[5m])",
    "irate(http_requests_total[1m])",
    "sum by (code) (rate(http_requests_total[5m]))",
    "sum without (code) (rate(http_requests_total[2m]))",
    "avg(queue_depth)",
    "max by (service_name) (queue_depth)",
    "min(queue_depth)",
    "count(queue_depth)",
    "topk(2, queue_depth)",
    "bottomk(1, queue_depth)",
    "quantile(0.5, queue_depth)",
    "stddev(queue_depth)",
    "max_over_time(queue_depth[5m])",
    "min_over_time(queue_depth[5m])",
    "avg_over_time(queue_depth[5m])",
    "sum_over_time(queue_depth[5m])",
    "count_over_time(queue_depth[5m])",
    "stddev_over_time(queue_depth[5m])",
    "changes(queue_depth[5m])",
    "resets(jobs_total[10m])",
    "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.5, rate(request_duration_seconds_bucket[5m]))",
    "rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])",
    "http_requests_total / on(service_name) group_left sum by (service_name) (http_requests_total)",
    "sum by (service_name) (rate(http_requests_total[5m])) * on(service_name) group_right queue_depth",
    "queue_depth > 10",
    "queue_depth > bool 10",
    "queue_depth and on(service_name) http_requests_total{code=\"200\"}",
    "queue_depth unless on(service_name) http_requests_total",
    "abs(queue_depth - 10)",
    "clamp_max(queue_depth, 5)",
    "clamp_min(queue_depth, 12)",
    "round(queue_depth / 3)",
    "ceil(queue_depth / 4) + floor(queue_depth / 4)",
    "label_replace(queue_depth, \"svc\", \"s-$1\", \"service_name\", \"(.*)\")",
    "absent(no_such_metric)",
    "absent(queue_depth)",
    "scalar(sum(queue_depth)) * 2",
    "vector(1) + 2",
    "time()",
];

#[test]
fn promql_answers_match_a_real_prometheus() {
    if !Path::new(PROMETHEUS).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{PROMETHEUS} is missing: scripts/setup-interop installs Debian's prometheus"
        );
        eprintln!("skipped: {PROMETHEUS} is not installed (scripts/setup-interop installs it)");
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let last = now / STEP_MS * STEP_MS - 60_000;
    let base = last - (STEPS - 1) * STEP_MS;

    let prometheus = start_prometheus(&runtime);
    let client = reqwest::Client::new();
    runtime
        .block_on(remote_write::send(
            &client,
            &format!("{}/api/v1/write", prometheus.url),
            remote_write::encode(&remote_write_request(base)),
        ))
        .unwrap();
    let weir = weir_engine(base);

    let ask = |path: &str, form: &[(&str, String)]| -> Value {
        runtime.block_on(async {
            let response = client
                .post(format!("{}{path}", prometheus.url))
                .form(form)
                .send()
                .await
                .unwrap();
            serde_json::from_str(&response.text().await.unwrap()).unwrap()
        })
    };
    let seconds = |t_ms: i64| format!("{}.{:03}", t_ms / 1000, t_ms % 1000);
    let instants: Vec<i64> = [40, 95, 120, STEPS - 1]
        .iter()
        .map(|&k| step_ms(base, k) + 5_000)
        .collect();
    let (start, end) = (step_ms(base, 40) + 5_000, step_ms(base, STEPS - 1) + 5_000);
    let mut compared = 0;
    for query in QUERIES {
        for &t in &instants {
            let theirs = from_prometheus(&ask(
                "/api/v1/query",
                &[("query", (*query).to_owned()), ("time", seconds(t))],
            ));
            let ours = from_weir(weir.instant("default", query, t).unwrap());
            assert_same(query, &seconds(t), &ours, &theirs);
            compared += ours.len();
        }
        let theirs = from_prometheus(&ask(
            "/api/v1/query_range",
            &[
                ("query", (*query).to_owned()),
                ("start", seconds(start)),
                ("end", seconds(end)),
                ("step", "60".to_owned()),
            ],
        ));
        let ours = from_weir(weir.range("default", query, start, end, 60_000).unwrap());
        assert_same(query, "range", &ours, &theirs);
        compared += ours.values().map(Vec::len).sum::<usize>();
    }
    eprintln!(
        "{} queries, {compared} values equal to Prometheus'",
        QUERIES.len()
    );
    assert!(compared > 1_000, "only {compared} values compared");
}
