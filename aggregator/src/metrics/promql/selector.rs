//! Selectors: what a query reads, fetched once, and read back per step.
//!
//! Before evaluating, [`Selection::fetch`] walks the tree and works out,
//! for each distinct selector (its name and matchers), the span of window
//! ends any evaluation step can touch: every step's time, moved by `@` and
//! `offset`, widened by the lookback (instant selectors), the range (range
//! selectors) and the ranges of enclosing subqueries. Each distinct
//! selector is then selected from the [`SeriesSource`] once, and every
//! step reads its windows from memory with binary searches.
//!
//! A swept range query ([`sweep`](super::sweep)) reads through a
//! [`Scan`](super::scan::Scan) instead: the same needs, but each series is lent by the source one at a
//! time, so a query over a day of many series never holds them all.
//!
//! The resolution asked for is the step of the evaluation (a range query's
//! step, a subquery's step); a range selector asks for no more than its
//! range; an instant query's instant selectors ask for 1 ms, the finest
//! tier, so the newest closed window is seen.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use promql_parser::label::{MatchOp as ParserOp, Matcher as ParserMatcher};
use promql_parser::parser::{AtModifier, Expr, Offset, VectorSelector};

use crate::error::{AggregatorError, Result};
use crate::labels::{Labels, MatchOp, Matcher};
use crate::metrics::source::{SeriesSelect, SeriesSource, SeriesWindows};
use crate::query::{Deadline, QueryLimits};

use super::value::METRIC_NAME;

/// How a query is evaluated, as far as fetching is concerned.
pub(crate) struct FetchPlan<'a> {
    pub tenant: &'a str,
    pub source: &'a dyn SeriesSource,
    pub limits: QueryLimits,
    pub deadline: Deadline,
    pub lookback_ms: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    /// 0 for an instant query.
    pub step_ms: i64,
    pub subquery_step_ms: i64,
}

/// What one distinct selector needs.
#[derive(Debug)]
pub(super) struct Need {
    pub(super) branches: Vec<Vec<Matcher>>,
    /// Window ends in `(min_ms, max_ms]`.
    min_ms: i64,
    max_ms: i64,
    resolution_ms: i64,
}

/// What every distinct selector of a query reads, worked out from the
/// tree before anything is read.
#[derive(Debug, Default)]
pub(crate) struct Needs(HashMap<String, Need>);

impl Needs {
    /// What `vs` needs, if the query holds it.
    pub(super) fn get(&self, vs: &VectorSelector) -> Option<&Need> {
        self.0.get(&key(vs))
    }
}

impl Needs {
    pub(crate) fn of(expr: &Expr, plan: &FetchPlan<'_>) -> Result<Needs> {
        let mut needs = HashMap::new();
        collect(
            expr,
            plan,
            plan.start_ms,
            plan.end_ms,
            plan.step_ms,
            &mut needs,
        )?;
        Ok(Needs(needs))
    }
}

impl Need {
    pub(super) fn selects<'b>(
        &'b self,
        plan: &'b FetchPlan<'_>,
    ) -> impl Iterator<Item = SeriesSelect> + 'b {
        self.branches.iter().map(|branch| SeriesSelect {
            tenant: plan.tenant.to_owned(),
            matchers: branch.clone(),
            start_ms: self.min_ms,
            end_ms: self.max_ms,
            resolution_ms: self.resolution_ms.max(1),
        })
    }
}

/// The series of every selector of a query, with their windows.
#[derive(Debug, Default)]
pub(crate) struct Selection {
    data: HashMap<String, Vec<SeriesWindows>>,
}

impl Selection {
    /// Selects every selector of `needs` once.
    pub(crate) fn fetch(needs: &Needs, plan: &FetchPlan<'_>) -> Result<Selection> {
        let mut selection = Selection::default();
        let (mut series, mut samples) = (0usize, 0usize);
        for (key, need) in &needs.0 {
            let mut found: Vec<SeriesWindows> = Vec::new();
            // Only `or` branches can select a series twice.
            let several = need.branches.len() > 1;
            let mut seen: HashSet<Labels> = HashSet::new();
            for select in need.selects(plan) {
                plan.deadline.check()?;
                let remaining = plan.limits.max_series.saturating_sub(series);
                for s in plan.source.select(&select, remaining, plan.deadline)? {
                    if several && !seen.insert(s.labels.clone()) {
                        continue;
                    }
                    series += 1;
                    samples += s.windows.len();
                    found.push(s);
                }
                too_many("series", series, plan.limits.max_series)?;
                too_many("samples", samples, plan.limits.max_samples)?;
            }
            selection.data.insert(key.clone(), found);
        }
        Ok(selection)
    }

