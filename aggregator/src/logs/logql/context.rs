//! What one query evaluation carries around: the source, the tenant, the
//! limits and deadline, running counts, and the one place that selects
//! entries and runs them through a pipeline.

use std::ops::ControlFlow;

use crate::error::{AggregatorError, Result};
use crate::labels::Matcher;
use crate::logs::source::{Direction, LogEntry, LogSelect, LogSource};
use crate::query::{Deadline, QueryLimits};

use super::ast::LogExpr;
use super::pipeline::{self, Processed};
use super::result::QueryStats;

/// Entries between two deadline checks while selecting; a check reads the
/// clock, cheap next to running a pipeline over this many lines.
const DEADLINE_CHECK_INTERVAL: u64 = 256;

pub(crate) struct Context<'a, S: LogSource + ?Sized> {
    pub source: &'a S,
    pub tenant: &'a str,
    pub limits: QueryLimits,
    pub deadline: Deadline,
    pub stats: QueryStats,
    /// Samples held so far, against `limits.max_samples`.
    pub samples: usize,
}

impl<S: LogSource + ?Sized> Context<'_, S> {
    /// Selects `[start_nanos, end_nanos)` for `log`, re-checks what the
    /// source only narrowed (range, matchers, filters), and hands each
    /// entry that passes the pipeline to `visit` until it breaks (with an
    /// error, or `None` to stop early).
    pub(crate) fn select(
        &mut self,
        log: &LogExpr,
        start_nanos: i64,
        end_nanos: i64,
        direction: Direction,
        visit: &mut dyn FnMut(Processed) -> ControlFlow<Option<AggregatorError>>,
    ) -> Result<()> {
        let select = LogSelect {
            tenant: self.tenant.to_owned(),
            start_nanos,
            end_nanos,
            matchers: log.matchers.clone(),
            required_substrings: pipeline::required_substrings(&log.stages),
            direction,
        };
        let source = self.source;
        let deadline = self.deadline;
        let stats = &mut self.stats;
        let mut failure = None;
        source.select(&select, deadline, &mut |entry: LogEntry| {
            stats.entries_scanned += 1;
            stats.bytes_scanned += entry.line.len() as u64;
            if stats
                .entries_scanned
                .is_multiple_of(DEADLINE_CHECK_INTERVAL)
                && let Err(e) = deadline.check()
            {
                failure = Some(e);
                return ControlFlow::Break(());
            }
            if entry.timestamp_nanos < start_nanos
                || entry.timestamp_nanos >= end_nanos
                || !selects(&log.matchers, &entry)
            {
                return ControlFlow::Continue(());
            }
            let Some(processed) = pipeline::run(&log.stages, entry) else {
                return ControlFlow::Continue(());
            };
            stats.entries_matched += 1;
            match visit(processed) {
                ControlFlow::Continue(()) => ControlFlow::Continue(()),
                ControlFlow::Break(error) => {
                    failure = error;
                    ControlFlow::Break(())
                }
            }
        })?;
        failure.map_or(Ok(()), Err)
    }

    pub(crate) fn check_series(&self, count: usize) -> Result<()> {
        if count > self.limits.max_series {
            return Err(AggregatorError::TooMany {
                what: "series",
                limit: self.limits.max_series,
            });
        }
        Ok(())
    }
}

/// Counts one more sample held, failing past `limit`.
pub(crate) fn hold_sample(held: &mut usize, limit: usize) -> Result<(), AggregatorError> {
    *held += 1;
    if *held > limit {
        return Err(AggregatorError::TooMany {
            what: "samples",
            limit,
        });
    }
    Ok(())
}

/// Whether the stream selector holds for an entry; selectors may name
/// stream labels and structured metadata alike (see the source docs).
fn selects(matchers: &[Matcher], entry: &LogEntry) -> bool {
    matchers.iter().all(|m| {
        let value = entry
            .labels
            .get(&m.name)
            .or_else(|| entry.metadata.get(&m.name))
            .unwrap_or("");
        m.matches(value)
    })
}
