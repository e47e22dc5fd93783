//! One partition: an ordered list of segments, the newest of which takes
//! appends.
//!
//! Invariants:
//! - Offsets are assigned under the writer mutex, so batch base offsets
//!   strictly increase; every batch is written whole before anyone can see it.
//! - The high watermark (the offset readers may read up to) only moves
//!   forward, and only past bytes that satisfy the durability policy: after
//!   `fdatasync` under `fsync`, after `write` under `os`.
//! - Every segment but the newest is sealed: fsynced with its index files
//!   before the next one was created (see `recovery`).
//! - After a failed sync the partition refuses appends: the kernel may have
//!   dropped the dirty pages, so only a restart (and recovery) can tell what
//!   is on disk.
//!
//! # Layout
//! - this file: the partition, opening it (recovery), reads, retention and
//!   compaction hooks, close.
//! - [`append`]: appending — offsets, the pending buffer, rolls, failure.
//! - [`commit`]: group commit — waiters, sync rounds, the high watermark.
//! - [`fetch`]: what a read returns.

mod append;
mod commit;
mod fetch;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::watch;
use tracing::warn;

use crate::batch;
use crate::config::{LogConfig, TopicConfig};
use crate::error::{IoContext, LogError, Result};
use crate::fsutil::sync_dir;
use crate::index::SegmentIndex;
use crate::recovery::{self, Damage, ScanOptions};
use crate::segment::{self, Segment};
use crate::sync::Syncer;

use append::IoState;
pub use append::{AppendInfo, PendingAppend};
use append::{PartitionName, Writer};
use commit::SyncState;
pub use fetch::FetchedBatches;
use fetch::below_high_watermark;

/// A topic's name and settings, shared by its partitions.
#[derive(Debug)]
pub(crate) struct TopicMeta {
    pub name: String,
    pub config: RwLock<TopicConfig>,
}

pub struct Partition {
    topic: Arc<TopicMeta>,
    id: u32,
    dir: PathBuf,
    settings: Arc<LogConfig>,
    syncer: Arc<Syncer>,
    read_only: bool,
    writer: Mutex<Writer>,
    /// Held while bytes are written to or synced in the active segment, so
    /// that a roll or close (which take it after the writer lock) never
    /// seals a segment while a sync round is still writing or syncing it.
    /// Holds what went wrong with the file (see [`IoState`]). Lock order:
    /// writer, then io.
    io: Mutex<IoState>,
    segments: RwLock<Vec<Arc<Segment>>>,
    sync: Mutex<SyncState>,
    /// Signalled when an appender registers a waiter.
    sync_arrivals: Condvar,
    high_watermark: watch::Sender<u64>,
    log_start: AtomicU64,
    /// Compaction bookkeeping (see `compaction`).
    pub(crate) cleaned_up_to: AtomicU64,
    /// Serialises retention and compaction passes over this partition.
    pub(crate) cleaning: Mutex<()>,
}

/// A partition dir is `<topic>-<partition>`, as in Kafka.
pub(crate) fn dir_name(topic: &str, partition: u32) -> String {
    format!("{topic}-{partition}")
}

/// What opening a partition found and did.
#[derive(Debug, Default, Clone)]
pub struct PartitionRecovery {
    pub segments: usize,
    pub scanned_batches: u64,
    pub truncations: Vec<Truncation>,
}

/// Bytes removed from the end of a segment because they were not valid.
#[derive(Debug, Clone)]
pub struct Truncation {
    pub damage: Damage,
    pub dropped_bytes: u64,
}

