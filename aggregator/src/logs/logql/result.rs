//! What a LogQL query returns, shaped for Loki's HTTP API: `streams` for
//! log queries, `vector`/`scalar` for instant metric queries, `matrix` for
//! range metric queries, plus the statistics behind Loki's `stats` field.
//!
//! Labels are Weir's [`Labels`], so empty values never appear. For log
//! streams, `labels` are the stream labels and the labels the pipeline
//! extracted (Loki's "stream" and "parsed" categories, which is also what
//! Loki keys streams by); structured metadata is kept per entry, so the
//! HTTP layer can either report it as `structuredMetadata` (categorised
//! labels) or merge it into the stream labels as Loki does by default.

use crate::labels::Labels;

/// A query's result and what it took to compute.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    pub result: QueryResult,
    pub stats: QueryStats,
}

#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    /// Log lines grouped by labels, sorted by labels; entries within each
    /// stream in the requested direction.
    Streams(Vec<Stream>),
    /// One sample per series at the query time, sorted by labels (by value
    /// for `sort`, `sort_desc`, `topk` and `bottomk`).
    Vector(Vec<Sample>),
    /// Points per series at each step, sorted by labels; steps where a
    /// series has no value are absent.
    Matrix(Vec<Series>),
    Scalar {
        timestamp_ms: i64,
        value: f64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub labels: Labels,
    pub entries: Vec<StreamEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreamEntry {
    pub timestamp_nanos: i64,
    pub line: String,
    /// Structured metadata left after the pipeline.
    pub metadata: Labels,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub timestamp_ms: i64,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    /// `(milliseconds since the epoch, value)`, oldest first.
    pub points: Vec<(i64, f64)>,
}

/// Counts for Loki's `stats` (`summary.totalLinesProcessed`, ...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Entries the source handed to the engine.
    pub entries_scanned: u64,
    /// Bytes of those entries' lines.
    pub bytes_scanned: u64,
    /// Entries that passed every pipeline stage.
    pub entries_matched: u64,
}
