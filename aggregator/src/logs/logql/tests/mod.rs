//! LogQL tests: fixtures shared by the parse, log query and metric query
//! tests. Expected results are worked out by hand in each test.

mod logs;
mod metrics;
mod parse;

use std::sync::Arc;

use crate::error::Result;
use crate::labels::Labels;
use crate::logs::memory::MemorySource;
use crate::logs::source::{Direction, LogEntry};
use crate::query::QueryLimits;

use super::{LogQlEngine, QueryOutput, QueryResult, RangeWindow};

pub(super) const TENANT: &str = "acme";
pub(super) const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Seconds to nanoseconds.
pub(super) fn secs(n: i64) -> i64 {
    n * NANOS_PER_SECOND
}

pub(super) fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())))
}

pub(super) fn entry(
    second: i64,
    stream: &[(&str, &str)],
    metadata: &[(&str, &str)],
    line: &str,
) -> LogEntry {
    LogEntry {
        timestamp_nanos: secs(second),
        labels: labels(stream),
        metadata: labels(metadata),
        line: line.to_owned(),
    }
}

pub(super) struct Fixture {
    pub source: Arc<MemorySource>,
    pub engine: LogQlEngine<MemorySource>,
}

impl Fixture {
    pub fn new(entries: Vec<LogEntry>) -> Fixture {
        Fixture::with_limits(entries, QueryLimits::default())
    }

    pub fn with_limits(entries: Vec<LogEntry>, limits: QueryLimits) -> Fixture {
        let mut all: Vec<(String, LogEntry)> = entries
            .into_iter()
            .map(|e| (TENANT.to_owned(), e))
            .collect();
        // Another tenant's entry, which no query may see.
        all.push((
            "other".to_owned(),
            entry(1, &[("app", "api")], &[], "secret of another tenant"),
        ));
        let source = Arc::new(MemorySource::new(all));
        let engine = LogQlEngine::new(source.clone(), limits);
        Fixture { source, engine }
    }

    /// A log query over `[0s, 1000s)`.
    pub fn logs(&self, query: &str, limit: usize, direction: Direction) -> Result<QueryOutput> {
        let window = RangeWindow {
            start_nanos: 0,
            end_nanos: secs(1000),
            step_nanos: secs(1),
            limit,
            direction,
        };
        self.engine.range(TENANT, query, &window)
    }

    /// `(stream labels, line)` per entry, streams in label order.
    pub fn lines(&self, query: &str) -> Vec<(String, String)> {
        let output = self.logs(query, 100, Direction::Forward).unwrap();
        stream_lines(&output.result)
    }

    /// An instant metric query at `second`: `(labels, value)` per sample.
    pub fn instant(&self, query: &str, second: i64) -> Vec<(String, f64)> {
        match self
            .engine
            .instant(TENANT, query, secs(second))
            .unwrap()
            .result
        {
            QueryResult::Vector(samples) => {
                for sample in &samples {
                    assert_eq!(sample.timestamp_ms, second * 1000);
                }
                samples
                    .into_iter()
                    .map(|s| (s.labels.to_string(), s.value))
                    .collect()
            }
            other => panic!("expected a vector, got {other:?}"),
        }
    }

    /// A range metric query: `(labels, [(second, value)])` per series.
    pub fn matrix(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Vec<(String, Vec<(i64, f64)>)> {
        let window = RangeWindow {
            start_nanos: secs(start),
            end_nanos: secs(end),
            step_nanos: secs(step),
            limit: 100,
            direction: Direction::Backward,
        };
        match self.engine.range(TENANT, query, &window).unwrap().result {
            QueryResult::Matrix(series) => series
                .into_iter()
                .map(|s| {
                    let points = s.points.into_iter().map(|(ms, v)| (ms / 1000, v)).collect();
                    (s.labels.to_string(), points)
                })
                .collect(),
            other => panic!("expected a matrix, got {other:?}"),
        }
    }
}

pub(super) fn stream_lines(result: &QueryResult) -> Vec<(String, String)> {
    match result {
        QueryResult::Streams(streams) => streams
            .iter()
            .flat_map(|s| {
                s.entries
                    .iter()
                    .map(|e| (s.labels.to_string(), e.line.clone()))
            })
            .collect(),
        other => panic!("expected streams, got {other:?}"),
    }
}
