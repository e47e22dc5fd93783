//! Log queries: the entries that pass the pipeline, grouped into streams.
//!
//! The source hands entries over in the requested direction across all
//! streams, so stopping after `limit` entries keeps the newest (backward)
//! or oldest (forward) `limit` of the whole range, as Loki does.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use crate::error::{AggregatorError, Result};
use crate::labels::Labels;
use crate::logs::source::{Direction, LogSource};

use super::ast::LogExpr;
use super::context::Context;
use super::result::{Stream, StreamEntry};

/// Selects `[start_nanos, end_nanos)` and returns up to `limit` entries.
pub(crate) fn evaluate<S: LogSource + ?Sized>(
    ctx: &mut Context<'_, S>,
    log: &LogExpr,
    start_nanos: i64,
    end_nanos: i64,
    limit: usize,
    direction: Direction,
) -> Result<Vec<Stream>> {
    if limit == 0 {
        return Err(AggregatorError::BadRequest(
            "limit 0: must be positive".to_owned(),
        ));
    }
    if limit > ctx.limits.max_hits {
        return Err(AggregatorError::TooMany {
            what: "log lines",
            limit: ctx.limits.max_hits,
        });
    }
    let max_streams = ctx.limits.max_series;
    let mut streams: BTreeMap<Labels, Vec<StreamEntry>> = BTreeMap::new();
    let mut taken = 0;
    ctx.select(log, start_nanos, end_nanos, direction, &mut |processed| {
        let labels = processed.labels.stream_labels();
        let entry = StreamEntry {
            timestamp_nanos: processed.timestamp_nanos,
            line: processed.line,
            metadata: processed.labels.metadata(),
        };
        if !streams.contains_key(&labels) && streams.len() >= max_streams {
            return ControlFlow::Break(Some(AggregatorError::TooMany {
                what: "streams",
                limit: max_streams,
            }));
        }
        streams.entry(labels).or_default().push(entry);
        taken += 1;
        if taken >= limit {
            ControlFlow::Break(None)
        } else {
            ControlFlow::Continue(())
        }
    })?;
    Ok(streams
        .into_iter()
        .map(|(labels, mut entries)| {
            // Sources promise the order; a stable sort makes it certain.
            match direction {
                Direction::Forward => entries.sort_by_key(|e| e.timestamp_nanos),
                Direction::Backward => {
                    entries.sort_by_key(|e| std::cmp::Reverse(e.timestamp_nanos))
                }
            }
            Stream { labels, entries }
        })
        .collect())
}
