//! Range aggregations (`count_over_time`, `rate`, `sum_over_time`, ...):
//! one `select` covering every window, then windows slid over each series.
//!
//! At step time `t` the window is `(t - offset - range, t - offset]`, left
//! open and right closed, as in Loki. A series has no value at a step
//! whose window holds no sample (so `count_over_time` never yields 0).
//! The series of a sample is every label of its entry after the pipeline
//! (stream labels, structured metadata, extracted labels), less the
//! unwrapped label, narrowed by the aggregation's own `by`/`without`. A
//! sample whose labels carry `__error__` fails the query, as in Loki.

use std::collections::HashMap;
use std::ops::ControlFlow;

use crate::error::{AggregatorError, Result};
use crate::labels::Labels;
use crate::logs::source::{Direction, LogSource};

use super::ast::{RangeAggregation, RangeOp, Unwrap};
use super::context::{Context, hold_sample};
use super::entry_labels::{ERROR_LABEL, EntryLabels};
use super::matrix::{MatrixBuilder, StepSeries, Steps};
use super::pipeline::{self, Processed, read_number, unit_name};
use super::vector::group_labels;

const SAMPLE_ERROR: &str = "SampleExtractionErr";

/// Evaluates a range aggregation at every step.
pub(crate) fn evaluate<S: LogSource + ?Sized>(
    ctx: &mut Context<'_, S>,
    agg: &RangeAggregation,
    steps: &Steps,
) -> Result<Vec<StepSeries>> {
    let last = steps.time(steps.count - 1).saturating_sub(agg.offset_nanos);
    let first = steps.start_nanos.saturating_sub(agg.offset_nanos);
    let start_nanos = first.saturating_sub(agg.range_nanos).saturating_add(1);
    let end_nanos = last.saturating_add(1);

    let mut series: HashMap<Labels, Vec<(i64, f64)>> = HashMap::new();
    let mut held = ctx.samples;
    let (max_samples, max_series) = (ctx.limits.max_samples, ctx.limits.max_series);
    ctx.select(
        &agg.log,
        start_nanos,
        end_nanos,
        Direction::Forward,
        &mut |entry| {
            let (key, timestamp, value) = match sample(agg, entry) {
                Sampled::Skip => return ControlFlow::Continue(()),
                Sampled::Failed(error) => return ControlFlow::Break(Some(error)),
                Sampled::Point {
                    key,
                    timestamp,
                    value,
                } => (key, timestamp, value),
            };
            if let Err(error) = hold_sample(&mut held, max_samples) {
                return ControlFlow::Break(Some(error));
            }
            if !series.contains_key(&key) && series.len() >= max_series {
                return ControlFlow::Break(Some(AggregatorError::TooMany {
                    what: "series",
                    limit: max_series,
                }));
            }
            series.entry(key).or_default().push((timestamp, value));
            ControlFlow::Continue(())
        },
    )?;
    ctx.samples = held;

    let mut out = MatrixBuilder::new(steps.count);
    for (labels, mut points) in series {
        ctx.deadline.check()?;
        points.sort_by_key(|&(timestamp, _)| timestamp);
        let (mut lo, mut hi) = (0, 0);
        for index in 0..steps.count {
            let end = steps.time(index).saturating_sub(agg.offset_nanos);
            let start = end.saturating_sub(agg.range_nanos);
            while hi < points.len() && points[hi].0 <= end {
                hi += 1;
            }
            while lo < hi && points[lo].0 <= start {
                lo += 1;
            }
            if lo < hi {
                let value = aggregate(agg, &points[lo..hi]);
                out.set(&labels, index, value);
            }
        }
    }
    Ok(out.build())
}

/// What one entry contributes to a range aggregation.
enum Sampled {
    /// Nothing: it lacks the unwrapped label, or a post-unwrap filter
    /// dropped it.
    Skip,
    /// The query fails: the sample carries a pipeline error.
    Failed(AggregatorError),
    Point {
        key: Labels,
        timestamp: i64,
        value: f64,
    },
}

