//! The boundary the LogQL engine reads logs through.
//!
//! The engine never sees tantivy: it asks a [`LogSource`] for the entries of
//! a tenant in a time range whose labels satisfy a stream selector, with
//! hints (required substrings) the source may use to narrow candidates.
//! Pushdown is an optimisation only: a source may return entries that fail
//! a matcher or a hint, and the engine re-checks everything exactly.
//!
//! # The Loki view of a log record
//! - `line`: the body as text (a string body verbatim, a structured body as
//!   JSON).
//! - `labels` (the stream): `service_name`, `severity_text` and every
//!   resource attribute under its [`label_name`](crate::labels::label_name).
//! - `metadata` (Loki's structured metadata): every log record attribute
//!   under its label name, `trace_id` and `span_id` (hex) when set, and
//!   `detected_level` (lowercase: trace, debug, info, warn, error, fatal or
//!   unknown, from the severity number, else the severity text).
//!
//! Stream selectors may name labels and metadata alike (Weir indexes every
//! field; Loki would refuse a metadata name in a selector).

use std::ops::ControlFlow;

use crate::error::Result;
use crate::labels::{Labels, Matcher};
use crate::query::Deadline;

/// Which end of the range comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Newest first (Loki's default).
    #[default]
    Backward,
    Forward,
}

/// What to select.
#[derive(Debug, Clone)]
pub struct LogSelect {
    pub tenant: String,
    /// Inclusive.
    pub start_nanos: i64,
    /// Exclusive.
    pub end_nanos: i64,
    /// The stream selector; every matcher must hold.
    pub matchers: Vec<Matcher>,
    /// Substrings every returned line must contain (from `|=` filters,
    /// case-sensitive): a hint to narrow candidates with the inverted index.
    pub required_substrings: Vec<String>,
    pub direction: Direction,
}

/// One log record in the Loki view.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub timestamp_nanos: i64,
    pub labels: Labels,
    pub metadata: Labels,
    pub line: String,
}

/// Counts for Loki's `/index/stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceStats {
    pub streams: u64,
    /// Storage units touched (splits, for the tantivy source).
    pub chunks: u64,
    pub entries: u64,
    pub bytes: u64,
}

/// Somewhere log entries can be selected from.
pub trait LogSource: Send + Sync + 'static {
    /// Calls `visit` with the selected entries in `select.direction` order,
    /// until it returns `Break` or the entries run out. Blocking: call it
    /// from a blocking thread. Fails with a timeout once `deadline` passes.
    fn select(
        &self,
        select: &LogSelect,
        deadline: Deadline,
        visit: &mut dyn FnMut(LogEntry) -> ControlFlow<()>,
    ) -> Result<()>;

    /// Label names (stream labels and metadata) seen in the range.
    fn label_names(&self, tenant: &str, start_nanos: i64, end_nanos: i64) -> Result<Vec<String>>;

    /// Values of one label in the range, among entries matching `matchers`.
    fn label_values(
        &self,
        tenant: &str,
        name: &str,
        start_nanos: i64,
        end_nanos: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>>;

    /// Distinct stream label sets in the range matching `matchers`.
    fn series(
        &self,
        tenant: &str,
        start_nanos: i64,
        end_nanos: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<Labels>>;

    /// Volume of the entries in the range matching `matchers`.
    fn stats(
        &self,
        tenant: &str,
        start_nanos: i64,
        end_nanos: i64,
        matchers: &[Matcher],
    ) -> Result<SourceStats>;
}
