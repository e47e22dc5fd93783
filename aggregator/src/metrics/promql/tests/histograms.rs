//! `histogram_quantile` over distribution windows and classic buckets.

use std::sync::Arc;

use crate::labels::Labels;
use crate::metrics::memory::{MemorySource, counter_windows, histogram_window};

use super::*;

/// Window `i` (minutes 1..=5) of pod `p` observes
/// `(p * 5000 + i * 1000 + j) * 0.0001` s for j in 0..1000.
fn observations(pod: usize, minute: usize) -> Vec<f64> {
    (0..1000)
        .map(|j| (pod * 5000 + minute * 1000 + j) as f64 * 0.0001)
        .collect()
}

pub(super) fn histogram_source() -> (Arc<MemorySource>, Vec<f64>) {
    let source = MemorySource::new(M);
    let mut all = Vec::new();
    for pod in 0..2 {
        let labels = labels(&[
            ("__name__", "latency_seconds"),
            ("svc", "api"),
            ("pod", &pod.to_string()),
        ]);
        let windows = (1..=5).map(|minute| {
            let values = observations(pod, minute);
            all.extend_from_slice(&values);
            histogram_window(minute as i64 * M, M, &values)
        });
        source.insert(TENANT, labels, windows.collect::<Vec<_>>());
    }
    (Arc::new(source), all)
}

/// The exact φ-quantile of `values`: the smallest value with at least
/// φ·n values at or below it.
fn exact(phi: f64, values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (phi * sorted.len() as f64).ceil() as usize;
    sorted[rank.max(1) - 1]
}

fn within_tenth_of_a_percent(got: f64, want: f64) {
    assert!(
        (got - want).abs() / want <= 1e-3,
        "got {got}, want {want} within 0.1%"
    );
}

fn scalar_of(engine: &PromQlEngine, query: &str, t_ms: i64) -> Vec<(Labels, f64)> {
    match engine.instant(TENANT, query, t_ms).unwrap() {
        Value::Vector(v) => v.into_iter().map(|s| (s.labels, s.value)).collect(),
        other => panic!("{query}: {other:?}"),
    }
}

