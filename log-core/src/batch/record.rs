//! Records inside a v2 batch, after decompression:
//!
//! ```text
//! length          varint   bytes after this field
//! attributes      i8       unused, 0
//! timestampDelta  varlong  relative to the batch's baseTimestamp
//! offsetDelta     varint   relative to the batch's baseOffset
//! keyLength       varint   -1 for a null key
//! key             bytes
//! valueLength     varint   -1 for a null value (a tombstone)
//! value           bytes
//! headerCount     varint
//! headers         [keyLength varint, key UTF-8, valueLength varint, value]
//! ```
//!
//! Varints are zigzag-encoded, as in protobuf's `sint32`/`sint64`. Header
//! keys may repeat; their order is kept.

use bytes::Bytes;

use super::BatchHeader;

/// The smallest encoded record: a length varint and six one-byte fields
/// (attributes, timestamp delta, offset delta, key length, value length,
/// header count).
pub(super) const MIN_RECORD_LEN: usize = 7;

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
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + opt(v))
                .sum::<usize>()
    }
}

/// A record read back from the log. Key, value and header values share the
/// batch's decompressed buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub offset: u64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

impl Record {
    /// The tenant the record belongs to: its last [`TENANT_HEADER`] (as
    /// UTF-8), else [`DEFAULT_TENANT`].
    ///
    /// [`TENANT_HEADER`]: crate::appender::TENANT_HEADER
    /// [`DEFAULT_TENANT`]: crate::appender::DEFAULT_TENANT
    pub fn tenant(&self) -> &str {
        use crate::appender::{DEFAULT_TENANT, TENANT_HEADER};
        self.headers
            .iter()
            .rev()
            .find(|(key, _)| key == TENANT_HEADER)
            .and_then(|(_, value)| value.as_deref())
            .and_then(|v| std::str::from_utf8(v).ok())
            .unwrap_or(DEFAULT_TENANT)
    }
}

/// Appends one encoded record to `out`.
pub(super) fn encode(
    out: &mut Vec<u8>,
    offset_delta: i64,
    timestamp_delta: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(String, Option<Bytes>)],
) {
    let mut body =
        Vec::with_capacity(16 + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len));
    body.push(0); // attributes
    put_varint(&mut body, timestamp_delta);
    put_varint(&mut body, offset_delta);
    put_bytes(&mut body, key);
    put_bytes(&mut body, value);
    put_varint(&mut body, headers.len() as i64);
    for (k, v) in headers {
        put_bytes(&mut body, Some(k.as_bytes()));
        put_bytes(&mut body, v.as_deref());
    }
    put_varint(out, body.len() as i64);
    out.extend_from_slice(&body);
}

fn put_bytes(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, b.len() as i64);
            out.extend_from_slice(b);
        }
    }
}

/// Writes a zigzag varint (Kafka's varint and varlong).
fn put_varint(out: &mut Vec<u8>, value: i64) {
    let mut v = ((value << 1) ^ (value >> 63)) as u64;
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A cursor over decompressed record bytes; every read is bounds-checked.
struct Cursor<'a> {
    buf: &'a Bytes,
    at: usize,
    end: usize,
}

impl Cursor<'_> {
    fn varint(&mut self) -> Option<i64> {
        let mut raw = 0u64;
        for shift in (0..64).step_by(7) {
            if self.at >= self.end {
                return None;
            }
            let byte = self.buf[self.at];
            self.at += 1;
            raw |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some((raw >> 1) as i64 ^ -((raw & 1) as i64));
            }
        }
        None
    }

    fn byte(&mut self) -> Option<u8> {
        (self.at < self.end).then(|| {
            self.at += 1;
            self.buf[self.at - 1]
        })
    }

    /// A length-prefixed byte string; `None` inside for a null.
    fn bytes(&mut self) -> Option<Option<Bytes>> {
        let len = self.varint()?;
        if len == -1 {
            return Some(None);
        }
        let len = usize::try_from(len).ok()?;
        let end = self.at.checked_add(len).filter(|&e| e <= self.end)?;
        let out = self.buf.slice(self.at..end);
        self.at = end;
        Some(Some(out))
    }
}

