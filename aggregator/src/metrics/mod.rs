//! Metrics: event-time windows, the window store and the source PromQL
//! reads.
//!
//! - [`source`]: the [`SeriesSource`](source::SeriesSource) boundary and
//!   the Prometheus view of OTLP metrics.
//! - [`counters`]: a counter series' ends and deltas, the columns
//!   `rate`, `increase` and `delta` read.
//! - [`distribution`]: the mergeable HdrHistogram of a histogram window.
//! - [`window`]: open and closed windows and how they merge.
//! - [`worker`]: the per-partition workers rolling OTLP points into windows.
//! - [`store`]: the window store: closed windows per tier on disk, with a
//!   label index, read as a [`SeriesSource`](source::SeriesSource).
//! - [`cardinality`]: active-series limits per tenant and per metric.
//! - [`memory`]: an in-memory source for tests.
//! - [`promql`]: the PromQL engine.

pub mod cardinality;
pub mod counters;
pub mod distribution;
pub mod memory;
pub mod promql;
pub mod source;
pub mod store;
pub mod window;
pub mod worker;
