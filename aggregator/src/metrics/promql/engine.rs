//! The entry points: [`PromQlEngine::instant`] and [`PromQlEngine::range`].

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use promql_parser::parser::Expr;
use promql_parser::parser::value::ValueType;

use crate::error::{AggregatorError, Result};
use crate::labels::Labels;
use crate::metrics::source::SeriesSource;
use crate::query::{Deadline, QueryLimits};

use super::evaluator::{Evaluator, sample};
use super::scan::Scan;
use super::selector::{FetchPlan, Needs, Selection, too_many};
use super::sweep::{self, Row, Steps};
use super::syntax;
use super::value::{Elem, Sample, Series, Val, Value, unique};

/// Prometheus' default `--query.lookback-delta`.
pub const DEFAULT_LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// A subquery's step when it names none: Prometheus' default global
/// evaluation interval.
pub const DEFAULT_SUBQUERY_STEP_MS: i64 = 60 * 1000;

/// Points a range query may return per series, as Prometheus allows.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// Evaluates PromQL over the windows a [`SeriesSource`] holds.
#[derive(Clone)]
pub struct PromQlEngine {
    source: Arc<dyn SeriesSource>,
    limits: QueryLimits,
    lookback_ms: i64,
    subquery_step_ms: i64,
}

impl PromQlEngine {
    /// An engine with Prometheus' default lookback and subquery step.
    pub fn new(source: Arc<dyn SeriesSource>, limits: QueryLimits) -> PromQlEngine {
        PromQlEngine {
            source,
            limits,
            lookback_ms: DEFAULT_LOOKBACK_MS,
            subquery_step_ms: DEFAULT_SUBQUERY_STEP_MS,
        }
    }

    /// How far back an instant selector looks for a sample (at least 1 ms).
    pub fn with_lookback_ms(mut self, lookback_ms: i64) -> PromQlEngine {
        self.lookback_ms = lookback_ms.max(1);
        self
    }

    /// The step of subqueries that name none (at least 1 ms).
    pub fn with_subquery_step_ms(mut self, step_ms: i64) -> PromQlEngine {
        self.subquery_step_ms = step_ms.max(1);
        self
    }

    pub fn limits(&self) -> QueryLimits {
        self.limits
    }

    pub fn lookback_ms(&self) -> i64 {
        self.lookback_ms
    }

    /// Evaluates `query` at `time_ms`. A range-vector expression (`x[5m]`,
    /// a subquery) gives a matrix of its windows' samples.
    pub fn instant(&self, tenant: &str, query: &str, time_ms: i64) -> Result<Value> {
        let deadline = Deadline::after(self.limits.timeout);
        let expr = self.prepare(query)?;
        let plan = self.plan(tenant, deadline, (time_ms, time_ms, 0));
        let selection = Selection::fetch(&Needs::of(&expr, &plan)?, &plan)?;
        let ev = self.evaluator(&selection, deadline, time_ms, time_ms);
        Ok(match ev.eval(&expr, time_ms)? {
            Val::Scalar(v) => Value::Scalar(time_ms, v),
            Val::String(s) => Value::String(time_ms, s),
            Val::Vector(elems) => Value::Vector(self.samples(elems, time_ms)?),
            Val::Range { series, .. } => {
                Value::Matrix(self.series(series.into_iter().map(|s| {
                    let points = s
                        .windows
                        .iter()
                        .filter_map(|w| Some((w.end_ms, sample(w).float()?)))
                        .collect();
                    (s.labels, points)
                }))?)
            }
        })
    }

