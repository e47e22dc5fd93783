//! Retention: whole sealed segments are deleted by age and by size.
//!
//! A segment is expired when its newest record timestamp is older than
//! `retention` (Kafka's `retention.ms`), and the oldest segments go while a
//! partition is larger than `retention_bytes`. The active segment is never
//! deleted; it is sealed first once older than `segment_age`, so a quiet
//! partition still ages out. Deletion goes from the oldest segment forward
//! and stops at the first segment that must stay, so the log stays a
//! contiguous suffix and the log start offset only moves forward.

use std::time::{SystemTime, UNIX_EPOCH};

use tracing::info;

use crate::config::CleanupPolicy;
use crate::error::Result;
use crate::partition::Partition;

/// What one retention pass removed from a partition.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetentionOutcome {
    pub segments_deleted: usize,
    pub bytes_deleted: u64,
}

pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Partition {
    /// Applies the topic's retention at wall-clock time `now_ms`.
    pub fn apply_retention(&self, now_ms: i64) -> Result<RetentionOutcome> {
        let _cleaning = self.cleaning.lock().unwrap();
        let config = self.topic_config();
        if config.cleanup_policy != CleanupPolicy::Delete {
            return Ok(RetentionOutcome::default());
        }
        self.roll_if_aged()?;
        let segments = self.segments();
        let sealed = &segments[..segments.len() - 1];
        let mut total: u64 = segments.iter().map(|s| s.size()).sum();
        let mut count = 0;
        for segment in sealed {
            let expired = config.retention.is_some_and(|keep| {
                segment.max_timestamp() < now_ms.saturating_sub(keep.as_millis() as i64)
            });
            let oversize = config
                .retention_bytes
                .is_some_and(|limit| total - segment.size() >= limit);
            if !(expired || oversize) {
                break;
            }
            total -= segment.size();
            count += 1;
        }
        if count == 0 {
            return Ok(RetentionOutcome::default());
        }
        let removed = self.drop_before(segments[count].base_offset)?;
        let outcome = RetentionOutcome {
            segments_deleted: removed.len(),
            bytes_deleted: removed.iter().map(|s| s.size()).sum(),
        };
        info!(
            topic = self.topic(),
            partition = self.id(),
            segments = outcome.segments_deleted,
            bytes = outcome.bytes_deleted,
            log_start = self.log_start(),
            "retention deleted segments"
        );
        Ok(outcome)
    }
}
