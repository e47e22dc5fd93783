//! Committed consumer-group offsets, stored the Kafka way: as records of
//! the compacted internal topic `__consumer_offsets`, replayed into memory
//! when the log opens.
//!
//! Record layout (Kafka's offset-commit key v1 and value v3, big-endian,
//! strings as i16 length + UTF-8):
//! - key:   version i16 = 1, group string, topic string, partition i32
//! - value: version i16 = 3, offset i64, leader epoch i32 (-1),
//!   metadata string, commit timestamp i64
//!
//! A null value is a tombstone (the offset was deleted). A commit is
//! acknowledged only once its record is durable, like any other append.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::batch::NewRecord;
use crate::error::{LogError, Result};
use crate::partition::Partition;
use crate::retention::now_millis;

/// Kafka's name for the internal topic, so Kafka tooling recognises it.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
const KEY_VERSION: i16 = 1;
const VALUE_VERSION: i16 = 3;

/// A committed position of a group in one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: u64,
    pub metadata: String,
    pub commit_timestamp: i64,
}

type OffsetKey = (String, String, u32);

/// The consumer offset store.
pub struct ConsumerOffsets {
    partition: Arc<Partition>,
    committed: RwLock<BTreeMap<OffsetKey, CommittedOffset>>,
}

impl ConsumerOffsets {
    /// Replays the internal topic into memory.
    pub(crate) fn load(partition: Arc<Partition>) -> Result<ConsumerOffsets> {
        let mut committed = BTreeMap::new();
        let mut offset = partition.log_start();
        let max_batch = partition.settings().max_batch_bytes;
        while offset < partition.high_watermark() {
            let fetched = partition.read(offset, 4 << 20)?;
            if fetched.is_empty() {
                break;
            }
            for record in fetched.records(max_batch) {
                let record = record?;
                offset = record.offset + 1;
                let Some(key) = record.key else { continue };
                let key = decode_key(key).map_err(|e| bad_record(&partition, record.offset, e))?;
                match record.value {
                    None => {
                        committed.remove(&key);
                    }
                    Some(value) => {
                        let value = decode_value(value)
                            .map_err(|e| bad_record(&partition, record.offset, e))?;
                        committed.insert(key, value);
                    }
                }
            }
            if let Some((header, _)) = fetched.batches().last() {
                offset = offset.max(header.next_offset());
            }
        }
        Ok(ConsumerOffsets {
            partition,
            committed: RwLock::new(committed),
        })
    }

    /// Commits an offset durably.
    pub async fn commit(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
        offset: u64,
        metadata: &str,
    ) -> Result<()> {
        let (record, key, value) = self.commit_record(group, topic, partition, offset, metadata)?;
        self.partition.append(&[record])?.durable().await?;
        self.committed.write().unwrap().insert(key, value);
        Ok(())
    }

    /// Commits an offset durably, blocking the thread.
    pub fn commit_blocking(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
        offset: u64,
        metadata: &str,
    ) -> Result<()> {
        let (record, key, value) = self.commit_record(group, topic, partition, offset, metadata)?;
        self.partition.append(&[record])?.wait()?;
        self.committed.write().unwrap().insert(key, value);
        Ok(())
    }

    fn commit_record(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
        offset: u64,
        metadata: &str,
    ) -> Result<(NewRecord, OffsetKey, CommittedOffset)> {
        for (what, s) in [("group", group), ("topic", topic), ("metadata", metadata)] {
            if s.len() > i16::MAX as usize {
                return Err(LogError::InvalidConfig {
                    key: what.into(),
                    reason: format!("{} bytes is longer than {}", s.len(), i16::MAX),
                });
            }
        }
        let now = now_millis();
        let value = CommittedOffset {
            offset,
            metadata: metadata.to_owned(),
            commit_timestamp: now,
        };
        let record = NewRecord {
            timestamp: now,
            key: Some(encode_key(group, topic, partition)),
            value: Some(encode_value(&value)),
            headers: Vec::new(),
        };
        Ok((
            record,
            (group.to_owned(), topic.to_owned(), partition),
            value,
        ))
    }

