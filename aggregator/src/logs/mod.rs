//! Logs: the source LogQL reads, the LogQL engine, and an in-memory source
//! for tests.

pub mod logql;
pub mod memory;
pub mod source;
