//! Alerting's own durable state: a compacted, single-partition topic of
//! the embedded log per kind of state, keyed records holding JSON values.
//!
//! # Format
//! Each record is `key → value`: the key names one item (a notification
//! id in the outbox, `rules`, `dispatch` or `silences` in the state
//! topic), the value is its latest JSON encoding, and a tombstone (null
//! value) deletes it. Loading reads the partition from its start and keeps
//! the newest value per key, exactly what compaction would leave, so
//! compaction only reclaims space and never changes what is loaded.
//! Appends are acknowledged under the log's durability policy (`fsync` by
//! default), so anything written before a crash is there after it.
//!
//! Topics: [`STATE_TOPIC`] (rule and dispatcher state, silences) and
//! [`OUTBOX_TOPIC`] (notifications not yet delivered). Neither is a
//! telemetry topic; both are internal (`__` prefix), like
//! `__consumer_offsets`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use log_core::{CleanupPolicy, Log, NewRecord, Partition, TopicConfig};

use crate::error::Result;

/// Rule state, dispatcher state and silences.
pub const STATE_TOPIC: &str = "__alerting_state";
/// Notifications accepted for delivery and not yet finished.
pub const OUTBOX_TOPIC: &str = "__alerting_outbox";

/// Largest batch decoded while loading; state values are small.
const MAX_BATCH_BYTES: usize = 64 << 20;
/// Read size while loading.
const READ_BYTES: usize = 1 << 20;

/// One keyed, compacted topic.
#[derive(Clone)]
pub struct KeyedTopic {
    partition: Arc<Partition>,
}

impl KeyedTopic {
    /// Opens `name` in `log`, creating it (one partition, compacted, no
    /// time retention) if it does not exist.
    pub fn open(log: &Log, name: &str) -> Result<KeyedTopic> {
        let config = TopicConfig {
            partitions: 1,
            retention: None,
            retention_bytes: None,
            segment_bytes: 16 << 20,
            segment_age: Duration::from_secs(3600),
            cleanup_policy: CleanupPolicy::Compact,
            delete_retention: Duration::from_secs(3600),
            ..TopicConfig::default()
        };
        log.ensure_topic(name, config)?;
        Ok(KeyedTopic {
            partition: log.partition(name, 0)?,
        })
    }

    /// The newest value of every key that is not deleted.
    pub fn load(&self) -> Result<BTreeMap<String, Bytes>> {
        let mut items = BTreeMap::new();
        let mut offset = self.partition.log_start();
        let end = self.partition.high_watermark();
        while offset < end {
            let fetched = self.partition.read(offset, READ_BYTES)?;
            if fetched.is_empty() {
                break;
            }
            for record in fetched.records(MAX_BATCH_BYTES) {
                let record = record?;
                offset = record.offset + 1;
                let Some(key) = record.key else { continue };
                let key = String::from_utf8_lossy(&key).into_owned();
                match record.value {
                    Some(value) => items.insert(key, value),
                    None => items.remove(&key),
                };
            }
        }
        Ok(items)
    }

    /// Stores `value` under `key`; resolves once it is durable.
    pub async fn put(&self, key: &str, value: Bytes) -> Result<()> {
        self.append(key, Some(value)).await
    }

    /// Deletes `key`; resolves once the tombstone is durable.
    pub async fn delete(&self, key: &str) -> Result<()> {
        self.append(key, None).await
    }

    /// [`put`](Self::put) from a blocking thread.
    pub fn put_blocking(&self, key: &str, value: Bytes) -> Result<()> {
        let record = record(key, Some(value));
        self.partition.append(&[record])?.wait()?;
        Ok(())
    }

    async fn append(&self, key: &str, value: Option<Bytes>) -> Result<()> {
        let pending = self.partition.append(&[record(key, value)])?;
        pending.durable().await?;
        Ok(())
    }
}

fn record(key: &str, value: Option<Bytes>) -> NewRecord {
    NewRecord {
        timestamp: crate::clock::Clock::now_ms(&crate::clock::SystemClock),
        key: Some(Bytes::copy_from_slice(key.as_bytes())),
        value,
        headers: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use log_core::{LogConfig, OpenMode};

    use super::*;

    #[tokio::test]
    async fn latest_value_per_key_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (log, _) =
                Log::open(dir.path(), LogConfig::default(), OpenMode::ReadWrite).unwrap();
            let topic = KeyedTopic::open(&log, STATE_TOPIC).unwrap();
            topic.put("a", Bytes::from_static(b"1")).await.unwrap();
            topic.put("b", Bytes::from_static(b"2")).await.unwrap();
            topic.put("a", Bytes::from_static(b"3")).await.unwrap();
            topic.delete("b").await.unwrap();
            log.close().unwrap();
        }
        let (log, _) = Log::open(dir.path(), LogConfig::default(), OpenMode::ReadWrite).unwrap();
        let items = KeyedTopic::open(&log, STATE_TOPIC).unwrap().load().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items["a"], Bytes::from_static(b"3"));
    }
}
