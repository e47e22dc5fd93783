//! Range queries evaluated series by series across every step.
//!
//! A range query is defined as an instant evaluation per step
//! ([`engine`](super::engine)). Done literally, every step re-finds each
//! series' windows, re-derives each output label set and re-groups each
//! element: for 10,000 series over a day at 1 m steps, fourteen million
//! label sets built and hashed. The shapes dashboards send most are
//! instead swept: each series is walked once across all steps, its output
//! labels worked out once, the windows in range at each step found by two
//! cursors that only move forward, and aggregations fold each series into
//! one accumulator per group and step. Swept shapes:
//!
//! - a selector `x`, and a range function over a range selector
//!   (`rate(x[5m])`, `quantile_over_time(0.9, x[5m])`, ...);
//! - any swept shape combined with a number by an arithmetic or
//!   comparison operator (`rate(x[5m]) * 60`, `x > bool 3`);
//! - `sum avg min max count group` (with `by` / `without`) of a swept
//!   shape; parentheses around any of them.
//!
//! # Same answers
//! A sweep gives exactly what stepwise evaluation gives, bit for bit: the
//! same window lookups, the same [`range_functions::apply`] on the same
//! windows (or, for `rate`, `increase` and `delta` of a counter, the same
//! [`range_functions::over_counter`] on the same deltas, read as columns),
//! the same operators, and groups folded in the order stepwise
//! evaluation meets their elements. Whatever it cannot answer the same way
//! makes it give up ([`Stop::Stepwise`]), discarding what it produced, and
//! the engine evaluates the query step by step: another shape (found
//! before anything is read), a histogram's distribution (which only
//! stepwise evaluation carries), output label sets that collide (where
//! stepwise evaluation fails at the steps where they meet), or groups
//! whose accumulators would pass `max_samples`.
//!
//! # Reading
//! Series are read through a [`Scan`]: the source reads each series'
//! windows when asked, on several threads, and a counter's as columns
//! when only its deltas are needed. A sweep over a day of 10,000 series
//! holds one series per thread and one batch's rows, not fourteen million
//! windows.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use promql_parser::parser::{
    AggregateExpr, BinaryExpr, Call, Expr, MatrixSelector, VectorSelector,
};
use rustc_hash::FxBuildHasher;

use crate::error::{AggregatorError, Result};
use crate::labels::Labels;
use crate::metrics::counters::advance;
use crate::metrics::source::{CounterColumns, Window};

use super::aggregation::group_key;
use super::binary;
use super::evaluator::{Evaluator, sample};
use super::range_functions::{self, CounterFunction};
use super::scan::{Reader, Scan};
use super::selector::duration_ms;
use super::value::{Point, drop_name};

/// The evaluation times of a range query: `start_ms + i * step_ms` for
/// `i < count`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Steps {
    pub start_ms: i64,
    pub step_ms: i64,
    pub count: usize,
}

impl Steps {
    pub(crate) fn at(&self, i: usize) -> i64 {
        self.start_ms
            .saturating_add(self.step_ms.saturating_mul(i as i64))
    }
}

/// One output series across the steps: `None` where it has no sample.
#[derive(Debug)]
pub(crate) struct Row {
    pub labels: Labels,
    pub values: Vec<Option<f64>>,
}

/// Why a sweep stopped.
enum Stop {
    /// The query must be evaluated step by step (see the module doc).
    Stepwise,
    Failed(AggregatorError),
}

impl From<AggregatorError> for Stop {
    fn from(e: AggregatorError) -> Stop {
        Stop::Failed(e)
    }
}

type Swept = std::result::Result<(), Stop>;

/// The rows of `expr` at every step, or `None` when it is to be evaluated
/// step by step.
pub(crate) fn sweep(
    ev: &Evaluator<'_>,
    scan: &Scan<'_>,
    expr: &Expr,
    steps: &Steps,
) -> Result<Option<Vec<Row>>> {
    let mut rows = Vec::new();
    match rows_of(ev, scan, expr, steps, &mut |row| {
        rows.push(row);
        Ok(())
    }) {
        Ok(()) => Ok(Some(rows)),
        Err(Stop::Stepwise) => Ok(None),
        Err(Stop::Failed(e)) => Err(e),
    }
}