    /// The committed offset of `group` in a partition.
    pub fn fetch(&self, group: &str, topic: &str, partition: u32) -> Option<CommittedOffset> {
        let key = (group.to_owned(), topic.to_owned(), partition);
        self.committed.read().unwrap().get(&key).cloned()
    }

    /// All offsets committed by `group`: `(topic, partition, offset)`.
    pub fn group(&self, group: &str) -> Vec<(String, u32, CommittedOffset)> {
        self.committed
            .read()
            .unwrap()
            .iter()
            .filter(|((g, _, _), _)| g == group)
            .map(|((_, t, p), o)| (t.clone(), *p, o.clone()))
            .collect()
    }

    /// Names of groups with committed offsets.
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = self
            .committed
            .read()
            .unwrap()
            .keys()
            .map(|k| k.0.clone())
            .collect();
        groups.dedup();
        groups
    }

    /// Deletes a group's offsets (writes tombstones).
    pub async fn delete_group(&self, group: &str) -> Result<()> {
        let keys: Vec<OffsetKey> = self
            .committed
            .read()
            .unwrap()
            .keys()
            .filter(|k| k.0 == group)
            .cloned()
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        let records: Vec<NewRecord> = keys
            .iter()
            .map(|(g, t, p)| NewRecord {
                timestamp: now_millis(),
                key: Some(encode_key(g, t, *p)),
                value: None,
                headers: Vec::new(),
            })
            .collect();
        self.partition.append(&records)?.durable().await?;
        let mut committed = self.committed.write().unwrap();
        for key in keys {
            committed.remove(&key);
        }
        Ok(())
    }
}

fn bad_record(partition: &Partition, offset: u64, detail: String) -> LogError {
    LogError::corruption(
        partition.dir(),
        offset,
        format!("offset commit record: {detail}"),
    )
}

fn put_str(buf: &mut BytesMut, s: &str) {
    buf.put_i16(s.len() as i16);
    buf.put_slice(s.as_bytes());
}

fn get_str(buf: &mut Bytes) -> Result<String, String> {
    if buf.remaining() < 2 {
        return Err("truncated string length".into());
    }
    let len = buf.get_i16();
    if len < 0 || buf.remaining() < len as usize {
        return Err(format!("string length {len} out of range"));
    }
    String::from_utf8(buf.split_to(len as usize).to_vec()).map_err(|_| "string is not UTF-8".into())
}

fn encode_key(group: &str, topic: &str, partition: u32) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(KEY_VERSION);
    put_str(&mut buf, group);
    put_str(&mut buf, topic);
    buf.put_i32(partition as i32);
    buf.freeze()
}

fn decode_key(mut buf: Bytes) -> Result<OffsetKey, String> {
    if buf.remaining() < 2 || buf.get_i16() != KEY_VERSION {
        return Err("unknown key version".into());
    }
    let group = get_str(&mut buf)?;
    let topic = get_str(&mut buf)?;
    if buf.remaining() < 4 {
        return Err("truncated partition".into());
    }
    let partition = buf.get_i32();
    let partition =
        u32::try_from(partition).map_err(|_| format!("negative partition {partition}"))?;
    Ok((group, topic, partition))
}

fn encode_value(value: &CommittedOffset) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(VALUE_VERSION);
    buf.put_i64(value.offset as i64);
    buf.put_i32(-1);
    put_str(&mut buf, &value.metadata);
    buf.put_i64(value.commit_timestamp);
    buf.freeze()
}

fn decode_value(mut buf: Bytes) -> Result<CommittedOffset, String> {
    if buf.remaining() < 2 + 8 + 4 || buf.get_i16() != VALUE_VERSION {
        return Err("unknown or truncated value".into());
    }
    let offset = buf.get_i64();
    let _leader_epoch = buf.get_i32();
    let metadata = get_str(&mut buf)?;
    if buf.remaining() < 8 {
        return Err("truncated commit timestamp".into());
    }
    let commit_timestamp = buf.get_i64();
    let offset = u64::try_from(offset).map_err(|_| format!("negative offset {offset}"))?;
    Ok(CommittedOffset {
        offset,
        metadata,
        commit_timestamp,
    })
}
