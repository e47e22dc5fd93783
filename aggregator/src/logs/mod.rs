//! Logs: the tantivy log index, its indexers, the native search API and
//! the source LogQL reads.
//!
//! # Layout
//! - [`document`]: OTLP log records as documents, and back.
//! - [`schema`]: the tantivy schema (Quickwit's OTLP field names).
//! - [`split`]: one partition's index for one time bucket.
//! - [`store`]: every split, checkpoints and retention.
//! - [`indexer`]: the partition sink that indexes `otlp_logs` exactly once.
//! - [`search`]: the native search API (tantivy query syntax, histogram,
//!   fields, tail).
//! - [`select`]: the index as a [`source::LogSource`].
//! - [`source`]: the boundary the LogQL engine reads through.

pub mod document;
pub mod indexer;
pub mod schema;
pub mod search;
pub mod select;
pub mod source;
pub mod split;
pub mod store;
