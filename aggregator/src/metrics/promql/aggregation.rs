//! Aggregation operators: `sum avg min max count stddev stdvar group
//! topk bottomk quantile count_values`, with `by` and `without`.
//!
//! Groups are keyed by the `by` labels, or by every label but the
//! `without` ones and `__name__`; output groups come in the order their
//! first element arrived. `sum` of a group holding only distributions
//! merges them (so `histogram_quantile(0.9, sum by (svc) (rate(x[5m])))`
//! works); elsewhere distributions are skipped, except by `count` and
//! `group`, which count every element.

use std::collections::HashMap;
use std::sync::Arc;

use promql_parser::parser::{AggregateExpr, LabelModifier};

use crate::error::{AggregatorError, Result};
use crate::labels::Labels;
use crate::metrics::distribution::Distribution;

use super::evaluator::{Evaluator, type_error};
use super::value::{
    DistPoint, Elem, METRIC_NAME, Point, Val, format_float, retain_labels, set_label,
};

/// Evaluates an aggregation at `t_ms`.
pub(crate) fn eval<'a>(ev: &Evaluator<'a>, a: &AggregateExpr, t_ms: i64) -> Result<Val<'a>> {
    let op = a.op.to_string();
    let param = match &a.param {
        Some(p) => Some(ev.eval(p, t_ms)?),
        None => None,
    };
    let elems = ev.vector(&a.expr, t_ms, &op)?;
    ev.deadline.check()?;

    let mut order: Vec<Labels> = Vec::new();
    let mut groups: HashMap<Labels, Vec<Elem>> = HashMap::new();
    for elem in elems {
        let key = group_key(&elem.labels, a.modifier.as_ref());
        groups
            .entry(key)
            .or_insert_with_key(|k| {
                order.push(k.clone());
                Vec::new()
            })
            .push(elem);
    }

    let mut out = Vec::new();
    for key in order {
        let group = groups.remove(&key).unwrap_or_default();
        match op.as_str() {
            "topk" | "bottomk" => {
                let k = scalar_param(&op, param.as_ref())?;
                out.extend(top(group, k, op == "topk"));
            }
            "count_values" => {
                let label = match &param {
                    Some(Val::String(s)) => s.clone(),
                    Some(other) => return Err(type_error("count_values", "string", other)),
                    None => return Err(missing(&op)),
                };
                out.extend(count_values(&key, &label, &group)?);
            }
            _ => {
                let phi = if op == "quantile" {
                    scalar_param(&op, param.as_ref())?
                } else {
                    0.0
                };
                if let Some(point) = reduce(&op, &group, phi)? {
                    out.push(Elem { labels: key, point });
                }
            }
        }
    }
    Ok(Val::Vector(out))
}

/// The labels a group is keyed (and, but for `topk`, labelled) by.
pub(crate) fn group_key(labels: &Labels, modifier: Option<&LabelModifier>) -> Labels {
    match modifier {
        None => Labels::default(),
        Some(LabelModifier::Include(by)) => {
            retain_labels(labels, |n| by.labels.iter().any(|b| b == n))
        }
        Some(LabelModifier::Exclude(without)) => retain_labels(labels, |n| {
            n != METRIC_NAME && !without.labels.iter().any(|w| w == n)
        }),
    }
}

fn missing(op: &str) -> AggregatorError {
    AggregatorError::BadRequest(format!("{op}: missing parameter"))
}

fn scalar_param(op: &str, param: Option<&Val<'_>>) -> Result<f64> {
    match param {
        Some(Val::Scalar(v)) => Ok(*v),
        Some(other) => Err(type_error(op, "scalar parameter", other)),
        None => Err(missing(op)),
    }
}

/// One group's value under `op`; `None` when it has no float to use.
fn reduce(op: &str, group: &[Elem], phi: f64) -> Result<Option<Point>> {
    let mut floats: Vec<f64> = group.iter().filter_map(|e| e.point.float()).collect();
    let n = floats.len() as f64;
    let v = match op {
        "count" => group.len() as f64,
        "group" => 1.0,
        "sum" if floats.is_empty() => return Ok(merge(group).map(Point::Dist)),
        _ if floats.is_empty() => return Ok(None),
        "sum" => floats.iter().sum(),
        "avg" => floats.iter().sum::<f64>() / n,
        "min" => floats
            .iter()
            .fold(f64::NAN, |m, &v| if m.is_nan() || v < m { v } else { m }),
        "max" => floats
            .iter()
            .fold(f64::NAN, |m, &v| if m.is_nan() || v > m { v } else { m }),
        "stddev" | "stdvar" => {
            let mean = floats.iter().sum::<f64>() / n;
            let var = floats.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            if op == "stddev" { var.sqrt() } else { var }
        }
        "quantile" => quantile_of(phi, &mut floats),
        other => {
            return Err(AggregatorError::BadRequest(format!(
                "aggregation {other} is not supported"
            )));
        }
    };
    Ok(Some(Point::Float(v)))
}

/// The distributions of a group, merged.
fn merge(group: &[Elem]) -> Option<DistPoint> {
    let mut distribution = Distribution::default();
    let (mut count, mut sum, mut any) = (0.0, 0.0, false);
    for e in group {
        if let Point::Dist(d) = &e.point {
            distribution.merge(&d.distribution);
            count += d.count;
            sum += d.sum;
            any = true;
        }
    }
    any.then(|| DistPoint {
        distribution: Arc::new(distribution),
        count,
        sum,
    })
}

/// The `k` largest (or smallest) float elements, labels intact, in order.
fn top(group: Vec<Elem>, k: f64, largest: bool) -> Vec<Elem> {
    if k.is_nan() || k < 1.0 {
        return Vec::new();
    }
    let k = if k >= usize::MAX as f64 {
        usize::MAX
    } else {
        k as usize
    };
    let mut floats: Vec<(f64, Elem)> = group
        .into_iter()
        .filter_map(|e| Some((e.point.float()?, e)))
        .collect();
    // NaN sorts last either way, as in Prometheus.
    floats.sort_by(|(a, _), (b, _)| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ if largest => b.total_cmp(a),
        _ => a.total_cmp(b),
    });
    floats.into_iter().take(k).map(|(_, e)| e).collect()
}

/// One element per distinct value: how many elements have it.
fn count_values(key: &Labels, label: &str, group: &[Elem]) -> Result<Vec<Elem>> {
    if !valid_label_name(label) {
        return Err(AggregatorError::BadRequest(format!(
            "count_values: invalid label name {label:?}"
        )));
    }
    let mut order: Vec<String> = Vec::new();
    let mut counts: HashMap<String, f64> = HashMap::new();
    for v in group.iter().filter_map(|e| e.point.float()) {
        let text = format_float(v);
        *counts.entry(text.clone()).or_insert_with(|| {
            order.push(text);
            0.0
        }) += 1.0;
    }
    Ok(order
        .into_iter()
        .map(|text| {
            let count = counts[&text];
            Elem::float(set_label(key, label, &text), count)
        })
        .collect())
}

/// Whether `name` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub(crate) fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Prometheus' `quantile`: linear interpolation between the closest
/// ranks, `φ < 0` is `-Inf`, `φ > 1` is `+Inf`.
pub(crate) fn quantile_of(phi: f64, values: &mut [f64]) -> f64 {
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
    let n = values.len() as f64;
    let rank = phi * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}