impl Partition {
    /// Opens (or, when absent, creates) the partition directory. `clean`
    /// says whether the last shutdown was clean; if not, the newest segment
    /// is CRC-scanned and truncated at the first invalid batch.
    pub(crate) fn open(
        log_dir: &Path,
        topic: Arc<TopicMeta>,
        id: u32,
        settings: Arc<LogConfig>,
        syncer: Arc<Syncer>,
        clean: bool,
        read_only: bool,
    ) -> Result<(Arc<Partition>, PartitionRecovery)> {
        let dir = log_dir.join(dir_name(&topic.name, id));
        let config = topic.config.read().unwrap().clone();
        let mut report = PartitionRecovery::default();
        if !dir.exists() {
            if read_only {
                return Err(LogError::corruption(
                    &dir,
                    0,
                    "partition directory is missing",
                ));
            }
            std::fs::create_dir_all(&dir).context(|| format!("create {}", dir.display()))?;
            sync_dir(log_dir)?;
        }
        let mut bases = list_segments(&dir, read_only)?;
        if bases.is_empty() {
            if read_only {
                return Err(LogError::corruption(&dir, 0, "partition has no segment"));
            }
            Segment::create(&dir, 0)?;
            sync_dir(&dir)?;
            bases.push(0);
        }
        let scan_options = ScanOptions {
            verify_crc: true,
            index_interval: config.index_interval_bytes,
            max_batch_bytes: settings.max_batch_bytes,
            keep_boundaries: false,
        };
        let mut segments = Vec::with_capacity(bases.len());
        for (i, &base) in bases.iter().enumerate() {
            let path = dir.join(format!(
                "{}.{}",
                segment::file_stem(base),
                segment::LOG_SUFFIX
            ));
            let newest = i + 1 == bases.len();
            let len = std::fs::metadata(&path)
                .context(|| format!("stat {}", path.display()))?
                .len();
            let offsets_path = path.with_extension(segment::INDEX_SUFFIX);
            let times_path = path.with_extension(segment::TIME_INDEX_SUFFIX);
            let trusted = if newest && !clean {
                None
            } else {
                SegmentIndex::read_files(
                    &offsets_path,
                    &times_path,
                    len,
                    config.index_interval_bytes,
                )
                .and_then(|index| {
                    let (from, from_offset) = index
                        .offset_entries()
                        .last()
                        .map_or((0, base), |&(rel, pos)| {
                            (u64::from(pos), base + u64::from(rel))
                        });
                    let next =
                        recovery::next_offset_after(&path, base, from, from_offset, len).ok()??;
                    Some((index, next))
                })
            };
            let (index, size, next) = match trusted {
                Some((index, next)) => (index, len, next),
                None => {
                    let scan = recovery::scan_segment(&path, base, &scan_options)?;
                    report.scanned_batches += scan.batches;
                    if let Some(damage) = scan.damage {
                        let dropped = scan.file_len - scan.valid_len;
                        warn!(
                            file = %damage.file.display(),
                            position = damage.position,
                            dropped_bytes = dropped,
                            reason = %damage.reason,
                            "recovery truncates a segment at the first invalid batch"
                        );
                        if !read_only {
                            truncate_file(&path, scan.valid_len)?;
                        }
                        report.truncations.push(Truncation {
                            damage,
                            dropped_bytes: dropped,
                        });
                    }
                    if !read_only && !newest {
                        // A sealed segment whose index had to be rebuilt.
                        scan.index.write_files(&offsets_path, &times_path)?;
                    }
                    (scan.index, scan.valid_len, scan.next_offset)
                }
            };
            segments.push(Arc::new(Segment::open(
                base,
                path,
                size,
                next,
                index,
                newest && !read_only,
            )?));
        }
        let active = Arc::clone(segments.last().expect("at least one segment"));
        if !read_only {
            // Whatever survived the crash is made durable before it becomes
            // readable; under `os` it may only have been in the page cache.
            active
                .sync()
                .context(|| format!("sync {}", active.path.display()))?;
        }
        let high_watermark = active.next_offset();
        let log_start = segments[0].base_offset;
        report.segments = segments.len();
        let partition = Partition {
            topic,
            id,
            dir,
            settings,
            syncer,
            read_only,
            io: Mutex::new(IoState::Healthy),
            writer: Mutex::new(Writer {
                active,
                pending: BytesMut::new(),
                failed: None,
                closed: false,
            }),
            segments: RwLock::new(segments),
            sync: Mutex::new(SyncState {
                durable: high_watermark,
                waiters: Vec::new(),
                scheduled: false,
                cohort: 0,
            }),
            sync_arrivals: Condvar::new(),
            high_watermark: watch::channel(high_watermark).0,
            log_start: AtomicU64::new(log_start),
            cleaned_up_to: AtomicU64::new(0),
            cleaning: Mutex::new(()),
        };
        Ok((Arc::new(partition), report))
    }

    pub fn topic(&self) -> &str {
        &self.topic.name
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn topic_config(&self) -> TopicConfig {
        self.topic.config.read().unwrap().clone()
    }

    pub(crate) fn settings(&self) -> &LogConfig {
        &self.settings
    }

    /// The offset after the last readable record.
    pub fn high_watermark(&self) -> u64 {
        *self.high_watermark.borrow()
    }

    /// The first offset that may still be read.
    pub fn log_start(&self) -> u64 {
        self.log_start.load(Ordering::Acquire)
    }

    /// Sum of segment file sizes.
    pub fn size_bytes(&self) -> u64 {
        self.segments.read().unwrap().iter().map(|s| s.size()).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.read().unwrap().len()
    }

    pub(crate) fn segments(&self) -> Vec<Arc<Segment>> {
        self.segments.read().unwrap().clone()
    }

    /// A receiver that changes whenever the high watermark advances, for
    /// tailing consumers.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.high_watermark.subscribe()
    }

