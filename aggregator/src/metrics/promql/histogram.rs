//! `histogram_quantile` and friends, over both kinds of histogram the
//! source presents.
//!
//! - A distribution (from a histogram series `x`, through `rate`,
//!   `increase`, `sum` or `last_over_time`) answers
//!   [`Distribution::quantile`](crate::metrics::distribution::Distribution::quantile)
//!   directly: within the HdrHistogram's relative error of the exact
//!   quantile of the recorded observations.
//! - Classic `x_bucket{le="..."}` float series are grouped by their labels
//!   without `le` and `__name__`, and answered with Prometheus' linear
//!   interpolation inside the bucket the rank falls in, after sorting the
//!   buckets, summing buckets with equal bounds and forcing the counts to
//!   be monotonic. A group without a `+Inf` bucket gives NaN; a rank in
//!   the `+Inf` bucket gives the highest finite bound.

use std::collections::HashMap;

use crate::labels::Labels;

use super::value::{Elem, METRIC_NAME, Point, drop_name, retain_labels};

/// Differences smaller than this (relative) between adjacent cumulative
/// buckets are float noise from rate computations, as in Prometheus.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// `histogram_quantile(phi, elems)`.
pub(crate) fn quantile(phi: f64, elems: Vec<Elem>) -> Vec<Elem> {
    let mut out = Vec::new();
    let mut order: Vec<Labels> = Vec::new();
    let mut groups: HashMap<Labels, Vec<(f64, f64)>> = HashMap::new();
    for elem in elems {
        match elem.point {
            Point::Dist(d) => {
                let value = if phi.is_nan() {
                    f64::NAN
                } else if phi < 0.0 {
                    f64::NEG_INFINITY
                } else if phi > 1.0 {
                    f64::INFINITY
                } else {
                    d.distribution.quantile(phi).unwrap_or(f64::NAN)
                };
                out.push(Elem::float(drop_name(&elem.labels), value));
            }
            Point::Float(count) => {
                // A float series without a parsable `le` is not a bucket.
                let Some(bound) = elem.labels.get("le").and_then(parse_bound) else {
                    continue;
                };
                let key = retain_labels(&elem.labels, |n| n != "le" && n != METRIC_NAME);
                groups
                    .entry(key)
                    .or_insert_with_key(|k| {
                        order.push(k.clone());
                        Vec::new()
                    })
                    .push((bound, count));
            }
        }
    }
    for key in order {
        let buckets = groups.remove(&key).unwrap_or_default();
        out.push(Elem::float(key, bucket_quantile(phi, buckets)));
    }
    out
}

/// `histogram_count`, `histogram_sum` or `histogram_avg` of distributions.
pub(crate) fn statistic(name: &str, elems: Vec<Elem>) -> Vec<Elem> {
    elems
        .into_iter()
        .filter_map(|e| {
            let Point::Dist(d) = &e.point else {
                return None;
            };
            let v = match name {
                "histogram_count" => d.count,
                "histogram_sum" => d.sum,
                _ => d.sum / d.count,
            };
            Some(Elem::float(drop_name(&e.labels), v))
        })
        .collect()
}

/// An `le` label's bound: a float, `+Inf` or `Inf`.
fn parse_bound(le: &str) -> Option<f64> {
    match le {
        "+Inf" | "Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        other => other.parse().ok(),
    }
}

/// Prometheus' `bucketQuantile` over `(upper bound, cumulative count)`.
pub(crate) fn bucket_quantile(phi: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    if phi.is_nan() {
        return f64::NAN;
    }
    if phi < 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    match buckets.last() {
        Some((bound, _)) if *bound == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    // Buckets with the same bound (series differing in a dropped label).
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for (bound, count) in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == bound => last.1 += count,
            _ => merged.push((bound, count)),
        }
    }
    let mut buckets = merged;
    ensure_monotonic(&mut buckets);
    if buckets.len() < 2 {
        return f64::NAN;
    }
    let observations = buckets[buckets.len() - 1].1;
    if observations == 0.0 || observations.is_nan() {
        return f64::NAN;
    }
    let mut rank = phi * observations;
    let last = buckets.len() - 1;
    let b = buckets[..last].partition_point(|(_, count)| *count < rank);
    if b == last {
        return buckets[last - 1].0;
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return buckets[0].0;
    }
    let (mut start, end, mut count) = (0.0, buckets[b].0, buckets[b].1);
    if b > 0 {
        start = buckets[b - 1].0;
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    start + (end - start) * (rank / count)
}

/// Cumulative counts never decrease: a lower count is raised to the one
/// before it, and a tiny difference is treated as none.
fn ensure_monotonic(buckets: &mut [(f64, f64)]) {
    let Some(&(_, first)) = buckets.first() else {
        return;
    };
    let mut prev = first;
    for bucket in buckets.iter_mut().skip(1) {
        let curr = bucket.1;
        if curr == prev {
            continue;
        }
        let tolerance = SMALL_DELTA_TOLERANCE * prev.abs().max(curr.abs());
        if (curr - prev).abs() <= tolerance || curr < prev {
            bucket.1 = prev;
            continue;
        }
        prev = curr;
    }
}
