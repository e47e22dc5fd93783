//! Sparse offset and time indexes of one segment, in Kafka's file formats.
//!
//! `NNN.index` holds 8-byte entries `(offset - base: u32, position: u32)`,
//! big-endian, one per `index_interval_bytes` of log, each pointing at the
//! start of a batch whose base offset is the entry's offset. `NNN.timeindex`
//! holds 12-byte entries `(max_timestamp: i64, offset - base: u32)`, added
//! when the running maximum timestamp grows: every batch before the batch at
//! that offset has a max timestamp at most the entry's timestamp.
//!
//! Both live in memory while a segment is open and are written to disk (and
//! fsynced) when the segment is sealed and at clean shutdown. They are
//! derived data: recovery rebuilds them from the log whenever they are
//! missing or fail a sanity check, so a torn index never loses records.

use std::path::Path;

use crate::batch::BatchHeader;
use crate::error::{IoContext, Result};

const OFFSET_ENTRY_LEN: usize = 8;
const TIME_ENTRY_LEN: usize = 12;

/// In-memory indexes of one segment.
#[derive(Debug, Default, Clone)]
pub(crate) struct SegmentIndex {
    /// `(relative offset, position)`, both strictly increasing.
    offsets: Vec<(u32, u32)>,
    /// `(running max timestamp, relative offset)`, both strictly increasing.
    times: Vec<(i64, u32)>,
    bytes_since_entry: u32,
    /// Newest record timestamp of the segment (`i64::MIN` when empty).
    pub max_timestamp: i64,
}

impl SegmentIndex {
    pub fn new() -> Self {
        SegmentIndex {
            max_timestamp: i64::MIN,
            ..Default::default()
        }
    }

