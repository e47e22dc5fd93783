//! Binary operators: arithmetic `+ - * / % ^ atan2`, comparisons
//! `== != > < >= <=` (filtering, or 0/1 with `bool`), and the set
//! operators `and or unless`, between scalars and instant vectors.
//!
//! Vector matching follows Prometheus: elements match on their labels
//! without `__name__`, on the `on(...)` labels only, or without the
//! `ignoring(...)` ones. One-to-one matching fails when a match group has
//! two elements; `group_left`/`group_right` allow many on one side and
//! copy the listed labels from the "one" side. Arithmetic and `bool`
//! comparisons drop `__name__`; filtering comparisons and set operators
//! keep it. Distributions take no part in arithmetic or comparison.

use std::collections::{HashMap, HashSet};

use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use crate::error::{AggregatorError, Result};
use crate::labels::Labels;

use super::evaluator::{Evaluator, type_error};
use super::value::{Elem, METRIC_NAME, Point, Val, drop_name, retain_labels, set_label, unique};

/// Evaluates a binary expression at `t_ms`.
pub(crate) fn eval<'a>(ev: &Evaluator<'a>, b: &BinaryExpr, t_ms: i64) -> Result<Val<'a>> {
    let op = b.op.to_string();
    let lhs = ev.eval(&b.lhs, t_ms)?;
    let rhs = ev.eval(&b.rhs, t_ms)?;
    let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
    if let Some(m) = &b.modifier
        && (m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some())
    {
        return Err(AggregatorError::BadRequest(format!(
            "operator {op}: fill modifiers are not supported"
        )));
    }
    match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => {
            let (v, keep) = apply(&op, l, r)?;
            Ok(Val::Scalar(if is_comparison(&op) {
                f64::from(u8::from(keep))
            } else {
                v
            }))
        }
        (Val::Vector(v), Val::Scalar(s)) => vector_scalar(&op, v, s, true, return_bool),
        (Val::Scalar(s), Val::Vector(v)) => vector_scalar(&op, v, s, false, return_bool),
        (Val::Vector(l), Val::Vector(r)) => {
            ev.deadline.check()?;
            let matching = b.modifier.as_ref().and_then(|m| m.matching.as_ref());
            let card = b
                .modifier
                .as_ref()
                .map_or(VectorMatchCardinality::OneToOne, |m| m.card.clone());
            match op.as_str() {
                "and" | "or" | "unless" => Ok(Val::Vector(set_op(&op, l, r, matching))),
                _ => vector_vector(&op, l, r, matching, &card, return_bool).map(Val::Vector),
            }
        }
        (other, Val::Scalar(_) | Val::Vector(_)) | (_, other) => Err(type_error(
            &format!("operator {op}"),
            "scalar or instant vector",
            &other,
        )),
    }
}

pub(crate) fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

/// `(value, keep)`: arithmetic keeps its result; a comparison keeps the
/// left value when it holds.
pub(crate) fn apply(op: &str, l: f64, r: f64) -> Result<(f64, bool)> {
    Ok(match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        "%" => (l % r, true),
        "^" => (l.powf(r), true),
        "atan2" => (l.atan2(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        other => {
            return Err(AggregatorError::BadRequest(format!(
                "operator {other} is not supported between these operands"
            )));
        }
    })
}

fn vector_scalar<'a>(
    op: &str,
    v: Vec<Elem>,
    s: f64,
    vector_left: bool,
    return_bool: bool,
) -> Result<Val<'a>> {
    let comparison = is_comparison(op);
    let mut out = Vec::with_capacity(v.len());
    for e in v {
        let Some(x) = e.point.float() else { continue };
        let (l, r) = if vector_left { (x, s) } else { (s, x) };
        let (mut value, keep) = apply(op, l, r)?;
        if comparison {
            // The vector's value is the result, whichever side it is on.
            value = x;
        }
        if return_bool {
            value = f64::from(u8::from(keep));
        } else if !keep {
            continue;
        }
        let labels = if comparison && !return_bool {
            e.labels
        } else {
            drop_name(&e.labels)
        };
        out.push(Elem::float(labels, value));
    }
    // Dropping `__name__` can leave two elements with one label set.
    Ok(Val::Vector(unique(out)?))
}

