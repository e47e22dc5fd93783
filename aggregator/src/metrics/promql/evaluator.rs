//! Evaluation of a parsed query at one instant, over a [`Selection`]
//! fetched beforehand. A range query evaluates the tree once per step.

use std::borrow::Cow;
use std::cell::Cell;

use promql_parser::parser::{Expr, MatrixSelector, SubqueryExpr, VectorSelector};

use crate::error::{AggregatorError, Result};
use crate::metrics::source::{Window, WindowValue};
use crate::query::Deadline;

use super::selector::{Selection, at_ms, duration_ms, offset_ms, too_many};
use super::value::{DistPoint, Elem, Point, RangeSeries, Val, drop_name, unique};
use super::{aggregation, binary, functions};

/// Series between two deadline checks in per-series loops.
pub(crate) const CHECK_EVERY: usize = 1024;

/// Everything an evaluation step reads.
pub(crate) struct Evaluator<'a> {
    pub selection: &'a Selection,
    /// The query's start and end, for `@ start()` and `@ end()`.
    pub start_ms: i64,
    pub end_ms: i64,
    pub lookback_ms: i64,
    /// A subquery's step when it names none.
    pub subquery_step_ms: i64,
    pub deadline: Deadline,
    /// `max_samples`, which subquery points count against.
    pub max_samples: usize,
    /// Points subqueries have produced so far.
    pub subquery_points: Cell<usize>,
}

