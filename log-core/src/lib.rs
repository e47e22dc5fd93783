//! `log-core`: Weir's durable, partitioned log, stored in Kafka's record
//! batch format.
//!
//! It owns topics, partitions, segments, record batches, offsets, retention,
//! compaction, crash recovery and consumer-group offsets. It knows nothing of
//! OpenTelemetry: records are keys, values, headers and timestamps.
//!
//! # Invariants
//! - A batch is stored exactly as encoded (Kafka record batch v2, CRC-32C),
//!   with only `baseOffset` stamped at append; Weir's own batches are
//!   zstd-compressed. A fetch can serve file bytes without re-encoding.
//! - Offsets within a partition strictly increase and are never reused for
//!   an acknowledged record.
//! - An append is acknowledged only when the durability policy holds
//!   (`fsync`: after `fdatasync`, with group commit; `os`: after `write`),
//!   and readers never see a record before it could be acknowledged.
//! - After any crash, the log reopens with every acknowledged record intact:
//!   the newest segment of each partition is CRC-scanned and cut at the
//!   first invalid batch. Bad bytes are reported, never a panic.
//!
//! # Layout
//! - [`appender`]: the trait producers append through, and the tenant header.
//! - [`batch`]: the record batch format — framing, CRC, encode, decode.
//! - [`segment`]: one segment file and its readers/writer.
//! - [`index`]: sparse offset and time indexes, in Kafka's file formats.
//! - [`partition`]: append with group commit, read, roll, high watermark.
//! - [`sync`]: the pool of threads that runs `fdatasync` for group commit.
//! - [`recovery`]: CRC scanning and truncation after an unclean stop.
//! - [`retention`] and [`compaction`]: cleaning old data.
//! - [`partitioner`]: Kafka's default key → partition mapping (murmur2).
//! - [`offsets`]: consumer-group offsets in `__consumer_offsets`.
//! - [`reader`]: the trait consumers read partitions through.
//! - [`log`]: the data dir — lock, topic metadata, open and close.
//! - [`check`]: offline verification and repair (`weir log check`).
//! - [`kafka`]: the Kafka wire protocol on the log.
//! - [`telemetry`]: the names of the log's own metrics.
//! - [`config`] and [`error`]: settings and the error type.

pub mod appender;
pub mod batch;
pub mod check;
pub mod compaction;
pub mod config;
pub mod error;
pub mod fsutil;
mod index;
pub mod kafka;
pub mod log;
pub mod offsets;
pub mod partition;
pub mod partitioner;
pub mod reader;
pub mod recovery;
pub mod retention;
mod segment;
mod sync;
pub mod telemetry;

pub use appender::{Appender, DEFAULT_TENANT, TENANT_HEADER};
pub use batch::{BatchHeader, NewRecord, PreparedBatch, Record};
pub use config::{CleanupPolicy, Durability, LogConfig, TopicConfig};
pub use error::{LogError, Result};
pub use log::{
    Log, OTLP_LOGS, OTLP_METRICS, OTLP_SPANS, OpenMode, PartitionInfo, RecoveryReport, Topic,
    TopicInfo,
};
pub use offsets::{CommittedOffset, ConsumerOffsets, OFFSETS_TOPIC};
pub use partition::{AppendInfo, FetchedBatches, Partition, PendingAppend};
pub use reader::PartitionReader;
