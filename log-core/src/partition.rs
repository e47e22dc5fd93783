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

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::sync::{oneshot, watch};
use tracing::{error, info, warn};

use crate::batch::{self, BatchHeader, NewRecord, PreparedBatch, Record};
use crate::config::{CleanupPolicy, Durability, LogConfig, TopicConfig};
use crate::error::{IoContext, LogError, Result};
use crate::fsutil::sync_dir;
use crate::index::SegmentIndex;
use crate::recovery::{self, Damage, ScanOptions};
use crate::segment::{self, Segment};
use crate::sync::Syncer;

/// A topic's name and settings, shared by its partitions.
#[derive(Debug)]
pub(crate) struct TopicMeta {
    pub name: String,
    pub config: RwLock<TopicConfig>,
}

/// The outcome of a durable append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: u64,
    /// Offset of the last record of the batch.
    pub last_offset: u64,
    /// Encoded batch size in bytes.
    pub batch_bytes: usize,
}

/// An append that has been written and waits for the durability policy.
///
/// Await [`PendingAppend::durable`] or call [`PendingAppend::wait`]; only
/// then is the append acknowledged. Dropping it does not undo the write.
#[must_use = "an append is acknowledged only once durable() or wait() returns"]
pub struct PendingAppend {
    info: AppendInfo,
    waiter: Option<oneshot::Receiver<Result<(), String>>>,
    failure: PartitionName,
}

#[derive(Debug, Clone)]
struct PartitionName {
    topic: String,
    partition: u32,
}

impl PendingAppend {
    /// Waits asynchronously until the append is durable.
    pub async fn durable(self) -> Result<AppendInfo> {
        match self.waiter {
            None => Ok(self.info),
            Some(rx) => Self::finish(self.info, self.failure, rx.await),
        }
    }

    /// Blocks the thread until the append is durable. Not for async contexts.
    pub fn wait(self) -> Result<AppendInfo> {
        match self.waiter {
            None => Ok(self.info),
            Some(rx) => Self::finish(self.info, self.failure, rx.blocking_recv()),
        }
    }

    fn finish(
        info: AppendInfo,
        name: PartitionName,
        outcome: Result<Result<(), String>, oneshot::error::RecvError>,
    ) -> Result<AppendInfo> {
        match outcome {
            Ok(Ok(())) => Ok(info),
            Ok(Err(reason)) => Err(LogError::PartitionFailed {
                topic: name.topic,
                partition: name.partition,
                reason,
            }),
            Err(_) => Err(LogError::ShuttingDown),
        }
    }

    pub fn info(&self) -> AppendInfo {
        self.info
    }
}

/// Whole batches read from one segment, as stored.
#[derive(Debug, Clone)]
pub struct FetchedBatches {
    /// Concatenated record batches, byte-identical to the segment file.
    pub bytes: Bytes,
    /// The offset that was asked for; records before it may be present at
    /// the start of the first batch.
    pub requested_offset: u64,
    pub high_watermark: u64,
    pub log_start: u64,
}

impl FetchedBatches {
    /// Iterates over `(header, batch bytes)`.
    pub fn batches(&self) -> impl Iterator<Item = (BatchHeader, Bytes)> + '_ {
        let mut at = 0usize;
        std::iter::from_fn(move || {
            let rest = self.bytes.get(at..)?;
            let header = BatchHeader::parse(rest).ok()?;
            let end = at + header.size as usize;
            let bytes = self.bytes.slice(at..end);
            at = end;
            Some((header, bytes))
        })
    }

    /// Decodes the records at or after the requested offset. Each batch's
    /// CRC is verified; decompression is bounded by `max_batch_bytes`.
    pub fn records(&self, max_batch_bytes: usize) -> impl Iterator<Item = Result<Record>> + '_ {
        let from = self.requested_offset;
        self.batches()
            .flat_map(move |(_, bytes)| {
                let decoded = batch::decode(bytes, max_batch_bytes);
                let items: Vec<Result<Record>> = match decoded {
                    Ok(records) => records.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e)],
                };
                items
            })
            .filter(move |r| r.as_ref().map_or(true, |r| r.offset >= from))
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// What the writer mutex guards.
struct Writer {
    active: Arc<Segment>,
    /// Under `fsync`: batches appended to the active segment but not yet
    /// written to its file. They end at `active.size()`; the next sync
    /// round writes them with one `pwrite` before its `fdatasync`.
    pending: BytesMut,
    failed: Option<String>,
    closed: bool,
}

/// Above this, an appender writes the pending buffer itself instead of
/// leaving it to the sync round, so memory stays bounded when the disk
/// falls behind.
const MAX_PENDING_BYTES: usize = 16 << 20;

