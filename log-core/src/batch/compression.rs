//! Batch compression codecs, with bounded decompression.
//!
//! zstd contexts are costly to create (hundreds of KiB of tables), so each
//! thread keeps one compressor and one decompressor and reuses them.
//! Decompression never produces more than the caller's limit: a zstd frame
//! that declares its size is checked before anything is allocated; other
//! frames and gzip are read through a reader cut at the limit.

use std::cell::RefCell;
use std::io::Read;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{LogError, Result};

use super::CODEC_MASK;

/// Kafka's compression codecs (attribute bits 0–2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Codec {
    pub(super) fn from_attributes(attributes: i16) -> std::result::Result<Codec, String> {
        match attributes & CODEC_MASK {
            0 => Ok(Codec::None),
            1 => Ok(Codec::Gzip),
            2 => Ok(Codec::Snappy),
            3 => Ok(Codec::Lz4),
            4 => Ok(Codec::Zstd),
            other => Err(format!("unknown compression codec {other}")),
        }
    }

    pub(super) fn attribute_bits(self) -> i16 {
        match self {
            Codec::None => 0,
            Codec::Gzip => 1,
            Codec::Snappy => 2,
            Codec::Lz4 => 3,
            Codec::Zstd => 4,
        }
    }
}

thread_local! {
    static ZSTD_COMPRESSOR: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
    static ZSTD_DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Appends `raw` compressed with `codec` to `out`. Only the codecs Weir
/// writes itself (none, zstd) are supported.
pub(super) fn compress(codec: Codec, level: i32, raw: &[u8], out: &mut BytesMut) -> Result<()> {
    match codec {
        Codec::None => {
            out.put_slice(raw);
            Ok(())
        }
        Codec::Zstd => ZSTD_COMPRESSOR.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.as_ref().is_none_or(|(l, _)| *l != level) {
                let compressor = zstd::bulk::Compressor::new(level)
                    .map_err(|e| LogError::io("create zstd compressor", e))?;
                *slot = Some((level, compressor));
            }
            let (_, compressor) = slot.as_mut().expect("just set");
            // Compress straight into the batch buffer, after the header.
            let start = out.len();
            out.resize(start + zstd::zstd_safe::compress_bound(raw.len()), 0);
            let written = compressor
                .compress_to_buffer(raw, &mut out[start..])
                .map_err(|e| LogError::io("zstd compression", e))?;
            out.truncate(start + written);
            Ok(())
        }),
        other => Err(LogError::InvalidBatch(format!(
            "weir does not write {other:?} batches"
        ))),
    }
}

/// Decompresses a batch's record section, producing at most `limit` bytes.
pub(super) fn decompress(
    codec: Codec,
    body: Bytes,
    limit: usize,
) -> std::result::Result<Bytes, String> {
    let too_big = || format!("records decompress to more than {limit} bytes");
    match codec {
        Codec::None => Ok(body),
        Codec::Zstd => {
            if let Ok(Some(size)) = zstd::zstd_safe::get_frame_content_size(&body) {
                if size > limit as u64 {
                    return Err(too_big());
                }
                let mut out = Vec::with_capacity(size as usize);
                let single_frame = ZSTD_DECOMPRESSOR.with(|cell| {
                    let mut slot = cell.borrow_mut();
                    if slot.is_none() {
                        *slot = Some(
                            zstd::bulk::Decompressor::new().map_err(|e| format!("zstd: {e}"))?,
                        );
                    }
                    let decompressor = slot.as_mut().expect("just set");
                    decompressor
                        .decompress_to_buffer(&body[..], &mut out)
                        .map_err(|e| format!("zstd: {e}"))
                });
                // A body of several frames overflows the first frame's size;
                // fall through to the streaming reader for it.
                if single_frame.is_ok() && out.len() as u64 == size {
                    return Ok(Bytes::from(out));
                }
            }
            let decoder =
                zstd::stream::read::Decoder::new(&body[..]).map_err(|e| format!("zstd: {e}"))?;
            read_bounded(decoder, limit)
                .map_err(|e| format!("zstd: {e}"))?
                .ok_or_else(too_big)
        }
        Codec::Gzip => read_bounded(flate2::read::GzDecoder::new(&body[..]), limit)
            .map_err(|e| format!("gzip: {e}"))?
            .ok_or_else(too_big),
        // Kafka's snappy (xerial framing) and lz4 (frame format) are decoded
        // by the Kafka protocol crate, which has no size bound; they are
        // only accepted from Kafka clients, and checked after the fact.
        Codec::Snappy | Codec::Lz4 => {
            use kafka_protocol::compression::{Decompressor, Lz4, Snappy};
            let mut body = body;
            let out = if codec == Codec::Snappy {
                Snappy::decompress(&mut body, |b: &mut Bytes| Ok(b.clone()))
            } else {
                Lz4::decompress(&mut body, |b: &mut Bytes| Ok(b.clone()))
            }
            .map_err(|e| format!("{codec:?}: {e:#}").to_lowercase())?;
            if out.len() > limit {
                return Err(too_big());
            }
            Ok(out)
        }
    }
}

/// Reads at most `limit` bytes; `None` if there was more.
fn read_bounded(reader: impl Read, limit: usize) -> std::io::Result<Option<Bytes>> {
    let mut out = Vec::new();
    reader.take(limit as u64 + 1).read_to_end(&mut out)?;
    Ok((out.len() <= limit).then(|| Bytes::from(out)))
}
