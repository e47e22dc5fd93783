//! The public entry point: [`LogQlEngine`] parses a query, walks its tree
//! over a [`LogSource`] and shapes the result for the HTTP layer.

use std::sync::Arc;

use crate::error::{AggregatorError, Result};
use crate::logs::source::{Direction, LogSource};
use crate::query::{Deadline, QueryLimits};

use super::ast::{Expr, Grouping, RangeAggregation, RangeOp, VectorAggregation, VectorOp};
use super::context::Context;
use super::matrix::{StepSeries, Steps, Value};
use super::result::{QueryOutput, QueryResult, QueryStats, Sample, Series};
use super::vector::rank;
use super::{binary, parser, range, streams, vector};

const NANOS_PER_MILLI: i64 = 1_000_000;

/// Runs LogQL queries over a log source. Blocking: call it from a thread
/// that may block (the source is blocking).
pub struct LogQlEngine<S: LogSource + ?Sized> {
    source: Arc<S>,
    limits: QueryLimits,
}

impl<S: LogSource + ?Sized> LogQlEngine<S> {
    pub fn new(source: Arc<S>, limits: QueryLimits) -> LogQlEngine<S> {
        LogQlEngine { source, limits }
    }

    pub fn limits(&self) -> &QueryLimits {
        &self.limits
    }

    /// Evaluates a metric query at one instant. Log queries are refused
    /// here, as Loki refuses them as instant queries: run them with
    /// [`range`](Self::range).
    pub fn instant(&self, tenant: &str, query: &str, time_nanos: i64) -> Result<QueryOutput> {
        self.instant_expr(tenant, &parser::parse(query)?, time_nanos)
    }

    /// [`instant`](Self::instant) for an already parsed query (alert rules
    /// parse once and evaluate often).
    pub fn instant_expr(&self, tenant: &str, expr: &Expr, time_nanos: i64) -> Result<QueryOutput> {
        if matches!(expr, Expr::Log(_)) {
            return Err(AggregatorError::BadRequest(
                "log queries are not supported as an instant query type; run them as a range \
                 query"
                    .to_owned(),
            ));
        }
        let mut ctx = self.context(tenant);
        let value = evaluate(&mut ctx, expr, &Steps::instant(time_nanos))?;
        let timestamp_ms = time_nanos.div_euclid(NANOS_PER_MILLI);
        let result = match value {
            Value::Scalar(value) => QueryResult::Scalar {
                timestamp_ms,
                value,
            },
            Value::Matrix(series) => {
                QueryResult::Vector(instant_vector(expr, series, timestamp_ms))
            }
        };
        Ok(QueryOutput {
            result,
            stats: ctx.stats,
        })
    }

    /// Evaluates a query over a window: a log query returns up to `limit`
    /// entries of `[start, end)` in `direction`; a metric query returns a
    /// point per series at every `step` from `start` to `end` inclusive.
    pub fn range(&self, tenant: &str, query: &str, window: &RangeWindow) -> Result<QueryOutput> {
        self.range_expr(tenant, &parser::parse(query)?, window)
    }

    /// [`range`](Self::range) for an already parsed query.
    pub fn range_expr(
        &self,
        tenant: &str,
        expr: &Expr,
        window: &RangeWindow,
    ) -> Result<QueryOutput> {
        let mut ctx = self.context(tenant);
        let result = if let Expr::Log(log) = expr {
            if window.end_nanos < window.start_nanos {
                return Err(AggregatorError::BadRequest(format!(
                    "end {} is before start {}",
                    window.end_nanos, window.start_nanos
                )));
            }
            QueryResult::Streams(streams::evaluate(
                &mut ctx,
                log,
                window.start_nanos,
                window.end_nanos,
                window.limit,
                window.direction,
            )?)
        } else {
            let steps = Steps::range(window.start_nanos, window.end_nanos, window.step_nanos)?;
            let series = match evaluate(&mut ctx, expr, &steps)? {
                Value::Scalar(value) => vec![StepSeries {
                    labels: Default::default(),
                    values: vec![Some(value); steps.count],
                }],
                Value::Matrix(series) => series,
            };
            QueryResult::Matrix(matrix(series, &steps))
        };
        Ok(QueryOutput {
            result,
            stats: ctx.stats,
        })
    }

    fn context<'a>(&'a self, tenant: &'a str) -> Context<'a, S> {
        Context {
            source: &*self.source,
            tenant,
            limits: self.limits,
            deadline: Deadline::after(self.limits.timeout),
            stats: QueryStats::default(),
            samples: 0,
        }
    }
}