/// Hands each row of `expr` to `emit`. Shapes that cannot be swept stop
/// before the first row.
fn rows_of(
    ev: &Evaluator<'_>,
    scan: &Scan<'_>,
    expr: &Expr,
    steps: &Steps,
    emit: &mut dyn FnMut(Row) -> Swept,
) -> Swept {
    match expr {
        Expr::Paren(p) => rows_of(ev, scan, &p.expr, steps, emit),
        Expr::VectorSelector(vs) => selector(ev, scan, vs, steps, emit),
        Expr::Call(c) => call(ev, scan, c, steps, emit),
        Expr::Binary(b) => with_number(ev, scan, b, steps, emit),
        Expr::Aggregate(a) => aggregate(ev, scan, a, steps, emit),
        _ => Err(Stop::Stepwise),
    }
}

/// The float a point carries; a distribution is for stepwise evaluation.
fn float(point: Point) -> std::result::Result<f64, Stop> {
    match point {
        Point::Float(v) => Ok(v),
        Point::Dist(_) => Err(Stop::Stepwise),
    }
}

/// Emits `values` under `labels` unless the series has no sample at all.
fn emit_some(
    labels: Labels,
    values: Vec<Option<f64>>,
    emit: &mut dyn FnMut(Row) -> Swept,
) -> Swept {
    if values.iter().any(Option::is_some) {
        emit(Row { labels, values })?;
    }
    Ok(())
}

/// The label sets of the rows a sweep has emitted, by digest: two rows
/// with one set fail over to stepwise evaluation, which reports the
/// clash. A digest collision (of xxh3-128) would only send a query the
/// slower way.
#[derive(Default)]
struct Seen(HashSet<u128, FxBuildHasher>);

impl Seen {
    /// Whether no row before had `labels`.
    fn first(&mut self, labels: &Labels) -> bool {
        self.0.insert(labels.digest())
    }
}

/// A series' windows in reach of a step: `lo..hi`. Evaluation times only
/// grow, so both only move forward.
#[derive(Debug, Default)]
struct Cursors {
    lo: usize,
    hi: usize,
}

/// The value of one series at one step, from its windows, the step's
/// selector time and the series' cursors.
type StepValue<'f> =
    dyn Fn(&[Window], i64, &mut Cursors) -> std::result::Result<Option<f64>, Stop> + Sync + 'f;

