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
//! the CRC, stamping `baseOffset`. Encoding and decoding the records inside
//! is delegated to the `kafka-protocol` crate (the same code the Kafka
//! wire-protocol server uses), with our own compression hooks so that the
//! zstd level is ours and decompression is bounded.

use std::io::Read;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID,
    Record as WireRecord, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
    TimestampType,
};

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
const CONTROL_FLAG: i16 = 1 << 5;

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
            return Err(format!("{} bytes is shorter than a batch header", bytes.len()));
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
            return Err(format!("batch length {batch_length} is below the minimum {min_length}"));
        }
        let last_offset_delta = i32_at(23);
        let record_count = i32_at(57);
        if last_offset_delta < 0 || record_count < 0 {
            return Err(format!(
                "negative last offset delta {last_offset_delta} or record count {record_count}"
            ));
        }
        let attributes = i16_at(21);
        if attributes & CODEC_MASK > 4 {
            return Err(format!("unknown compression codec {}", attributes & CODEC_MASK));
        }
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

    pub fn compression(&self) -> Compression {
        match self.attributes & CODEC_MASK {
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            _ => Compression::None,
        }
    }

    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_FLAG != 0
    }
}

/// Validates a complete batch: header, exact length and CRC-32C.
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
        return Err(format!("crc mismatch (stored {:#010x}, computed {actual:#010x})", header.crc));
    }
    Ok(header)
}

/// Overwrites `baseOffset`; it lies outside the CRC, so nothing else changes.
pub fn stamp_base_offset(batch: &mut [u8], base_offset: u64) {
    batch[..8].copy_from_slice(&(base_offset as i64).to_be_bytes());
}

/// A record to append. The log assigns its offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRecord {
    /// Milliseconds since the Unix epoch (Kafka's CreateTime).
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

impl NewRecord {
    /// Bytes the record contributes before compression, for size limits.
    pub fn encoded_len(&self) -> usize {
        let opt = |b: &Option<Bytes>| b.as_ref().map_or(0, Bytes::len);
        opt(&self.key)
            + opt(&self.value)
            + self.headers.iter().map(|(k, v)| k.len() + opt(v)).sum::<usize>()
    }
}

/// A record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub offset: u64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// Encodes records as one batch with relative offsets `0..n` (the log
/// stamps the real base offset at append). Codec is zstd at `zstd_level`,
/// or none when `zstd_level` is `None`.
pub fn encode(records: &[NewRecord], zstd_level: Option<i32>) -> Result<BytesMut> {
    // `kafka-protocol` holds a record's headers in a map, so a repeated key
    // would be silently collapsed to one header: refuse it instead.
    for (i, record) in records.iter().enumerate().filter(|(_, r)| r.headers.len() > 1) {
        let mut seen = std::collections::HashSet::with_capacity(record.headers.len());
        if let Some((key, _)) = record.headers.iter().find(|(k, _)| !seen.insert(k.as_str())) {
            return Err(LogError::InvalidBatch(format!("record {i} repeats header key {key:?}")));
        }
    }
    let wire: Vec<WireRecord> = records
        .iter()
        .enumerate()
        .map(|(i, r)| to_wire(i as i64, r))
        .collect();
    encode_wire(&wire, zstd_level)
}

/// Encodes records that carry their own (increasing, possibly sparse)
/// offsets, as the compactor does when it rewrites a batch.
pub(crate) fn encode_with_offsets(records: &[Record], zstd_level: Option<i32>) -> Result<BytesMut> {
    let wire: Vec<WireRecord> = records
        .iter()
        .map(|r| {
            let new = NewRecord {
                timestamp: r.timestamp,
                key: r.key.clone(),
                value: r.value.clone(),
                headers: r.headers.clone(),
            };
            to_wire(r.offset as i64, &new)
        })
        .collect();
    encode_wire(&wire, zstd_level)
}

