//! Scanning segment files: the CRC check behind recovery and `weir log check`.
//!
//! Recovery after an unclean stop. Every segment but the newest was sealed:
//! its data and index files were fsynced before the next segment file was
//! created, so the newest segment's base offset is the recovery point. Only
//! that segment is CRC-scanned; the scan stops at the first batch that is
//! torn (runs past the end of the file), fails its CRC, has a bad header, or
//! does not continue the offset sequence, and the file is truncated there.
//! Under the `fsync` policy nothing past that point was ever acknowledged or
//! shown to a reader. Indexes of the scanned segment are rebuilt from it.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::batch::{self, BatchHeader, HEADER_LEN, LENGTH_PREFIX_LEN};
use crate::error::{IoContext, Result};
use crate::index::SegmentIndex;

/// Reads sequentially in large steps; recovery is bound by disk bandwidth.
const SCAN_BUFFER_BYTES: usize = 1 << 20;

/// Where and why a scan stopped before the end of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub file: PathBuf,
    pub position: u64,
    pub reason: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} at byte {}",
            self.file.display(),
            self.reason,
            self.position
        )
    }
}

/// What a scan of one segment file found.
#[derive(Debug)]
pub(crate) struct Scan {
    /// Bytes of whole, valid batches from the start of the file.
    pub valid_len: u64,
    pub file_len: u64,
    /// Offset after the last valid batch (`base_offset` if none).
    pub next_offset: u64,
    pub batches: u64,
    pub index: SegmentIndex,
    /// `(position, base offset)` of every valid batch, when asked for.
    pub boundaries: Vec<(u64, u64)>,
    pub damage: Option<Damage>,
}

pub(crate) struct ScanOptions {
    pub verify_crc: bool,
    pub index_interval: u32,
    pub max_batch_bytes: usize,
    pub keep_boundaries: bool,
}

/// Scans the segment at `path` from its start. Batch base offsets must
/// start at `base_offset` or later and strictly increase.
pub(crate) fn scan_segment(path: &Path, base_offset: u64, options: &ScanOptions) -> Result<Scan> {
    let file = File::open(path).context(|| format!("open {}", path.display()))?;
    let file_len = file
        .metadata()
        .context(|| format!("stat {}", path.display()))?
        .len();
    let mut reader = BufReader::with_capacity(SCAN_BUFFER_BYTES, file);
    let mut scan = Scan {
        valid_len: 0,
        file_len,
        next_offset: base_offset,
        batches: 0,
        index: SegmentIndex::new(),
        boundaries: Vec::new(),
        damage: None,
    };
    let mut batch_buf = Vec::new();
    let damage = |position: u64, reason: String| {
        Some(Damage {
            file: path.to_path_buf(),
            position,
            reason,
        })
    };
    while scan.valid_len < file_len {
        let position = scan.valid_len;
        let remaining = file_len - position;
        if remaining < HEADER_LEN as u64 {
            scan.damage = damage(position, format!("torn batch: only {remaining} bytes left"));
            break;
        }
        batch_buf.resize(HEADER_LEN, 0);
        reader
            .read_exact(&mut batch_buf)
            .context(|| format!("read {}", path.display()))?;
        let header = match BatchHeader::parse(&batch_buf) {
            Ok(h) => h,
            Err(reason) => {
                scan.damage = damage(position, format!("bad batch header: {reason}"));
                break;
            }
        };
        if header.size as usize > options.max_batch_bytes.max(HEADER_LEN) {
            scan.damage = damage(
                position,
                format!("batch length {} exceeds the limit", header.size),
            );
            break;
        }
        if u64::from(header.size) > remaining {
            scan.damage = damage(
                position,
                format!(
                    "torn batch: {} bytes declared, {remaining} present",
                    header.size
                ),
            );
            break;
        }
        if header.base_offset < scan.next_offset {
            scan.damage = damage(
                position,
                format!(
                    "offset {} does not follow {}",
                    header.base_offset, scan.next_offset
                ),
            );
            break;
        }
        batch_buf.resize(header.size as usize, 0);
        reader
            .read_exact(&mut batch_buf[HEADER_LEN..])
            .context(|| format!("read {}", path.display()))?;
        if options.verify_crc
            && let Err(reason) = batch::validate(&batch_buf)
        {
            scan.damage = damage(position, reason);
            break;
        }
        scan.index
            .add(base_offset, &header, position, options.index_interval);
        if options.keep_boundaries {
            scan.boundaries.push((position, header.base_offset));
        }
        scan.next_offset = header.next_offset();
        scan.valid_len += u64::from(header.size);
        scan.batches += 1;
    }
    Ok(scan)
}

/// The offset after the last batch, found by walking headers from a known
/// batch start (an index entry) to the end of a sealed, trusted segment.
/// `None` if the walk does not end exactly at `len`, or if the batch at
/// `from_position` does not start at `from_offset`: an index left over from
/// before a compaction rewrite (a crash between the rename and the index
/// write) points at batches that have moved, and must not be trusted.
pub(crate) fn next_offset_after(
    path: &Path,
    base_offset: u64,
    from_position: u64,
    from_offset: u64,
    len: u64,
) -> Result<Option<u64>> {
    use std::os::unix::fs::FileExt;
    let file = File::open(path).context(|| format!("open {}", path.display()))?;
    let mut position = from_position;
    let mut next = base_offset;
    let mut buf = [0u8; HEADER_LEN];
    while position < len {
        if position + LENGTH_PREFIX_LEN as u64 > len
            || file.read_exact_at(&mut buf, position).is_err()
        {
            return Ok(None);
        }
        let Ok(header) = BatchHeader::parse(&buf) else {
            return Ok(None);
        };
        if position == from_position && header.base_offset != from_offset {
            return Ok(None);
        }
        next = header.next_offset();
        position += u64::from(header.size);
    }
    Ok((position == len).then_some(next))
}
