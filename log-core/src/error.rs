//! The one error type of `log-core`.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the log.
///
/// Variants name the offending thing (topic, partition, file, byte position)
/// so that a message is actionable without a debugger. Errors are mapped to
/// protocol status codes only at the edges (ingest, the Kafka server).
///
/// An I/O error's `Display` names what was being done; the OS error is its
/// `source()` (print the chain, e.g. with [`LogError::chain`] or anyhow's
/// `{:#}`, to see both).
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },

    /// Bytes read from disk are not what was written.
    #[error("{file}: {detail} at byte {position}")]
    Corruption {
        file: PathBuf,
        position: u64,
        detail: String,
    },

    /// A batch handed in by a client is malformed (bad framing, CRC, magic).
    #[error("invalid record batch: {0}")]
    InvalidBatch(String),

    #[error("record of {size} bytes exceeds the limit of {limit} bytes")]
    RecordTooLarge { size: usize, limit: usize },

    #[error("record batch of {size} bytes exceeds the limit of {limit} bytes")]
    BatchTooLarge { size: usize, limit: usize },

    #[error("empty record batch")]
    EmptyBatch,

    #[error("topic {0:?} does not exist")]
    UnknownTopic(String),

    #[error("topic {topic:?} has no partition {partition}")]
    UnknownPartition { topic: String, partition: u32 },

    #[error("topic {0:?} already exists")]
    TopicExists(String),

    #[error("invalid topic name {name:?}: {reason}")]
    InvalidTopicName { name: String, reason: &'static str },

    #[error("invalid config {key}: {reason}")]
    InvalidConfig { key: String, reason: String },

    /// Records of a compacted topic must carry a key.
    #[error("topic {0:?} is compacted and needs a key on every record")]
    MissingKey(String),

    #[error(
        "offset {offset} is out of range for {topic}-{partition} (log start {log_start}, end {log_end})"
    )]
    OffsetOutOfRange {
        topic: String,
        partition: u32,
        offset: u64,
        log_start: u64,
        log_end: u64,
    },

    #[error("data dir {dir} is locked by another process{holder}; stop it first")]
    Locked { dir: PathBuf, holder: String },

    #[error("data dir {0} does not exist")]
    NoDataDir(PathBuf),

    #[error("the log is open read-only")]
    ReadOnly,

    /// A sync failed: the partition refuses appends until the process restarts
    /// and recovery has re-read what reached the disk.
    #[error("{topic}-{partition} is failed after a sync error ({reason}); restart to recover")]
    PartitionFailed {
        topic: String,
        partition: u32,
        reason: String,
    },

    #[error("the log is shutting down")]
    ShuttingDown,
}

/// Result alias used throughout `log-core`.
pub type Result<T, E = LogError> = std::result::Result<T, E>;

impl LogError {
    /// Wraps an I/O error with what was being done and to which path.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        LogError::Io {
            context: context.into(),
            source,
        }
    }

    /// This error and its causes, joined by `: `, for log lines.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }

    pub(crate) fn corruption(
        file: impl Into<PathBuf>,
        position: u64,
        detail: impl Into<String>,
    ) -> Self {
        LogError::Corruption {
            file: file.into(),
            position,
            detail: detail.into(),
        }
    }
}

/// Adds path context to `io::Result`s.
pub(crate) trait IoContext<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| LogError::io(what(), e))
    }
}
