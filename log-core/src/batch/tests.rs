use bytes::Bytes;

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
    let mut records = vec![rec("a"), rec("bb"), rec("ccc")];
    records[1].timestamp -= 5; // timestamps need not increase
    records[2].value = None;
    let mut batch = encode(&records, Some(3)).unwrap();
    stamp_base_offset(&mut batch, 40);
    let header = validate(&batch).unwrap();
    assert_eq!(header.base_offset, 40);
    assert_eq!(header.record_count, 3);
    assert_eq!(header.last_offset_delta, 2);
    assert_eq!(header.codec(), Codec::Zstd);
    assert_eq!(header.base_sequence, -1);
    assert_eq!(header.max_timestamp, 1_700_000_000_000);
    let decoded = decode(batch.freeze(), 1 << 20).unwrap();
    assert_eq!(decoded.len(), 3);
    for (i, (got, want)) in decoded.iter().zip(&records).enumerate() {
        assert_eq!(got.offset, 40 + i as u64);
        assert_eq!(got.timestamp, want.timestamp);
        assert_eq!(got.key, want.key);
        assert_eq!(got.value, want.value);
        assert_eq!(got.headers, want.headers);
    }
}

#[test]
fn repeated_header_keys_keep_their_order() {
    let mut record = rec("x");
    record
        .headers
        .push(("tenant".into(), Some(Bytes::from_static(b"second"))));
    record.headers.push(("empty".into(), None));
    let batch = encode(std::slice::from_ref(&record), None).unwrap();
    let decoded = decode(batch.freeze(), 1 << 20).unwrap();
    assert_eq!(decoded[0].headers, record.headers);
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

#[test]
fn check_records_refuses_offsets_that_skip() {
    let batch = encode(&[rec("a"), rec("b")], None).unwrap();
    let header = BatchHeader::parse(&batch).unwrap();
    // Re-encode the same records claiming offsets 0 and 2 in a batch of 3.
    let skipped = vec![
        Record {
            offset: 0,
            timestamp: 0,
            key: None,
            value: None,
            headers: vec![],
        },
        Record {
            offset: 2,
            timestamp: 0,
            key: None,
            value: None,
            headers: vec![],
        },
    ];
    let gappy = reencode(
        &BatchHeader {
            last_offset_delta: 2,
            ..header
        },
        &skipped,
        1,
    )
    .unwrap();
    let err = check_records(gappy.freeze(), 1 << 20)
        .unwrap_err()
        .to_string();
    assert!(err.contains("record 1 has offset delta 2"), "{err}");
    assert!(check_records(batch.freeze(), 1 << 20).unwrap().all_keyed);
}

#[test]
fn truncated_records_are_reported_not_panicked_on() {
    let batch = encode(&[rec("hello"), rec("world")], None).unwrap();
    for cut in HEADER_LEN..batch.len() {
        let mut short = BytesMut::from(&batch[..cut]);
        let length = (cut - LENGTH_PREFIX_LEN) as i32;
        short[8..12].copy_from_slice(&length.to_be_bytes());
        assert!(decode(short.freeze(), 1 << 20).is_err(), "cut at {cut}");
    }
}