fn encode_wire(wire: &[WireRecord], zstd_level: Option<i32>) -> Result<BytesMut> {
    if wire.is_empty() {
        return Err(LogError::EmptyBatch);
    }
    let options = RecordEncodeOptions {
        version: MAGIC_V2,
        compression: if zstd_level.is_some() { Compression::Zstd } else { Compression::None },
    };
    let level = zstd_level.unwrap_or(0);
    let mut out = BytesMut::with_capacity(HEADER_LEN + 256);
    RecordBatchEncoder::encode_with_custom_compression(
        &mut out,
        wire.iter(),
        &options,
        Some(|raw: &mut BytesMut, out: &mut BytesMut, codec: Compression| {
            match codec {
                Compression::Zstd => {
                    let compressed = zstd::bulk::compress(raw, level)?;
                    out.put_slice(&compressed);
                }
                _ => out.put_slice(raw),
            }
            Ok(())
        }),
    )
    .map_err(|e| LogError::InvalidBatch(format!("encoding failed: {e:#}")))?;
    Ok(out)
}

fn to_wire(offset: i64, r: &NewRecord) -> WireRecord {
    WireRecord {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
        producer_id: NO_PRODUCER_ID,
        producer_epoch: NO_PRODUCER_EPOCH,
        timestamp_type: TimestampType::Creation,
        offset,
        // The encoder starts a new batch whenever `offset - sequence` changes,
        // so the sequence must move with the offset. With this choice the
        // batch's baseSequence comes out as -1 (no sequence), as Kafka writes
        // for non-idempotent producers.
        sequence: (offset as i32).wrapping_sub(1),
        timestamp: r.timestamp,
        key: r.key.clone(),
        value: r.value.clone(),
        headers: r
            .headers
            .iter()
            .map(|(k, v)| (StrBytes::from_string(k.clone()), v.clone()))
            .collect(),
    }
}

/// Decodes every record of one complete, validated batch. Decompression is
/// cut off at `max_uncompressed` bytes so that a hostile batch cannot
/// exhaust memory.
pub fn decode(batch: Bytes, max_uncompressed: usize) -> Result<Vec<Record>> {
    let header = BatchHeader::parse(&batch).map_err(LogError::InvalidBatch)?;
    if header.is_control() {
        return Ok(Vec::new());
    }
    let mut buf = batch;
    let set = RecordBatchDecoder::decode_with_custom_compression(
        &mut buf,
        Some(|compressed: &mut Bytes, codec: Compression| {
            let records = decompress(compressed, codec, max_uncompressed)?;
            check_declared_counts(&records, header.record_count).map_err(anyhow::Error::msg)?;
            Ok(records)
        }),
    )
    .map_err(|e| LogError::InvalidBatch(format!("{e:#}")))?;
    Ok(set
        .records
        .into_iter()
        .map(|r| Record {
            offset: r.offset as u64,
            timestamp: r.timestamp,
            key: r.key,
            value: r.value,
            headers: r
                .headers
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        })
        .collect())
}

/// The smallest encoded record: a length varint and six one-byte fields
/// (attributes, timestamp delta, offset delta, key length, value length,
/// header count).
const MIN_RECORD_LEN: usize = 7;
/// The smallest encoded header: key length and value length varints.
const MIN_HEADER_LEN: usize = 2;

/// `kafka-protocol` reserves memory for the record count of a batch and the
/// header count of each record before reading them, so a few hostile bytes
/// with a valid CRC could make it allocate gigabytes and abort the process.
/// This walks the (decompressed) records first and checks every declared
/// count against the bytes that are actually there.
fn check_declared_counts(records: &[u8], record_count: u32) -> std::result::Result<(), String> {
    if record_count as usize > records.len() / MIN_RECORD_LEN {
        return Err(format!("{record_count} records declared in {} bytes", records.len()));
    }
    let mut at = 0usize;
    for i in 0..record_count {
        let overrun = || format!("record {i} runs past the end of the batch");
        let len = read_varint(records, &mut at).ok_or_else(overrun)?;
        let body = usize::try_from(len)
            .ok()
            .and_then(|len| records.get(at..at.checked_add(len)?))
            .ok_or_else(overrun)?;
        at += body.len();
        // attributes, timestamp delta, offset delta
        let mut p = 1usize;
        read_varint(body, &mut p).ok_or_else(overrun)?;
        read_varint(body, &mut p).ok_or_else(overrun)?;
        // key and value
        for _ in 0..2 {
            let len = read_varint(body, &mut p).ok_or_else(overrun)?;
            if len > 0 {
                p = p.checked_add(len as usize).filter(|&end| end <= body.len()).ok_or_else(overrun)?;
            }
        }
        let headers = read_varint(body, &mut p).ok_or_else(overrun)?;
        if headers < 0 || headers as usize > body.len().saturating_sub(p) / MIN_HEADER_LEN {
            return Err(format!("record {i} declares {headers} headers in {} bytes", body.len()));
        }
    }
    Ok(())
}

