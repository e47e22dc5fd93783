//! Appending: assigning offsets, the pending buffer, rolling segments, and
//! refusing appends after a failure.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::oneshot;
use tracing::{error, info, warn};

use super::{Partition, truncate_file};
use crate::batch::{self, BatchHeader, NewRecord, PreparedBatch};
use crate::config::{CleanupPolicy, Durability};
use crate::error::{LogError, Result};
use crate::fsutil::sync_dir;
use crate::segment::Segment;

/// Why a waiting append was not acknowledged.
#[derive(Debug, Clone)]
pub(super) enum Refusal {
    /// The partition failed; it refuses appends until a restart.
    Failed(String),
    /// The disk was full: nothing of the append was stored, and appends
    /// go on once there is space.
    NoSpace(String),
}

/// What the io lock knows about the active segment's file.
#[derive(Debug)]
pub(super) enum IoState {
    Healthy,
    /// A write ran out of space at byte `at`, where the batch with offset
    /// `next_offset` began. Nothing from there on was acknowledged; the
    /// next holder of the writer lock cuts it off (`settle_locked`).
    OutOfSpace {
        at: u64,
        next_offset: u64,
        reason: String,
    },
    /// A write or sync failed otherwise. Nothing more is written or synced:
    /// the kernel reports a writeback error only once, and a later sync
    /// could succeed over lost data.
    Failed(String),
}

impl IoState {
    /// The state after writing `pending` at byte `at` failed with `error`:
    /// out of space is recoverable, anything else is not.
    pub(super) fn after_write_error(error: &LogError, at: u64, pending: &[u8]) -> IoState {
        let reason = error.chain();
        match error {
            LogError::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull => {
                IoState::OutOfSpace {
                    at,
                    // The base offset of the first pending batch.
                    next_offset: BatchHeader::parse(pending).map_or(0, |h| h.base_offset),
                    reason,
                }
            }
            _ => IoState::Failed(reason),
        }
    }
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
    waiter: Option<oneshot::Receiver<Result<(), Refusal>>>,
    failure: PartitionName,
}