    /// Waits until the high watermark passes `offset` or `timeout` elapses;
    /// returns the high watermark.
    pub async fn wait_for(&self, offset: u64, timeout: Duration) -> u64 {
        let mut rx = self.subscribe();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|&hw| hw > offset)).await;
        self.high_watermark()
    }

    fn name(&self) -> PartitionName {
        PartitionName {
            topic: self.topic.name.clone(),
            partition: self.id,
        }
    }

    /// Reads whole batches from the one segment holding `offset`, up to
    /// `max_bytes` (at least one batch).
    pub fn read(&self, offset: u64, max_bytes: usize) -> Result<FetchedBatches> {
        let high_watermark = self.high_watermark();
        let log_start = self.log_start();
        let fetched = |bytes| FetchedBatches {
            bytes,
            requested_offset: offset,
            high_watermark,
            log_start,
        };
        if offset < log_start || offset > high_watermark {
            return Err(LogError::OffsetOutOfRange {
                topic: self.topic.name.clone(),
                partition: self.id,
                offset,
                log_start,
                log_end: high_watermark,
            });
        }
        if offset == high_watermark {
            return Ok(fetched(Bytes::new()));
        }
        let candidates: Vec<Arc<Segment>> = {
            let segments = self.segments.read().unwrap();
            let first = segments
                .partition_point(|s| s.base_offset <= offset)
                .saturating_sub(1);
            segments[first..].to_vec()
        };
        for segment in candidates {
            if let Some((position, header)) = segment.position_of(offset)? {
                let bytes = segment.read_batches(position, &header, max_bytes)?;
                return Ok(fetched(below_high_watermark(bytes, high_watermark)));
            }
        }
        Ok(fetched(Bytes::new()))
    }

    /// The earliest offset whose record timestamp is at least `timestamp`,
    /// with that timestamp (Kafka's ListOffsets by time).
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(u64, i64)>> {
        let high_watermark = self.high_watermark();
        for segment in self.segments() {
            if segment.max_timestamp() < timestamp {
                continue;
            }
            let Some((position, header)) = segment.position_for_time(timestamp)? else {
                continue;
            };
            let bytes = segment.read_batch(position, &header)?;
            let records = batch::decode(bytes, self.settings.max_batch_bytes)?;
            let found = records.into_iter().find(|r| {
                r.timestamp >= timestamp
                    && r.offset >= self.log_start()
                    && r.offset < high_watermark
            });
            if let Some(r) = found {
                return Ok(Some((r.offset, r.timestamp)));
            }
        }
        Ok(None)
    }

    /// Removes the sealed segments below the one starting at `keep_from`;
    /// used by retention. Naming the first segment to keep (rather than a
    /// count) makes overlapping retention passes delete nothing twice.
    pub(crate) fn drop_before(&self, keep_from: u64) -> Result<Vec<Arc<Segment>>> {
        let removed: Vec<Arc<Segment>> = {
            let mut segments = self.segments.write().unwrap();
            let count = segments
                .partition_point(|s| s.base_offset < keep_from)
                .min(segments.len().saturating_sub(1));
            let removed = segments.drain(..count).collect();
            self.log_start
                .fetch_max(segments[0].base_offset, Ordering::AcqRel);
            removed
        };
        for segment in &removed {
            segment.delete_files()?;
        }
        Ok(removed)
    }

    /// Replaces a sealed segment by its compacted rewrite (`None` removes it).
    pub(crate) fn replace_segment(&self, base_offset: u64, replacement: Option<Arc<Segment>>) {
        let mut segments = self.segments.write().unwrap();
        if let Some(at) = segments.iter().position(|s| s.base_offset == base_offset) {
            match replacement {
                Some(new) => segments[at] = new,
                None => {
                    segments.remove(at);
                }
            }
        }
    }

    /// Syncs and indexes the active segment and refuses further appends.
    /// Returns whether the partition is healthy (no failed sync).
    pub(crate) fn close(&self) -> Result<bool> {
        let mut writer = self.writer.lock().unwrap();
        writer.closed = true;
        if writer.failed.is_some() {
            return Ok(false);
        }
        if self.read_only {
            return Ok(true);
        }
        let active = Arc::clone(&writer.active);
        if self.flush_pending(&mut writer).is_err()
            || self.sync_segment(&mut writer, &active).is_err()
        {
            return Ok(false);
        }
        active.write_index()?;
        active.expose(active.size());
        drop(writer);
        let _ = self.mark_durable(active.next_offset());
        Ok(true)
    }
}

/// Base offsets of the segment files in `dir`, sorted; removes leftovers of
/// an interrupted compaction unless read-only.
fn list_segments(dir: &Path, read_only: bool) -> Result<Vec<u64>> {
    let mut bases = Vec::new();
    for entry in std::fs::read_dir(dir).context(|| format!("list {}", dir.display()))? {
        let entry = entry.context(|| format!("list {}", dir.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".cleaned") || name.ends_with(".tmp") {
            if !read_only {
                std::fs::remove_file(entry.path()).context(|| format!("remove {name}"))?;
            }
            continue;
        }
        if let Some(stem) = name.strip_suffix(".log")
            && let Ok(base) = stem.parse::<u64>()
        {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

pub(crate) fn truncate_file(path: &Path, len: u64) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .context(|| format!("open {}", path.display()))?;
    file.set_len(len)
        .context(|| format!("truncate {} to {len} bytes", path.display()))?;
    file.sync_all()
        .context(|| format!("sync {}", path.display()))
}
