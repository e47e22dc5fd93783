//! Window semantics from known OTLP input.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValueKind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::*;
use crate::metrics::cardinality::CardinalityLimits;
use crate::metrics::source::WindowValue;

/// An hour boundary, so every tier's windows align with it.
const T0: u64 = 1_699_999_200_000;
const NS: u64 = 1_000_000;

/// Windows as published and persisted, with the store's recovery rule.
#[derive(Default)]
struct FakeOutput {
    state: Mutex<FakeState>,
}

#[derive(Default)]
struct FakeState {
    published: Vec<(usize, ClosedWindow)>,
    persisted: Vec<(Mark, usize, ClosedWindow)>,
    metadata: Vec<MetricMetadata>,
}

impl FakeOutput {
    /// What a reader would see after a crash now: persisted windows only.
    fn crash(&self) {
        self.state.lock().unwrap().published.clear();
    }

    /// Every window by (tier, labels, end) → debug text of its value.
    fn windows(&self) -> BTreeMap<(usize, String, i64), String> {
        let state = self.state.lock().unwrap();
        let mut out = BTreeMap::new();
        let all = state
            .persisted
            .iter()
            .map(|(_, tier, w)| (*tier, w))
            .chain(state.published.iter().map(|(tier, w)| (*tier, w)));
        for (tier, w) in all {
            let key = (tier, w.series.labels.to_string(), w.end_ms);
            let previous = out.insert(key.clone(), format!("{:?}", w.value));
            assert!(previous.is_none(), "window {key:?} stored twice");
        }
        out
    }

    fn value(&self, tier: usize, labels: &str, end_ms: u64) -> WindowValue {
        let state = self.state.lock().unwrap();
        let all = state
            .persisted
            .iter()
            .map(|(_, tier, w)| (*tier, w))
            .chain(state.published.iter().map(|(tier, w)| (*tier, w)));
        for (t, w) in all {
            if t == tier && w.series.labels.to_string() == labels && w.end_ms == end_ms as i64 {
                return w.value.clone();
            }
        }
        panic!("no tier-{tier} window {labels} ending at {end_ms}");
    }
}

impl WindowOutput for FakeOutput {
    fn recover_partition(&self, _partition: u32, mark: Mark) -> Result<()> {
        let mut state = self.state.lock().unwrap();
        state.persisted.retain(|(at, _, _)| *at <= mark);
        Ok(())
    }

    fn publish(&self, _partition: u32, tier: usize, windows: Vec<ClosedWindow>) {
        let mut state = self.state.lock().unwrap();
        state
            .published
            .extend(windows.into_iter().map(|w| (tier, w)));
    }

    fn persist(&self, _partition: u32, mark: Mark) -> Result<()> {
        let mut state = self.state.lock().unwrap();
        let published = std::mem::take(&mut state.published);
        state
            .persisted
            .extend(published.into_iter().map(|(tier, w)| (mark, tier, w)));
        Ok(())
    }

    fn publish_metadata(&self, _tenant: &str, metadata: Vec<MetricMetadata>) {
        self.state.lock().unwrap().metadata.extend(metadata);
    }
}

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(AnyValueKind::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

fn record(offset: u64, metrics: Vec<Metric>) -> Record {
    let request = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![string("service.name", "api")],
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
        offset,
        timestamp: 0,
        key: None,
        value: Some(Bytes::from(request.encode_to_vec())),
        headers: Vec::new(),
    }
}

fn number(start_ms: u64, time_ms: u64, value: f64) -> NumberDataPoint {
    NumberDataPoint {
        start_time_unix_nano: start_ms * NS,
        time_unix_nano: time_ms * NS,
        value: Some(NumberValue::AsDouble(value)),
        ..Default::default()
    }
}