#[derive(Debug, Clone)]
pub(super) struct PartitionName {
    pub(super) topic: String,
    pub(super) partition: u32,
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
        outcome: Result<Result<(), Refusal>, oneshot::error::RecvError>,
    ) -> Result<AppendInfo> {
        match outcome {
            Ok(Ok(())) => Ok(info),
            Ok(Err(Refusal::NoSpace(reason))) => Err(LogError::io(
                format!(
                    "{}-{}: nothing of this append was stored ({reason})",
                    name.topic, name.partition
                ),
                std::io::Error::from(std::io::ErrorKind::StorageFull),
            )),
            Ok(Err(Refusal::Failed(reason))) => Err(LogError::PartitionFailed {
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

/// What the writer mutex guards.
pub(super) struct Writer {
    pub(super) active: Arc<Segment>,
    /// Under `fsync`: batches appended to the active segment but not yet
    /// written to its file. They end at `active.size()`; the next sync
    /// round writes them with one `pwrite` before its `fdatasync`.
    pub(super) pending: BytesMut,
    pub(super) failed: Option<String>,
    pub(super) closed: bool,
}

/// Above this, an appender writes the pending buffer itself instead of
/// leaving it to the sync round, so memory stays bounded when the disk
/// falls behind.
const MAX_PENDING_BYTES: usize = 16 << 20;

impl Writer {
    /// Takes the pending bytes and the file position they belong at.
    pub(super) fn take_pending(&mut self) -> Option<(u64, BytesMut)> {
        if self.pending.is_empty() {
            return None;
        }
        let bytes = self.pending.split();
        Some((self.active.size() - bytes.len() as u64, bytes))
    }
}

impl Partition {
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
        crate::telemetry::appended(&self.topic.name, batch.len());
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

    /// Writes the pending buffer to the active segment now. Writer lock
    /// held; on failure the partition stops taking appends, since batches
    /// after the gap already have offsets.
    pub(super) fn flush_pending(&self, writer: &mut Writer) -> Result<()> {
        let mut io = self.io.lock().unwrap();
        self.settle_locked(writer, &mut io)?;
        if let Some((at, bytes)) = writer.take_pending()
            && let Err(e) = writer.active.write_at(&bytes, at)
        {
            *io = IoState::after_write_error(&e, at, &bytes);
            self.settle_locked(writer, &mut io)?;
            return Err(e);
        }
        Ok(())
    }

    /// Syncs `segment` under the io lock (writer lock held); a failure is
    /// recorded there and fails the partition.
    pub(super) fn sync_segment(&self, writer: &mut Writer, segment: &Segment) -> Result<()> {
        let mut io = self.io.lock().unwrap();
        self.settle_locked(writer, &mut io)?;
        if let Err(e) = segment.sync() {
            let reason = format!("fdatasync {}: {e}", segment.path.display());
            *io = IoState::Failed(reason.clone());
            drop(io);
            let _ = self.fail_locked(writer, reason);
            return Err(LogError::io(format!("sync {}", segment.path.display()), e));
        }
        Ok(())
    }

    /// Acts on what the io state says (writer and io locks held): after a
    /// write ran out of space, cuts the segment back to where it began and
    /// refuses the appends from there on, which were never acknowledged,
    /// so that appends can go on once space is freed; after any other
    /// failure, fails the partition. `Err` means nothing may be written.
    pub(super) fn settle_locked(&self, writer: &mut Writer, io: &mut IoState) -> Result<()> {
        match std::mem::replace(io, IoState::Healthy) {
            IoState::Healthy => Ok(()),
            IoState::Failed(reason) => {
                *io = IoState::Failed(reason.clone());
                Err(self.fail_locked(writer, reason))
            }
            IoState::OutOfSpace {
                at,
                next_offset,
                reason,
            } => {
                writer.pending.clear();
                let interval = self.topic_config().index_interval_bytes;
                if let Err(e) = writer.active.rewind(at, next_offset, interval) {
                    *io = IoState::Failed(e.chain());
                    return Err(self.fail_locked(writer, e.chain()));
                }
                warn!(
                    topic = %self.topic.name,
                    partition = self.id,
                    position = at,
                    offset = next_offset,
                    %reason,
                    "disk full: appends not yet acknowledged were cut off; appends go on once space is freed"
                );
                let mut state = self.sync.lock().unwrap();
                // Appends wholly before the cut were written and wait for
                // the next sync; those at or after it are refused.
                let refused: Vec<_> = state
                    .waiters
                    .extract_if(.., |(end, _)| *end > next_offset)
                    .collect();
                drop(state);
                for (_, tx) in refused {
                    let _ = tx.send(Err(Refusal::NoSpace(reason.clone())));
                }
                Ok(())
            }
        }
    }

    pub(super) fn fail(&self, reason: String) {
        let mut writer = self.writer.lock().unwrap();
        let _ = self.fail_locked(&mut writer, reason);
    }

    /// Refuses further appends and fails every waiter. Writer lock held.
    /// Returns the error appenders get from now on.
    pub(super) fn fail_locked(&self, writer: &mut Writer, reason: String) -> LogError {
        if writer.failed.is_none() {
            error!(topic = %self.topic.name, partition = self.id, %reason, "partition failed; appends refused until restart");
            writer.failed = Some(reason.clone());
        }
        writer.pending.clear();
        let mut state = self.sync.lock().unwrap();
        for (_, tx) in state.waiters.drain(..) {
            let _ = tx.send(Err(Refusal::Failed(reason.clone())));
        }
        LogError::PartitionFailed {
            topic: self.topic.name.clone(),
            partition: self.id,
            reason,
        }
    }

    /// Seals the active segment and starts a new one. Writer lock held.
    pub(super) fn roll(&self, writer: &mut Writer) -> Result<()> {
        self.flush_pending(writer)?;
        let old = Arc::clone(&writer.active);
        self.sync_segment(writer, &old)?;
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
}