impl<'a> Evaluator<'a> {
    /// The value of `expr` at `t_ms`.
    pub(crate) fn eval(&self, expr: &Expr, t_ms: i64) -> Result<Val<'a>> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Val::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, t_ms),
            Expr::Unary(u) => match self.eval(&u.expr, t_ms)? {
                Val::Scalar(v) => Ok(Val::Scalar(-v)),
                Val::Vector(elems) => Ok(Val::Vector(unique(
                    elems
                        .into_iter()
                        .filter_map(|e| {
                            let v = e.point.float()?;
                            Some(Elem::float(drop_name(&e.labels), -v))
                        })
                        .collect(),
                )?)),
                other => Err(type_error(
                    "unary minus",
                    "scalar or instant vector",
                    &other,
                )),
            },
            Expr::VectorSelector(vs) => Ok(Val::Vector(self.instant_selector(vs, t_ms)?)),
            Expr::MatrixSelector(ms) => Ok(self.range_selector(ms, t_ms)),
            Expr::Subquery(sq) => self.subquery(sq, t_ms),
            Expr::Aggregate(a) => aggregation::eval(self, a, t_ms),
            Expr::Binary(b) => binary::eval(self, b, t_ms),
            Expr::Call(c) => functions::eval(self, c, t_ms),
            Expr::Extension(_) => Err(AggregatorError::BadRequest(
                "extension expressions are not supported".to_owned(),
            )),
        }
    }

    /// Evaluates `expr` and requires an instant vector.
    pub(crate) fn vector(&self, expr: &Expr, t_ms: i64, what: &str) -> Result<Vec<Elem>> {
        match self.eval(expr, t_ms)? {
            Val::Vector(elems) => Ok(elems),
            other => Err(type_error(what, "instant vector", &other)),
        }
    }

    /// Evaluates `expr` and requires a scalar.
    pub(crate) fn scalar(&self, expr: &Expr, t_ms: i64, what: &str) -> Result<f64> {
        match self.eval(expr, t_ms)? {
            Val::Scalar(v) => Ok(v),
            other => Err(type_error(what, "scalar", &other)),
        }
    }

    /// Evaluates `expr` and requires a range vector.
    pub(crate) fn range(
        &self,
        expr: &Expr,
        t_ms: i64,
        what: &str,
    ) -> Result<(Vec<RangeSeries<'a>>, i64)> {
        match self.eval(expr, t_ms)? {
            Val::Range { series, range_ms } => Ok((series, range_ms)),
            other => Err(type_error(what, "range vector", &other)),
        }
    }

    /// The time a selector with `@` and `offset` reads at, for step `t_ms`.
    pub(crate) fn selector_time(&self, vs: &VectorSelector, t_ms: i64) -> i64 {
        at_ms(&vs.at, self.start_ms, self.end_ms)
            .unwrap_or(t_ms)
            .saturating_sub(offset_ms(&vs.offset))
    }

    /// Each series' newest window ending in `(t - lookback, t]`.
    pub(crate) fn instant_selector(&self, vs: &VectorSelector, t_ms: i64) -> Result<Vec<Elem>> {
        let at = self.selector_time(vs, t_ms);
        let oldest = at.saturating_sub(self.lookback_ms);
        let mut out = Vec::new();
        for (i, series) in self.selection.series(vs).iter().enumerate() {
            if i % CHECK_EVERY == 0 {
                self.deadline.check()?;
            }
            let newer = series.windows.partition_point(|w| w.end_ms <= at);
            let Some(window) = newer.checked_sub(1).map(|i| &series.windows[i]) else {
                continue;
            };
            if window.end_ms <= oldest {
                continue;
            }
            out.push(Elem {
                labels: series.labels.clone(),
                point: sample(window),
            });
        }
        Ok(out)
    }

    /// The sample times of the series `instant_selector` returns, for
    /// `timestamp()`.
    pub(crate) fn sample_times(&self, vs: &VectorSelector, t_ms: i64) -> Vec<i64> {
        let at = self.selector_time(vs, t_ms);
        let oldest = at.saturating_sub(self.lookback_ms);
        self.selection
            .series(vs)
            .iter()
            .filter_map(|series| {
                let newer = series.windows.partition_point(|w| w.end_ms <= at);
                let end = series.windows.get(newer.checked_sub(1)?)?.end_ms;
                (end > oldest).then_some(end)
            })
            .collect()
    }

    /// Each series' windows ending in `(t - range, t]`.
    fn range_selector(&self, ms: &MatrixSelector, t_ms: i64) -> Val<'a> {
        let at = self.selector_time(&ms.vs, t_ms);
        let range_ms = duration_ms(&ms.range);
        let oldest = at.saturating_sub(range_ms);
        let series = self
            .selection
            .series(&ms.vs)
            .iter()
            .filter_map(|s| {
                let lo = s.windows.partition_point(|w| w.end_ms <= oldest);
                let hi = s.windows.partition_point(|w| w.end_ms <= at);
                (lo < hi).then(|| RangeSeries {
                    labels: s.labels.clone(),
                    windows: Cow::Borrowed(&s.windows[lo..hi]),
                })
            })
            .collect();
        Val::Range { series, range_ms }
    }

    /// The inner query at each subquery step in `(t - range, t]`, steps
    /// aligned to multiples of the step as in Prometheus. Each point
    /// becomes a one-point gauge window.
    fn subquery(&self, sq: &SubqueryExpr, t_ms: i64) -> Result<Val<'a>> {
        let at = at_ms(&sq.at, self.start_ms, self.end_ms)
            .unwrap_or(t_ms)
            .saturating_sub(offset_ms(&sq.offset));
        let range_ms = duration_ms(&sq.range);
        let step = sq
            .step
            .as_ref()
            .map_or(self.subquery_step_ms, duration_ms)
            .max(1);
        let oldest = at.saturating_sub(range_ms);
        // The first multiple of `step` after `oldest`.
        let mut ts = oldest
            .div_euclid(step)
            .saturating_add(1)
            .saturating_mul(step);
        let mut found: Vec<RangeSeries<'a>> = Vec::new();
        let mut index = std::collections::HashMap::new();
        while ts <= at {
            self.deadline.check()?;
            let points: Vec<(crate::labels::Labels, f64)> = match self.eval(&sq.expr, ts)? {
                Val::Vector(elems) => elems
                    .into_iter()
                    .filter_map(|e| Some((e.labels, e.point.float()?)))
                    .collect(),
                Val::Scalar(v) => vec![(Default::default(), v)],
                other => return Err(type_error("subquery", "instant vector", &other)),
            };
            let produced = self.subquery_points.get().saturating_add(points.len());
            self.subquery_points.set(produced);
            too_many("samples", produced, self.max_samples)?;
            for (labels, v) in points {
                let i = *index.entry(labels.clone()).or_insert_with(|| {
                    found.push(RangeSeries {
                        labels,
                        windows: Cow::Owned(Vec::new()),
                    });
                    found.len() - 1
                });
                found[i].windows.to_mut().push(point_window(ts, v));
            }
            ts = match ts.checked_add(step) {
                Some(next) => next,
                None => break,
            };
        }
        Ok(Val::Range {
            series: found,
            range_ms,
        })
    }
}

/// What a plain selector reads from a window: a gauge's last value, a
/// counter's running total, a histogram's distribution.
pub(crate) fn sample(window: &Window) -> Point {
    match &window.value {
        WindowValue::Gauge { last, .. } => Point::Float(*last),
        WindowValue::Counter { total, .. } => Point::Float(*total),
        WindowValue::Histogram {
            count,
            sum,
            distribution,
        } => Point::Dist(DistPoint {
            distribution: distribution.clone(),
            count: *count as f64,
            sum: *sum,
        }),
    }
}

/// A one-point gauge window at `t_ms`.
pub(crate) fn point_window(t_ms: i64, v: f64) -> Window {
    Window {
        start_ms: t_ms.saturating_sub(1),
        end_ms: t_ms,
        value: WindowValue::Gauge {
            count: 1,
            sum: v,
            min: v,
            max: v,
            last: v,
        },
    }
}

/// `what expected a X, got a Y`.
pub(crate) fn type_error(what: &str, expected: &str, got: &Val<'_>) -> AggregatorError {
    AggregatorError::BadRequest(format!("{what}: expected {expected}, got {}", got.kind()))
}