fn counter(
    name: &str,
    temporality: AggregationTemporality,
    points: Vec<NumberDataPoint>,
) -> Metric {
    Metric {
        name: name.to_owned(),
        data: Some(Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: temporality as i32,
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

struct Run {
    dir: tempfile::TempDir,
    output: Arc<FakeOutput>,
    cardinality: Arc<Cardinality>,
    worker: MetricsWorker,
}

impl Run {
    fn new(config: WindowConfig, limits: CardinalityLimits) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let output = Arc::new(FakeOutput::default());
        let cardinality = Arc::new(Cardinality::new(limits));
        let worker = MetricsWorker::open(
            0,
            dir.path().to_owned(),
            config,
            Arc::clone(&output) as Arc<dyn WindowOutput>,
            Arc::clone(&cardinality),
        )
        .unwrap();
        Run {
            dir,
            output,
            cardinality,
            worker,
        }
    }

    fn default() -> Run {
        Run::new(WindowConfig::default(), CardinalityLimits::default())
    }

    fn apply(&mut self, records: Vec<Record>) {
        self.worker.apply(records).unwrap();
    }

    /// Closes every window by moving the watermark far ahead.
    fn close_all(&mut self) {
        let far = self.worker.state.tiers.watermark_ms + 10 * 3_600_000;
        self.worker.advance(far);
    }

    fn crash_and_reopen(&mut self) {
        self.output.crash();
        let cardinality = Arc::new(Cardinality::new(self.cardinality.limits()));
        self.worker = MetricsWorker::open(
            0,
            self.dir.path().to_owned(),
            self.worker.config.clone(),
            Arc::clone(&self.output) as Arc<dyn WindowOutput>,
            Arc::clone(&cardinality),
        )
        .unwrap();
        self.cardinality = cardinality;
    }
}

const API: &str = r#"{__name__="requests", service_name="api"}"#;

fn counter_value(value: WindowValue) -> (f64, f64) {
    match value {
        WindowValue::Counter { delta, total } => (delta, total),
        other => panic!("expected a counter window, got {other:?}"),
    }
}

#[test]
fn cumulative_counters_give_exact_deltas_across_a_reset() {
    let mut run = Run::default();
    let start = T0 - 1_000;
    let restart = T0 + 14_000;
    let cumulative = AggregationTemporality::Cumulative;
    let points = vec![
        number(start, T0 + 1_000, 5.0), // first point: started after any closed window
        number(start, T0 + 6_000, 12.0), // +7
        number(start, T0 + 12_000, 20.0), // +8
        number(restart, T0 + 15_000, 3.0), // reset: +3
        number(restart, T0 + 18_000, 10.0), // +7
        number(restart, T0 + 24_000, 9.0), // lower value: a reset, +9
    ];
    for (i, point) in points.into_iter().enumerate() {
        run.apply(vec![record(
            i as u64,
            vec![counter("requests", cumulative, vec![point])],
        )]);
    }
    run.close_all();
    assert_eq!(
        counter_value(run.output.value(0, API, T0 + 10_000)),
        (12.0, 12.0)
    );
    assert_eq!(
        counter_value(run.output.value(0, API, T0 + 20_000)),
        (18.0, 10.0)
    );
    assert_eq!(
        counter_value(run.output.value(0, API, T0 + 30_000)),
        (9.0, 9.0)
    );
    // The minute rollup holds the three windows exactly.
    assert_eq!(
        counter_value(run.output.value(1, API, T0 + 60_000)),
        (39.0, 9.0)
    );
    assert_eq!(
        counter_value(run.output.value(2, API, T0 + 3_600_000)),
        (39.0, 9.0)
    );
}

#[test]
fn delta_counters_are_added() {
    let mut run = Run::default();
    let delta = AggregationTemporality::Delta;
    let points = vec![
        number(0, T0 + 1_000, 2.0),
        number(0, T0 + 2_000, 3.0),
        number(0, T0 + 11_000, 4.0),
    ];
    run.apply(vec![record(0, vec![counter("requests", delta, points)])]);
    run.close_all();
    assert_eq!(
        counter_value(run.output.value(0, API, T0 + 10_000)),
        (5.0, 5.0)
    );
    assert_eq!(
        counter_value(run.output.value(0, API, T0 + 20_000)),
        (4.0, 9.0)
    );
}

#[test]
fn a_late_point_within_lateness_is_merged_and_a_later_one_dropped_and_counted() {
    let mut run = Run::default(); // 10 s windows, 5 s lateness
    let at = |ms: u64, v: f64| record(0, vec![gauge("temp", vec![number(0, ms, v)])]);
    run.apply(vec![at(T0 + 5_000, 1.0), at(T0 + 14_000, 2.0)]);
    // Watermark T0+14 s: the window ending at T0+10 s is still open.
    run.apply(vec![at(T0 + 9_000, 7.0)]);
    run.apply(vec![at(T0 + 16_000, 3.0)]); // watermark T0+16 s closes it
    run.apply(vec![at(T0 + 8_000, 100.0)]); // too late
    assert_eq!(run.worker.state.drops.late, 1);
    run.close_all();
    let WindowValue::Gauge {
        count,
        sum,
        min,
        max,
        last,
    } = run
        .output
        .value(0, r#"{__name__="temp", service_name="api"}"#, T0 + 10_000)
    else {
        panic!("a gauge window");
    };
    assert_eq!((count, sum, min, max, last), (2, 8.0, 1.0, 7.0, 7.0));
}

#[test]
fn restart_mid_stream_gives_the_same_windows_as_an_uninterrupted_run() {
    let records: Vec<Record> = (0..120u64)
        .map(|i| {
            let t = T0 + i * 1_500;
            let start = if i < 70 {
                T0 - 500
            } else {
                T0 + 70 * 1_500 - 100
            };
            let value = if i < 70 {
                (i * 3) as f64
            } else {
                ((i - 70) * 2) as f64
            };
            record(
                i,
                vec![
                    counter(
                        "requests",
                        AggregationTemporality::Cumulative,
                        vec![number(start, t, value)],
                    ),
                    gauge("temp", vec![number(0, t, (i % 17) as f64)]),
                ],
            )
        })
        .collect();

    let mut whole = Run::default();
    whole.apply(records.clone());
    whole.close_all();

    let mut interrupted = Run::default();
    interrupted.apply(records[..40].to_vec());
    interrupted.worker.checkpoint(40).unwrap();
    interrupted.apply(records[40..95].to_vec());
    interrupted.worker.checkpoint(95).unwrap();
    interrupted.apply(records[95..110].to_vec()); // applied, never checkpointed
    interrupted.crash_and_reopen();
    assert_eq!(interrupted.worker.start_offset(), 95);
    interrupted.apply(records[95..].to_vec());
    interrupted.close_all();

    let expected = whole.output.windows();
    assert!(
        expected.len() > 40,
        "the run closed {} windows",
        expected.len()
    );
    assert_eq!(interrupted.output.windows(), expected);
}

fn exponential(name: &str, scale: i32, values: &[f64], time_ms: u64) -> Metric {
    let base_log = (-f64::from(scale)).exp2();
    let mut buckets: BTreeMap<i32, u64> = BTreeMap::new();
    for v in values {
        // Bucket i holds (base^i, base^(i+1)].
        let index = (v.log2() / base_log).ceil() as i32 - 1;
        *buckets.entry(index).or_default() += 1;
    }
    let offset = *buckets.keys().next().unwrap();
    let last = *buckets.keys().last().unwrap();
    let counts = (offset..=last)
        .map(|i| buckets.get(&i).copied().unwrap_or(0))
        .collect();
    Metric {
        name: name.to_owned(),
        data: Some(Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![ExponentialHistogramDataPoint {
                time_unix_nano: time_ms * NS,
                count: values.len() as u64,
                sum: Some(values.iter().sum()),
                scale,
                positive: Some(Buckets {
                    offset,
                    bucket_counts: counts,
                }),
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Delta as i32,
        })),
        ..Default::default()
    }
}

#[test]
fn percentiles_are_within_the_configured_relative_error_of_the_raw_values() {
    let mut run = Run::default(); // 3 significant figures: 0.1%
    // A skewed latency distribution: 20,000 values from 1 ms to ~5 s.
    let mut values: Vec<f64> = (1..=20_000u64)
        .map(|i| 0.001 * (1.0 + (i as f64 / 2_400.0).exp() * (1.0 + (i % 7) as f64 / 10.0)))
        .collect();
    // Split across several points and windows of one minute.
    let records = values
        .chunks(2_500)
        .enumerate()
        .map(|(i, chunk)| {
            record(
                i as u64,
                vec![exponential(
                    "latency",
                    20,
                    chunk,
                    T0 + 1_000 + i as u64 * 7_000,
                )],
            )
        })
        .collect();
    run.apply(records);
    run.close_all();
    values.sort_by(f64::total_cmp);
    let WindowValue::Histogram {
        count,
        distribution,
        ..
    } = run.output.value(
        1,
        r#"{__name__="latency", service_name="api"}"#,
        T0 + 60_000,
    )
    else {
        panic!("a histogram window");
    };
    assert_eq!(count, 20_000);
    for q in [0.5, 0.9, 0.99] {
        let exact = values[(q * values.len() as f64).ceil() as usize - 1];
        let got = distribution.quantile(q).unwrap();
        let error = (got - exact).abs() / exact;
        assert!(
            error <= 1e-3,
            "p{}: {got} vs exact {exact}: relative error {error}",
            q * 100.0
        );
    }
}

#[test]
fn explicit_histograms_give_classic_buckets_count_and_sum() {
    let mut run = Run::default();
    let point = |time_ms: u64, counts: Vec<u64>, sum: f64| HistogramDataPoint {
        start_time_unix_nano: (T0 - 500) * NS,
        time_unix_nano: time_ms * NS,
        count: counts.iter().sum(),
        sum: Some(sum),
        bucket_counts: counts,
        explicit_bounds: vec![0.1, 1.0],
        ..Default::default()
    };
    let metric = |p| Metric {
        name: "rpc.duration".to_owned(),
        data: Some(Data::Histogram(Histogram {
            data_points: vec![p],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        })),
        ..Default::default()
    };
    run.apply(vec![record(
        0,
        vec![metric(point(T0 + 1_000, vec![1, 2, 0], 1.5))],
    )]);
    run.apply(vec![record(
        1,
        vec![metric(point(T0 + 11_000, vec![3, 2, 1], 4.0))],
    )]);
    run.close_all();
    let name = |suffix: &str, le: Option<&str>| match le {
        Some(le) => {
            format!(r#"{{__name__="rpc_duration{suffix}", le="{le}", service_name="api"}}"#)
        }
        None => format!(r#"{{__name__="rpc_duration{suffix}", service_name="api"}}"#),
    };
    let second = T0 + 20_000;
    assert_eq!(
        counter_value(run.output.value(0, &name("_count", None), second)),
        (3.0, 6.0)
    );
    assert_eq!(
        counter_value(run.output.value(0, &name("_sum", None), second)),
        (2.5, 4.0)
    );
    assert_eq!(
        counter_value(run.output.value(0, &name("_bucket", Some("0.1")), second)),
        (2.0, 3.0)
    );
    assert_eq!(
        counter_value(run.output.value(0, &name("_bucket", Some("1")), second)),
        (2.0, 5.0)
    );
    assert_eq!(
        counter_value(run.output.value(0, &name("_bucket", Some("+Inf")), second)),
        (3.0, 6.0)
    );
    let WindowValue::Histogram {
        count,
        sum,
        distribution,
    } = run.output.value(0, &name("", None), second)
    else {
        panic!("a histogram window");
    };
    assert_eq!((count, sum, distribution.count()), (3, 2.5, 3));
}

#[test]
fn series_past_the_cardinality_limit_are_dropped_and_counted() {
    let limits = CardinalityLimits {
        max_series_per_tenant: 100,
        max_series_per_metric: 3,
    };
    let mut run = Run::new(WindowConfig::default(), limits);
    let points = (0..5)
        .map(|i| NumberDataPoint {
            attributes: vec![string("path", &format!("/{i}"))],
            ..number(0, T0 + 1_000, 1.0)
        })
        .collect();
    run.apply(vec![record(0, vec![gauge("temp", points)])]);
    assert_eq!(run.worker.series(), 3);
    assert_eq!(run.worker.state.drops.metric_limit, 2);
    assert_eq!(run.cardinality.active("default"), 3);
}

#[test]
fn a_corrupt_checkpoint_is_an_error_that_names_the_file() {
    let mut run = Run::default();
    run.apply(vec![record(
        0,
        vec![gauge("temp", vec![number(0, T0 + 1_000, 1.0)])],
    )]);
    run.worker.checkpoint(1).unwrap();
    let path = run.dir.path().join("p0.checkpoint");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    bytes.truncate(last - 3);
    std::fs::write(&path, bytes).unwrap();
    let error = MetricsWorker::open(
        0,
        run.dir.path().to_owned(),
        WindowConfig::default(),
        Arc::new(FakeOutput::default()),
        Arc::new(Cardinality::new(CardinalityLimits::default())),
    )
    .err()
    .expect("a corrupt checkpoint is refused");
    assert!(error.to_string().contains("p0.checkpoint"), "{error}");
}

/// The window store in place of the fake: a worker that crashes — once
/// between persisting its windows and writing its checkpoint, once with
/// applied records never checkpointed — and replays, leaves the store with
/// the same windows, in every tier, as an uninterrupted run, blocks
/// included.
#[test]
fn restart_mid_stream_with_the_window_store_gives_the_same_windows() {
    use crate::labels::{MatchOp, Matcher};
    use crate::metrics::source::{SeriesSelect, SeriesSource};
    use crate::metrics::store::{StoreConfig, TierConfig, WindowStore};
    use crate::query::Deadline;

    // Three hours of records, 5 s apart: spans of tier 0 (15 min) and of
    // tier 1 (90 min) complete, so blocks are cut.
    let records: Vec<Record> = (0..2_160u64)
        .map(|i| {
            let t = T0 + i * 5_000;
            let (start, value) = if i < 1_000 {
                (T0 - 500, (i * 3) as f64)
            } else {
                (T0 + 1_000 * 5_000 - 100, ((i - 1_000) * 2) as f64)
            };
            record(
                i,
                vec![
                    counter(
                        "requests",
                        AggregationTemporality::Cumulative,
                        vec![number(start, t, value)],
                    ),
                    gauge("temp", vec![number(0, t, (i % 17) as f64)]),
                ],
            )
        })
        .collect();
    let config = WindowConfig::default();
    let store_config = StoreConfig {
        tiers: config
            .tiers_ms
            .iter()
            .map(|&window_ms| TierConfig {
                window_ms,
                retention: std::time::Duration::from_secs(400 * 86_400),
            })
            .collect(),
        cache_bytes: 16 << 20,
    };
    struct Node {
        dir: tempfile::TempDir,
        store: Arc<WindowStore>,
        worker: MetricsWorker,
    }
    let open = |dir: tempfile::TempDir| {
        let mut store =
            WindowStore::open(&dir.path().join("windows"), store_config.clone()).unwrap();
        store.set_clock(|| (T0 + 86_400_000) as i64);
        let worker = MetricsWorker::open(
            0,
            dir.path().to_owned(),
            WindowConfig::default(),
            Arc::clone(&store) as Arc<dyn WindowOutput>,
            Arc::new(Cardinality::new(CardinalityLimits::default())),
        )
        .unwrap();
        Node { dir, store, worker }
    };
    let apply = |node: &mut Node, range: std::ops::Range<usize>| {
        for chunk in records[range].chunks(60) {
            node.worker.apply(chunk.to_vec()).unwrap();
            node.worker
                .checkpoint(chunk.last().unwrap().offset + 1)
                .unwrap();
        }
    };
    let finish = |node: &mut Node| {
        let far = node.worker.state.tiers.watermark_ms + 10 * 3_600_000;
        node.worker.advance(far);
        node.worker.checkpoint(records.len() as u64).unwrap();
    };
    let windows = |store: &WindowStore| -> Vec<String> {
        let mut out = Vec::new();
        for (tier, &window_ms) in config.tiers_ms.iter().enumerate() {
            let select = SeriesSelect {
                tenant: log_core::appender::DEFAULT_TENANT.to_owned(),
                matchers: vec![Matcher::new("__name__", MatchOp::Regex, ".+").unwrap()],
                start_ms: T0 as i64 - 1,
                end_ms: (T0 + 86_400_000) as i64,
                resolution_ms: window_ms,
            };
            assert_eq!(store.tier_for(select.start_ms, window_ms), tier);
            for series in store
                .select(
                    &select,
                    100,
                    Deadline::after(std::time::Duration::from_secs(10)),
                )
                .unwrap()
            {
                for w in series.windows {
                    out.push(format!(
                        "{tier} {} {} {:?}",
                        series.labels, w.end_ms, w.value
                    ));
                }
            }
        }
        out
    };

    let mut whole = open(tempfile::tempdir().unwrap());
    apply(&mut whole, 0..records.len());
    finish(&mut whole);
    let expected = windows(&whole.store);
    assert!(
        whole.store.stats().blocks[0] >= 10,
        "{:?}",
        whole.store.stats()
    );
    assert!(
        whole.store.stats().blocks[1] >= 1,
        "{:?}",
        whole.store.stats()
    );

    let mut node = open(tempfile::tempdir().unwrap());
    apply(&mut node, 0..900);
    // Persisted, but the crash came before the checkpoint was written:
    // the checkpoint file is the one from before.
    let checkpoint = node.dir.path().join("p0.checkpoint");
    let saved = std::fs::read(&checkpoint).unwrap();
    apply(&mut node, 900..960);
    std::fs::write(&checkpoint, saved).unwrap();
    let Node { dir, store, worker } = node;
    drop((worker, store));
    let mut node = open(dir);
    assert_eq!(node.worker.start_offset(), 900);
    apply(&mut node, 900..1_700);
    // Applied and published, never checkpointed.
    node.worker.apply(records[1_700..1_800].to_vec()).unwrap();
    let Node { dir, store, worker } = node;
    drop((worker, store));
    let mut node = open(dir);
    assert_eq!(node.worker.start_offset(), 1_700);
    apply(&mut node, 1_700..records.len());
    finish(&mut node);

    assert!(expected.len() > 2_000, "{} windows", expected.len());
    same_windows(&windows(&node.store), &expected);
    // And once more from disk alone.
    let Node { dir, store, worker } = node;
    drop((worker, store));
    let node = open(dir);
    same_windows(&windows(&node.store), &expected);
}

/// Names the first window that differs, rather than printing thousands.
fn same_windows(got: &[String], expected: &[String]) {
    if let Some(i) = (0..got.len().min(expected.len())).find(|&i| got[i] != expected[i]) {
        panic!(
            "window {i} differs:\n  got      {}\n  expected {}",
            got[i], expected[i]
        );
    }
    assert_eq!(got.len(), expected.len(), "window counts differ");
}
