//! Logs: the tantivy indexer and the source LogQL reads.

pub mod source;
