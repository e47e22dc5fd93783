//! Vector aggregations (`sum by (...)`, `topk`, `sort`, ...), applied at
//! each step to the series that have a value there.
//!
//! `by (a, b)` keeps only those labels; `without (a)` keeps all others; no
//! clause aggregates everything into one series with no labels. `topk`,
//! `bottomk`, `sort` and `sort_desc` keep each selected series' labels.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::error::Result;
use crate::labels::Labels;

use super::ast::{Grouping, VectorAggregation, VectorOp};
use super::matrix::{MatrixBuilder, StepSeries};
use super::range::variance;

/// The labels a series is grouped under.
pub(crate) fn group_labels(labels: &Labels, grouping: &Grouping) -> Labels {
    let listed = |name: &str| grouping.labels.iter().any(|l| l == name);
    Labels::new(
        labels
            .iter()
            .filter(|(name, _)| listed(name) != grouping.without)
            .map(|(n, v)| (n.to_owned(), v.to_owned())),
    )
}

/// Applies a vector aggregation to `input`, step by step.
pub(crate) fn evaluate(
    agg: &VectorAggregation,
    input: Vec<StepSeries>,
    steps: usize,
) -> Result<Vec<StepSeries>> {
    if matches!(agg.op, VectorOp::Sort | VectorOp::SortDesc) {
        return Ok(input);
    }
    let mut out = MatrixBuilder::new(steps);
    for step in 0..steps {
        let mut groups: BTreeMap<Labels, Vec<(&Labels, f64)>> = BTreeMap::new();
        for series in &input {
            if let Some(value) = series.values[step] {
                let key = match &agg.grouping {
                    Some(grouping) => group_labels(&series.labels, grouping),
                    None => Labels::default(),
                };
                groups.entry(key).or_default().push((&series.labels, value));
            }
        }
        for (key, members) in groups {
            match agg.op {
                VectorOp::Topk | VectorOp::Bottomk => {
                    for (labels, value) in select_k(agg, members) {
                        out.set(labels, step, value);
                    }
                }
                op => {
                    out.set(&key, step, combine(op, members.iter().map(|&(_, v)| v)));
                }
            }
        }
    }
    Ok(out.build())
}

/// `sum`, `avg`, ... over a non-empty group.
fn combine(op: VectorOp, values: impl Iterator<Item = f64> + Clone) -> f64 {
    let count = values.clone().count() as f64;
    match op {
        VectorOp::Sum => values.sum(),
        VectorOp::Avg => values.sum::<f64>() / count,
        VectorOp::Min => values.fold(f64::INFINITY, f64::min),
        VectorOp::Max => values.fold(f64::NEG_INFINITY, f64::max),
        VectorOp::Count => count,
        VectorOp::Stdvar => variance(values, count),
        VectorOp::Stddev => variance(values, count).sqrt(),
        VectorOp::Topk | VectorOp::Bottomk | VectorOp::Sort | VectorOp::SortDesc => f64::NAN,
    }
}

/// The k largest (`topk`) or smallest (`bottomk`) members; NaN ranks last.
fn select_k<'a>(
    agg: &VectorAggregation,
    mut members: Vec<(&'a Labels, f64)>,
) -> Vec<(&'a Labels, f64)> {
    let k = agg.param.unwrap_or(1.0) as usize;
    let top = agg.op == VectorOp::Topk;
    members.sort_by(|a, b| rank(a.1, b.1, top).then_with(|| a.0.cmp(b.0)));
    members.truncate(k);
    members
}

/// Orders values best first: descending for `top`, else ascending, NaN
/// always after numbers.
pub(crate) fn rank(a: f64, b: f64, top: bool) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) if top => b.total_cmp(&a),
        (false, false) => a.total_cmp(&b),
    }
}
