//! Functions over range vectors: `rate`, `increase`, `delta`, `irate`,
//! `idelta`, `resets`, `changes` and the `*_over_time` family, computed
//! from the windows that end in the range.
//!
//! A series' kind is its newest window's kind; windows of another kind
//! (a metric whose type changed) are ignored. What each kind gives:
//!
//! | function | counter windows | gauge windows | histogram windows |
//! |---|---|---|---|
//! | `increase` | Σ delta | increase of `last` values, resets detected | merged distribution |
//! | `rate` | Σ delta / range s ¹ | same / range s | merged distribution, count and sum per second ¹ |
//! | `delta` | Σ delta | newest `last` − oldest `last` | — |
//! | `irate`, `idelta` | two newest totals | two newest `last` values | — |
//! | `sum_over_time` | Σ total | Σ sum | Σ sum of observations |
//! | `count_over_time` | windows | Σ count | Σ count of observations |
//! | `avg_over_time` | mean total | Σ sum / Σ count | mean observation |
//! | `min`/`max_over_time` | of totals | of min / max | of the merged distribution |
//! | `last_over_time` | newest total | newest `last` | newest distribution |
//! | `quantile_over_time` | of totals | of `last` values | of the merged distribution |
//! | `stddev`/`stdvar_over_time`, `changes` | of totals | of `last` values | — |
//! | `resets` | decreases of totals | decreases of `last` | — |
//!
//! ¹ A counter or histogram window longer than the range still has its
//! whole delta counted when it ends in the range; `rate` then divides by
//! the time the windows cover (oldest start to newest end) instead of the
//! range, so a too-narrow range does not inflate the rate.
//!
//! A subquery's points arrive as one-point gauge windows, so every
//! function over a subquery sees exactly its points.

use std::borrow::Cow;
use std::sync::Arc;

use crate::metrics::distribution::Distribution;
use crate::metrics::source::{Window, WindowValue};

use super::aggregation::quantile_of;
use super::evaluator::sample;
use super::value::{DistPoint, Point};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    Counter,
    Histogram,
}

fn kind(w: &Window) -> Kind {
    match w.value {
        WindowValue::Gauge { .. } => Kind::Gauge,
        WindowValue::Counter { .. } => Kind::Counter,
        WindowValue::Histogram { .. } => Kind::Histogram,
    }
}

/// Whether `name` is one of this file's functions.
pub(crate) fn is_range_function(name: &str) -> bool {
    matches!(
        name,
        "rate"
            | "increase"
            | "delta"
            | "irate"
            | "idelta"
            | "resets"
            | "changes"
            | "sum_over_time"
            | "count_over_time"
            | "avg_over_time"
            | "min_over_time"
            | "max_over_time"
            | "last_over_time"
            | "stddev_over_time"
            | "stdvar_over_time"
            | "quantile_over_time"
            | "present_over_time"
    )
}

/// `name` over one series' windows in a range of `range_ms`; `None` when
/// the windows are too few or of a kind the function does not apply to.
/// `phi` is `quantile_over_time`'s first argument.
pub(crate) fn apply(name: &str, windows: &[Window], range_ms: i64, phi: f64) -> Option<Point> {
    let newest = windows.last()?;
    let k = kind(newest);
    // Nearly always every window is of one kind: borrow them.
    let same: Cow<'_, [Window]> = if windows.iter().all(|w| kind(w) == k) {
        Cow::Borrowed(windows)
    } else {
        windows.iter().filter(|w| kind(w) == k).cloned().collect()
    };
    let seconds = range_ms as f64 / 1000.0;
    // Counter and histogram windows can be longer than a narrow range:
    // their whole delta is in it, so a rate is per the time they cover.
    let covered = same.first().map_or(range_ms, |oldest| {
        range_ms.max(newest.end_ms.saturating_sub(oldest.start_ms))
    });
    let covered = covered as f64 / 1000.0;
    let float = |v: f64| Some(Point::Float(v));
    match (name, k) {
        ("present_over_time", _) => float(1.0),
        ("last_over_time", _) => Some(sample(newest)),
        ("increase" | "rate", Kind::Histogram) => {
            let mut merged = merge(&same);
            if name == "rate" && covered > 0.0 {
                merged.count /= covered;
                merged.sum /= covered;
            }
            Some(Point::Dist(merged))
        }
        ("increase" | "rate" | "delta", Kind::Counter) => over_counter(
            CounterFunction::of(name)?,
            same.iter().map(|w| counter(w).0),
            same[0].start_ms,
            newest.end_ms,
            range_ms,
        )
        .map(Point::Float),
        ("increase" | "rate", _) => {
            let increase = gauge_increase(&values(&same))?;
            match name {
                "rate" if seconds > 0.0 => float(increase / seconds),
                "rate" => None,
                _ => float(increase),
            }
        }
        ("delta", Kind::Gauge) => {
            let v = values(&same);
            (v.len() >= 2).then(|| Point::Float(v[v.len() - 1] - v[0]))
        }
        ("irate" | "idelta", Kind::Gauge | Kind::Counter) => {
            let [.., a, b] = &same[..] else {
                return None;
            };
            let (va, vb) = (value(a)?, value(b)?);
            let diff = if name == "irate" && vb < va {
                vb
            } else {
                vb - va
            };
            if name == "idelta" {
                return float(diff);
            }
            let dt = (b.end_ms - a.end_ms) as f64 / 1000.0;
            (dt > 0.0).then(|| Point::Float(diff / dt))
        }
        ("resets", Kind::Gauge | Kind::Counter) => {
            let v = values(&same);
            float(v.windows(2).filter(|p| p[1] < p[0]).count() as f64)
        }
        ("changes", Kind::Gauge | Kind::Counter) => {
            let v = values(&same);
            float(
                v.windows(2)
                    .filter(|p| p[1] != p[0] && !(p[0].is_nan() && p[1].is_nan()))
                    .count() as f64,
            )
        }
        ("sum_over_time", Kind::Gauge) => float(same.iter().map(|w| gauge(w).1).sum()),
        ("count_over_time", Kind::Gauge) => float(same.iter().map(|w| gauge(w).0).sum()),
        ("avg_over_time", Kind::Gauge) => {
            let count: f64 = same.iter().map(|w| gauge(w).0).sum();
            let sum: f64 = same.iter().map(|w| gauge(w).1).sum();
            float(sum / count)
        }
        ("min_over_time", Kind::Gauge) => float(fold_min(same.iter().map(|w| gauge(w).2))),
        ("max_over_time", Kind::Gauge) => float(fold_max(same.iter().map(|w| gauge(w).3))),
        ("sum_over_time" | "count_over_time" | "avg_over_time", Kind::Histogram) => {
            let merged = merge(&same);
            match name {
                "sum_over_time" => float(merged.sum),
                "count_over_time" => float(merged.count),
                _ => float(merged.sum / merged.count),
            }
        }
        ("min_over_time" | "max_over_time" | "quantile_over_time", Kind::Histogram) => {
            let q = match name {
                "min_over_time" => 0.0,
                "max_over_time" => 1.0,
                _ if phi < 0.0 => return float(f64::NEG_INFINITY),
                _ if phi > 1.0 => return float(f64::INFINITY),
                _ => phi,
            };
            merge(&same).distribution.quantile(q).map(Point::Float)
        }
        (_, Kind::Histogram) => None,
        _ => sample_statistic(name, &values(&same), phi).map(Point::Float),
    }
}