    /// The series fetched for `vs`.
    pub(crate) fn series(&self, vs: &VectorSelector) -> &[SeriesWindows] {
        self.data.get(&key(vs)).map_or(&[], Vec::as_slice)
    }
}

/// Fails with [`AggregatorError::TooMany`] once `count` passes `limit`.
pub(crate) fn too_many(what: &'static str, count: usize, limit: usize) -> Result<()> {
    if count > limit {
        Err(AggregatorError::TooMany { what, limit })
    } else {
        Ok(())
    }
}

/// Records what each selector under `expr` needs when `expr` is evaluated
/// at every step of `[start_ms, end_ms]`.
fn collect(
    expr: &Expr,
    plan: &FetchPlan<'_>,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
    needs: &mut HashMap<String, Need>,
) -> Result<()> {
    let mut recurse = |e: &Expr| collect(e, plan, start_ms, end_ms, step_ms, needs);
    match expr {
        Expr::VectorSelector(vs) => {
            let (lo, hi) = shifted(vs, plan, start_ms, end_ms);
            let resolution = if step_ms > 0 { step_ms } else { 1 };
            need(
                vs,
                lo.saturating_sub(plan.lookback_ms),
                hi,
                resolution,
                needs,
            )
        }
        Expr::MatrixSelector(ms) => {
            let (lo, hi) = shifted(&ms.vs, plan, start_ms, end_ms);
            let range = duration_ms(&ms.range);
            let resolution = if step_ms > 0 {
                step_ms.min(range)
            } else {
                range
            };
            need(&ms.vs, lo.saturating_sub(range), hi, resolution, needs)
        }
        Expr::Subquery(sq) => {
            let (lo, hi) = match at_ms(&sq.at, plan.start_ms, plan.end_ms) {
                Some(at) => (at, at),
                None => (start_ms, end_ms),
            };
            let offset = offset_ms(&sq.offset);
            let range = duration_ms(&sq.range);
            let step = sq
                .step
                .as_ref()
                .map_or(plan.subquery_step_ms, duration_ms)
                .max(1);
            let lo = lo.saturating_sub(offset).saturating_sub(range);
            let hi = hi.saturating_sub(offset);
            collect(&sq.expr, plan, lo, hi, step, needs)
        }
        Expr::Aggregate(a) => {
            if let Some(param) = &a.param {
                recurse(param)?;
            }
            recurse(&a.expr)
        }
        Expr::Unary(u) => recurse(&u.expr),
        Expr::Binary(b) => {
            recurse(&b.lhs)?;
            recurse(&b.rhs)
        }
        Expr::Paren(p) => recurse(&p.expr),
        Expr::Call(c) => c.args.args.iter().try_for_each(|a| recurse(a)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => Ok(()),
    }
}

/// The span of evaluation times of `vs` moved by its `@` and `offset`.
fn shifted(vs: &VectorSelector, plan: &FetchPlan<'_>, start_ms: i64, end_ms: i64) -> (i64, i64) {
    let offset = offset_ms(&vs.offset);
    match at_ms(&vs.at, plan.start_ms, plan.end_ms) {
        Some(at) => (at.saturating_sub(offset), at.saturating_sub(offset)),
        None => (
            start_ms.saturating_sub(offset),
            end_ms.saturating_sub(offset),
        ),
    }
}

fn need(
    vs: &VectorSelector,
    min_ms: i64,
    max_ms: i64,
    resolution_ms: i64,
    needs: &mut HashMap<String, Need>,
) -> Result<()> {
    match needs.get_mut(&key(vs)) {
        Some(n) => {
            n.min_ms = n.min_ms.min(min_ms);
            n.max_ms = n.max_ms.max(max_ms);
            n.resolution_ms = n.resolution_ms.min(resolution_ms);
        }
        None => {
            let branches = branches(vs)?;
            needs.insert(
                key(vs),
                Need {
                    branches,
                    min_ms,
                    max_ms,
                    resolution_ms,
                },
            );
        }
    }
    Ok(())
}

/// Identifies a selector by its name and matchers.
fn key(vs: &VectorSelector) -> String {
    let mut key = vs.name.clone().unwrap_or_default();
    let one = |key: &mut String, m: &ParserMatcher| {
        key.push_str(&format!("{}{}{:?},", m.name, m.op, m.value));
    };
    for m in &vs.matchers.matchers {
        one(&mut key, m);
    }
    for group in &vs.matchers.or_matchers {
        key.push_str(" or ");
        for m in group {
            one(&mut key, m);
        }
    }
    key
}

/// The matcher sets to select for `vs`: one, or one per `or` branch.
fn branches(vs: &VectorSelector) -> Result<Vec<Vec<Matcher>>> {
    let mut base = Vec::new();
    if let Some(name) = &vs.name {
        base.push(matcher(&ParserMatcher::new(
            ParserOp::Equal,
            METRIC_NAME,
            name,
        ))?);
    }
    for m in &vs.matchers.matchers {
        base.push(matcher(m)?);
    }
    if vs.matchers.or_matchers.is_empty() {
        return Ok(vec![base]);
    }
    vs.matchers
        .or_matchers
        .iter()
        .map(|group| {
            let mut branch = base.clone();
            for m in group {
                branch.push(matcher(m)?);
            }
            Ok(branch)
        })
        .collect()
}

fn matcher(m: &ParserMatcher) -> Result<Matcher> {
    let built = match &m.op {
        ParserOp::Equal => Matcher::new(&m.name, MatchOp::Equal, &m.value),
        ParserOp::NotEqual => Matcher::new(&m.name, MatchOp::NotEqual, &m.value),
        // The parser may have rewritten a Go-only regex into one Rust
        // accepts; fall back to its (already anchored) form.
        ParserOp::Re(re) => Matcher::new(&m.name, MatchOp::Regex, &m.value)
            .or_else(|_| Matcher::new(&m.name, MatchOp::Regex, re.as_str())),
        ParserOp::NotRe(re) => Matcher::new(&m.name, MatchOp::NotRegex, &m.value)
            .or_else(|_| Matcher::new(&m.name, MatchOp::NotRegex, re.as_str())),
    };
    built.map_err(|e| {
        AggregatorError::BadRequest(format!("matcher {}{}{:?}: {e}", m.name, m.op, m.value))
    })
}

/// Labels of a selector's equality matchers (but `__name__`), for `absent`.
pub(crate) fn equality_labels(vs: &VectorSelector) -> Labels {
    let all: Vec<&ParserMatcher> = vs.matchers.matchers.iter().collect();
    let pairs = all.iter().filter(|m| {
        matches!(m.op, ParserOp::Equal)
            && m.name != METRIC_NAME
            && all.iter().filter(|o| o.name == m.name).count() == 1
    });
    Labels::new(pairs.map(|m| (m.name.clone(), m.value.clone())))
}

/// A duration in milliseconds, saturating.
pub(crate) fn duration_ms(d: &Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// How far `offset` moves evaluation back in time.
pub(crate) fn offset_ms(offset: &Option<Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(d)) => duration_ms(d),
        Some(Offset::Neg(d)) => duration_ms(d).saturating_neg(),
    }
}

