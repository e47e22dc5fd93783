//! Binary operators between scalars and vectors, step by step.
//!
//! As in PromQL and Loki: arithmetic between a vector and a scalar applies
//! to every sample and keeps its labels; a comparison without `bool`
//! filters samples (keeping the vector's value), with `bool` yields 0 or 1.
//! Between two vectors, samples pair up one-to-one on identical labels, or
//! on the `on (...)` labels, or on all but the `ignoring (...)` labels; the
//! result takes the left side's labels (only the `on` labels with `on`,
//! without the `ignoring` ones with `ignoring`). Two samples of one side
//! with the same matching labels at a step fail the query. `and`, `or` and
//! `unless` are set operations on the matching labels.

use std::collections::{HashMap, HashSet};

use crate::error::{AggregatorError, Result};
use crate::labels::Labels;

use super::ast::{BinaryExpr, BinaryOp, Grouping, VectorMatching};
use super::matrix::{MatrixBuilder, StepSeries, Value};
use super::vector::group_labels;

/// Applies `expr.op` to two evaluated operands.
pub(crate) fn evaluate(expr: &BinaryExpr, lhs: Value, rhs: Value, steps: usize) -> Result<Value> {
    let op = expr.op;
    let bool_or_filter = |keep: f64, a: f64, b: f64| -> Option<f64> {
        match (apply(op, a, b), expr.return_bool) {
            (result, true) => Some(result),
            (result, false) if op.is_comparison() => (result == 1.0).then_some(keep),
            (result, false) => Some(result),
        }
    };
    Ok(match (lhs, rhs) {
        (Value::Scalar(a), Value::Scalar(b)) => Value::Scalar(apply(op, a, b)),
        (Value::Matrix(series), Value::Scalar(b)) => {
            Value::Matrix(map_values(series, |v| bool_or_filter(v, v, b)))
        }
        (Value::Scalar(a), Value::Matrix(series)) => {
            Value::Matrix(map_values(series, |v| bool_or_filter(v, a, v)))
        }
        (Value::Matrix(lhs), Value::Matrix(rhs)) if op.is_set() => {
            Value::Matrix(set_operation(op, expr.matching.as_ref(), &lhs, &rhs, steps))
        }
        (Value::Matrix(lhs), Value::Matrix(rhs)) => {
            Value::Matrix(one_to_one(expr, &lhs, &rhs, steps, bool_or_filter)?)
        }
    })
}

/// `a op b` for arithmetic; 1 or 0 for comparisons.
fn apply(op: BinaryOp, a: f64, b: f64) -> f64 {
    let truth = |holds: bool| if holds { 1.0 } else { 0.0 };
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Mod => a % b,
        BinaryOp::Pow => a.powf(b),
        BinaryOp::Eq => truth(a == b),
        BinaryOp::Ne => truth(a != b),
        BinaryOp::Gt => truth(a > b),
        BinaryOp::Ge => truth(a >= b),
        BinaryOp::Lt => truth(a < b),
        BinaryOp::Le => truth(a <= b),
        BinaryOp::And | BinaryOp::Or | BinaryOp::Unless => f64::NAN,
    }
}

fn map_values(series: Vec<StepSeries>, f: impl Fn(f64) -> Option<f64>) -> Vec<StepSeries> {
    series
        .into_iter()
        .map(|s| StepSeries {
            labels: s.labels,
            values: s.values.into_iter().map(|v| v.and_then(&f)).collect(),
        })
        .filter(|s| s.values.iter().any(Option::is_some))
        .collect()
}

/// The labels two samples are matched on.
fn signature(labels: &Labels, matching: Option<&VectorMatching>) -> Labels {
    match matching {
        None => labels.clone(),
        Some(m) => group_labels(
            labels,
            &Grouping {
                without: !m.on,
                labels: m.labels.clone(),
            },
        ),
    }
}

fn one_to_one(
    expr: &BinaryExpr,
    lhs: &[StepSeries],
    rhs: &[StepSeries],
    steps: usize,
    combine: impl Fn(f64, f64, f64) -> Option<f64>,
) -> Result<Vec<StepSeries>> {
    let matching = expr.matching.as_ref();
    let lhs_signatures: Vec<Labels> = lhs.iter().map(|s| signature(&s.labels, matching)).collect();
    let rhs_signatures: Vec<Labels> = rhs.iter().map(|s| signature(&s.labels, matching)).collect();
    let mut out = MatrixBuilder::new(steps);
    for step in 0..steps {
        let mut right: HashMap<&Labels, f64> = HashMap::new();
        for (series, sig) in rhs.iter().zip(&rhs_signatures) {
            if let Some(value) = series.values[step]
                && right.insert(sig, value).is_some()
            {
                return Err(duplicate(sig, "right"));
            }
        }
        let mut seen: HashSet<&Labels> = HashSet::new();
        for (series, sig) in lhs.iter().zip(&lhs_signatures) {
            let (Some(a), Some(&b)) = (series.values[step], right.get(sig)) else {
                continue;
            };
            if !seen.insert(sig) {
                return Err(duplicate(sig, "left"));
            }
            if let Some(value) = combine(a, a, b) {
                let labels = if matching.is_some() {
                    sig.clone()
                } else {
                    series.labels.clone()
                };
                if !out.set(&labels, step, value) {
                    return Err(AggregatorError::BadRequest(format!(
                        "binary operation yields two samples with labels {labels}"
                    )));
                }
            }
        }
    }
    Ok(out.build())
}

fn duplicate(sig: &Labels, side: &str) -> AggregatorError {
    AggregatorError::BadRequest(format!(
        "many-to-many matching not allowed: found duplicate series for the match group {sig} \
         on the {side} side of the operation"
    ))
}

fn set_operation(
    op: BinaryOp,
    matching: Option<&VectorMatching>,
    lhs: &[StepSeries],
    rhs: &[StepSeries],
    steps: usize,
) -> Vec<StepSeries> {
    let lhs_signatures: Vec<Labels> = lhs.iter().map(|s| signature(&s.labels, matching)).collect();
    let rhs_signatures: Vec<Labels> = rhs.iter().map(|s| signature(&s.labels, matching)).collect();
    let present = |series: &[StepSeries], sigs: &[Labels], step: usize| -> HashSet<Labels> {
        series
            .iter()
            .zip(sigs)
            .filter(|(s, _)| s.values[step].is_some())
            .map(|(_, sig)| sig.clone())
            .collect()
    };
    let mut out = MatrixBuilder::new(steps);
    for step in 0..steps {
        let right = present(rhs, &rhs_signatures, step);
        for (series, sig) in lhs.iter().zip(&lhs_signatures) {
            let Some(value) = series.values[step] else {
                continue;
            };
            let keep = match op {
                BinaryOp::And => right.contains(sig),
                BinaryOp::Unless => !right.contains(sig),
                _ => true,
            };
            if keep {
                out.set(&series.labels, step, value);
            }
        }
        if op == BinaryOp::Or {
            let left = present(lhs, &lhs_signatures, step);
            for (series, sig) in rhs.iter().zip(&rhs_signatures) {
                if let (Some(value), false) = (series.values[step], left.contains(sig)) {
                    out.set(&series.labels, step, value);
                }
            }
        }
    }
    out.build()
}
