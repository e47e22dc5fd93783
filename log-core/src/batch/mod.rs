//! Kafka record batch v2 (magic 2): the unit the log stores verbatim.
//!
//! ```text
//! byte  field                 notes
//!    0  baseOffset      i64   stamped at append; outside the CRC
//!    8  batchLength     i32   bytes after this field
//!   12  leaderEpoch     i32   always -1 here (no replication)
//!   16  magic           i8    2
//!   17  crc             u32   CRC-32C of bytes 21..end
//!   21  attributes      i16   bits 0-2 codec, 3 timestamp type, 4 txn, 5 control
//!   23  lastOffsetDelta i32
//!   27  baseTimestamp   i64
//!   35  maxTimestamp    i64
//!   43  producerId      i64
//!   51  producerEpoch   i16
//!   53  baseSequence    i32
//!   57  recordCount     i32
//!   61  records ...           compressed as a whole by the codec
//! ```
//!
//! This module owns the framing: parsing and validating a header, checking
//! the CRC, stamping `baseOffset`. [`record`] encodes and decodes the records
//! inside; [`compression`] holds the codecs.
//!
//! The record codec is Weir's own rather than the `kafka-protocol` crate's:
//! that one keeps a record's headers in a map (Kafka allows repeated header
//! keys, so it loses data), reserves memory for whatever counts a batch
//! declares before reading them, and allocates per record. Validating a
//! client's batch here allocates nothing per record and never trusts a
//! declared count.

mod compression;
mod record;

use bytes::{BufMut, Bytes, BytesMut};

pub use compression::Codec;
pub use record::{NewRecord, Record};

use crate::error::{LogError, Result};

/// Size of the fixed batch header; the smallest valid batch (zero records,
/// uncompressed) is exactly this long.
pub const HEADER_LEN: usize = 61;
/// `baseOffset` + `batchLength`: what must be read to know a batch's extent.
pub const LENGTH_PREFIX_LEN: usize = 12;
/// The CRC covers everything from the attributes field to the end.
const CRC_START: usize = 21;
const MAGIC_V2: i8 = 2;
const CODEC_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_FLAG: i16 = 1 << 3;
const TRANSACTIONAL_FLAG: i16 = 1 << 4;
const CONTROL_FLAG: i16 = 1 << 5;
/// "No producer id / epoch / sequence", as Kafka writes for producers that
/// are not idempotent.
const NO_PRODUCER_ID: i64 = -1;
const NO_PRODUCER_EPOCH: i16 = -1;
const NO_SEQUENCE: i32 = -1;
const NO_LEADER_EPOCH: i32 = -1;

/// The decoded fixed header of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: u64,
    /// Total bytes of the batch, header included (`batchLength + 12`).
    pub size: u32,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: u32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: u32,
}

impl BatchHeader {
    /// Parses the header in `bytes[..61]`, checking only what the header
    /// itself can tell (magic, lengths, counts); not the CRC.
    pub fn parse(bytes: &[u8]) -> std::result::Result<BatchHeader, String> {
        if bytes.len() < HEADER_LEN {
            return Err(format!(
                "{} bytes is shorter than a batch header",
                bytes.len()
            ));
        }
        let i64_at = |at: usize| i64::from_be_bytes(bytes[at..at + 8].try_into().unwrap());
        let i32_at = |at: usize| i32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        let i16_at = |at: usize| i16::from_be_bytes(bytes[at..at + 2].try_into().unwrap());

        let base_offset = i64_at(0);
        let batch_length = i32_at(8);
        let magic = bytes[16] as i8;
        if magic != MAGIC_V2 {
            return Err(format!("magic byte {magic}, expected 2"));
        }
        if base_offset < 0 {
            return Err(format!("negative base offset {base_offset}"));
        }
        let min_length = (HEADER_LEN - LENGTH_PREFIX_LEN) as i32;
        if batch_length < min_length {
            return Err(format!(
                "batch length {batch_length} is below the minimum {min_length}"
            ));
        }
        let last_offset_delta = i32_at(23);
        let record_count = i32_at(57);
        if last_offset_delta < 0 || record_count < 0 {
            return Err(format!(
                "negative last offset delta {last_offset_delta} or record count {record_count}"
            ));
        }
        let attributes = i16_at(21);
        Codec::from_attributes(attributes)?;
        Ok(BatchHeader {
            base_offset: base_offset as u64,
            size: batch_length as u32 + LENGTH_PREFIX_LEN as u32,
            crc: u32::from_be_bytes(bytes[17..21].try_into().unwrap()),
            attributes,
            last_offset_delta: last_offset_delta as u32,
            base_timestamp: i64_at(27),
            max_timestamp: i64_at(35),
            producer_id: i64_at(43),
            producer_epoch: i16_at(51),
            base_sequence: i32_at(53),
            record_count: record_count as u32,
        })
    }

