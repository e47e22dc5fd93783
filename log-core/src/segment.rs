//! One segment: a file of consecutive record batches plus its indexes.
//!
//! A segment file is named by the 20-digit base offset of its first batch
//! (`00000000000000004096.log`) and holds whole batches back to back, each
//! stored exactly as encoded, with `baseOffset` stamped. Batch base offsets
//! strictly increase within and across segments; they are dense except where
//! compaction removed records or a repair cut a damaged run out.
//!
//! Concurrency: only the partition's writer (under its mutex) appends.
//! Readers see bytes up to `readable`, which the writer (policy `os`) or the
//! sync threads (policy `fsync`) advance only after those bytes are durable
//! enough to be acknowledged, so a reader never observes a record that a
//! crash could take back.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::batch::{self, BatchHeader, HEADER_LEN};
use crate::error::{IoContext, LogError, Result};
use crate::index::SegmentIndex;

pub(crate) const LOG_SUFFIX: &str = "log";
pub(crate) const INDEX_SUFFIX: &str = "index";
pub(crate) const TIME_INDEX_SUFFIX: &str = "timeindex";

/// `00000000000000004096` — Kafka's file naming, so listings sort by offset.
pub(crate) fn file_stem(base_offset: u64) -> String {
    format!("{base_offset:020}")
}

pub(crate) struct Segment {
    pub base_offset: u64,
    pub path: PathBuf,
    file: File,
    /// Bytes appended by the writer, including any not yet written to the
    /// file (the partition's pending buffer).
    size: AtomicU64,
    /// Bytes readers may see.
    readable: AtomicU64,
    /// Offset after the last batch written.
    next_offset: AtomicU64,
    index: RwLock<SegmentIndex>,
    pub opened_at: Instant,
}

impl Segment {
    /// Creates an empty segment file.
    pub fn create(dir: &Path, base_offset: u64) -> Result<Segment> {
        let path = dir.join(format!("{}.{LOG_SUFFIX}", file_stem(base_offset)));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .context(|| format!("create segment {}", path.display()))?;
        Ok(Segment::from_parts(
            base_offset,
            path,
            file,
            0,
            base_offset,
            SegmentIndex::new(),
        ))
    }

    /// Opens an existing segment whose valid extent and index are known
    /// (from recovery or from its index files).
    pub fn open(
        base_offset: u64,
        path: PathBuf,
        size: u64,
        next_offset: u64,
        index: SegmentIndex,
        writable: bool,
    ) -> Result<Segment> {
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(&path)
            .context(|| format!("open segment {}", path.display()))?;
        Ok(Segment::from_parts(
            base_offset,
            path,
            file,
            size,
            next_offset,
            index,
        ))
    }

    fn from_parts(
        base_offset: u64,
        path: PathBuf,
        file: File,
        size: u64,
        next_offset: u64,
        index: SegmentIndex,
    ) -> Segment {
        Segment {
            base_offset,
            path,
            file,
            size: AtomicU64::new(size),
            readable: AtomicU64::new(size),
            next_offset: AtomicU64::new(next_offset),
            index: RwLock::new(index),
            opened_at: Instant::now(),
        }
    }

    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    pub fn readable(&self) -> u64 {
        self.readable.load(Ordering::Acquire)
    }

    pub fn next_offset(&self) -> u64 {
        self.next_offset.load(Ordering::Acquire)
    }

    pub fn max_timestamp(&self) -> i64 {
        self.index.read().unwrap().max_timestamp
    }

    pub fn is_empty(&self) -> bool {
        self.size() == 0
    }

    /// Appends one stamped, validated batch at the end of the file. Writer
    /// only.
    pub fn append(&self, batch: &[u8], header: &BatchHeader, index_interval: u32) -> Result<u64> {
        let position = self.size();
        self.write_at(batch, position)?;
        self.record(batch.len(), header, position, index_interval);
        Ok(position)
    }

    /// Accounts for a batch placed at `position` (the current end) whose
    /// bytes reach the file later, through [`Self::write_at`]. Writer only.
    pub fn record(&self, len: usize, header: &BatchHeader, position: u64, index_interval: u32) {
        self.index
            .write()
            .unwrap()
            .add(self.base_offset, header, position, index_interval);
        self.next_offset
            .store(header.next_offset(), Ordering::Release);
        self.size.store(position + len as u64, Ordering::Release);
    }

    pub fn write_at(&self, bytes: &[u8], position: u64) -> Result<()> {
        self.file
            .write_all_at(bytes, position)
            .context(|| format!("write {} at byte {position}", self.path.display()))
    }

