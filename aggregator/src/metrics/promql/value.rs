//! Query results, and the values evaluation passes between nodes.
//!
//! Results ([`Value`]) carry floats only, as the Prometheus HTTP API does.
//! Inside the engine an instant-vector element may instead carry a
//! distribution ([`Point::Dist`]): the merged HdrHistogram of a histogram
//! series' windows, which flows through `rate`, `increase`, `sum` and
//! `last_over_time` into `histogram_quantile`, `histogram_count`,
//! `histogram_sum` and `histogram_avg`. A distribution that reaches a
//! result, or a float-only operation, is dropped.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use crate::error::{AggregatorError, Result};
use crate::labels::Labels;
use crate::metrics::distribution::Distribution;
use crate::metrics::source::Window;

/// The name label every series carries.
pub const METRIC_NAME: &str = "__name__";

/// What a query evaluates to.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `(t_ms, value)`.
    Scalar(i64, f64),
    /// `(t_ms, value)`.
    String(i64, String),
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub t_ms: i64,
    pub value: f64,
}

/// One series of a range vector or of a range query's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    /// `(t_ms, value)` in ascending time order.
    pub points: Vec<(i64, f64)>,
}

/// The value of one vector element while evaluating.
#[derive(Debug, Clone)]
pub(crate) enum Point {
    Float(f64),
    Dist(DistPoint),
}

impl Point {
    pub(crate) fn float(&self) -> Option<f64> {
        match self {
            Point::Float(v) => Some(*v),
            Point::Dist(_) => None,
        }
    }
}

/// Observations merged from histogram windows; `count` and `sum` are
/// scaled like the distribution's use (`rate` divides them by seconds).
#[derive(Debug, Clone)]
pub(crate) struct DistPoint {
    pub distribution: Arc<Distribution>,
    pub count: f64,
    pub sum: f64,
}

/// One element of an instant vector while evaluating.
#[derive(Debug, Clone)]
pub(crate) struct Elem {
    pub labels: Labels,
    pub point: Point,
}

impl Elem {
    pub(crate) fn float(labels: Labels, value: f64) -> Elem {
        Elem {
            labels,
            point: Point::Float(value),
        }
    }
}

/// One series of a range vector: the windows ending in the range. A
/// subquery's points become one-point gauge windows.
#[derive(Debug, Clone)]
pub(crate) struct RangeSeries<'a> {
    pub labels: Labels,
    pub windows: Cow<'a, [Window]>,
}

/// What a node evaluates to at one instant.
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    Scalar(f64),
    String(String),
    Vector(Vec<Elem>),
    /// A range vector and its width.
    Range {
        series: Vec<RangeSeries<'a>>,
        range_ms: i64,
    },
}

impl Val<'_> {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Val::Scalar(_) => "scalar",
            Val::String(_) => "string",
            Val::Vector(_) => "instant vector",
            Val::Range { .. } => "range vector",
        }
    }
}

/// Fails when two elements have the same labels, as Prometheus does for
/// the output of every function, operator and the query itself: where
/// only `__name__` told series apart (`rate({__name__=~"a|b"}[5m])`), or
/// a `label_replace` erased what did. Checked per evaluation step, so
/// series that never hold a sample at the same step do not collide.
pub(crate) fn unique(elems: Vec<Elem>) -> Result<Vec<Elem>> {
    if elems.len() < 2 {
        return Ok(elems);
    }
    let mut seen: HashSet<&Labels> = HashSet::with_capacity(elems.len());
    for e in &elems {
        if !seen.insert(&e.labels) {
            return Err(AggregatorError::BadRequest(format!(
                "vector cannot contain metrics with the same labelset {}",
                e.labels
            )));
        }
    }
    Ok(elems)
}

/// `labels` without `__name__`.
pub(crate) fn drop_name(labels: &Labels) -> Labels {
    retain_labels(labels, |name| name != METRIC_NAME)
}

/// `labels` with only the pairs whose name `keep` accepts.
pub(crate) fn retain_labels(labels: &Labels, keep: impl Fn(&str) -> bool) -> Labels {
    Labels::new(
        labels
            .iter()
            .filter(|(name, _)| keep(name))
            .map(|(name, value)| (name.to_owned(), value.to_owned())),
    )
}

/// `labels` with `name` set to `value`; an empty value removes the label.
pub(crate) fn set_label(labels: &Labels, name: &str, value: &str) -> Labels {
    Labels::new(
        labels
            .iter()
            .filter(|(n, _)| *n != name)
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .chain(std::iter::once((name.to_owned(), value.to_owned()))),
    )
}

/// A float as Prometheus prints it in label values (`count_values`).
pub(crate) fn format_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value == f64::INFINITY {
        "+Inf".to_owned()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        value.to_string()
    }
}