    /// Offset of the batch's last record (its offset range may have gaps
    /// after compaction, but never extends past this).
    pub fn last_offset(&self) -> u64 {
        self.base_offset + u64::from(self.last_offset_delta)
    }

    /// The offset that follows this batch.
    pub fn next_offset(&self) -> u64 {
        self.last_offset() + 1
    }

    pub fn codec(&self) -> Codec {
        Codec::from_attributes(self.attributes).expect("checked when parsed")
    }

    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_FLAG != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_FLAG != 0
    }
}

/// Validates a complete batch's framing: header, exact length and CRC-32C.
pub fn validate(batch: &[u8]) -> std::result::Result<BatchHeader, String> {
    let header = BatchHeader::parse(batch)?;
    if header.size as usize != batch.len() {
        return Err(format!(
            "batch length field says {} bytes but {} are present",
            header.size,
            batch.len()
        ));
    }
    let actual = crc32c::crc32c(&batch[CRC_START..]);
    if actual != header.crc {
        return Err(format!(
            "crc mismatch (stored {:#010x}, computed {actual:#010x})",
            header.crc
        ));
    }
    Ok(header)
}

/// Overwrites `baseOffset`; it lies outside the CRC, so nothing else changes.
pub fn stamp_base_offset(batch: &mut [u8], base_offset: u64) {
    batch[..8].copy_from_slice(&(base_offset as i64).to_be_bytes());
}

/// Encodes records as one batch with relative offsets `0..n` (the log
/// stamps the real base offset at append). Codec is zstd at `zstd_level`,
/// or none when `zstd_level` is `None`.
pub fn encode(records: &[NewRecord], zstd_level: Option<i32>) -> Result<BytesMut> {
    let first_timestamp = records.first().ok_or(LogError::EmptyBatch)?.timestamp;
    let mut raw = Vec::with_capacity(records.iter().map(|r| r.encoded_len() + 16).sum());
    for (i, r) in records.iter().enumerate() {
        record::encode(
            &mut raw,
            i as i64,
            r.timestamp - first_timestamp,
            r.key.as_deref(),
            r.value.as_deref(),
            &r.headers,
        );
    }
    let frame = Frame {
        base_offset: 0,
        attributes: 0,
        last_offset_delta: records.len() as u32 - 1,
        base_timestamp: first_timestamp,
        max_timestamp: records
            .iter()
            .map(|r| r.timestamp)
            .max()
            .unwrap_or(first_timestamp),
        producer_id: NO_PRODUCER_ID,
        producer_epoch: NO_PRODUCER_EPOCH,
        base_sequence: NO_SEQUENCE,
        record_count: records.len() as u32,
    };
    let codec = if zstd_level.is_some() {
        Codec::Zstd
    } else {
        Codec::None
    };
    frame.finish(&raw, codec, zstd_level.unwrap_or(0))
}

/// A batch built by Weir's own encoder. Appending it skips the record
/// validation a client's batch gets, so producers can encode (and compress)
/// on their own threads and the partition only copies bytes.
#[derive(Debug, Clone)]
pub struct PreparedBatch {
    bytes: Bytes,
    header: BatchHeader,
    largest_record: usize,
    all_keyed: bool,
}

impl PreparedBatch {
    /// Encodes `records` (zstd at `zstd_level`, or none when `None`).
    pub fn encode(records: &[NewRecord], zstd_level: Option<i32>) -> Result<PreparedBatch> {
        let bytes = encode(records, zstd_level)?.freeze();
        let header = BatchHeader::parse(&bytes).map_err(LogError::InvalidBatch)?;
        Ok(PreparedBatch {
            bytes,
            header,
            largest_record: records
                .iter()
                .map(NewRecord::encoded_len)
                .max()
                .unwrap_or(0),
            all_keyed: records.iter().all(|r| r.key.is_some()),
        })
    }

    /// The encoded batch (base offset 0 until appended).
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.header.record_count == 0
    }

    pub fn record_count(&self) -> u32 {
        self.header.record_count
    }

    /// Size of the largest record (key + value + headers) before encoding.
    pub fn largest_record(&self) -> usize {
        self.largest_record
    }

    pub fn all_keyed(&self) -> bool {
        self.all_keyed
    }
}

/// Re-encodes the `kept` records of a stored batch (the compactor's
/// rewrite): offsets, timestamps, the producer fields and the timestamp type
/// are preserved, and the batch keeps its original base offset and offset
/// range, as Kafka's cleaner does.
pub(crate) fn reencode(
    original: &BatchHeader,
    kept: &[Record],
    zstd_level: i32,
) -> Result<BytesMut> {
    let mut raw = Vec::new();
    for r in kept {
        let offset_delta = (r.offset - original.base_offset) as i64;
        record::encode(
            &mut raw,
            offset_delta,
            r.timestamp - original.base_timestamp,
            r.key.as_deref(),
            r.value.as_deref(),
            &r.headers,
        );
    }
    let frame = Frame {
        base_offset: original.base_offset,
        attributes: original.attributes & (TIMESTAMP_TYPE_FLAG | TRANSACTIONAL_FLAG),
        last_offset_delta: original.last_offset_delta,
        base_timestamp: original.base_timestamp,
        max_timestamp: original.max_timestamp,
        producer_id: original.producer_id,
        producer_epoch: original.producer_epoch,
        base_sequence: original.base_sequence,
        record_count: kept.len() as u32,
    };
    frame.finish(&raw, Codec::Zstd, zstd_level)
}