/// The functions [`over_counter`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CounterFunction {
    Rate,
    Increase,
    Delta,
}

impl CounterFunction {
    pub(crate) fn of(name: &str) -> Option<CounterFunction> {
        match name {
            "rate" => Some(CounterFunction::Rate),
            "increase" => Some(CounterFunction::Increase),
            "delta" => Some(CounterFunction::Delta),
            _ => None,
        }
    }
}

/// `rate`, `increase` or `delta` over counter windows, from their
/// `deltas` in time order, the oldest window's start and the newest's
/// end: the deltas summed, a rate per the time the windows cover (at
/// least the range). [`apply`] and the columns a sweep reads both come
/// here, so both give the same bits.
pub(crate) fn over_counter(
    function: CounterFunction,
    deltas: impl Iterator<Item = f64>,
    oldest_start_ms: i64,
    newest_end_ms: i64,
    range_ms: i64,
) -> Option<f64> {
    let increase: f64 = deltas.sum();
    let covered = range_ms.max(newest_end_ms.saturating_sub(oldest_start_ms)) as f64 / 1000.0;
    match function {
        CounterFunction::Rate if covered > 0.0 => Some(increase / covered),
        CounterFunction::Rate => None,
        CounterFunction::Increase | CounterFunction::Delta => Some(increase),
    }
}

/// The `*_over_time` statistics Prometheus computes over raw samples.
fn sample_statistic(name: &str, v: &[f64], phi: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let variance = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    match name {
        "sum_over_time" => Some(v.iter().sum()),
        "count_over_time" => Some(n),
        "avg_over_time" => Some(mean),
        "min_over_time" => Some(fold_min(v.iter().copied())),
        "max_over_time" => Some(fold_max(v.iter().copied())),
        "stddev_over_time" => Some(variance.sqrt()),
        "stdvar_over_time" => Some(variance),
        "quantile_over_time" => Some(quantile_of(phi, &mut v.to_vec())),
        _ => None,
    }
}

/// Minimum ignoring NaN unless every value is NaN, as Prometheus does.
fn fold_min(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(
        f64::NAN,
        |acc, v| if acc.is_nan() || v < acc { v } else { acc },
    )
}

fn fold_max(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(
        f64::NAN,
        |acc, v| if acc.is_nan() || v > acc { v } else { acc },
    )
}

/// Prometheus' counter increase over raw samples: a decrease is a reset.
fn gauge_increase(v: &[f64]) -> Option<f64> {
    if v.len() < 2 {
        return None;
    }
    Some(
        v.windows(2)
            .map(|p| if p[1] < p[0] { p[1] } else { p[1] - p[0] })
            .sum(),
    )
}

fn value(w: &Window) -> Option<f64> {
    sample(w).float()
}

fn values(windows: &[Window]) -> Vec<f64> {
    windows.iter().filter_map(value).collect()
}

/// `(delta, total)` of a counter window.
fn counter(w: &Window) -> (f64, f64) {
    match w.value {
        WindowValue::Counter { delta, total } => (delta, total),
        _ => (0.0, 0.0),
    }
}

/// `(count, sum, min, max)` of a gauge window.
fn gauge(w: &Window) -> (f64, f64, f64, f64) {
    match w.value {
        WindowValue::Gauge {
            count,
            sum,
            min,
            max,
            ..
        } => (count as f64, sum, min, max),
        _ => (0.0, 0.0, f64::NAN, f64::NAN),
    }
}

/// The observations of histogram windows, merged.
fn merge(windows: &[Window]) -> DistPoint {
    let mut distribution = Distribution::default();
    let (mut count, mut sum) = (0.0, 0.0);
    for w in windows {
        if let WindowValue::Histogram {
            count: c,
            sum: s,
            distribution: d,
        } = &w.value
        {
            distribution.merge(d);
            count += *c as f64;
            sum += s;
        }
    }
    DistPoint {
        distribution: Arc::new(distribution),
        count,
        sum,
    }
}
