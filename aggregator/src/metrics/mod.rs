//! Metrics: event-time windows, the window store and the source PromQL
//! reads.
//!
//! - [`source`]: the [`SeriesSource`](source::SeriesSource) boundary and
//!   the Prometheus view of OTLP metrics.
//! - [`distribution`]: the mergeable HdrHistogram of a histogram window.
//! - [`window`]: open and closed windows and how they merge.
//! - [`worker`]: the per-partition workers rolling OTLP points into windows.
//! - [`cardinality`]: active-series limits per tenant and per metric.
//! - [`memory`]: an in-memory source for tests.
//! - [`promql`]: the PromQL engine.

pub mod cardinality;
pub mod distribution;
pub mod memory;
pub mod promql;
pub mod source;
pub mod window;
pub mod worker;
