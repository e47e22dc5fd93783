//! Swept range queries give what stepwise evaluation gives, bit for bit,
//! and the shapes the sweep cannot answer the same way fall back.

use super::histograms::histogram_source;
use super::*;

/// A result with its floats as bits, so NaN and -0.0 compare exactly.
fn exact(value: &Value) -> Vec<(String, Vec<(i64, u64)>)> {
    match value {
        Value::Matrix(series) => series
            .iter()
            .map(|s| {
                let points = s.points.iter().map(|&(t, v)| (t, v.to_bits())).collect();
                (s.labels.to_string(), points)
            })
            .collect(),
        other => panic!("expected a matrix, got {other:?}"),
    }
}

/// Runs `query` swept and step by step; returns whether it was swept.
fn same_both_ways(engine: &PromQlEngine, query: &str, range: (i64, i64, i64)) -> bool {
    let (swept, was_swept) = engine
        .range_evaluated(TENANT, query, range, true)
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    let (stepwise, stepped) = engine.range_evaluated(TENANT, query, range, false).unwrap();
    assert!(!stepped, "{query}: stepwise evaluation reported a sweep");
    assert_eq!(exact(&swept), exact(&stepwise), "{query} over {range:?}");
    was_swept
}

/// Each range: steps on window ends, between them, and wider than them,
/// past both ends of the data (windows end at minutes 1..=10).
const RANGES: [(i64, i64, i64); 3] = [
    (0, 12 * M, M),
    (M / 2, 11 * M, 30_000),
    (-3 * M, 14 * M, 2 * M + 7_000),
];

#[test]
fn swept_shapes_match_stepwise_evaluation() {
    let engine = engine(fixture());
    let queries = [
        "http_requests_total",
        "temperature",
        r#"http_requests_total{job="api"} offset 2m"#,
        "http_requests_total @ 300",
        "rate(http_requests_total[5m])",
        "increase(http_requests_total[3m])",
        "irate(http_requests_total[5m])",
        "delta(temperature[3m])",
        "resets(temperature[5m])",
        "changes(temperature[5m])",
        "rate(http_requests_total[1m] offset -1m)",
        // Ranges narrower than two windows: rates per the time covered.
        "rate(http_requests_total[90s])",
        "rate(http_requests_total[30s])",
        "rate(temperature[4m])",
        "sum_over_time(temperature[2m])",
        "count_over_time(temperature[2m])",
        "avg_over_time(temperature[3m])",
        "min_over_time(temperature[3m])",
        "max_over_time(temperature[3m])",
        "last_over_time(temperature[3m])",
        "stddev_over_time(temperature[5m])",
        "quantile_over_time(0.5, temperature[5m])",
        "present_over_time(job_info[2m])",
        "sum by (job) (rate(http_requests_total[5m]))",
        "avg without (instance) (rate(http_requests_total[5m]))",
        "min by (method) (increase(http_requests_total[2m]))",
        "max(http_requests_total)",
        "count by (job) (http_requests_total)",
        "group by (team) (job_info)",
        "sum(rate(http_requests_total[2m])) * 60",
        "60 * (sum by (job) (rate(http_requests_total[2m])))",
        "1 - rate(http_requests_total[5m])",
        "rate(http_requests_total[5m]) > 0.02",
        "rate(http_requests_total[5m]) > bool 0.02",
        "0.02 < rate(http_requests_total[5m])",
        "temperature >= 20",
        "sum(temperature / 0)",
        "max by (job) (rate(http_requests_total[3m]) * -1)",
    ];
    for query in queries {
        for range in RANGES {
            assert!(same_both_ways(&engine, query, range), "{query}: not swept");
        }
    }
}

#[test]
fn other_shapes_are_evaluated_step_by_step() {
    let engine = engine(fixture());
    for query in [
        "topk(1, rate(http_requests_total[5m]))",
        "rate(http_requests_total[5m]) / on (job) group_left job_info",
        "sum(rate(http_requests_total[5m])) + sum(rate(http_errors_total[5m]))",
        "abs(temperature)",
        "rate(http_requests_total[5m:1m])",
        "-temperature",
        "1 + 1",
    ] {
        for range in RANGES {
            assert!(!same_both_ways(&engine, query, range), "{query}: swept");
        }
    }
}

#[test]
fn distributions_fall_back_to_stepwise_evaluation() {
    let (source, _) = histogram_source();
    let engine = super::engine(source);
    for query in [
        "histogram_quantile(0.9, sum(rate(latency_seconds[5m])))",
        "sum(rate(latency_seconds[5m]))",
        "rate(latency_seconds[5m])",
    ] {
        assert!(
            !same_both_ways(&engine, query, (0, 12 * M, M)),
            "{query}: swept"
        );
    }
    // Float views of the same histograms sweep.
    assert!(same_both_ways(
        &engine,
        "sum(rate(latency_seconds_count[5m]))",
        (0, 12 * M, M)
    ));
}

#[test]
fn colliding_label_sets_fail_as_stepwise_evaluation_fails() {
    let engine = engine(fixture());
    // Both metrics have series {instance="a", job="api", method="get"}
    // once `__name__` is dropped, and both have windows at minute 10.
    let query = r#"rate({__name__=~"http_.*"}[5m])"#;
    let range = (0, 12 * M, M);
    let swept = engine
        .range_evaluated(TENANT, query, range, true)
        .unwrap_err();
    let stepwise = engine
        .range_evaluated(TENANT, query, range, false)
        .unwrap_err();
    assert_eq!(swept.to_string(), stepwise.to_string());
    assert!(swept.to_string().contains("same labelset"), "{swept}");
}

#[test]
fn swept_results_keep_the_sample_limit() {
    let limits = QueryLimits {
        max_samples: 20,
        ..QueryLimits::default()
    };
    let engine = PromQlEngine::new(fixture(), limits);
    let err = engine
        .range(TENANT, "rate(http_requests_total[5m])", 0, 12 * M, M)
        .unwrap_err();
    assert!(
        matches!(
            err,
            AggregatorError::TooMany {
                what: "samples",
                ..
            }
        ),
        "{err}"
    );
}

/// Enough series for several batches on several threads, with values of
/// very different sizes, so that a sum folded out of order would differ
/// in its low bits.
fn many_series() -> Arc<MemorySource> {
    let source = MemorySource::new(M);
    for i in 0..1_500u32 {
        let job = ["api", "web", "db"][i as usize % 3];
        let instance = i.to_string();
        let series = labels(&[
            ("__name__", "requests_total"),
            ("job", job),
            ("instance", &instance),
        ]);
        let scale = [1e-3, 1.0, 1e9][(i as usize / 7) % 3];
        let deltas: Vec<f64> = (0..30)
            .map(|k| scale * (f64::from(i % 11) + 0.1 * f64::from(k % 7) + 1.0 / 3.0))
            .collect();
        // Every fifth series starts late, so rows differ in length.
        let first = if i % 5 == 0 { 10 * M } else { M };
        source.insert(TENANT, series, counter_windows(first, M, &deltas));
    }
    Arc::new(source)
}

#[test]
fn series_read_on_several_threads_fold_in_series_order() {
    let engine = engine(many_series());
    for query in [
        "sum(rate(requests_total[5m]))",
        "sum by (job) (increase(requests_total[3m]))",
        "avg without (instance) (rate(requests_total[2m]))",
        "rate(requests_total[5m]) * 60",
    ] {
        for range in [(0, 45 * M, M), (M / 3, 40 * M, 7 * M)] {
            assert!(same_both_ways(&engine, query, range), "{query}: not swept");
        }
    }
}
