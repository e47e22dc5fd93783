//! Metrics: event-time windows, the window store and the source PromQL
//! reads.

pub mod distribution;
pub mod source;