/// Decodes `header.record_count` records from `raw`, calling `f` for each.
/// Fails, naming the record, on any length or count that does not fit.
pub(super) fn decode_all(
    raw: &Bytes,
    header: &BatchHeader,
    mut f: impl FnMut(Record),
) -> Result<(), String> {
    let count = header.record_count as usize;
    if count > raw.len() / MIN_RECORD_LEN {
        return Err(format!("{count} records declared in {} bytes", raw.len()));
    }
    let mut at = 0usize;
    for i in 0..count {
        let overrun = || format!("record {i} runs past the end of the batch");
        let mut outer = Cursor {
            buf: raw,
            at,
            end: raw.len(),
        };
        let len = usize::try_from(outer.varint().ok_or_else(overrun)?).map_err(|_| overrun())?;
        let end = outer
            .at
            .checked_add(len)
            .filter(|&e| e <= raw.len())
            .ok_or_else(overrun)?;
        let mut c = Cursor {
            buf: raw,
            at: outer.at,
            end,
        };
        let malformed = |what: &str| format!("record {i}: {what}");
        c.byte().ok_or_else(overrun)?;
        let timestamp_delta = c.varint().ok_or_else(overrun)?;
        let offset_delta = c.varint().ok_or_else(overrun)?;
        if offset_delta < 0 || offset_delta > i64::from(header.last_offset_delta) {
            return Err(malformed(&format!(
                "offset delta {offset_delta} outside 0..={}",
                header.last_offset_delta
            )));
        }
        let key = c.bytes().ok_or_else(overrun)?;
        let value = c.bytes().ok_or_else(overrun)?;
        let header_count = c.varint().ok_or_else(overrun)?;
        // Each header takes at least two bytes; refuse counts that cannot fit.
        if header_count < 0 || header_count as usize > (c.end - c.at) / 2 {
            return Err(format!(
                "record {i} declares {header_count} headers in {} bytes",
                c.end - c.at
            ));
        }
        let mut headers = Vec::with_capacity(header_count as usize);
        for _ in 0..header_count {
            let key = c
                .bytes()
                .ok_or_else(overrun)?
                .ok_or_else(|| malformed("null header key"))?;
            let key = String::from_utf8(key.to_vec())
                .map_err(|_| malformed("header key is not UTF-8"))?;
            let value = c.bytes().ok_or_else(overrun)?;
            headers.push((key, value));
        }
        if c.at != end {
            return Err(malformed(&format!("{} bytes left over", end - c.at)));
        }
        at = end;
        f(Record {
            offset: header.base_offset + offset_delta as u64,
            timestamp: header.base_timestamp.wrapping_add(timestamp_delta),
            key,
            value,
            headers,
        });
    }
    if at != raw.len() {
        return Err(format!(
            "{} bytes after the last of {count} records",
            raw.len() - at
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            300,
            -300,
            i32::MAX as i64,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let buf = Bytes::from(out);
            let mut c = Cursor {
                buf: &buf,
                at: 0,
                end: buf.len(),
            };
            assert_eq!(c.varint(), Some(v));
            assert_eq!(c.at, buf.len());
        }
    }

    #[test]
    fn known_encoding_matches_kafka() {
        // A record with key "k", value "v", no headers, deltas 0 — as the
        // Java client writes it: length 8, then 00 00 00 02 'k' 02 'v' 00.
        let mut out = Vec::new();
        encode(&mut out, 0, 0, Some(b"k"), Some(b"v"), &[]);
        assert_eq!(out, [0x10, 0x00, 0x00, 0x00, 0x02, b'k', 0x02, b'v', 0x00]);
    }
}
