//! Compaction for topics with `cleanup_policy = compact`: only the latest
//! record per key survives; tombstones (null values) are removed once older
//! than `delete_retention`. Offsets never change: retained records keep
//! their offsets, so a compacted log has gaps and readers skip them.
//!
//! One pass:
//! 1. Read every readable batch of the partition and build the map
//!    key → latest offset (bounded by `compaction_max_keys`; a partition with
//!    more keys is skipped and reported, never an out-of-memory).
//! 2. Rewrite each sealed segment into `NNN.log.cleaned`, one output batch
//!    per input batch that keeps any record, fsync it, then rename it over
//!    the original and fsync the directory. The rename is atomic, so a crash
//!    leaves either the old or the new segment; stray `.cleaned` files are
//!    removed at open. The new index files are written after the rename
//!    (an unreadable index is rebuilt at open).
//!
//! The active segment is never rewritten, so appends never wait for it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use tracing::{info, warn};

use crate::batch::{self, BatchHeader};
use crate::config::CleanupPolicy;
use crate::error::{IoContext, LogError, Result};
use crate::fsutil::sync_dir;
use crate::index::SegmentIndex;
use crate::partition::Partition;
use crate::segment::Segment;

/// What one compaction pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CompactionOutcome {
    pub segments_rewritten: usize,
    pub records_removed: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// The key map would have exceeded `compaction_max_keys`.
    pub skipped_too_many_keys: bool,
}

impl Partition {
    /// Compacts the sealed segments if anything was sealed since the last
    /// pass (or `force`). `now_ms` decides which tombstones have expired.
    pub fn compact(&self, now_ms: i64, force: bool) -> Result<CompactionOutcome> {
        let _cleaning = self.cleaning.lock().unwrap();
        let config = self.topic_config();
        let mut outcome = CompactionOutcome::default();
        if config.cleanup_policy != CleanupPolicy::Compact {
            return Ok(outcome);
        }
        let segments = self.segments();
        let sealed = &segments[..segments.len() - 1];
        let sealed_end = segments.last().map_or(0, |s| s.base_offset);
        if sealed.is_empty() || (!force && self.cleaned_up_to.load(Ordering::Acquire) >= sealed_end)
        {
            return Ok(outcome);
        }
        let Some(latest) = self.latest_offsets()? else {
            warn!(
                topic = self.topic(),
                partition = self.id(),
                "compaction skipped: too many keys"
            );
            outcome.skipped_too_many_keys = true;
            return Ok(outcome);
        };
        let tombstone_horizon = now_ms.saturating_sub(config.delete_retention.as_millis() as i64);
        let max_batch = self.settings().max_batch_bytes;
        let zstd_level = self.settings().zstd_level;
        for segment in sealed {
            let mut kept_bytes = Vec::new();
            let mut index = SegmentIndex::new();
            let mut removed = 0u64;
            let mut next_offset = segment.base_offset;
            for (position, header) in batches_of(segment)? {
                let bytes = segment.read_batch(position, &header)?;
                // Control batches (transaction markers) are kept as they are.
                let kept_batch = if header.is_control() {
                    bytes
                } else {
                    let records = batch::decode(bytes.clone(), max_batch)?;
                    let total = records.len();
                    let kept: Vec<batch::Record> = records
                        .into_iter()
                        .filter(|r| {
                            let latest_for_key =
                                r.key.as_ref().and_then(|k| latest.get(k)) == Some(&r.offset);
                            let expired_tombstone =
                                r.value.is_none() && r.timestamp < tombstone_horizon;
                            latest_for_key && !expired_tombstone
                        })
                        .collect();
                    removed += (total - kept.len()) as u64;
                    if kept.is_empty() {
                        continue;
                    }
                    if kept.len() == total {
                        bytes
                    } else {
                        batch::reencode(&header, &kept, zstd_level)?.freeze()
                    }
                };
                let new_header = BatchHeader::parse(&kept_batch).map_err(LogError::InvalidBatch)?;
                index.add(
                    segment.base_offset,
                    &new_header,
                    kept_bytes.len() as u64,
                    config.index_interval_bytes,
                );
                next_offset = new_header.next_offset();
                kept_bytes.extend_from_slice(&kept_batch);
            }
            outcome.bytes_before += segment.size();
            if removed == 0 {
                outcome.bytes_after += segment.size();
                continue;
            }
            outcome.records_removed += removed;
            outcome.bytes_after += kept_bytes.len() as u64;
            outcome.segments_rewritten += 1;
            self.swap_in(segment, &kept_bytes, index, next_offset)?;
        }
        self.cleaned_up_to.store(sealed_end, Ordering::Release);
        info!(
            topic = self.topic(),
            partition = self.id(),
            segments = outcome.segments_rewritten,
            records_removed = outcome.records_removed,
            bytes_before = outcome.bytes_before,
            bytes_after = outcome.bytes_after,
            "compaction pass finished"
        );
        Ok(outcome)
    }

    /// key → latest offset over everything readable, or `None` past the
    /// key limit.
    fn latest_offsets(&self) -> Result<Option<HashMap<Bytes, u64>>> {
        let max_keys = self.settings().compaction_max_keys;
        let max_batch = self.settings().max_batch_bytes;
        let mut latest = HashMap::new();
        let mut offset = self.log_start();
        let end = self.high_watermark();
        while offset < end {
            let fetched = self.read(offset, 4 << 20)?;
            if fetched.is_empty() {
                break;
            }
            for (header, bytes) in fetched.batches() {
                for record in batch::decode(bytes, max_batch)? {
                    if let Some(key) = record.key {
                        latest.insert(key, record.offset);
                    }
                }
                offset = header.next_offset();
            }
            if latest.len() > max_keys {
                return Ok(None);
            }
        }
        Ok(Some(latest))
    }

    fn swap_in(
        &self,
        old: &Arc<Segment>,
        bytes: &[u8],
        index: SegmentIndex,
        next_offset: u64,
    ) -> Result<()> {
        use std::io::Write;
        let cleaned = old.path.with_extension("log.cleaned");
        let mut file =
            std::fs::File::create(&cleaned).context(|| format!("create {}", cleaned.display()))?;
        file.write_all(bytes)
            .context(|| format!("write {}", cleaned.display()))?;
        file.sync_all()
            .context(|| format!("sync {}", cleaned.display()))?;
        drop(file);
        // The old index must not outlive the old segment: without it, a
        // crash before the new one is written leaves an index to rebuild,
        // never a stale one.
        let (offsets_path, times_path) = old.index_paths();
        for path in [&offsets_path, &times_path] {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(crate::error::LogError::io(
                        format!("remove {}", path.display()),
                        e,
                    ));
                }
            }
        }
        sync_dir(self.dir())?;
        std::fs::rename(&cleaned, &old.path).context(|| format!("rename {}", cleaned.display()))?;
        sync_dir(self.dir())?;
        let replacement = Segment::open(
            old.base_offset,
            old.path.clone(),
            bytes.len() as u64,
            next_offset,
            index,
            false,
        )?;
        replacement.write_index()?;
        self.replace_segment(old.base_offset, Some(Arc::new(replacement)));
        Ok(())
    }
}

/// `(position, header)` of every readable batch of a segment.
fn batches_of(segment: &Segment) -> Result<Vec<(u64, BatchHeader)>> {
    let mut out = Vec::new();
    let mut position = 0;
    while let Some(header) = segment.header_at(position)? {
        out.push((position, header));
        position += u64::from(header.size);
    }
    Ok(out)
}
