//! Function calls: the range functions (see [`range_functions`]),
//! `histogram_*`, math, time, label and presence functions.
//!
//! Functions drop `__name__` from their results, but for
//! `last_over_time`, `label_replace`, `label_join`, `sort` and
//! `sort_desc`, as in Prometheus; a result holding one label set twice
//! fails, as in Prometheus (`value::unique`).

use promql_parser::parser::{Call, Expr};
use regex::Regex;

use crate::error::{AggregatorError, Result};
use crate::labels::Labels;

use super::aggregation::valid_label_name;
use super::evaluator::{Evaluator, type_error};
use super::selector::equality_labels;
use super::value::{Elem, Point, Val, drop_name, set_label, unique};
use super::{histogram, range_functions};

/// Evaluates a function call at `t_ms`.
pub(crate) fn eval<'a>(ev: &Evaluator<'a>, c: &Call, t_ms: i64) -> Result<Val<'a>> {
    let name = c.func.name;
    let args: Vec<&Expr> = c.args.args.iter().map(|a| a.as_ref()).collect();
    let arg = |i: usize| -> Result<&Expr> {
        args.get(i).copied().ok_or_else(|| {
            AggregatorError::BadRequest(format!("function {name}: missing argument {}", i + 1))
        })
    };
    if range_functions::is_range_function(name) {
        let (phi, range_arg) = if name == "quantile_over_time" {
            (ev.scalar(arg(0)?, t_ms, name)?, arg(1)?)
        } else {
            (0.0, arg(0)?)
        };
        let (series, range_ms) = ev.range(range_arg, t_ms, name)?;
        let out = series
            .iter()
            .filter_map(|s| {
                let point = range_functions::apply(name, &s.windows, range_ms, phi)?;
                let labels = if name == "last_over_time" {
                    s.labels.clone()
                } else {
                    drop_name(&s.labels)
                };
                Some(Elem { labels, point })
            })
            .collect();
        return Ok(Val::Vector(unique(out)?));
    }
    let vector = |i: usize| -> Result<Vec<Elem>> { ev.vector(arg(i)?, t_ms, name) };
    let scalar = |i: usize| -> Result<f64> { ev.scalar(arg(i)?, t_ms, name) };
    let string = |i: usize| -> Result<String> {
        match ev.eval(arg(i)?, t_ms)? {
            Val::String(s) => Ok(s),
            other => Err(type_error(name, "string", &other)),
        }
    };
    let out = match name {
        "time" => return Ok(Val::Scalar(t_ms as f64 / 1000.0)),
        "vector" => vec![Elem::float(Labels::default(), scalar(0)?)],
        "scalar" => {
            let elems = vector(0)?;
            let v = match elems.as_slice() {
                [one] => one.point.float().unwrap_or(f64::NAN),
                _ => f64::NAN,
            };
            return Ok(Val::Scalar(v));
        }
        "timestamp" => timestamp(ev, arg(0)?, t_ms)?,
        "abs" | "ceil" | "floor" | "exp" | "ln" | "log2" | "log10" | "sqrt" | "sgn" | "deg"
        | "rad" | "sin" | "cos" | "tan" | "asin" | "acos" | "atan" | "sinh" | "cosh" | "tanh"
        | "asinh" | "acosh" | "atanh" => map(vector(0)?, |v| math(name, v)),
        "round" => {
            let to_nearest = if args.len() > 1 { scalar(1)? } else { 1.0 };
            let inverse = 1.0 / to_nearest;
            map(vector(0)?, |v| (v * inverse + 0.5).floor() / inverse)
        }
        "clamp" => {
            let (lo, hi) = (scalar(1)?, scalar(2)?);
            if hi < lo {
                Vec::new()
            } else {
                map(vector(0)?, |v| v.min(hi).max(lo))
            }
        }
        "clamp_min" => {
            let lo = scalar(1)?;
            map(vector(0)?, |v| v.max(lo))
        }
        "clamp_max" => {
            let hi = scalar(1)?;
            map(vector(0)?, |v| v.min(hi))
        }
        "absent" => {
            if !vector(0)?.is_empty() {
                Vec::new()
            } else {
                vec![Elem::float(absent_labels(arg(0)?), 1.0)]
            }
        }
        "absent_over_time" => {
            if !ev.range(arg(0)?, t_ms, name)?.0.is_empty() {
                Vec::new()
            } else {
                vec![Elem::float(absent_labels(arg(0)?), 1.0)]
            }
        }
        "label_replace" => label_replace(
            vector(0)?,
            &string(1)?,
            &string(2)?,
            &string(3)?,
            &string(4)?,
        )?,
        "label_join" => {
            let dst = string(1)?;
            let sep = string(2)?;
            let sources = (3..args.len()).map(string).collect::<Result<Vec<_>>>()?;
            label_join(vector(0)?, &dst, &sep, &sources)?
        }
        "sort" | "sort_desc" => sort(vector(0)?, name == "sort_desc"),
        "histogram_quantile" => histogram::quantile(scalar(0)?, vector(1)?),
        "histogram_count" | "histogram_sum" | "histogram_avg" => {
            histogram::statistic(name, vector(0)?)
        }
        other => {
            return Err(AggregatorError::BadRequest(format!(
                "function {other} is not supported"
            )));
        }
    };
    Ok(Val::Vector(unique(out)?))
}