/// The labels two elements are matched by.
fn signature(labels: &Labels, matching: Option<&LabelModifier>) -> Labels {
    match matching {
        Some(LabelModifier::Include(on)) => {
            retain_labels(labels, |n| on.labels.iter().any(|o| o == n))
        }
        Some(LabelModifier::Exclude(ignoring)) => retain_labels(labels, |n| {
            n != METRIC_NAME && !ignoring.labels.iter().any(|i| i == n)
        }),
        None => drop_name(labels),
    }
}

fn set_op(op: &str, l: Vec<Elem>, r: Vec<Elem>, matching: Option<&LabelModifier>) -> Vec<Elem> {
    let right: HashSet<Labels> = r.iter().map(|e| signature(&e.labels, matching)).collect();
    match op {
        "and" => l
            .into_iter()
            .filter(|e| right.contains(&signature(&e.labels, matching)))
            .collect(),
        "unless" => l
            .into_iter()
            .filter(|e| !right.contains(&signature(&e.labels, matching)))
            .collect(),
        _ => {
            let left: HashSet<Labels> = l.iter().map(|e| signature(&e.labels, matching)).collect();
            let mut out = l;
            out.extend(
                r.into_iter()
                    .filter(|e| !left.contains(&signature(&e.labels, matching))),
            );
            out
        }
    }
}

fn vector_vector(
    op: &str,
    l: Vec<Elem>,
    r: Vec<Elem>,
    matching: Option<&LabelModifier>,
    card: &VectorMatchCardinality,
    return_bool: bool,
) -> Result<Vec<Elem>> {
    let floats = |v: Vec<Elem>| -> Vec<(Labels, f64)> {
        v.into_iter()
            .filter_map(|e| match e.point {
                Point::Float(x) => Some((e.labels, x)),
                Point::Dist(_) => None,
            })
            .collect()
    };
    let (l, r) = (floats(l), floats(r));
    // Prometheus swaps the sides of group_right so that the left is the
    // "many" side and the right the "one" side.
    let one_to_many = matches!(card, VectorMatchCardinality::OneToMany(_));
    let (many, one) = if one_to_many { (r, l) } else { (l, r) };
    let one_side = if one_to_many { "left" } else { "right" };

    let mut one_sigs: HashMap<Labels, (usize, &Labels)> = HashMap::new();
    for (i, (labels, _)) in one.iter().enumerate() {
        let sig = signature(labels, matching);
        if let Some((_, first)) = one_sigs.get(&sig) {
            return Err(AggregatorError::BadRequest(format!(
                "found duplicate series for the match group {sig} on the {one_side} hand-side \
                 of the operation: [{labels}, {first}];many-to-many matching not allowed: \
                 matching labels must be unique on one side"
            )));
        }
        one_sigs.insert(sig, (i, labels));
    }

    let comparison = is_comparison(op);
    let include: &[String] = card.labels().map_or(&[], |l| l.labels.as_slice());
    let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
    let mut inserted: HashSet<Labels> = HashSet::new();
    let mut out = Vec::new();
    for (labels, x) in &many {
        let sig = signature(labels, matching);
        let Some(&(i, one_labels)) = one_sigs.get(&sig) else {
            continue;
        };
        let y = one[i].1;
        let (vl, vr) = if one_to_many { (y, *x) } else { (*x, y) };
        let (mut value, keep) = apply(op, vl, vr)?;
        if return_bool {
            value = f64::from(u8::from(keep));
        } else if !keep {
            continue;
        }
        let mut result = labels.clone();
        if !comparison || return_bool {
            result = drop_name(&result);
        }
        if one_to_one {
            result = match matching {
                Some(LabelModifier::Include(on)) => {
                    retain_labels(&result, |n| on.labels.iter().any(|o| o == n))
                }
                Some(LabelModifier::Exclude(ignoring)) => {
                    retain_labels(&result, |n| !ignoring.labels.iter().any(|i| i == n))
                }
                None => result,
            };
        }
        for name in include {
            result = set_label(&result, name, one_labels.get(name).unwrap_or(""));
        }
        let key = if one_to_one { sig } else { result.clone() };
        if !inserted.insert(key) {
            return Err(AggregatorError::BadRequest(if one_to_one {
                "multiple matches for labels: many-to-one matching must be explicit \
                 (group_left/group_right)"
                    .to_owned()
            } else {
                "multiple matches for labels: grouping labels must ensure unique matches".to_owned()
            }));
        }
        out.push(Elem::float(result, value));
    }
    Ok(out)
}