/// The fixed evaluation time an `@` modifier sets.
pub(crate) fn at_ms(at: &Option<AtModifier>, start_ms: i64, end_ms: i64) -> Option<i64> {
    match at {
        None => None,
        Some(AtModifier::Start) => Some(start_ms),
        Some(AtModifier::End) => Some(end_ms),
        Some(AtModifier::At(time)) => Some(match time.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => duration_ms(&d),
            Err(e) => duration_ms(&e.duration()).saturating_neg(),
        }),
    }
}

/// The matcher sets of a series selector given as text (`match[]` of the
/// Prometheus API): one, or one per `or` branch. Anything but a plain
/// vector selector is refused, naming what it is.
pub fn selector_matchers(text: &str) -> Result<Vec<Vec<Matcher>>> {
    match crate::metrics::promql::parse(text)? {
        Expr::VectorSelector(vs) => {
            let sets = branches(&vs)?;
            if sets
                .iter()
                .any(|set| set.iter().all(Matcher::matches_empty))
            {
                return Err(AggregatorError::BadRequest(format!(
                    "match[] {text:?}: at least one matcher must not match the empty string"
                )));
            }
            Ok(sets)
        }
        other => Err(AggregatorError::BadRequest(format!(
            "match[] {text:?}: a series selector is expected, not a {} expression",
            other.value_type()
        ))),
    }
}