    /// Cuts the segment back to `position`, where the batch with offset
    /// `next_offset` started, after a write there failed. Writer only; the
    /// cut bytes were never readable.
    pub fn rewind(&self, position: u64, next_offset: u64, index_interval: u32) -> Result<()> {
        self.file
            .set_len(position)
            .context(|| format!("truncate {} to {position} bytes", self.path.display()))?;
        self.index.write().unwrap().truncate(
            self.base_offset,
            position,
            next_offset,
            index_interval,
        );
        self.next_offset.store(next_offset, Ordering::Release);
        self.size.store(position, Ordering::Release);
        Ok(())
    }

    /// Lets readers see the first `position` bytes.
    pub fn expose(&self, position: u64) {
        self.readable.fetch_max(position, Ordering::AcqRel);
    }

    pub fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    /// Writes and fsyncs the index files (on seal and at clean shutdown).
    pub fn write_index(&self) -> Result<()> {
        let (offsets, times) = self.index_paths();
        self.index.read().unwrap().write_files(&offsets, &times)
    }

    pub fn index_paths(&self) -> (PathBuf, PathBuf) {
        (
            self.path.with_extension(INDEX_SUFFIX),
            self.path.with_extension(TIME_INDEX_SUFFIX),
        )
    }

    /// Removes the segment's files. Readers holding it keep the open inode.
    pub fn delete_files(&self) -> Result<()> {
        let (offsets, times) = self.index_paths();
        for path in [&self.path, &offsets, &times] {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(LogError::io(format!("delete {}", path.display()), e)),
            }
        }
        Ok(())
    }

    /// Reads the header of the batch at `position`, if a whole one is readable.
    pub fn header_at(&self, position: u64) -> Result<Option<BatchHeader>> {
        let readable = self.readable();
        if position + HEADER_LEN as u64 > readable {
            return Ok(None);
        }
        let mut buf = [0u8; HEADER_LEN];
        self.file
            .read_exact_at(&mut buf, position)
            .context(|| format!("read {} at byte {position}", self.path.display()))?;
        let header = BatchHeader::parse(&buf)
            .map_err(|detail| LogError::corruption(&self.path, position, detail))?;
        if position + u64::from(header.size) > readable {
            return Ok(None);
        }
        Ok(Some(header))
    }

    /// Position of the first readable batch whose last offset is at least
    /// `offset`, or `None` if no such batch is readable in this segment.
    pub fn position_of(&self, offset: u64) -> Result<Option<(u64, BatchHeader)>> {
        let mut position = self
            .index
            .read()
            .unwrap()
            .floor_position(self.base_offset, offset);
        while let Some(header) = self.header_at(position)? {
            if header.last_offset() >= offset {
                return Ok(Some((position, header)));
            }
            position += u64::from(header.size);
        }
        Ok(None)
    }

    /// Position of the first readable batch whose max timestamp is at least
    /// `timestamp`.
    pub fn position_for_time(&self, timestamp: i64) -> Result<Option<(u64, BatchHeader)>> {
        let offset = self
            .index
            .read()
            .unwrap()
            .floor_offset_for_time(self.base_offset, timestamp);
        let Some((mut position, _)) = self.position_of(offset)? else {
            return Ok(None);
        };
        while let Some(header) = self.header_at(position)? {
            if header.max_timestamp >= timestamp {
                return Ok(Some((position, header)));
            }
            position += u64::from(header.size);
        }
        Ok(None)
    }

    /// Reads whole batches starting at `position`: as many as fit in
    /// `max_bytes`, but always the first one (so a consumer can make
    /// progress past a batch larger than its budget, as in Kafka).
    pub fn read_batches(
        &self,
        position: u64,
        first: &BatchHeader,
        max_bytes: usize,
    ) -> Result<Bytes> {
        let readable = self.readable();
        let budget = (max_bytes as u64).max(u64::from(first.size));
        let end = readable.min(position + budget);
        let mut buf = BytesMut::zeroed((end - position) as usize);
        self.file
            .read_exact_at(&mut buf, position)
            .context(|| format!("read {} at byte {position}", self.path.display()))?;
        // Keep whole batches only.
        let mut whole = 0usize;
        while whole + batch::LENGTH_PREFIX_LEN <= buf.len() {
            let length = i32::from_be_bytes(buf[whole + 8..whole + 12].try_into().unwrap());
            let size = length as usize + batch::LENGTH_PREFIX_LEN;
            if length < 0 || whole + size > buf.len() {
                break;
            }
            whole += size;
        }
        buf.truncate(whole);
        Ok(buf.freeze())
    }

    /// Reads the whole batch at `position`.
    pub fn read_batch(&self, position: u64, header: &BatchHeader) -> Result<Bytes> {
        let mut buf = BytesMut::zeroed(header.size as usize);
        self.file
            .read_exact_at(&mut buf, position)
            .context(|| format!("read {} at byte {position}", self.path.display()))?;
        Ok(buf.freeze())
    }
}