fn sample(agg: &RangeAggregation, entry: Processed) -> Sampled {
    let Processed {
        timestamp_nanos,
        line,
        mut labels,
    } = entry;
    let value = match &agg.unwrap {
        None if matches!(agg.op, RangeOp::BytesOverTime | RangeOp::BytesRate) => line.len() as f64,
        None => 1.0,
        Some(unwrap) => match unwrapped(unwrap, &mut labels) {
            Some(value) => value,
            None => return Sampled::Skip,
        },
    };
    let all = labels.all();
    if let Some(error) = all.get(ERROR_LABEL) {
        let message = format!(
            "pipeline error: {error:?} for series {all}; use a label filter to skip it \
             intentionally, e.g. | __error__!={error:?}"
        );
        return Sampled::Failed(AggregatorError::BadRequest(message));
    }
    let key = match &agg.grouping {
        Some(grouping) => group_labels(&all, grouping),
        None => all,
    };
    Sampled::Point {
        key,
        timestamp: timestamp_nanos,
        value,
    }
}

/// Takes the unwrapped label's value out of the labels, then runs the
/// filters after the unwrap; a value that does not convert is 0 with
/// `__error__="SampleExtractionErr"`, as in Loki.
fn unwrapped(unwrap: &Unwrap, labels: &mut EntryLabels) -> Option<f64> {
    let raw = labels.remove(&unwrap.label)?;
    let value = match read_number(&raw, unwrap.unit) {
        Some(value) => value,
        None => {
            let details = format!(
                "label {}: cannot read {raw:?} as a {}",
                unwrap.label,
                unit_name(unwrap.unit)
            );
            labels.set_error(SAMPLE_ERROR, details);
            0.0
        }
    };
    for filter in &unwrap.filters {
        if !pipeline::filter_labels(filter, labels) {
            return None;
        }
    }
    Some(value)
}

/// The aggregation over one non-empty window.
fn aggregate(agg: &RangeAggregation, window: &[(i64, f64)]) -> f64 {
    let values = || window.iter().map(|&(_, v)| v);
    let count = window.len() as f64;
    let sum = || values().sum::<f64>();
    let range_seconds = agg.range_nanos as f64 / 1e9;
    match agg.op {
        RangeOp::CountOverTime => count,
        RangeOp::Rate if agg.unwrap.is_none() => count / range_seconds,
        RangeOp::Rate | RangeOp::BytesRate => sum() / range_seconds,
        RangeOp::BytesOverTime | RangeOp::SumOverTime => sum(),
        RangeOp::AvgOverTime => sum() / count,
        RangeOp::MinOverTime => values().fold(f64::INFINITY, f64::min),
        RangeOp::MaxOverTime => values().fold(f64::NEG_INFINITY, f64::max),
        RangeOp::FirstOverTime => window[0].1,
        RangeOp::LastOverTime => window[window.len() - 1].1,
        RangeOp::StdvarOverTime => variance(values(), count),
        RangeOp::StddevOverTime => variance(values(), count).sqrt(),
        RangeOp::QuantileOverTime => {
            let mut sorted: Vec<f64> = values().collect();
            quantile(agg.param.unwrap_or(0.5), &mut sorted)
        }
    }
}

/// Population variance.
pub(crate) fn variance(values: impl Iterator<Item = f64> + Clone, count: f64) -> f64 {
    let mean = values.clone().sum::<f64>() / count;
    values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / count
}

/// The φ-quantile with linear interpolation between closest ranks, as
/// Prometheus and Loki compute it; φ outside [0, 1] gives ∓infinity.
pub(crate) fn quantile(phi: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || phi.is_nan() {
        return f64::NAN;
    }
    if phi < 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(f64::total_cmp);
    let rank = phi * (values.len() - 1) as f64;
    let lower = rank.floor() as usize;
    let upper = (lower + 1).min(values.len() - 1);
    let weight = rank - rank.floor();
    values[lower] * (1.0 - weight) + values[upper] * weight
}
