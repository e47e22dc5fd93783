//! `weir bench ...`: load benchmarks that print throughput and
//! HdrHistogram latency percentiles beside a baseline measured in the same
//! run, so figures from a noisy shared machine can be compared as ratios.

pub mod log;
pub mod logs;
pub mod metrics;
pub(crate) mod payload;
pub mod remote_write;
pub(crate) mod report;