/// One series' row, from the series and every step's selector time.
type RowOf<'f> =
    dyn Fn(&mut Reader<'_>, &[i64]) -> std::result::Result<Vec<Option<f64>>, Stop> + Sync + 'f;

/// A row from `windows`, `value` at each step.
fn stepped(
    windows: &[Window],
    times: &[i64],
    value: &StepValue<'_>,
) -> std::result::Result<Vec<Option<f64>>, Stop> {
    let mut cursors = Cursors::default();
    times
        .iter()
        .map(|&at| value(windows, at, &mut cursors))
        .collect()
}

/// Walks each series `vs` selects once across every step, as the row
/// `row_labels` names. Two series with one row label set fail over to
/// stepwise evaluation, which fails where they meet.
fn each_series(
    ev: &Evaluator<'_>,
    scan: &Scan<'_>,
    vs: &VectorSelector,
    steps: &Steps,
    row_labels: &dyn Fn(&Labels) -> Labels,
    row: &RowOf<'_>,
    emit: &mut dyn FnMut(Row) -> Swept,
) -> Swept {
    let times: Vec<i64> = (0..steps.count)
        .map(|k| ev.selector_time(vs, steps.at(k)))
        .collect();
    let mut seen = Seen::default();
    let mut take = |labels: &Labels, values: std::result::Result<_, Stop>| -> Swept {
        let values = values?;
        let labels = row_labels(labels);
        if !seen.first(&labels) {
            return Err(Stop::Stepwise);
        }
        emit_some(labels, values, emit)
    };
    let mut stop = None;
    let row = |reader: &mut Reader<'_>| row(reader, &times);
    scan.each(vs, &row, &mut |labels, values| match take(labels, values) {
        Ok(()) => ControlFlow::Continue(()),
        Err(s) => {
            stop = Some(s);
            ControlFlow::Break(())
        }
    })?;
    stop.map_or(Ok(()), Err)
}

/// `x`: each series' newest window ending in `(t - lookback, t]`.
fn selector(
    ev: &Evaluator<'_>,
    scan: &Scan<'_>,
    vs: &VectorSelector,
    steps: &Steps,
    emit: &mut dyn FnMut(Row) -> Swept,
) -> Swept {
    let lookback_ms = ev.lookback_ms;
    let newest = |w: &[Window], at: i64, c: &mut Cursors| {
        c.hi = advance(w, c.hi, at, |w| w.end_ms);
        let oldest = at.saturating_sub(lookback_ms);
        Ok(match c.hi.checked_sub(1).map(|n| &w[n]) {
            Some(window) if window.end_ms > oldest => Some(float(sample(window))?),
            _ => None,
        })
    };
    let row = |reader: &mut Reader<'_>, times: &[i64]| stepped(reader.windows(), times, &newest);
    each_series(ev, scan, vs, steps, &Labels::clone, &row, emit)
}

/// A range function over a range selector.
fn call(
    ev: &Evaluator<'_>,
    scan: &Scan<'_>,
    c: &Call,
    steps: &Steps,
    emit: &mut dyn FnMut(Row) -> Swept,
) -> Swept {
    let name = c.func.name;
    if !range_functions::is_range_function(name) {
        return Err(Stop::Stepwise);
    }
    let args: Vec<&Expr> = c.args.args.iter().map(|a| a.as_ref()).collect();
    let (phi, range_arg) = match (name, args.as_slice()) {
        ("quantile_over_time", [phi, range]) => (number(phi).ok_or(Stop::Stepwise)?, *range),
        (_, [range]) => (0.0, *range),
        _ => return Err(Stop::Stepwise),
    };
    match range_arg {
        Expr::MatrixSelector(ms) => range_function(ev, scan, name, ms, phi, steps, emit),
        _ => Err(Stop::Stepwise),
    }
}

/// `name(x[r])` at every step, from each series' windows ending in
/// `(t - r, t]`.
fn range_function(
    ev: &Evaluator<'_>,
    scan: &Scan<'_>,
    name: &str,
    ms: &MatrixSelector,
    phi: f64,
    steps: &Steps,
    emit: &mut dyn FnMut(Row) -> Swept,
) -> Swept {
    let range_ms = duration_ms(&ms.range);
    let row_labels = |labels: &Labels| {
        if name == "last_over_time" {
            labels.clone()
        } else {
            drop_name(labels)
        }
    };
    let apply = |w: &[Window], at: i64, c: &mut Cursors| {
        c.lo = advance(w, c.lo, at.saturating_sub(range_ms), |w| w.end_ms);
        c.hi = advance(w, c.hi.max(c.lo), at, |w| w.end_ms);
        if c.lo < c.hi {
            range_functions::apply(name, &w[c.lo..c.hi], range_ms, phi)
                .map(float)
                .transpose()
        } else {
            Ok(None)
        }
    };
    let over_counter = CounterFunction::of(name);
    let row = |reader: &mut Reader<'_>, times: &[i64]| {
        if let Some(function) = over_counter
            && let Some(columns) = reader.counters()
        {
            return Ok(counter_row(function, columns, times, range_ms));
        }
        stepped(reader.windows(), times, &apply)
    };
    each_series(ev, scan, &ms.vs, steps, &row_labels, &row, emit)
}

/// `rate`, `increase` or `delta` of a counter at every step, read from
/// its columns: the windows [`range_function`] would hand
/// [`range_functions::apply`], summed by the same
/// [`range_functions::over_counter`].
fn counter_row(
    function: CounterFunction,
    columns: &CounterColumns,
    times: &[i64],
    range_ms: i64,
) -> Vec<Option<f64>> {
    let deltas = columns.deltas();
    let (mut lo, mut hi) = (0, 0);
    times
        .iter()
        .map(|&at| {
            lo = columns.first_after(lo, at.saturating_sub(range_ms));
            hi = columns.first_after(hi.max(lo), at);
            if lo < hi {
                range_functions::over_counter(
                    function,
                    deltas[lo..hi].iter().copied(),
                    columns.end(lo) - columns.window_ms(),
                    columns.end(hi - 1),
                    range_ms,
                )
            } else {
                None
            }
        })
        .collect()
}

/// A number literal, possibly in parentheses.
fn number(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::NumberLiteral(n) => Some(n.val),
        Expr::Paren(p) => number(&p.expr),
        _ => None,
    }
}

