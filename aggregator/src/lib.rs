//! `aggregator`: the partition consumers that turn the telemetry topics into
//! queryable state, and the query engines over that state.
//!
//! # Invariants
//! - The log is the write-ahead log: every piece of state here records the
//!   next offset it has consumed per partition, and is rebuilt by replaying
//!   from it. Replaying never double counts or duplicates.
//! - Query engines read storage only through the source traits
//!   ([`logs::source::LogSource`], [`metrics::source::SeriesSource`]), and
//!   workers read the log only through [`log_core::PartitionReader`].
//! - Every query runs under [`query::QueryLimits`].
//!
//! # Layout
//! - [`clock`]: wall-clock time in nanoseconds.
//! - [`consumer`]: one worker thread per partition feeding a sink.
//! - [`labels`]: label sets and matchers shared by LogQL and PromQL.
//! - [`logs`]: the tantivy log index and its indexers, the native search
//!   API, the LogQL engine ([`logs::logql`]) and the sources it reads.
//! - [`metrics`]: windows, the window store and the source PromQL reads.
//! - [`query`]: query limits and deadlines.
//! - [`telemetry`]: the names of the aggregator's own metrics.
//! - [`error`]: the error type.

pub mod clock;
pub mod consumer;
pub mod error;
pub mod labels;
pub mod logs;
pub mod metrics;
pub mod query;
pub mod telemetry;

pub use error::{AggregatorError, Result};