    /// Evaluates `query` at `start_ms`, `start_ms + step_ms`, ... up to
    /// `end_ms`; always a matrix, series sorted by labels. The shapes
    /// [`sweep`] knows are evaluated series by series, the rest step by
    /// step, with the same results.
    pub fn range(
        &self,
        tenant: &str,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Value> {
        let (value, _) = self.range_evaluated(tenant, query, (start_ms, end_ms, step_ms), true)?;
        Ok(value)
    }

    /// [`range`](Self::range) over `(start_ms, end_ms, step_ms)`, swept
    /// when `may_sweep` and the shape allows; says whether it was.
    pub(crate) fn range_evaluated(
        &self,
        tenant: &str,
        query: &str,
        (start_ms, end_ms, step_ms): (i64, i64, i64),
        may_sweep: bool,
    ) -> Result<(Value, bool)> {
        if step_ms <= 0 {
            return Err(AggregatorError::BadRequest(format!(
                "step {step_ms} ms: zero or negative query resolution step widths are not accepted; try a positive integer"
            )));
        }
        if end_ms < start_ms {
            return Err(AggregatorError::BadRequest(format!(
                "end {end_ms} is before start {start_ms}"
            )));
        }
        let steps = (end_ms.abs_diff(start_ms) / step_ms.unsigned_abs()).saturating_add(1);
        if steps > MAX_POINTS_PER_SERIES as u64 {
            return Err(AggregatorError::BadRequest(format!(
                "step {step_ms} ms: exceeded maximum resolution of 11,000 points per timeseries; try decreasing the query resolution (?step=XX)"
            )));
        }
        let deadline = Deadline::after(self.limits.timeout);
        let expr = self.prepare(query)?;
        let kind = expr.value_type();
        if !matches!(kind, ValueType::Scalar | ValueType::Vector) {
            return Err(AggregatorError::BadRequest(format!(
                "invalid expression type {kind} for range query, must be scalar or instant vector"
            )));
        }
        let plan = self.plan(tenant, deadline, (start_ms, end_ms, step_ms));
        let needs = Needs::of(&expr, &plan)?;
        if may_sweep {
            let nothing = Selection::default();
            let ev = self.evaluator(&nothing, deadline, start_ms, end_ms);
            let steps = Steps {
                start_ms,
                step_ms,
                count: steps as usize,
            };
            if let Some(rows) = sweep::sweep(&ev, &Scan::new(&needs, &plan), &expr, &steps)? {
                return Ok((self.matrix(rows, &steps)?, true));
            }
        }
        let selection = Selection::fetch(&needs, &plan)?;
        let ev = self.evaluator(&selection, deadline, start_ms, end_ms);
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut series: Vec<Series> = Vec::new();
        let mut points = 0usize;
        let mut t = start_ms;
        while t <= end_ms {
            deadline.check()?;
            let step: Vec<(Labels, f64)> = match ev.eval(&expr, t)? {
                Val::Scalar(v) => vec![(Labels::default(), v)],
                Val::Vector(elems) => unique(elems)?
                    .into_iter()
                    .filter_map(|e| Some((e.labels, e.point.float()?)))
                    .collect(),
                other => {
                    return Err(AggregatorError::BadRequest(format!(
                        "invalid expression type {} for range query",
                        other.kind()
                    )));
                }
            };
            points += step.len();
            too_many("samples", points, self.limits.max_samples)?;
            for (labels, v) in step {
                let i = *index.entry(labels.clone()).or_insert_with(|| {
                    series.push(Series {
                        labels,
                        points: Vec::new(),
                    });
                    series.len() - 1
                });
                series[i].points.push((t, v));
            }
            too_many("series", series.len(), self.limits.max_series)?;
            t = match t.checked_add(step_ms) {
                Some(next) => next,
                None => break,
            };
        }
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok((Value::Matrix(series), false))
    }

    /// A swept range query's rows as its result, within the same limits
    /// the stepwise loop keeps.
    fn matrix(&self, rows: Vec<Row>, steps: &Steps) -> Result<Value> {
        let mut series = self.series(rows.into_iter().map(|row| {
            let points = row
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| Some((steps.at(i), (*v)?)))
                .collect();
            (row.labels, points)
        }))?;
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(Value::Matrix(series))
    }

    /// A matrix's `series`, failing past the series and sample limits.
    fn series(
        &self,
        series: impl ExactSizeIterator<Item = (Labels, Vec<(i64, f64)>)>,
    ) -> Result<Vec<Series>> {
        too_many("series", series.len(), self.limits.max_series)?;
        let mut samples = 0usize;
        let mut out = Vec::with_capacity(series.len());
        for (labels, points) in series {
            samples += points.len();
            too_many("samples", samples, self.limits.max_samples)?;
            out.push(Series { labels, points });
        }
        Ok(out)
    }

    fn prepare(&self, query: &str) -> Result<Expr> {
        let expr = syntax::parse(query)?;
        syntax::check_depth(&expr)?;
        Ok(expr)
    }

    fn plan<'a>(
        &'a self,
        tenant: &'a str,
        deadline: Deadline,
        (start_ms, end_ms, step_ms): (i64, i64, i64),
    ) -> FetchPlan<'a> {
        FetchPlan {
            tenant,
            source: self.source.as_ref(),
            limits: self.limits,
            deadline,
            lookback_ms: self.lookback_ms,
            start_ms,
            end_ms,
            step_ms,
            subquery_step_ms: self.subquery_step_ms,
        }
    }

    fn evaluator<'a>(
        &self,
        selection: &'a Selection,
        deadline: Deadline,
        start_ms: i64,
        end_ms: i64,
    ) -> Evaluator<'a> {
        Evaluator {
            selection,
            start_ms,
            end_ms,
            lookback_ms: self.lookback_ms,
            subquery_step_ms: self.subquery_step_ms,
            deadline,
            max_samples: self.limits.max_samples,
            subquery_points: Cell::new(0),
        }
    }

    /// An instant vector's float elements as result samples.
    fn samples(&self, elems: Vec<Elem>, t_ms: i64) -> Result<Vec<Sample>> {
        let out: Vec<Sample> = unique(elems)?
            .into_iter()
            .filter_map(|e| {
                Some(Sample {
                    value: e.point.float()?,
                    labels: e.labels,
                    t_ms,
                })
            })
            .collect();
        too_many("series", out.len(), self.limits.max_series)?;
        Ok(out)
    }
}
