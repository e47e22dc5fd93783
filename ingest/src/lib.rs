//! `ingest`: the OTLP receivers (gRPC and HTTP, protobuf and JSON).
//!
//! It will own decoding, validation, limits, auth and tenants, partitioning
//! and backpressure, and append to the log through `log-core`. Nothing is
//! implemented yet; see ARCHITECTURE.md for the plan.
