//! The Kafka wire protocol on the log, so Kafka clients (librdkafka, the
//! Java client, kafka-python, kcat) can produce, consume in groups and
//! replay. Weir is a single-broker cluster: node 0 leads every partition,
//! with leader epoch -1 (unknown) everywhere.
//!
//! # Protocol
//! Frames are a big-endian `i32` size then a request header and body,
//! decoded and encoded with the `kafka-protocol` crate. Requests on one
//! connection are answered in order, one at a time, as a Kafka broker
//! does. A frame larger than [`KafkaConfig::max_request_bytes`], a header
//! that does not decode or a version outside [`versions::SUPPORTED`]
//! closes the connection (after an `UNSUPPORTED_VERSION` answer for
//! `ApiVersions`, which is answered with the v0 header whatever its
//! version, as Kafka requires). Only what works is advertised.
//!
//! # Data
//! Produce stores the client's record batches verbatim (CRC and records
//! validated, `baseOffset` stamped) and answers once the log's durability
//! policy holds; `acks=0` gets no answer. Fetch serves stored bytes,
//! never re-encoding, and long-polls up to `max_wait_ms` for `min_bytes`.
//! Committed offsets live in the log's `__consumer_offsets`
//! ([`crate::offsets`]); group membership is in memory ([`group`]), so a
//! restart makes every group rebalance, as a coordinator failover does.
//!
//! # Layout
//! - [`server`]: the listener, connections, framing and dispatch.
//! - [`versions`]: the supported APIs and versions.
//! - [`metadata`]: Metadata, topic creation and deletion, DescribeConfigs.
//! - [`produce`]: Produce and idempotent producers (InitProducerId).
//! - [`fetch`]: Fetch and ListOffsets.
//! - [`group`]: the group coordinator and offset commits.

pub mod fetch;
pub mod group;
pub mod metadata;
pub mod produce;
pub mod server;
pub mod versions;

pub use server::{KafkaConfig, serve};