impl Writer {
    /// Takes the pending bytes and the file position they belong at.
    fn take_pending(&mut self) -> Option<(u64, BytesMut)> {
        if self.pending.is_empty() {
            return None;
        }
        let bytes = self.pending.split();
        Some((self.active.size() - bytes.len() as u64, bytes))
    }
}

/// What the durability mutex guards.
struct SyncState {
    durable: u64,
    waiters: Vec<(u64, oneshot::Sender<Result<(), String>>)>,
    scheduled: bool,
    /// How many appenders recently waited at once: the size of the group
    /// a round waits to gather (see `sync_round`).
    cohort: usize,
}

pub struct Partition {
    topic: Arc<TopicMeta>,
    id: u32,
    dir: PathBuf,
    settings: Arc<LogConfig>,
    syncer: Arc<Syncer>,
    read_only: bool,
    writer: Mutex<Writer>,
    /// Held while pending bytes are written to a segment file, so that a
    /// roll or close (which take it after the writer lock) never seals a
    /// segment while a sync round is still writing into it. Lock order:
    /// writer, then io.
    io: Mutex<()>,
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
            io: Mutex::new(()),
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

    /// Encodes `records` as one zstd batch and appends it.
    pub fn append(self: &Arc<Self>, records: &[NewRecord]) -> Result<PendingAppend> {
        self.append_prepared(&self.prepare(records)?)
    }

    /// Encodes `records` for [`Self::append_prepared`] with the log's zstd
    /// level, checking the record size limit. Takes no lock: callers can
    /// encode on their own threads.
    pub fn prepare(&self, records: &[NewRecord]) -> Result<PreparedBatch> {
        if records.is_empty() {
            return Err(LogError::EmptyBatch);
        }
        let limit = self.settings.max_record_bytes;
        if let Some(size) = records
            .iter()
            .map(NewRecord::encoded_len)
            .find(|&size| size > limit)
        {
            return Err(LogError::RecordTooLarge { size, limit });
        }
        PreparedBatch::encode(records, Some(self.settings.zstd_level))
    }

    /// Appends a batch Weir's own encoder built; its records are trusted.
    pub fn append_prepared(self: &Arc<Self>, batch: &PreparedBatch) -> Result<PendingAppend> {
        if batch.is_empty() {
            return Err(LogError::EmptyBatch);
        }
        let limit = self.settings.max_record_bytes;
        if batch.largest_record() > limit {
            return Err(LogError::RecordTooLarge {
                size: batch.largest_record(),
                limit,
            });
        }
        if !batch.all_keyed() && self.topic_config().cleanup_policy == CleanupPolicy::Compact {
            return Err(LogError::MissingKey(self.topic.name.clone()));
        }
        self.append_stamped(batch.bytes(), *batch.header())
    }

    /// Appends a batch a client encoded: its framing, CRC and records are
    /// validated, `baseOffset` is stamped, and the bytes are stored verbatim.
    pub fn append_encoded(self: &Arc<Self>, batch: impl Into<Bytes>) -> Result<PendingAppend> {
        let batch: Bytes = batch.into();
        let limit = self.settings.max_batch_bytes;
        if batch.len() > limit {
            return Err(LogError::BatchTooLarge {
                size: batch.len(),
                limit,
            });
        }
        let header = batch::validate(&batch).map_err(LogError::InvalidBatch)?;
        if header.record_count == 0 {
            return Err(LogError::EmptyBatch);
        }
        if header.last_offset_delta + 1 != header.record_count {
            return Err(LogError::InvalidBatch(format!(
                "last offset delta {} does not match {} records",
                header.last_offset_delta, header.record_count
            )));
        }
        // The records must parse (decompression bounded by the batch limit)
        // before they become part of the log; nothing is kept.
        let summary = batch::check_records(batch.clone(), limit)?;
        if !summary.all_keyed && self.topic_config().cleanup_policy == CleanupPolicy::Compact {
            return Err(LogError::MissingKey(self.topic.name.clone()));
        }
        self.append_stamped(&batch, header)
    }

