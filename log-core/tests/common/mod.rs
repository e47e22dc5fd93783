//! Helpers shared by the integration tests: small logs in temp dirs,
//! whole-partition reads, and direct access to segment files for
//! corruption and crash scenarios.

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use log_core::batch::BatchHeader;
use log_core::{
    Durability, Log, LogConfig, NewRecord, OpenMode, Partition, Record, RecoveryReport, TopicConfig,
};

/// Decompression bound used when tests decode what they read.
pub const MAX_BATCH: usize = 1 << 20;

/// Log settings for tests: the background cleaner is effectively off (tests
/// call retention and compaction themselves, with their own clock), and
/// limits are small.
pub fn log_config(durability: Durability) -> LogConfig {
    LogConfig {
        durability,
        sync_threads: 2,
        max_record_bytes: 256 << 10,
        max_batch_bytes: MAX_BATCH,
        cleanup_interval: Duration::from_secs(3600),
        ..LogConfig::default()
    }
}

/// A single-partition delete-policy topic with small segments and no
/// retention unless a test sets it.
pub fn topic_config(segment_bytes: u64) -> TopicConfig {
    TopicConfig {
        partitions: 1,
        retention: None,
        retention_bytes: None,
        segment_bytes,
        segment_age: Duration::from_secs(3600),
        index_interval_bytes: 4096,
        ..TopicConfig::default()
    }
}

pub fn open(dir: &Path, config: &LogConfig) -> (Arc<Log>, RecoveryReport) {
    Log::open(dir, config.clone(), OpenMode::ReadWrite).expect("open log")
}

/// Closes a log and checks that nothing else still holds it.
pub fn close(log: Arc<Log>) {
    log.close().expect("close log");
    drop(log);
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A record whose value names it, so a mix-up is visible in a failure.
pub fn record(key: &str, value: &str, timestamp: i64) -> NewRecord {
    NewRecord {
        timestamp,
        key: Some(Bytes::copy_from_slice(key.as_bytes())),
        value: Some(Bytes::copy_from_slice(value.as_bytes())),
        headers: vec![("h".into(), Some(Bytes::copy_from_slice(value.as_bytes())))],
    }
}

/// Appends and waits for the acknowledgement; returns `(base, last)`.
pub fn append(partition: &Arc<Partition>, records: &[NewRecord]) -> (u64, u64) {
    let info = partition
        .append(records)
        .expect("append")
        .wait()
        .expect("append acknowledged");
    (info.base_offset, info.last_offset)
}

/// Every record from `from` up to the high watermark, in offset order,
/// skipping compaction gaps.
pub fn read_all(partition: &Partition, from: u64) -> Vec<Record> {
    let mut out = Vec::new();
    let mut offset = from;
    let end = partition.high_watermark();
    while offset < end {
        let fetched = partition.read(offset, 64 << 10).expect("read");
        if fetched.is_empty() {
            break;
        }
        for record in fetched.records(MAX_BATCH) {
            let record = record.expect("decode");
            assert!(
                record.offset >= offset,
                "record {} went backwards from {offset}",
                record.offset
            );
            offset = record.offset + 1;
            out.push(record);
        }
        if let Some((header, _)) = fetched.batches().last() {
            offset = offset.max(header.next_offset());
        }
    }
    out
}

/// Asserts that a stored record is the one that was appended.
pub fn assert_same(stored: &Record, appended: &NewRecord) {
    assert_eq!(
        stored.timestamp, appended.timestamp,
        "timestamp of offset {}",
        stored.offset
    );
    assert_eq!(stored.key, appended.key, "key of offset {}", stored.offset);
    assert_eq!(
        stored.value, appended.value,
        "value of offset {}",
        stored.offset
    );
    assert_eq!(
        stored.headers, appended.headers,
        "headers of offset {}",
        stored.offset
    );
}

/// A segment file of a partition directory.
#[derive(Debug, Clone)]
pub struct SegmentFile {
    pub base_offset: u64,
    pub path: PathBuf,
    pub len: u64,
}

/// The `.log` files of a partition directory, oldest first.
pub fn segment_files(partition_dir: &Path) -> Vec<SegmentFile> {
    let mut out: Vec<SegmentFile> = std::fs::read_dir(partition_dir)
        .expect("list partition dir")
        .map(|e| e.unwrap().path())
        .filter_map(|path| {
            let base_offset = path
                .file_name()?
                .to_str()?
                .strip_suffix(".log")?
                .parse()
                .ok()?;
            let len = std::fs::metadata(&path).ok()?.len();
            Some(SegmentFile {
                base_offset,
                path,
                len,
            })
        })
        .collect();
    out.sort_by_key(|s| s.base_offset);
    out
}

/// A batch found in a segment file: where it starts and its header.
#[derive(Debug, Clone, Copy)]
pub struct StoredBatch {
    pub position: u64,
    pub header: BatchHeader,
}

/// Walks the batch headers of an undamaged segment file.
pub fn batches_in(path: &Path) -> Vec<StoredBatch> {
    let bytes = std::fs::read(path).expect("read segment");
    let mut out = Vec::new();
    let mut position = 0usize;
    while position < bytes.len() {
        let header =
            BatchHeader::parse(&bytes[position..]).expect("segment under test is undamaged");
        out.push(StoredBatch {
            position: position as u64,
            header,
        });
        position += header.size as usize;
    }
    assert_eq!(
        position,
        bytes.len(),
        "{} ends inside a batch",
        path.display()
    );
    out
}

/// Where the clean-shutdown marker of a data dir lives.
pub fn clean_shutdown_marker(data_dir: &Path) -> PathBuf {
    data_dir.join("log").join(".clean-shutdown")
}

/// Makes the next open take the recovery path, as after a crash.
pub fn forget_clean_shutdown(data_dir: &Path) {
    std::fs::remove_file(clean_shutdown_marker(data_dir)).expect("remove clean-shutdown marker");
}

/// Copies a directory tree (a data dir, possibly while a log has it open:
/// the copy is what a crash at this instant would leave behind, given that
/// the page cache survives).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Flips every bit of one byte of a file.
pub fn flip_byte(path: &Path, position: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[position as usize] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}