    /// Records a batch appended at `position`.
    pub fn add(&mut self, segment_base: u64, header: &BatchHeader, position: u64, interval: u32) {
        let relative = (header.base_offset - segment_base) as u32;
        if self.offsets.is_empty() || self.bytes_since_entry >= interval {
            self.offsets.push((relative, position as u32));
            self.bytes_since_entry = 0;
        }
        self.bytes_since_entry = self.bytes_since_entry.saturating_add(header.size);
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            match self.times.last_mut() {
                // Keep one entry per batch: the newest maximum wins.
                Some(last) if last.1 == relative => last.0 = header.max_timestamp,
                _ => self.times.push((header.max_timestamp, relative)),
            }
        }
    }

    /// Forgets the batches at or after `position`, the first of which had
    /// offset `next_offset` (a write that failed is cut off).
    pub fn truncate(&mut self, segment_base: u64, position: u64, next_offset: u64, interval: u32) {
        self.offsets.retain(|&(_, pos)| u64::from(pos) < position);
        let kept = next_offset.saturating_sub(segment_base);
        self.times.retain(|&(_, rel)| u64::from(rel) < kept);
        self.max_timestamp = self.times.last().map_or(i64::MIN, |t| t.0);
        self.bytes_since_entry = self.offsets.last().map_or(0, |&(_, pos)| {
            (position - u64::from(pos)).min(u64::from(interval)) as u32
        });
    }

    /// Position of a batch at or before the one holding `offset`.
    pub fn floor_position(&self, segment_base: u64, offset: u64) -> u64 {
        let relative = offset.saturating_sub(segment_base).min(u64::from(u32::MAX)) as u32;
        let at = self.offsets.partition_point(|&(rel, _)| rel <= relative);
        if at == 0 {
            0
        } else {
            u64::from(self.offsets[at - 1].1)
        }
    }

    /// An offset at or before the first batch whose max timestamp is at
    /// least `timestamp`.
    pub fn floor_offset_for_time(&self, segment_base: u64, timestamp: i64) -> u64 {
        // Entries with a running maximum below `timestamp` prove that every
        // batch up to theirs is too old; start from the last such batch.
        let at = self.times.partition_point(|&(ts, _)| ts < timestamp);
        if at == 0 {
            segment_base
        } else {
            segment_base + u64::from(self.times[at - 1].1)
        }
    }

    pub fn write_files(&self, offset_path: &Path, time_path: &Path) -> Result<()> {
        let mut buf = Vec::with_capacity(self.offsets.len() * OFFSET_ENTRY_LEN);
        for &(rel, pos) in &self.offsets {
            buf.extend_from_slice(&rel.to_be_bytes());
            buf.extend_from_slice(&pos.to_be_bytes());
        }
        write_synced(offset_path, &buf)?;
        buf.clear();
        for &(ts, rel) in &self.times {
            buf.extend_from_slice(&ts.to_be_bytes());
            buf.extend_from_slice(&rel.to_be_bytes());
        }
        write_synced(time_path, &buf)
    }

    /// Loads index files written by [`Self::write_files`], checking that they
    /// are well-formed and point inside a segment of `segment_len` bytes.
    /// `None` means "rebuild from the log".
    pub fn read_files(
        offset_path: &Path,
        time_path: &Path,
        segment_len: u64,
        interval: u32,
    ) -> Option<SegmentIndex> {
        let offsets_raw = std::fs::read(offset_path).ok()?;
        let times_raw = std::fs::read(time_path).ok()?;
        if offsets_raw.len() % OFFSET_ENTRY_LEN != 0 || times_raw.len() % TIME_ENTRY_LEN != 0 {
            return None;
        }
        let offsets: Vec<(u32, u32)> = offsets_raw
            .chunks_exact(OFFSET_ENTRY_LEN)
            .map(|c| {
                (
                    u32::from_be_bytes(c[..4].try_into().unwrap()),
                    u32::from_be_bytes(c[4..].try_into().unwrap()),
                )
            })
            .collect();
        let times: Vec<(i64, u32)> = times_raw
            .chunks_exact(TIME_ENTRY_LEN)
            .map(|c| {
                (
                    i64::from_be_bytes(c[..8].try_into().unwrap()),
                    u32::from_be_bytes(c[8..].try_into().unwrap()),
                )
            })
            .collect();
        let increasing = offsets
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1)
            && times.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1);
        let in_bounds = offsets
            .last()
            .is_none_or(|&(_, pos)| u64::from(pos) < segment_len);
        let starts_at_zero = offsets.first().is_none_or(|&(_, pos)| pos == 0);
        if !increasing || !in_bounds || !starts_at_zero || (segment_len > 0 && offsets.is_empty()) {
            return None;
        }
        let max_timestamp = times.last().map_or(i64::MIN, |t| t.0);
        // The interval counter restarts from the last entry; a sealed
        // segment never grows, so precision here only matters for reopened
        // active segments after a clean shutdown.
        let bytes_since_entry = offsets.last().map_or(0, |&(_, pos)| {
            (segment_len - u64::from(pos)).min(u64::from(interval)) as u32
        });
        Some(SegmentIndex {
            offsets,
            times,
            bytes_since_entry,
            max_timestamp,
        })
    }

    /// Entries for `weir log check` to verify against the log.
    pub fn offset_entries(&self) -> &[(u32, u32)] {
        &self.offsets
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path).context(|| format!("create {}", path.display()))?;
    file.write_all(bytes)
        .context(|| format!("write {}", path.display()))?;
    file.sync_data()
        .context(|| format!("sync {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(base: u64, size: u32, max_ts: i64) -> BatchHeader {
        BatchHeader {
            base_offset: base,
            size,
            crc: 0,
            attributes: 0,
            last_offset_delta: 9,
            base_timestamp: max_ts,
            max_timestamp: max_ts,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            record_count: 10,
        }
    }

    #[test]
    fn sparse_entries_follow_the_interval() {
        let mut index = SegmentIndex::new();
        let mut pos = 0;
        for i in 0..10u64 {
            index.add(100, &header(100 + i * 10, 1000, i as i64), pos, 4096);
            pos += 1000;
        }
        // Entries at batches 0, 5 (after 5000 bytes) — every >= 4096 bytes.
        assert_eq!(index.offset_entries(), &[(0, 0), (50, 5000)]);
        assert_eq!(index.floor_position(100, 149), 0);
        assert_eq!(index.floor_position(100, 150), 5000);
        assert_eq!(index.floor_position(100, 99), 0);
        assert_eq!(index.floor_offset_for_time(100, 7), 160);
        assert_eq!(index.max_timestamp, 9);
    }

    #[test]
    fn files_round_trip_and_garbage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (ip, tp) = (dir.path().join("a.index"), dir.path().join("a.timeindex"));
        let mut index = SegmentIndex::new();
        index.add(0, &header(0, 5000, 5), 0, 4096);
        index.add(0, &header(10, 5000, 9), 5000, 4096);
        index.write_files(&ip, &tp).unwrap();
        let back = SegmentIndex::read_files(&ip, &tp, 10_000, 4096).unwrap();
        assert_eq!(back.offset_entries(), index.offset_entries());
        assert_eq!(back.max_timestamp, 9);
        // An entry pointing past the end of the segment is refused.
        assert!(SegmentIndex::read_files(&ip, &tp, 4000, 4096).is_none());
        std::fs::write(&ip, [1, 2, 3]).unwrap();
        assert!(SegmentIndex::read_files(&ip, &tp, 10_000, 4096).is_none());
    }
}