/// Applies `f` to each float element and drops `__name__`.
fn map(elems: Vec<Elem>, f: impl Fn(f64) -> f64) -> Vec<Elem> {
    elems
        .into_iter()
        .filter_map(|e| Some(Elem::float(drop_name(&e.labels), f(e.point.float()?))))
        .collect()
}

fn math(name: &str, v: f64) -> f64 {
    match name {
        "abs" => v.abs(),
        "ceil" => v.ceil(),
        "floor" => v.floor(),
        "exp" => v.exp(),
        "ln" => v.ln(),
        "log2" => v.log2(),
        "log10" => v.log10(),
        "sqrt" => v.sqrt(),
        "sgn" if v == 0.0 || v.is_nan() => v,
        "sgn" => v.signum(),
        "deg" => v.to_degrees(),
        "rad" => v.to_radians(),
        "sin" => v.sin(),
        "cos" => v.cos(),
        "tan" => v.tan(),
        "asin" => v.asin(),
        "acos" => v.acos(),
        "atan" => v.atan(),
        "sinh" => v.sinh(),
        "cosh" => v.cosh(),
        "tanh" => v.tanh(),
        "asinh" => v.asinh(),
        "acosh" => v.acosh(),
        _ => v.atanh(),
    }
}

/// `timestamp(v)`: a selector's sample times, else the evaluation time.
fn timestamp(ev: &Evaluator<'_>, arg: &Expr, t_ms: i64) -> Result<Vec<Elem>> {
    let mut inner = arg;
    while let Expr::Paren(p) = inner {
        inner = &p.expr;
    }
    if let Expr::VectorSelector(vs) = inner {
        let elems = ev.instant_selector(vs, t_ms)?;
        let times = ev.sample_times(vs, t_ms);
        return Ok(elems
            .into_iter()
            .zip(times)
            .map(|(e, ts)| Elem::float(drop_name(&e.labels), ts as f64 / 1000.0))
            .collect());
    }
    let elems = ev.vector(arg, t_ms, "timestamp")?;
    Ok(elems
        .into_iter()
        .map(|e| Elem::float(drop_name(&e.labels), t_ms as f64 / 1000.0))
        .collect())
}

/// The labels `absent` gives: the selector's equality matchers.
fn absent_labels(arg: &Expr) -> Labels {
    match arg {
        Expr::VectorSelector(vs) => equality_labels(vs),
        Expr::MatrixSelector(ms) => equality_labels(&ms.vs),
        _ => Labels::default(),
    }
}

fn label_replace(
    elems: Vec<Elem>,
    dst: &str,
    replacement: &str,
    src: &str,
    regex: &str,
) -> Result<Vec<Elem>> {
    let re = Regex::new(&format!("^(?s:{regex})$")).map_err(|e| {
        AggregatorError::BadRequest(format!(
            "invalid regular expression in label_replace(): {regex}: {e}"
        ))
    })?;
    if !valid_label_name(dst) {
        return Err(AggregatorError::BadRequest(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    Ok(elems
        .into_iter()
        .map(|e| {
            let value = e.labels.get(src).unwrap_or("");
            let Some(caps) = re.captures(value) else {
                return e;
            };
            let mut replaced = String::new();
            caps.expand(replacement, &mut replaced);
            Elem {
                labels: set_label(&e.labels, dst, &replaced),
                point: e.point,
            }
        })
        .collect())
}

fn label_join(elems: Vec<Elem>, dst: &str, sep: &str, sources: &[String]) -> Result<Vec<Elem>> {
    if !valid_label_name(dst) {
        return Err(AggregatorError::BadRequest(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    Ok(elems
        .into_iter()
        .map(|e| {
            let joined = sources
                .iter()
                .map(|s| e.labels.get(s).unwrap_or(""))
                .collect::<Vec<_>>()
                .join(sep);
            Elem {
                labels: set_label(&e.labels, dst, &joined),
                point: e.point,
            }
        })
        .collect())
}

/// Float elements by value, NaN last either way.
fn sort(elems: Vec<Elem>, descending: bool) -> Vec<Elem> {
    let mut floats: Vec<(f64, Elem)> = elems
        .into_iter()
        .filter_map(|e| match e.point {
            Point::Float(v) => Some((v, e)),
            Point::Dist(_) => None,
        })
        .collect();
    floats.sort_by(|(a, _), (b, _)| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ if descending => b.total_cmp(a),
        _ => a.total_cmp(b),
    });
    floats.into_iter().map(|(_, e)| e).collect()
}