    /// Assigns the batch its offsets and writes it (`os`) or queues it for
    /// the next sync round (`fsync`). `batch` is copied, with `baseOffset`
    /// stamped in the copy.
    fn append_stamped(
        self: &Arc<Self>,
        batch: &[u8],
        mut header: BatchHeader,
    ) -> Result<PendingAppend> {
        if self.read_only {
            return Err(LogError::ReadOnly);
        }
        if batch.len() > self.settings.max_batch_bytes {
            return Err(LogError::BatchTooLarge {
                size: batch.len(),
                limit: self.settings.max_batch_bytes,
            });
        }
        let config = self.topic_config();
        let (info, end) = {
            let mut writer = self.writer.lock().unwrap();
            if let Some(reason) = &writer.failed {
                return Err(LogError::PartitionFailed {
                    topic: self.topic.name.clone(),
                    partition: self.id,
                    reason: reason.clone(),
                });
            }
            if writer.closed {
                return Err(LogError::ShuttingDown);
            }
            let active = &writer.active;
            let full = active.size() + batch.len() as u64 > config.segment_bytes;
            if !active.is_empty() && (full || active.opened_at.elapsed() >= config.segment_age) {
                self.roll(&mut writer)?;
            }
            let active = Arc::clone(&writer.active);
            let base = active.next_offset();
            header.base_offset = base;
            let end = header.next_offset();
            match self.settings.durability {
                Durability::Fsync => {
                    if writer.pending.len() + batch.len() > MAX_PENDING_BYTES {
                        self.flush_pending(&mut writer)?;
                    }
                    let position = active.size();
                    let at = writer.pending.len();
                    writer.pending.extend_from_slice(batch);
                    batch::stamp_base_offset(&mut writer.pending[at..], base);
                    active.record(batch.len(), &header, position, config.index_interval_bytes);
                }
                Durability::Os => {
                    let mut batch = batch.to_vec();
                    batch::stamp_base_offset(&mut batch, base);
                    if let Err(e) = active.append(&batch, &header, config.index_interval_bytes) {
                        // Cut off any partial write so the next batch lands
                        // on a clean boundary; if even that fails, stop.
                        if let Err(cut) = truncate_file(&active.path, active.size()) {
                            writer.failed = Some(cut.chain());
                            error!(topic = %self.topic.name, partition = self.id, error = %cut.chain(), "partition failed");
                        }
                        return Err(e);
                    }
                    active.expose(active.size());
                    self.publish_high_watermark(end);
                }
            }
            let info = AppendInfo {
                base_offset: base,
                last_offset: header.last_offset(),
                batch_bytes: batch.len(),
            };
            (info, end)
        };
        let waiter = match self.settings.durability {
            Durability::Os => None,
            Durability::Fsync => self.await_sync(end),
        };
        Ok(PendingAppend {
            info,
            waiter,
            failure: self.name(),
        })
    }

