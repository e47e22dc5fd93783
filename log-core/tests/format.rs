//! The on-disk format is a contract with every data dir already written:
//! `tests/fixtures/format-v1/` holds a data dir written by this version of
//! the format, and today's code must open it cleanly and read back exactly
//! what was written. A change that breaks old data dirs fails here.
//!
//! The fixture is regenerated only on purpose (after a deliberate, migrated
//! format change), with:
//! `cargo test -p log-core --test format -- --ignored write_format_v1_fixture`

mod common;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use common::{MAX_BATCH, assert_same, copy_dir, log_config, read_all};
use log_core::batch::{self, BatchHeader};
use log_core::{CleanupPolicy, Durability, Log, NewRecord, OpenMode, TopicConfig};

const T0: i64 = 1_700_000_000_000;
const TOPIC: &str = "events";
const COMPACTED: &str = "latest";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format-v1")
}

fn events_config() -> TopicConfig {
    TopicConfig {
        partitions: 2,
        segment_bytes: 4096,
        index_interval_bytes: 512,
        ..common::topic_config(4096)
    }
}

fn compacted_config() -> TopicConfig {
    TopicConfig {
        partitions: 1,
        cleanup_policy: CleanupPolicy::Compact,
        ..common::topic_config(4096)
    }
}

/// Batches of partition `p` of `events`: varied sizes, keys, null values,
/// repeated and null headers, and timestamps that do not increase.
fn event_batches(p: u32) -> Vec<Vec<NewRecord>> {
    (0..40)
        .map(|b| {
            (0..(1 + b % 7))
                .map(|i| {
                    let n = b * 10 + i;
                    NewRecord {
                        timestamp: T0 + i64::from(n) * 1000 - i64::from(i % 3) * 700,
                        key: (n % 4 != 0).then(|| Bytes::from(format!("key-{p}-{}", n % 5))),
                        value: (n % 9 != 0).then(|| {
                            Bytes::from(format!("value {p}/{n} {}", "x".repeat((n % 50) as usize)))
                        }),
                        headers: match n % 3 {
                            0 => vec![],
                            1 => vec![("tenant".into(), Some(Bytes::from_static(b"acme")))],
                            _ => vec![
                                ("trace".into(), Some(Bytes::from(format!("{n:032x}")))),
                                ("trace".into(), None),
                            ],
                        },
                    }
                })
                .collect()
        })
        .collect()
}

fn compacted_batches() -> Vec<Vec<NewRecord>> {
    (0..12)
        .map(|b| {
            vec![NewRecord {
                timestamp: T0 + i64::from(b),
                key: Some(Bytes::from(format!("k{}", b % 3))),
                value: Some(Bytes::from(format!("v{b}"))),
                headers: vec![],
            }]
        })
        .collect()
}

#[test]
#[ignore = "writes the committed fixture; run only after a deliberate format change"]
fn write_format_v1_fixture() {
    let dir = fixture_dir();
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data");
    let (log, _) = Log::open(&data, log_config(Durability::Fsync), OpenMode::ReadWrite).unwrap();
    let events = log.create_topic(TOPIC, events_config()).unwrap();
    for (p, partition) in events.partitions().iter().enumerate() {
        for (b, records) in event_batches(p as u32).iter().enumerate() {
            if b % 5 == 4 {
                // A client-encoded, uncompressed batch, stored verbatim.
                let encoded = batch::encode(records, None).unwrap();
                partition.append_encoded(encoded).unwrap().wait().unwrap();
            } else {
                partition.append(records).unwrap().wait().unwrap();
            }
        }
    }
    let latest = log.create_topic(COMPACTED, compacted_config()).unwrap();
    for records in compacted_batches() {
        latest.partitions()[0]
            .append(&records)
            .unwrap()
            .wait()
            .unwrap();
    }
    let offsets = log.consumer_offsets().unwrap();
    offsets
        .commit_blocking("indexer", TOPIC, 1, 42, "checkpoint")
        .unwrap();
    log.close().unwrap();
    drop(log);
    std::fs::remove_file(data.join("weir.lock")).unwrap();
}

#[test]
fn format_v1_fixture_still_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    copy_dir(&fixture_dir().join("data"), &data);

    let report = log_core::check::check(&data, &log_config(Durability::Fsync), false).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.segments > 4, "the fixture spans several segments");

    let (log, recovery) =
        Log::open(&data, log_config(Durability::Fsync), OpenMode::ReadWrite).unwrap();
    assert!(recovery.clean_shutdown);
    assert!(recovery.truncations.is_empty());
    assert_eq!(log.topic(TOPIC).unwrap().config(), events_config());
    assert_eq!(log.topic(COMPACTED).unwrap().config(), compacted_config());

    for p in 0..2u32 {
        let partition = log.partition(TOPIC, p).unwrap();
        let expected: Vec<NewRecord> = event_batches(p).into_iter().flatten().collect();
        let stored = read_all(&partition, 0);
        assert_eq!(stored.len(), expected.len(), "records of {TOPIC}-{p}");
        for (i, (got, want)) in stored.iter().zip(&expected).enumerate() {
            assert_eq!(got.offset, i as u64);
            assert_same(got, want);
        }
        assert!(partition.segment_count() > 1, "{TOPIC}-{p} rolled");
        // The time index of the stored segments answers lookups.
        let (offset, timestamp) = partition
            .offset_for_timestamp(T0 + 100_000)
            .unwrap()
            .unwrap();
        let first = expected
            .iter()
            .position(|r| r.timestamp >= T0 + 100_000)
            .unwrap();
        assert_eq!(
            (offset, timestamp),
            (first as u64, expected[first].timestamp)
        );
        // Client-encoded batches kept their codec: every fifth is uncompressed.
        let fetched = partition.read(0, MAX_BATCH).unwrap();
        let codecs: Vec<_> = fetched
            .batches()
            .map(|(h, _): (BatchHeader, _)| h.codec())
            .collect();
        assert!(codecs.contains(&log_core::batch::Codec::None));
        assert!(codecs.contains(&log_core::batch::Codec::Zstd));
    }

    let latest = log.partition(COMPACTED, 0).unwrap();
    assert_eq!(read_all(&latest, 0).len(), 12);
    let committed = log
        .consumer_offsets()
        .unwrap()
        .fetch("indexer", TOPIC, 1)
        .unwrap();
    assert_eq!(
        (committed.offset, committed.metadata.as_str()),
        (42, "checkpoint")
    );

    // The old data dir keeps working: new appends follow the old offsets.
    let partition = log.partition(TOPIC, 0).unwrap();
    let end = partition.high_watermark();
    let info = partition
        .append(&event_batches(0)[0])
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(info.base_offset, end);
}
