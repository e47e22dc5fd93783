//! Settings of the log and of each topic.
//!
//! These are validated settings types; the binary parses TOML into its own
//! raw structs and converts. Topic settings follow Kafka's topic configs and
//! are persisted with the topic, so they survive restarts.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{LogError, Result};

/// When an append is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Acknowledge after `fdatasync`. Concurrent appends to a partition share
    /// one sync (group commit). The default: an appliance has no replicas.
    Fsync,
    /// Acknowledge once the bytes are in the page cache. Survives a process
    /// crash, not a power loss or kernel panic.
    Os,
}

/// Log-wide settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub durability: Durability,
    /// The longest a sync round waits to gather appends before it calls
    /// `fdatasync`. A round waits only until about as many appenders as the
    /// previous round released are back, so a lone appender is synced at
    /// once. Zero syncs as soon as one append waits.
    pub group_commit_window: Duration,
    /// Threads that run `fdatasync` for dirty partitions, so that partitions
    /// sync in parallel.
    pub sync_threads: usize,
    /// Largest single record (key + value + headers) accepted.
    pub max_record_bytes: usize,
    /// Largest encoded batch accepted, and the decompression bound when a
    /// batch is decoded.
    pub max_batch_bytes: usize,
    /// zstd level for batches the log encodes itself (Kafka's default is 3).
    pub zstd_level: i32,
    /// How often retention and compaction run.
    pub cleanup_interval: Duration,
    /// Keys the compactor may hold in memory in one pass.
    pub compaction_max_keys: usize,
    /// Defaults for topics created without explicit settings.
    pub topic_defaults: TopicConfig,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            durability: Durability::Fsync,
            // One disk flush is ~0.2–2 ms here; waiting longer than that
            // to gather a group costs more latency than it saves.
            group_commit_window: Duration::from_millis(2),
            sync_threads: 4,
            max_record_bytes: 16 << 20,
            max_batch_bytes: 64 << 20,
            zstd_level: 3,
            cleanup_interval: Duration::from_secs(30),
            compaction_max_keys: 4_000_000,
            topic_defaults: TopicConfig::default(),
        }
    }
}

impl LogConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, reason: String| {
            Err(LogError::InvalidConfig {
                key: key.into(),
                reason,
            })
        };
        if self.sync_threads == 0 || self.sync_threads > 64 {
            return bad(
                "sync_threads",
                format!("{} is not in 1..=64", self.sync_threads),
            );
        }
        if self.group_commit_window > Duration::from_millis(100) {
            return bad("group_commit_window", "must be at most 100ms".into());
        }
        if self.max_record_bytes == 0 || self.max_record_bytes > self.max_batch_bytes {
            return bad(
                "max_record_bytes",
                format!(
                    "{} must be positive and at most max_batch_bytes",
                    self.max_record_bytes
                ),
            );
        }
        if self.max_batch_bytes > (1 << 30) {
            return bad("max_batch_bytes", "must be at most 1 GiB".into());
        }
        if !(-7..=22).contains(&self.zstd_level) {
            return bad(
                "zstd_level",
                format!("{} is not in -7..=22", self.zstd_level),
            );
        }
        if self.cleanup_interval < Duration::from_millis(10) {
            return bad("cleanup_interval", "must be at least 10ms".into());
        }
        if self.compaction_max_keys == 0 {
            return bad("compaction_max_keys", "must be positive".into());
        }
        self.topic_defaults.validate().map_err(|e| match e {
            LogError::InvalidConfig { key, reason } => LogError::InvalidConfig {
                key: format!("topic_defaults.{key}"),
                reason,
            },
            other => other,
        })
    }
}

/// What happens to old data of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CleanupPolicy {
    /// Whole sealed segments are deleted by age and size.
    Delete,
    /// Only the latest record per key is kept; tombstones go after
    /// `delete_retention`.
    Compact,
}

/// Per-topic settings, persisted in the topic's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicConfig {
    pub partitions: u32,
    /// Segments whose newest record is older than this are deleted
    /// (`retention.ms`). `None` keeps them forever.
    #[serde(with = "humantime_serde")]
    pub retention: Option<Duration>,
    /// Oldest segments are deleted while a partition is larger than this
    /// (`retention.bytes`). `None` means no size limit.
    pub retention_bytes: Option<u64>,
    /// A segment is sealed at this size (`segment.bytes`).
    pub segment_bytes: u64,
    /// A segment is sealed at this age (`segment.ms`), so that retention can
    /// delete it even when the partition is quiet.
    #[serde(with = "humantime_serde")]
    pub segment_age: Duration,
    /// An entry in the sparse offset index every this many bytes
    /// (`index.interval.bytes`).
    pub index_interval_bytes: u32,
    pub cleanup_policy: CleanupPolicy,
    /// How long tombstones survive compaction (`delete.retention.ms`).
    #[serde(with = "humantime_serde")]
    pub delete_retention: Duration,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            partitions: 4,
            retention: Some(Duration::from_secs(7 * 24 * 3600)),
            retention_bytes: None,
            // Kafka's default: large enough that segment count stays low,
            // small enough that retention frees space in useful steps.
            segment_bytes: 1 << 30,
            segment_age: Duration::from_secs(24 * 3600),
            // Kafka's default; a lookup scans at most ~4 KiB past an entry.
            index_interval_bytes: 4096,
            cleanup_policy: CleanupPolicy::Delete,
            delete_retention: Duration::from_secs(24 * 3600),
        }
    }
}

/// Offset index entries store 32-bit positions, so a segment must stay
/// below 2 GiB (as in Kafka).
pub const MAX_SEGMENT_BYTES: u64 = i32::MAX as u64;
/// Enough for any sane deployment; bounds per-topic file handles and threads.
pub const MAX_PARTITIONS: u32 = 1024;

impl TopicConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, reason: String| {
            Err(LogError::InvalidConfig {
                key: key.into(),
                reason,
            })
        };
        if self.partitions == 0 || self.partitions > MAX_PARTITIONS {
            return bad(
                "partitions",
                format!("{} is not in 1..={MAX_PARTITIONS}", self.partitions),
            );
        }
        if !(4096..=MAX_SEGMENT_BYTES).contains(&self.segment_bytes) {
            return bad(
                "segment_bytes",
                format!(
                    "{} is not in 4096..={MAX_SEGMENT_BYTES}",
                    self.segment_bytes
                ),
            );
        }
        if self.segment_age < Duration::from_secs(1) {
            return bad("segment_age", "must be at least 1s".into());
        }
        if self.index_interval_bytes == 0 {
            return bad("index_interval_bytes", "must be positive".into());
        }
        if self.retention_bytes == Some(0) {
            return bad("retention_bytes", "must be positive (or unlimited)".into());
        }
        if self.retention == Some(Duration::ZERO) {
            return bad("retention", "must be positive (or forever)".into());
        }
        Ok(())
    }
}