/// The time parameters of a range query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeWindow {
    pub start_nanos: i64,
    pub end_nanos: i64,
    /// Between metric evaluations; unused by log queries.
    pub step_nanos: i64,
    /// Entries a log query returns; unused by metric queries.
    pub limit: usize,
    /// Order of a log query's entries; unused by metric queries.
    pub direction: Direction,
}

fn evaluate<S: LogSource + ?Sized>(
    ctx: &mut Context<'_, S>,
    expr: &Expr,
    steps: &Steps,
) -> Result<Value> {
    ctx.deadline.check()?;
    let value = match expr {
        Expr::Log(_) => {
            return Err(AggregatorError::BadRequest(
                "a log query cannot be evaluated as a metric".to_owned(),
            ));
        }
        Expr::Number(value) => return Ok(Value::Scalar(*value)),
        Expr::Vector(value) => Value::Matrix(vec![StepSeries {
            labels: Default::default(),
            values: vec![Some(*value); steps.count],
        }]),
        Expr::RangeAggregation(agg) => Value::Matrix(range::evaluate(ctx, agg, steps)?),
        Expr::VectorAggregation(agg) => match evaluate_grouped(ctx, agg, steps)? {
            Value::Matrix(series) => Value::Matrix(vector::evaluate(agg, series, steps.count)?),
            Value::Scalar(_) => {
                return Err(AggregatorError::BadRequest(
                    "vector aggregations need a vector operand, not a scalar".to_owned(),
                ));
            }
        },
        Expr::Binary(expr) => {
            let lhs = evaluate(ctx, &expr.lhs, steps)?;
            let rhs = evaluate(ctx, &expr.rhs, steps)?;
            binary::evaluate(expr, lhs, rhs, steps.count)?
        }
    };
    if let Value::Matrix(series) = &value {
        ctx.check_series(series.len())?;
    }
    Ok(value)
}

/// The operand of a vector aggregation. A `sum` over a range aggregation
/// that adds its samples (`count_over_time`, `rate`, `bytes_*`,
/// `sum_over_time`) is grouped while sampling: the sum of per-series
/// window sums is the window sum per group, and series that differ only in
/// labels the sum drops (trace ids in metadata, say) are never held one by
/// one, so `sum by (level) (count_over_time({...}[1m]))` stays within
/// `max_series` however many distinct label sets the entries have.
fn evaluate_grouped<S: LogSource + ?Sized>(
    ctx: &mut Context<'_, S>,
    agg: &VectorAggregation,
    steps: &Steps,
) -> Result<Value> {
    if let Expr::RangeAggregation(inner) = agg.inner.as_ref()
        && agg.op == VectorOp::Sum
        && inner.grouping.is_none()
        && matches!(
            inner.op,
            RangeOp::CountOverTime
                | RangeOp::Rate
                | RangeOp::BytesOverTime
                | RangeOp::BytesRate
                | RangeOp::SumOverTime
        )
    {
        let grouping = agg.grouping.clone().unwrap_or(Grouping {
            without: false,
            labels: Vec::new(),
        });
        let grouped = RangeAggregation {
            grouping: Some(grouping),
            ..inner.clone()
        };
        return Ok(Value::Matrix(range::evaluate(ctx, &grouped, steps)?));
    }
    evaluate(ctx, &agg.inner, steps)
}

/// The one-step matrix as samples, ordered as the outermost aggregation
/// asks (`sort`, `topk`, ...) or else by labels.
fn instant_vector(expr: &Expr, series: Vec<StepSeries>, timestamp_ms: i64) -> Vec<Sample> {
    let mut samples: Vec<Sample> = series
        .into_iter()
        .filter_map(|s| {
            s.values[0].map(|value| Sample {
                labels: s.labels,
                timestamp_ms,
                value,
            })
        })
        .collect();
    let order = match expr {
        Expr::VectorAggregation(agg) => match agg.op {
            VectorOp::Sort | VectorOp::Bottomk => Some(false),
            VectorOp::SortDesc | VectorOp::Topk => Some(true),
            _ => None,
        },
        _ => None,
    };
    if let Some(top) = order {
        samples.sort_by(|a, b| rank(a.value, b.value, top).then_with(|| a.labels.cmp(&b.labels)));
    }
    samples
}

fn matrix(series: Vec<StepSeries>, steps: &Steps) -> Vec<Series> {
    series
        .into_iter()
        .map(|s| Series {
            labels: s.labels,
            points: s
                .values
                .into_iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (steps.time(i).div_euclid(NANOS_PER_MILLI), v)))
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect()
}