/// A swept shape and a number under an arithmetic or comparison operator,
/// as stepwise evaluation applies it to a vector and a scalar.
fn with_number(
    ev: &Evaluator<'_>,
    scan: &Scan<'_>,
    b: &BinaryExpr,
    steps: &Steps,
    emit: &mut dyn FnMut(Row) -> Swept,
) -> Swept {
    let op = b.op.to_string();
    if matches!(op.as_str(), "and" | "or" | "unless")
        || b.modifier.as_ref().is_some_and(|m| {
            m.matching.is_some() || m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some()
        })
    {
        return Err(Stop::Stepwise);
    }
    let (vector, s, vector_left) = match (number(&b.lhs), number(&b.rhs)) {
        (None, Some(s)) => (&b.lhs, s, true),
        (Some(s), None) => (&b.rhs, s, false),
        _ => return Err(Stop::Stepwise),
    };
    let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
    let comparison = binary::is_comparison(&op);
    let mut seen = Seen::default();
    rows_of(ev, scan, vector, steps, &mut |row| {
        let labels = if comparison && !return_bool {
            row.labels
        } else {
            drop_name(&row.labels)
        };
        if !seen.first(&labels) {
            return Err(Stop::Stepwise);
        }
        let mut values = row.values;
        for value in &mut values {
            let Some(x) = *value else { continue };
            let (l, r) = if vector_left { (x, s) } else { (s, x) };
            let (v, keep) = binary::apply(&op, l, r)?;
            *value = match (comparison, return_bool) {
                (_, true) => Some(f64::from(u8::from(keep))),
                (true, false) => keep.then_some(x),
                (false, false) => Some(v),
            };
        }
        emit_some(labels, values, emit)
    })
}

/// One group's fold at one step.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    n: usize,
    v: f64,
}

/// How an aggregation folds one element into a group's step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fold {
    /// `sum` and `avg`.
    Add,
    Min,
    Max,
    /// `count` and `group`: only how many.
    Count,
}

/// `sum avg min max count group` of a swept shape.
fn aggregate(
    ev: &Evaluator<'_>,
    scan: &Scan<'_>,
    a: &AggregateExpr,
    steps: &Steps,
    emit: &mut dyn FnMut(Row) -> Swept,
) -> Swept {
    let op = a.op.to_string();
    let how = match op.as_str() {
        _ if a.param.is_some() => return Err(Stop::Stepwise),
        "sum" | "avg" => Fold::Add,
        "min" => Fold::Min,
        "max" => Fold::Max,
        "count" | "group" => Fold::Count,
        _ => return Err(Stop::Stepwise),
    };
    let mut index: HashMap<Labels, usize, FxBuildHasher> = HashMap::default();
    let mut groups: Vec<(Labels, Vec<Acc>)> = Vec::new();
    rows_of(ev, scan, &a.expr, steps, &mut |row| {
        let key = group_key(&row.labels, a.modifier.as_ref());
        let g = match index.get(&key) {
            Some(&g) => g,
            None => {
                if (groups.len() + 1).saturating_mul(steps.count) > ev.max_samples {
                    return Err(Stop::Stepwise);
                }
                index.insert(key.clone(), groups.len());
                groups.push((key, vec![Acc::default(); steps.count]));
                groups.len() - 1
            }
        };
        fold_row(how, &mut groups[g].1, &row.values);
        Ok(())
    })?;
    for (labels, accs) in groups {
        let values = accs
            .iter()
            .map(|acc| {
                (acc.n > 0).then(|| match op.as_str() {
                    "avg" => acc.v / acc.n as f64,
                    "count" => acc.n as f64,
                    "group" => 1.0,
                    _ => acc.v,
                })
            })
            .collect();
        emit_some(labels, values, emit)?;
    }
    Ok(())
}

/// Adds a row's values to its group's steps as the stepwise reduction
/// does: a sum from the first element on, min and max skipping NaN unless
/// all are NaN. One loop per fold, so the per-step work is a compare and
/// an add.
fn fold_row(how: Fold, accs: &mut [Acc], values: &[Option<f64>]) {
    fn each(accs: &mut [Acc], values: &[Option<f64>], keep: impl Fn(f64, f64) -> f64) {
        for (acc, value) in accs.iter_mut().zip(values) {
            if let Some(x) = *value {
                acc.v = if acc.n == 0 { x } else { keep(acc.v, x) };
                acc.n += 1;
            }
        }
    }
    match how {
        Fold::Add => each(accs, values, |v, x| v + x),
        Fold::Min => each(accs, values, |v, x| if v.is_nan() || x < v { x } else { v }),
        Fold::Max => each(accs, values, |v, x| if v.is_nan() || x > v { x } else { v }),
        Fold::Count => each(accs, values, |v, _| v),
    }
}
