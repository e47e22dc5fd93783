//! What a read returns: whole batches as stored, with the offsets that
//! frame them.

use bytes::Bytes;

use crate::batch::{self, BatchHeader, Record};
use crate::error::Result;

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

/// The leading whole batches of `bytes` that start below `high_watermark`.
/// A segment's readable end is advanced just before the high watermark is
/// published, so a read can find batches past the high watermark it
/// sampled; a fetch must not return records past the high watermark it
/// reports (Kafka clients compute lag from it).
pub(super) fn below_high_watermark(bytes: Bytes, high_watermark: u64) -> Bytes {
    let mut end = 0usize;
    while let Some(Ok(header)) = bytes.get(end..).map(BatchHeader::parse) {
        if header.base_offset >= high_watermark {
            break;
        }
        end += header.size as usize;
    }
    bytes.slice(..end)
}
