//! Rolling OTLP metric points into windows, against the floor of decoding
//! the same records.
//!
//! The records look like an SDK's periodic export: per service, counters,
//! gauges and explicit-bucket histograms (14 bounds, as the OpenTelemetry
//! HTTP duration advice) with route, method and status attributes; each
//! record holds 1,000 data points of distinct series, and time advances a
//! window every round so windows keep closing. Throughput is data points
//! per second (a histogram point counts once, as OTLP counts it).
//!
//! Run: `cargo bench -p aggregator --bench windows`.

use std::sync::Arc;
use std::time::Duration;

use aggregator::consumer::PartitionSink;
use aggregator::metrics::cardinality::{Cardinality, CardinalityLimits};
use aggregator::metrics::source::MetricMetadata;
use aggregator::metrics::window::ClosedWindow;
use aggregator::metrics::worker::{Mark, MetricsWorker, WindowConfig, WindowOutput};
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
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

const POINTS_PER_RECORD: usize = 1_000;
const SERIES: usize = 10_000;
const BOUNDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
/// An hour boundary in 2023.
const T0_MS: u64 = 1_699_999_200_000;

struct NullOutput;

impl WindowOutput for NullOutput {
    fn recover_partition(&self, _: u32, _: Mark) -> aggregator::Result<()> {
        Ok(())
    }
    fn publish(&self, _: u32, _: usize, windows: Vec<ClosedWindow>) {
        std::hint::black_box(windows);
    }
    fn persist(&self, _: u32, _: Mark) -> aggregator::Result<()> {
        Ok(())
    }
    fn publish_metadata(&self, _: &str, _: Vec<MetricMetadata>) {}
}

fn kv(key: &str, value: AnyValueKind) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn attributes(series: usize) -> Vec<KeyValue> {
    vec![
        kv(
            "http.route",
            AnyValueKind::StringValue(format!("/api/v1/items/{}", series % 50)),
        ),
        kv(
            "http.request.method",
            AnyValueKind::StringValue(["GET", "POST"][series % 2].to_owned()),
        ),
        kv(
            "http.response.status_code",
            AnyValueKind::IntValue([200, 404, 500][series % 3]),
        ),
    ]
}

fn point(series: usize, round: u64) -> (usize, Data) {
    let time = (T0_MS + round * 10_000 + (series as u64 % 5_000)) * 1_000_000;
    let start = (T0_MS - 1_000) * 1_000_000;
    let number = |value: f64| NumberDataPoint {
        attributes: attributes(series),
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(NumberValue::AsDouble(value)),
        ..Default::default()
    };
    match series % 4 {
        0 => (
            0,
            Data::Sum(Sum {
                data_points: vec![number((round * 7 + series as u64) as f64)],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            }),
        ),
        1 | 2 => (
            1,
            Data::Gauge(Gauge {
                data_points: vec![number((series % 97) as f64)],
            }),
        ),
        _ => {
            let counts: Vec<u64> = (0..=BOUNDS.len() as u64).map(|b| round * (b % 4)).collect();
            (
                2,
                Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        attributes: attributes(series),
                        start_time_unix_nano: start,
                        time_unix_nano: time,
                        count: counts.iter().sum(),
                        sum: Some(round as f64 * 3.5),
                        bucket_counts: counts,
                        explicit_bounds: BOUNDS.to_vec(),
                        ..Default::default()
                    }],
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                }),
            )
        }
    }
}

/// One record: `POINTS_PER_RECORD` series of one service at `round`.
fn record(index: usize, round: u64) -> Record {
    let first = (index * POINTS_PER_RECORD) % SERIES;
    let names = [
        "http.server.requests",
        "process.memory.usage",
        "http.server.request.duration",
    ];
    let mut metrics: Vec<Metric> = Vec::new();
    for s in first..first + POINTS_PER_RECORD {
        let (kind, data) = point(s, round);
        metrics.push(Metric {
            name: names[kind].to_owned(),
            data: Some(data),
            ..Default::default()
        });
    }
    let request = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv(
                        "service.name",
                        AnyValueKind::StringValue(format!("svc-{}", first / 2_000)),
                    ),
                    kv("host.name", AnyValueKind::StringValue("host-1".to_owned())),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Record {
        offset: 0,
        timestamp: 0,
        key: None,
        value: Some(Bytes::from(request.encode_to_vec())),
        headers: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let per_round = SERIES / POINTS_PER_RECORD;
    let rounds = 12u64;
    let records: Vec<Vec<Record>> = (0..rounds)
        .map(|round| (0..per_round).map(|i| record(i, round)).collect())
        .collect();
    let points = (rounds as usize * SERIES) as u64;
    let mut group = c.benchmark_group("windows");
    group.throughput(Throughput::Elements(points));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("decode only (floor)", |b| {
        b.iter(|| {
            for round in &records {
                for r in round {
                    let value = r.value.as_deref().unwrap_or_default();
                    std::hint::black_box(ExportMetricsServiceRequest::decode(value).unwrap());
                }
            }
        })
    });
    group.bench_function("decode and roll into windows", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let worker = MetricsWorker::open(
                    0,
                    dir.path().to_owned(),
                    WindowConfig::default(),
                    Arc::new(NullOutput),
                    Arc::new(Cardinality::new(CardinalityLimits::default())),
                )
                .unwrap();
                (dir, worker)
            },
            |(dir, mut worker)| {
                for round in &records {
                    worker.apply(round.clone()).unwrap();
                }
                (dir, worker)
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