    /// Registers a waiter for `end` and schedules a sync round if needed.
    fn await_sync(self: &Arc<Self>, end: u64) -> Option<oneshot::Receiver<Result<(), String>>> {
        let mut state = self.sync.lock().unwrap();
        if state.durable >= end {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        state.waiters.push((end, tx));
        self.sync_arrivals.notify_one();
        if !state.scheduled {
            state.scheduled = true;
            drop(state);
            self.syncer.schedule(Arc::clone(self));
        }
        Some(rx)
    }

    /// One group-commit round, run by a sync thread. Returns whether
    /// waiters remain (the partition is then queued again).
    ///
    /// The round first gathers: it waits, at most `group_commit_window`,
    /// until about three quarters of the appenders that recently waited at
    /// once (the cohort) have registered again. A lone appender is synced at once (its cohort is
    /// one); 64 concurrent appenders share one `fdatasync` instead of
    /// trickling into many small ones while they take turns on the CPU.
    pub(crate) fn sync_round(&self) -> bool {
        let window = self.settings.group_commit_window;
        if !window.is_zero() {
            let deadline = Instant::now() + window;
            let mut state = self.sync.lock().unwrap();
            let wanted = (state.cohort * 3 / 4).max(1);
            while state.waiters.len() < wanted {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                state = self
                    .sync_arrivals
                    .wait_timeout(state, deadline - now)
                    .unwrap()
                    .0;
            }
        }
        let (segment, position, end, flushed) = {
            let mut writer = self.writer.lock().unwrap();
            let io = self.io.lock().unwrap();
            let pending = writer.take_pending();
            let active = Arc::clone(&writer.active);
            let (position, end) = (active.size(), active.next_offset());
            drop(writer);
            // Appenders go on filling a new pending buffer meanwhile.
            let flushed = match pending {
                Some((at, bytes)) => active.write_at(&bytes, at),
                None => Ok(()),
            };
            drop(io);
            (active, position, end, flushed)
        };
        if let Err(e) = flushed {
            self.fail(e.chain());
            return self.reschedule_after_round(0);
        }
        let waiting = match segment.sync() {
            Ok(()) => {
                segment.expose(position);
                self.mark_durable(end)
            }
            Err(e) => {
                self.fail(format!("fdatasync {}: {e}", segment.path.display()));
                0
            }
        };
        self.reschedule_after_round(waiting)
    }

    /// Updates the cohort estimate and says whether waiters remain.
    fn reschedule_after_round(&self, waiting: usize) -> bool {
        let mut state = self.sync.lock().unwrap();
        // A decaying maximum, so that the estimate follows a drop in load
        // but a small round does not shrink the next one.
        state.cohort = waiting.max(state.cohort - state.cohort / 8);
        if state.waiters.is_empty() {
            state.scheduled = false;
            false
        } else {
            true
        }
    }

    /// Writes the pending buffer to the active segment now. Writer lock
    /// held; on failure the partition stops taking appends, since batches
    /// after the gap already have offsets.
    fn flush_pending(&self, writer: &mut Writer) -> Result<()> {
        let _io = self.io.lock().unwrap();
        if let Some((at, bytes)) = writer.take_pending()
            && let Err(e) = writer.active.write_at(&bytes, at)
        {
            self.fail_locked(writer, e.chain());
            return Err(e);
        }
        Ok(())
    }

    /// Everything below `end` is durable: release its waiters and readers.
    /// Returns how many appenders were waiting at that moment (those
    /// released plus those still waiting), counted under the lock so that a
    /// released appender that is already back is not counted twice.
    fn mark_durable(&self, end: u64) -> usize {
        self.publish_high_watermark(end);
        let mut state = self.sync.lock().unwrap();
        state.durable = state.durable.max(end);
        let durable = state.durable;
        let released: Vec<_> = state
            .waiters
            .extract_if(.., |(target, _)| *target <= durable)
            .collect();
        let waiting = released.len() + state.waiters.len();
        drop(state);
        for (_, tx) in released {
            let _ = tx.send(Ok(()));
        }
        waiting
    }

    fn publish_high_watermark(&self, end: u64) {
        self.high_watermark.send_if_modified(|hw| {
            let advanced = end > *hw;
            if advanced {
                *hw = end;
            }
            advanced
        });
    }

    fn fail(&self, reason: String) {
        let mut writer = self.writer.lock().unwrap();
        self.fail_locked(&mut writer, reason);
    }

    /// Refuses further appends and fails every waiter. Writer lock held.
    fn fail_locked(&self, writer: &mut Writer, reason: String) {
        error!(topic = %self.topic.name, partition = self.id, %reason, "partition failed; appends refused until restart");
        writer.failed = Some(reason.clone());
        writer.pending.clear();
        let mut state = self.sync.lock().unwrap();
        for (_, tx) in state.waiters.drain(..) {
            let _ = tx.send(Err(reason.clone()));
        }
    }

    /// Seals the active segment and starts a new one. Writer lock held.
    fn roll(&self, writer: &mut Writer) -> Result<()> {
        self.flush_pending(writer)?;
        let old = Arc::clone(&writer.active);
        old.sync()
            .context(|| format!("sync {}", old.path.display()))?;
        old.write_index()?;
        old.expose(old.size());
        let new = Arc::new(Segment::create(&self.dir, old.next_offset())?);
        sync_dir(&self.dir)?;
        self.segments.write().unwrap().push(Arc::clone(&new));
        writer.active = new;
        let _ = self.mark_durable(old.next_offset());
        info!(topic = %self.topic.name, partition = self.id, base_offset = old.next_offset(), "segment rolled");
        Ok(())
    }

    /// Seals the active segment if it is non-empty and older than
    /// `segment_age`, so that retention can delete it.
    pub(crate) fn roll_if_aged(&self) -> Result<()> {
        let config = self.topic_config();
        let mut writer = self.writer.lock().unwrap();
        if writer.failed.is_none()
            && !writer.closed
            && !writer.active.is_empty()
            && writer.active.opened_at.elapsed() >= config.segment_age
        {
            self.roll(&mut writer)?;
        }
        Ok(())
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
        self.flush_pending(&mut writer)?;
        let active = Arc::clone(&writer.active);
        active
            .sync()
            .context(|| format!("sync {}", active.path.display()))?;
        active.write_index()?;
        active.expose(active.size());
        drop(writer);
        let _ = self.mark_durable(active.next_offset());
        Ok(true)
    }
}

/// The leading whole batches of `bytes` that start below `high_watermark`.
/// A segment's readable end is advanced just before the high watermark is
/// published, so a read can find batches past the high watermark it
/// sampled; a fetch must not return records past the high watermark it
/// reports (Kafka clients compute lag from it).
fn below_high_watermark(bytes: Bytes, high_watermark: u64) -> Bytes {
    let mut end = 0usize;
    while let Some(Ok(header)) = bytes.get(end..).map(BatchHeader::parse) {
        if header.base_offset >= high_watermark {
            break;
        }
        end += header.size as usize;
    }
    bytes.slice(..end)
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