/// The header fields of a batch being built.
struct Frame {
    base_offset: u64,
    attributes: i16,
    last_offset_delta: u32,
    base_timestamp: i64,
    max_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    record_count: u32,
}

impl Frame {
    /// Compresses the encoded records and writes the header and CRC.
    fn finish(self, raw_records: &[u8], codec: Codec, zstd_level: i32) -> Result<BytesMut> {
        let mut out = BytesMut::with_capacity(HEADER_LEN + raw_records.len() / 2);
        out.put_i64(self.base_offset as i64);
        out.put_i32(0); // batchLength, below
        out.put_i32(NO_LEADER_EPOCH);
        out.put_i8(MAGIC_V2);
        out.put_u32(0); // crc, below
        out.put_i16(self.attributes | codec.attribute_bits());
        out.put_i32(self.last_offset_delta as i32);
        out.put_i64(self.base_timestamp);
        out.put_i64(self.max_timestamp);
        out.put_i64(self.producer_id);
        out.put_i16(self.producer_epoch);
        out.put_i32(self.base_sequence);
        out.put_i32(self.record_count as i32);
        compression::compress(codec, zstd_level, raw_records, &mut out)?;
        let batch_length =
            i32::try_from(out.len() - LENGTH_PREFIX_LEN).map_err(|_| LogError::BatchTooLarge {
                size: out.len(),
                limit: i32::MAX as usize,
            })?;
        out[8..12].copy_from_slice(&batch_length.to_be_bytes());
        let crc = crc32c::crc32c(&out[CRC_START..]);
        out[17..21].copy_from_slice(&crc.to_be_bytes());
        Ok(out)
    }
}

/// Decodes every record of one complete batch (control batches yield
/// none). Decompression is cut off at `max_uncompressed` bytes and every
/// declared length and count is checked against the bytes present, so a
/// hostile batch can neither exhaust memory nor panic the process.
pub fn decode(batch: Bytes, max_uncompressed: usize) -> Result<Vec<Record>> {
    let header = BatchHeader::parse(&batch).map_err(LogError::InvalidBatch)?;
    if header.size as usize > batch.len() {
        return Err(LogError::InvalidBatch(format!(
            "batch of {} bytes is cut short at {}",
            header.size,
            batch.len()
        )));
    }
    if header.is_control() {
        return Ok(Vec::new());
    }
    let body = batch.slice(HEADER_LEN..header.size as usize);
    let raw = compression::decompress(header.codec(), body, max_uncompressed)
        .map_err(LogError::InvalidBatch)?;
    let mut records = Vec::with_capacity(
        (header.record_count as usize).min(raw.len() / record::MIN_RECORD_LEN + 1),
    );
    record::decode_all(&raw, &header, |r| records.push(r)).map_err(LogError::InvalidBatch)?;
    Ok(records)
}

/// What [`check_records`] learnt about a batch's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordsSummary {
    /// Every record carries a key (required by compacted topics).
    pub all_keyed: bool,
}

/// Verifies that a batch's records decode and that their offsets are
/// exactly `0..record_count` relative to the base (what Kafka requires of a
/// produced batch), without keeping them.
pub fn check_records(batch: Bytes, max_uncompressed: usize) -> Result<RecordsSummary> {
    let header = BatchHeader::parse(&batch).map_err(LogError::InvalidBatch)?;
    let body = batch.slice(HEADER_LEN..(header.size as usize).min(batch.len()));
    let raw = compression::decompress(header.codec(), body, max_uncompressed)
        .map_err(LogError::InvalidBatch)?;
    let mut summary = RecordsSummary { all_keyed: true };
    let mut expected = header.base_offset;
    let mut misplaced = None;
    record::decode_all(&raw, &header, |r| {
        if r.offset != expected && misplaced.is_none() {
            misplaced = Some((
                expected - header.base_offset,
                r.offset.wrapping_sub(header.base_offset),
            ));
        }
        expected += 1;
        summary.all_keyed &= r.key.is_some();
    })
    .map_err(LogError::InvalidBatch)?;
    if let Some((index, delta)) = misplaced {
        return Err(LogError::InvalidBatch(format!(
            "record {index} has offset delta {delta}, expected {index}"
        )));
    }
    Ok(summary)
}

#[cfg(test)]
mod tests;