/// Reads a zigzag varint (Kafka's varint and varlong) at `*at`.
fn read_varint(buf: &[u8], at: &mut usize) -> Option<i64> {
    let mut raw = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*at)?;
        *at += 1;
        raw |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some((raw >> 1) as i64 ^ -((raw & 1) as i64));
        }
    }
    None
}

fn decompress(compressed: &mut Bytes, codec: Compression, limit: usize) -> anyhow::Result<Bytes> {
    let bounded = |reader: &mut dyn Read| -> anyhow::Result<Bytes> {
        let mut out = Vec::new();
        reader.take(limit as u64 + 1).read_to_end(&mut out)?;
        if out.len() > limit {
            anyhow::bail!("records decompress to more than {limit} bytes");
        }
        Ok(Bytes::from(out))
    };
    match codec {
        Compression::None => Ok(compressed.clone()),
        Compression::Zstd => bounded(&mut zstd::stream::read::Decoder::new(&compressed[..])?),
        Compression::Gzip => bounded(&mut flate2::read::GzDecoder::new(&compressed[..])),
        // Kafka's snappy and lz4 framings are implemented by kafka-protocol
        // only as whole-buffer decoders; check the size after the fact.
        other => {
            use kafka_protocol::compression::{Decompressor, Lz4, Snappy};
            let out = match other {
                Compression::Snappy => Snappy::decompress(compressed, |b: &mut Bytes| Ok(b.clone()))?,
                _ => Lz4::decompress(compressed, |b: &mut Bytes| Ok(b.clone()))?,
            };
            anyhow::ensure!(out.len() <= limit, "records decompress to more than {limit} bytes");
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(v: &str) -> NewRecord {
        NewRecord {
            timestamp: 1_700_000_000_000,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            headers: vec![("tenant".into(), Some(Bytes::from_static(b"acme")))],
        }
    }

    #[test]
    fn encode_then_decode_round_trips_with_zstd() {
        let records = vec![rec("a"), rec("bb"), rec("ccc")];
        let mut batch = encode(&records, Some(3)).unwrap();
        stamp_base_offset(&mut batch, 40);
        let header = validate(&batch).unwrap();
        assert_eq!(header.base_offset, 40);
        assert_eq!(header.record_count, 3);
        assert_eq!(header.last_offset_delta, 2);
        assert_eq!(header.compression(), Compression::Zstd);
        assert_eq!(header.base_sequence, -1);
        let decoded = decode(batch.freeze(), 1 << 20).unwrap();
        assert_eq!(decoded.len(), 3);
        assert_eq!(decoded[2].offset, 42);
        assert_eq!(decoded[1].value.as_deref(), Some(&b"bb"[..]));
        assert_eq!(decoded[0].headers, records[0].headers);
    }

    #[test]
    fn flipped_byte_fails_crc() {
        let mut batch = encode(&[rec("hello")], None).unwrap();
        let last = batch.len() - 1;
        batch[last] ^= 0x40;
        let err = validate(&batch).unwrap_err();
        assert!(err.contains("crc mismatch"), "{err}");
    }

    #[test]
    fn decompression_is_bounded() {
        let big = "x".repeat(1 << 20);
        let batch = encode(&[rec(&big)], Some(3)).unwrap();
        let err = decode(batch.freeze(), 64 * 1024).unwrap_err();
        assert!(err.to_string().contains("more than 65536 bytes"), "{err}");
    }

    #[test]
    fn short_or_wrong_magic_headers_are_rejected() {
        assert!(BatchHeader::parse(&[0u8; 10]).is_err());
        let mut batch = encode(&[rec("a")], None).unwrap();
        batch[16] = 1;
        assert!(BatchHeader::parse(&batch).unwrap_err().contains("magic"));
    }
}