#[test]
fn quantile_of_merged_distributions_over_the_range() {
    let (source, _) = histogram_source();
    let engine = engine(source);
    let pod0: Vec<f64> = (1..=5).flat_map(|m| observations(0, m)).collect();
    for phi in [0.5, 0.9, 0.99] {
        let got = scalar_of(
            &engine,
            &format!(r#"histogram_quantile({phi}, rate(latency_seconds{{pod="0"}}[5m]))"#),
            5 * M,
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, labels(&[("pod", "0"), ("svc", "api")]));
        within_tenth_of_a_percent(got[0].1, exact(phi, &pod0));
    }
}

#[test]
fn quantile_of_a_sum_across_series() {
    let (source, all) = histogram_source();
    let engine = engine(source);
    for phi in [0.25, 0.5, 0.99] {
        let got = scalar_of(
            &engine,
            &format!("histogram_quantile({phi}, sum by (svc) (increase(latency_seconds[5m])))"),
            5 * M,
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, labels(&[("svc", "api")]));
        within_tenth_of_a_percent(got[0].1, exact(phi, &all));
    }
}

#[test]
fn narrower_range_merges_fewer_windows() {
    let (source, _) = histogram_source();
    let engine = engine(source);
    // Only minute 5 of pod 0: values 0.5000 ..= 0.5999.
    let got = scalar_of(
        &engine,
        r#"histogram_quantile(0.5, rate(latency_seconds{pod="0"}[1m]))"#,
        5 * M,
    );
    within_tenth_of_a_percent(got[0].1, exact(0.5, &observations(0, 5)));
}

#[test]
fn histogram_count_sum_and_plain_selector() {
    let (source, _) = histogram_source();
    let engine = engine(source);
    // 5000 observations of pod 0 in 5 minutes.
    let count = scalar_of(
        &engine,
        r#"histogram_count(rate(latency_seconds{pod="0"}[5m]))"#,
        5 * M,
    );
    assert_close(count[0].1, 5000.0 / 300.0);
    // A plain selector has no float value in a result.
    assert!(scalar_of(&engine, "latency_seconds", 5 * M).is_empty());
    // ... but histogram_quantile reads its newest window.
    let newest = scalar_of(
        &engine,
        r#"histogram_quantile(1, latency_seconds{pod="0"})"#,
        5 * M,
    );
    within_tenth_of_a_percent(newest[0].1, 0.5999);
    // Observations over time: 5000 of pod 0.
    let n = scalar_of(
        &engine,
        r#"count_over_time(latency_seconds{pod="0"}[5m])"#,
        5 * M,
    );
    assert_eq!(n[0].1, 5000.0);
}

/// Classic buckets, one window ending at minute 1 holding the cumulative
/// counts of each `le`, per `svc`.
fn bucket_source(groups: &[(&str, &[(&str, f64)])]) -> Arc<MemorySource> {
    let source = MemorySource::new(M);
    for (svc, buckets) in groups {
        for (le, count) in buckets.iter() {
            let labels = labels(&[("__name__", "req_bucket"), ("svc", svc), ("le", le)]);
            source.insert(TENANT, labels, counter_windows(M, M, &[*count]));
        }
    }
    Arc::new(source)
}

fn classic(groups: &[(&str, &[(&str, f64)])], phi: f64) -> Vec<(Labels, f64)> {
    let engine = engine(bucket_source(groups));
    let mut got = scalar_of(
        &engine,
        &format!("histogram_quantile({phi}, rate(req_bucket[1m]))"),
        M,
    );
    got.sort_by(|a, b| a.0.cmp(&b.0));
    got
}

const GOOD: &[(&str, f64)] = &[("0.1", 10.0), ("0.5", 30.0), ("1", 40.0), ("+Inf", 50.0)];

#[test]
fn classic_buckets_interpolate_linearly() {
    // Rates are counts / 60; quantiles do not depend on the scale.
    // φ 0.5: rank 25 falls in (0.1, 0.5] holding 20, 15 into it:
    // 0.1 + 0.4 * 15/20 = 0.4.
    let got = classic(&[("api", GOOD)], 0.5);
    assert_eq!(got[0].0, labels(&[("svc", "api")]));
    assert_close(got[0].1, 0.4);
    // φ 0.1: rank 5 in the first bucket, from 0: 0.1 * 5/10.
    assert_close(classic(&[("api", GOOD)], 0.1)[0].1, 0.05);
    // φ 0.9: rank 45 lands in +Inf: the highest finite bound.
    assert_eq!(classic(&[("api", GOOD)], 0.9)[0].1, 1.0);
    // Out of range φ.
    assert_eq!(classic(&[("api", GOOD)], 1.5)[0].1, f64::INFINITY);
    assert_eq!(classic(&[("api", GOOD)], -1.0)[0].1, f64::NEG_INFINITY);
}

#[test]
fn classic_buckets_group_by_the_other_labels() {
    let web: &[(&str, f64)] = &[("1", 4.0), ("2", 8.0), ("+Inf", 8.0)];
    // web φ 0.75: rank 6 in (1, 2] holding 4, 2 into it: 1.5.
    let got = classic(&[("api", GOOD), ("web", web)], 0.75);
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].0, labels(&[("svc", "web")]));
    assert_close(got[1].1, 1.5);
}

#[test]
fn classic_buckets_are_forced_monotonic() {
    // le=1 (25) is below le=0.5 (30) and becomes 30. φ 0.8: rank 32 falls
    // in (1, 2] holding 40 - 30 = 10, 2 into it: 1.2 (1.4667 unfixed).
    let bad: &[(&str, f64)] = &[
        ("0.1", 10.0),
        ("0.5", 30.0),
        ("1", 25.0),
        ("2", 40.0),
        ("+Inf", 40.0),
    ];
    assert_close(classic(&[("api", bad)], 0.8)[0].1, 1.2);
}

#[test]
fn classic_buckets_without_inf_give_nan() {
    let no_inf: &[(&str, f64)] = &[("0.1", 10.0), ("0.5", 30.0)];
    assert!(classic(&[("api", no_inf)], 0.5)[0].1.is_nan());
}
