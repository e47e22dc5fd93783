//! Engine tests over a [`MemorySource`] holding hand-built windows.
//! Expected values are worked out by hand in the comments next to them.
//!
//! The fixture, one-minute windows ending at minutes 1..=10 (`M` = 1 min):
//! - `http_requests_total` counters: `{job="api", instance="a",
//!   method="get"}` deltas 1..=10 (totals 1, 3, 6, 10, 15, 21, 28, 36, 45,
//!   55); `{job="api", instance="b", method="post"}` deltas 2 (totals 2,
//!   4, ... 20); `{job="web", instance="c", method="get"}` deltas 1
//!   (totals 1..=10).
//! - `http_errors_total` counters: `{job="api", instance="a",
//!   method="get"}` total 5 and `{job="api", instance="b",
//!   method="post"}` total 4 at minute 10.
//! - `job_info` gauges, value 1: `{job="api", team="core"}`,
//!   `{job="web", team="edge"}`, minutes 1..=10.
//! - `temperature{room="kitchen"}` gauge windows at minutes 1..=5, see
//!   [`kitchen`].

mod aggregations;
mod binary;
mod functions;
mod histograms;
mod queries;
mod range_functions;
mod selectors;
mod sweep;

use std::sync::Arc;

use crate::labels::Labels;
use crate::metrics::memory::{MemorySource, counter_windows, gauge_window};
use crate::metrics::source::{Window, WindowValue};
use crate::query::QueryLimits;
use crate::{AggregatorError, Result};

use super::{PromQlEngine, Value};

/// One minute in milliseconds.
pub(super) const M: i64 = 60_000;
pub(super) const TENANT: &str = "t";

pub(super) fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    )
}

/// The kitchen's gauge windows, `(count, sum, min, max, last)`:
/// (2, 30, 10, 20, 20), (3, 45, 12, 18, 15), (1, 25, 25, 25, 25),
/// (4, 40, 5, 15, 5), (2, 50, 22, 28, 28).
pub(super) fn kitchen() -> Vec<Window> {
    let rows = [
        (2, 30.0, 10.0, 20.0, 20.0),
        (3, 45.0, 12.0, 18.0, 15.0),
        (1, 25.0, 25.0, 25.0, 25.0),
        (4, 40.0, 5.0, 15.0, 5.0),
        (2, 50.0, 22.0, 28.0, 28.0),
    ];
    rows.iter()
        .enumerate()
        .map(|(i, &(count, sum, min, max, last))| Window {
            start_ms: i as i64 * M,
            end_ms: (i as i64 + 1) * M,
            value: WindowValue::Gauge {
                count,
                sum,
                min,
                max,
                last,
            },
        })
        .collect()
}

/// The standard fixture described at the top of this file.
pub(super) fn fixture() -> Arc<MemorySource> {
    let source = MemorySource::new(M);
    let req = |job: &str, instance: &str, method: &str| {
        labels(&[
            ("__name__", "http_requests_total"),
            ("job", job),
            ("instance", instance),
            ("method", method),
        ])
    };
    let deltas_a: Vec<f64> = (1..=10).map(f64::from).collect();
    source.insert(
        TENANT,
        req("api", "a", "get"),
        counter_windows(M, M, &deltas_a),
    );
    source.insert(
        TENANT,
        req("api", "b", "post"),
        counter_windows(M, M, &[2.0; 10]),
    );
    source.insert(
        TENANT,
        req("web", "c", "get"),
        counter_windows(M, M, &[1.0; 10]),
    );
    let err = |instance: &str, method: &str| {
        labels(&[
            ("__name__", "http_errors_total"),
            ("job", "api"),
            ("instance", instance),
            ("method", method),
        ])
    };
    let mut five = [0.0; 10];
    five[9] = 5.0;
    let mut four = [0.0; 10];
    four[9] = 4.0;
    source.insert(TENANT, err("a", "get"), counter_windows(M, M, &five));
    source.insert(TENANT, err("b", "post"), counter_windows(M, M, &four));
    for (job, team) in [("api", "core"), ("web", "edge")] {
        let info = labels(&[("__name__", "job_info"), ("job", job), ("team", team)]);
        source.insert(TENANT, info, (1..=10).map(|i| gauge_window(i * M, M, 1.0)));
    }
    source.insert(
        TENANT,
        labels(&[("__name__", "temperature"), ("room", "kitchen")]),
        kitchen(),
    );
    Arc::new(source)
}

pub(super) fn engine(source: Arc<MemorySource>) -> PromQlEngine {
    PromQlEngine::new(source, QueryLimits::default())
}

/// `query` at `t_ms` over the fixture.
pub(super) fn instant(query: &str, t_ms: i64) -> Result<Value> {
    engine(fixture()).instant(TENANT, query, t_ms)
}

/// The vector `query` gives at `t_ms`, as `(labels, value)` sorted.
pub(super) fn vector(query: &str, t_ms: i64) -> Vec<(String, f64)> {
    match instant(query, t_ms) {
        Ok(Value::Vector(samples)) => {
            let mut out: Vec<(String, f64)> = samples
                .into_iter()
                .map(|s| {
                    assert_eq!(s.t_ms, t_ms, "{query}: sample time");
                    (s.labels.to_string(), s.value)
                })
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        }
        other => panic!("{query}: expected a vector, got {other:?}"),
    }
}

/// The value of a one-element vector or a scalar.
pub(super) fn one(query: &str, t_ms: i64) -> f64 {
    match instant(query, t_ms) {
        Ok(Value::Scalar(_, v)) => v,
        Ok(Value::Vector(samples)) if samples.len() == 1 => samples[0].value,
        other => panic!("{query}: expected one value, got {other:?}"),
    }
}

/// The error `query` gives at `t_ms`.
pub(super) fn error(query: &str, t_ms: i64) -> AggregatorError {
    match instant(query, t_ms) {
        Err(e) => e,
        Ok(v) => panic!("{query}: expected an error, got {v:?}"),
    }
}

pub(super) fn assert_close(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "got {got}, want {want}"
    );
}
