//! Logs: the tantivy log index, its indexers, the native search API, the
//! LogQL engine and the source it reads.
//!
//! # Layout
//! - [`document`]: OTLP log records as documents (the reference mapping and
//!   the indexer's [`document::DocumentBuilder`]), and back.
//! - [`schema`]: the tantivy schema (Quickwit's OTLP field names).
//! - [`split`]: one partition's index for one time bucket.
//! - [`store`]: every split, checkpoints and retention.
//! - [`indexer`]: the partition sink that indexes `otlp_logs` exactly once.
//! - [`search`]: the native search API (tantivy query syntax, histogram,
//!   fields, tail).
//! - [`select`]: the index as a [`source::LogSource`].
//! - [`source`]: the boundary the LogQL engine reads through.
//! - [`logql`]: the LogQL parser and engine.
//! - [`memory`]: an in-memory source for tests.

pub mod document;
pub mod indexer;
pub mod logql;
pub mod memory;
pub mod schema;
pub mod search;
pub mod select;
pub mod source;
pub mod split;
pub mod store;
