//! `ingest`: Weir's OTLP receivers — gRPC and HTTP, protobuf and JSON, for
//! logs, metrics and traces.
//!
//! A request is decoded (bounded by `max_request_bytes` after
//! decompression), admitted against the in-flight budget, validated item
//! by item, split per resource into log records keyed by `service.name`,
//! appended one batch per partition through the [`log_core::Appender`]
//! trait, and answered only when every append is durable.
//!
//! # Invariants
//! - An exporter gets success only for data the log has acknowledged.
//! - Invalid items are rejected one by one through OTLP partial success;
//!   the rest of the request is stored.
//! - Memory is bounded: request size after decompression, in-flight bytes,
//!   concurrent streams. Overload is answered with a retry hint, never by
//!   dropping acknowledged data.
//!
//! # Layout
//! - [`signal`]: logs, metrics, traces and what differs between them.
//! - [`validate`] and [`limits`]: what is rejected, what is truncated.
//! - [`split`]: per-resource records, keys, partitions, the tenant header.
//! - [`pipeline`]: admission, appends, durable acknowledgement.
//! - [`concurrency`]: the bound on requests in progress per transport.
//! - [`otlp_grpc`] and [`otlp_http`]: the two transports and how refusals
//!   map to gRPC codes and HTTP statuses.
//! - [`otlp_json`]: OTLP/JSON decoding where `opentelemetry-proto` falls
//!   short.
//! - [`auth`]: bearer tokens and tenants.
//! - [`error`]: why a request was refused.
//! - [`telemetry`]: ingest's own metric names.

pub mod auth;
pub mod concurrency;
pub mod error;
pub mod limits;
pub mod otlp_grpc;
pub mod otlp_http;
pub mod otlp_json;
pub mod pipeline;
pub mod signal;
pub mod split;
pub mod telemetry;
pub mod validate;

pub use auth::Auth;
pub use error::IngestError;
pub use limits::Limits;
pub use pipeline::{Pipeline, PipelineConfig};
pub use signal::{Export, Signal};
