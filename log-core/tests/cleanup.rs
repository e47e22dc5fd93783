//! Cleaning old data: retention by age and by size, rolling by segment
//! age, compaction of keyed topics, and consumer-group offsets (which live
//! in the compacted `__consumer_offsets` topic) across restarts.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{
    SegmentFile, append, assert_same, close, copy_dir, forget_clean_shutdown, log_config, open,
    read_all, record, segment_files, topic_config,
};
use log_core::batch;
use log_core::{CleanupPolicy, Durability, LogError, NewRecord, Partition, TopicConfig};

/// A fixed wall clock for retention and compaction decisions.
const NOW: i64 = 1_800_000_000_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

/// `len` letters that zstd cannot shrink much, the same for the same seed.
fn noise(seed: u64, len: usize) -> String {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect()
}

/// A record of about 200 bytes that barely compresses, so a 4 KiB segment
/// holds about ten two-record batches.
fn sized_record(i: u64, timestamp: i64) -> NewRecord {
    record(
        &format!("key-{}", i % 13),
        &format!("{i}:{}", noise(i, 160)),
        timestamp,
    )
}

/// Appends `count` two-record batches with `timestamp`; returns the records.
fn fill(partition: &Arc<Partition>, count: u64, timestamp: i64) -> Vec<NewRecord> {
    let mut all = Vec::new();
    for _ in 0..count {
        let start = partition.high_watermark();
        let records = vec![
            sized_record(start, timestamp),
            sized_record(start + 1, timestamp),
        ];
        append(partition, &records);
        all.extend(records);
    }
    all
}

fn assert_out_of_range(partition: &Partition, offset: u64) {
    match partition.read(offset, 1 << 20) {
        Err(LogError::OffsetOutOfRange {
            offset: o,
            log_start,
            ..
        }) => {
            assert_eq!(o, offset);
            assert_eq!(log_start, partition.log_start());
        }
        other => panic!(
            "read at {offset} below log start {}: {other:?}",
            partition.log_start()
        ),
    }
}

/// The records from the log start equal `all[log_start..]`.
fn assert_suffix(partition: &Partition, all: &[NewRecord]) {
    let start = partition.log_start();
    let stored = read_all(partition, start);
    assert_eq!(stored.len() as u64, all.len() as u64 - start);
    for (i, r) in stored.iter().enumerate() {
        assert_eq!(r.offset, start + i as u64);
        assert_same(r, &all[r.offset as usize]);
    }
}

#[test]
fn retention_by_age_deletes_only_expired_sealed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let config = log_config(Durability::Os);
    let (log, _) = open(dir.path(), &config);
    let topic = TopicConfig {
        retention: Some(Duration::from_secs(3600)),
        ..topic_config(4096)
    };
    let partition = Arc::clone(&log.create_topic("metrics", topic).unwrap().partitions()[0]);

    let mut all = fill(&partition, 30, NOW - 3 * HOUR);
    let first_young = all.len() as u64;
    all.extend(fill(&partition, 30, NOW - MINUTE));
    let files = segment_files(partition.dir());
    assert!(files.len() >= 6, "{} segments", files.len());
    // Expired: sealed segments holding only old records.
    let expired: Vec<&SegmentFile> = files
        .windows(2)
        .take_while(|w| w[1].base_offset <= first_young)
        .map(|w| &w[0])
        .collect();
    assert!(expired.len() >= 2, "the test needs expired segments");

    let outcome = partition.apply_retention(NOW).unwrap();
    assert_eq!(outcome.segments_deleted, expired.len());
    assert_eq!(
        outcome.bytes_deleted,
        expired.iter().map(|s| s.len).sum::<u64>()
    );
    let kept = &files[expired.len()];
    assert_eq!(
        partition.log_start(),
        kept.base_offset,
        "log start moves to a segment boundary"
    );
    assert!(
        partition.log_start() <= first_young,
        "no young record is deleted"
    );
    assert_eq!(
        segment_files(partition.dir())[0].base_offset,
        kept.base_offset
    );
    for gone in &expired {
        assert!(!gone.path.exists() && !gone.path.with_extension("index").exists());
    }
    assert_out_of_range(&partition, partition.log_start() - 1);
    assert_out_of_range(&partition, 0);
    assert_suffix(&partition, &all);
    assert_eq!(
        partition.apply_retention(NOW).unwrap().segments_deleted,
        0,
        "a second pass finds nothing"
    );

    let log_start = partition.log_start();
    close(log);
    let (log, _) = open(dir.path(), &config);
    let partition = log.partition("metrics", 0).unwrap();
    assert_eq!(
        partition.log_start(),
        log_start,
        "log start survives a restart"
    );
    assert_suffix(&partition, &all);
}

#[test]
fn active_segment_is_never_deleted_by_retention() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), &log_config(Durability::Os));
    let topic = TopicConfig {
        retention: Some(Duration::from_secs(60)),
        retention_bytes: Some(1),
        ..topic_config(4096)
    };
    let partition = Arc::clone(&log.create_topic("old", topic).unwrap().partitions()[0]);
    let all = fill(&partition, 30, NOW - 3 * HOUR);
    let files = segment_files(partition.dir());
    let active = files.last().unwrap();
    assert!(
        files.len() >= 3 && active.len > 0,
        "old records in sealed and active segments"
    );

    let outcome = partition.apply_retention(NOW).unwrap();
    assert_eq!(
        outcome.segments_deleted,
        files.len() - 1,
        "every sealed segment expired"
    );
    assert_eq!(partition.log_start(), active.base_offset);
    assert_eq!(
        partition.high_watermark(),
        all.len() as u64,
        "nothing appended is forgotten"
    );
    assert_eq!(segment_files(partition.dir()).len(), 1);
    assert_suffix(&partition, &all);
    let (base, _) = append(&partition, &[sized_record(999, NOW)]);
    assert_eq!(base, all.len() as u64);
}

/// Creates a topic, fills it with the same 40 batches as every other call,
/// and returns its partition.
fn deterministic_topic(
    log: &log_core::Log,
    name: &str,
    retention_bytes: Option<u64>,
) -> Arc<Partition> {
    let topic = TopicConfig {
        retention_bytes,
        ..topic_config(4096)
    };
    let partition = Arc::clone(&log.create_topic(name, topic).unwrap().partitions()[0]);
    fill(&partition, 40, NOW);
    partition
}

#[test]
fn retention_by_bytes_deletes_oldest_while_the_rest_still_reaches_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), &log_config(Durability::Os));
    // Batches are deterministic, so every topic gets the same segments.
    let probe = deterministic_topic(&log, "probe", None);
    let files = segment_files(probe.dir());
    assert!(files.len() >= 4);
    let total: u64 = files.iter().map(|s| s.len).sum();
    let without_first = total - files[0].len;
    let without_two = without_first - files[1].len;

    // Exactly at the limit once the oldest goes: the oldest goes (Kafka
    // deletes while size - segment >= retention.bytes), and no more.
    let exact = deterministic_topic(&log, "exact", Some(without_first));
    let outcome = exact.apply_retention(NOW).unwrap();
    assert_eq!(outcome.segments_deleted, 1);
    assert_eq!(exact.log_start(), files[1].base_offset);
    assert_eq!(exact.size_bytes(), without_first);

    // One byte more and the oldest must stay.
    let above = deterministic_topic(&log, "above", Some(without_first + 1));
    assert_eq!(above.apply_retention(NOW).unwrap().segments_deleted, 0);
    assert_eq!(above.log_start(), 0);

    // A limit between: exactly the two oldest go.
    let two = deterministic_topic(&log, "two", Some(without_two));
    assert_eq!(two.apply_retention(NOW).unwrap().segments_deleted, 2);
    assert_eq!(two.log_start(), files[2].base_offset);
    assert_eq!(two.size_bytes(), without_two);
}

#[test]
fn aged_active_segment_is_rolled_by_append_and_by_retention() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), &log_config(Durability::Fsync));
    let topic = TopicConfig {
        partitions: 2,
        retention: Some(Duration::from_secs(3600)),
        segment_age: Duration::from_secs(1),
        ..topic_config(1 << 20)
    };
    let topic = log.create_topic("quiet", topic).unwrap();
    let (busy, quiet) = (
        Arc::clone(&topic.partitions()[0]),
        Arc::clone(&topic.partitions()[1]),
    );
    let old = now_minus_hours(3);
    fill(&busy, 2, old);
    fill(&quiet, 2, old);

    std::thread::sleep(Duration::from_millis(1100));

    // An append to an aged segment goes to a new one.
    let (base, _) = append(&busy, &[sized_record(4, common::now_ms())]);
    let files = segment_files(busy.dir());
    assert_eq!(
        files.iter().map(|s| s.base_offset).collect::<Vec<_>>(),
        vec![0, 4]
    );
    assert_eq!(base, 4);

    // A quiet partition is sealed by the retention pass and then expires.
    let outcome = quiet.apply_retention(common::now_ms()).unwrap();
    assert_eq!(outcome.segments_deleted, 1);
    assert_eq!((quiet.log_start(), quiet.high_watermark()), (4, 4));
    let files = segment_files(quiet.dir());
    assert_eq!((files.len(), files[0].base_offset, files[0].len), (1, 4, 0));
    assert!(quiet.read(4, 1 << 20).unwrap().is_empty());
    assert_out_of_range(&quiet, 0);
    let (base, _) = append(&quiet, &[sized_record(4, common::now_ms())]);
    assert_eq!(base, 4);
}

fn now_minus_hours(hours: i64) -> i64 {
    common::now_ms() - hours * HOUR
}

fn compacted_topic() -> TopicConfig {
    TopicConfig {
        cleanup_policy: CleanupPolicy::Compact,
        delete_retention: Duration::from_secs(3600),
        ..topic_config(4096)
    }
}

fn keyed(key: &str, value: Option<&str>, timestamp: i64) -> NewRecord {
    NewRecord {
        timestamp,
        key: Some(Bytes::copy_from_slice(key.as_bytes())),
        value: value.map(|v| Bytes::from(format!("{v}:{}", noise(timestamp as u64, 120)))),
        headers: vec![("writer".into(), Some(Bytes::from_static(b"test")))],
    }
}

/// What compaction must keep: every record of the active segment, and in
/// sealed segments the latest record of each key unless it is a tombstone
/// older than the delete retention.
fn expected_after_compaction(
    all: &[NewRecord],
    active_base: u64,
    now: i64,
    delete_retention: i64,
) -> Vec<u64> {
    let mut latest: HashMap<&Bytes, u64> = HashMap::new();
    for (offset, r) in all.iter().enumerate() {
        latest.insert(r.key.as_ref().unwrap(), offset as u64);
    }
    (0..all.len() as u64)
        .filter(|&o| {
            let r = &all[o as usize];
            let expired_tombstone = r.value.is_none() && r.timestamp < now - delete_retention;
            o >= active_base || (latest[r.key.as_ref().unwrap()] == o && !expired_tombstone)
        })
        .collect()
}

fn assert_compacted(partition: &Partition, all: &[NewRecord], expected: &[u64]) {
    let stored = read_all(partition, 0);
    let offsets: Vec<u64> = stored.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, expected, "surviving offsets");
    for r in &stored {
        assert_same(r, &all[r.offset as usize]);
    }
}

#[test]
fn compaction_keeps_latest_value_per_key_with_original_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let config = log_config(Durability::Fsync);
    let (log, _) = open(dir.path(), &config);
    let partition = Arc::clone(
        &log.create_topic("state", compacted_topic())
            .unwrap()
            .partitions()[0],
    );
    let now = NOW;
    let mut all: Vec<NewRecord> = Vec::new();
    let mut push = |records: Vec<NewRecord>| {
        let (base, _) = append(&partition, &records);
        assert_eq!(base, all.len() as u64);
        all.extend(records);
    };
    // Eight keys overwritten many times, two or three per batch.
    for round in 0..40 {
        let batch = (0..2 + round % 2)
            .map(|i| {
                let key = format!("key-{}", (round * 3 + i) % 8);
                keyed(
                    &key,
                    Some(&format!("{key} v{round}.{i}")),
                    now - 2 * HOUR + round as i64 * MINUTE,
                )
            })
            .collect();
        push(batch);
    }
    // Tombstones: "gone" is deleted long ago (expired), "fresh" just now
    // (kept), "revived" was deleted long ago but written again since.
    push(vec![
        keyed("gone", Some("soon deleted"), now - 5 * HOUR),
        keyed("fresh", Some("soon deleted"), now - 5 * HOUR),
    ]);
    push(vec![
        keyed("gone", None, now - 3 * HOUR),
        keyed("fresh", None, now - 10 * MINUTE),
    ]);
    push(vec![keyed("revived", None, now - 3 * HOUR)]);
    push(vec![keyed("revived", Some("back"), now - 2 * HOUR)]);
    // More overwrites so the tombstones end up in sealed segments.
    for round in 40..70 {
        let key = format!("key-{}", round % 8);
        push(vec![keyed(
            &key,
            Some(&format!("{key} v{round}")),
            now - HOUR + round as i64,
        )]);
    }
    let files = segment_files(partition.dir());
    let active_base = files.last().unwrap().base_offset;
    assert!(files.len() >= 4, "{} segments", files.len());
    let tombstones: Vec<u64> = (0..all.len() as u64)
        .filter(|&o| all[o as usize].value.is_none())
        .collect();
    assert!(
        tombstones.iter().all(|&o| o < active_base),
        "tombstones are in sealed segments"
    );
    let expected = expected_after_compaction(&all, active_base, now, HOUR);
    let hw = partition.high_watermark();

    let outcome = partition.compact(now, true).unwrap();
    assert_eq!(
        outcome.records_removed,
        all.len() as u64 - expected.len() as u64
    );
    assert!(outcome.segments_rewritten > 0 && outcome.bytes_after < outcome.bytes_before);
    assert_eq!(
        partition.high_watermark(),
        hw,
        "compaction never changes the end"
    );
    assert_compacted(&partition, &all, &expected);
    // The young tombstone stays, the old ones go.
    let key_of = |o: &u64| all[*o as usize].key.clone().unwrap();
    let surviving_tombstones: Vec<Bytes> = expected
        .iter()
        .filter(|&&o| all[o as usize].value.is_none())
        .map(key_of)
        .collect();
    assert_eq!(surviving_tombstones, vec![Bytes::from_static(b"fresh")]);
    // Each key appears at most once below the active segment.
    let mut sealed_keys: BTreeMap<Bytes, u64> = BTreeMap::new();
    for o in expected.iter().filter(|&&o| o < active_base) {
        assert!(
            sealed_keys.insert(key_of(o), *o).is_none(),
            "key {:?} twice",
            key_of(o)
        );
    }

    assert_eq!(
        partition.compact(now, false).unwrap().segments_rewritten,
        0,
        "nothing new was sealed"
    );
    assert_eq!(
        partition.compact(now, true).unwrap().records_removed,
        0,
        "compaction is idempotent"
    );

    // Lookups into the gaps land on the next surviving record.
    for offset in 0..hw {
        let fetched = partition.read(offset, 1).unwrap();
        let next = fetched
            .records(common::MAX_BATCH)
            .next()
            .map(|r| r.unwrap().offset);
        assert_eq!(
            next,
            expected.iter().copied().find(|&o| o >= offset),
            "read at {offset}"
        );
    }

    // Clean and unclean restarts see the compacted log; appends continue.
    close(log);
    let (log, report) = open(dir.path(), &config);
    assert!(report.clean_shutdown && report.truncations.is_empty());
    assert_compacted(&log.partition("state", 0).unwrap(), &all, &expected);
    close(log);
    forget_clean_shutdown(dir.path());
    let (log, report) = open(dir.path(), &config);
    assert!(!report.clean_shutdown && report.truncations.is_empty());
    let partition = log.partition("state", 0).unwrap();
    assert_compacted(&partition, &all, &expected);
    let (base, _) = append(&partition, &[keyed("key-0", Some("after"), now)]);
    assert_eq!(base, hw);
}

#[test]
fn compacted_topic_refuses_records_without_key() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), &log_config(Durability::Os));
    let partition = Arc::clone(
        &log.create_topic("state", compacted_topic())
            .unwrap()
            .partitions()[0],
    );
    let keyless = NewRecord {
        key: None,
        ..keyed("k", Some("v"), NOW)
    };
    let batch = vec![keyed("k", Some("v"), NOW), keyless];
    match partition.append(&batch) {
        Err(LogError::MissingKey(topic)) => assert_eq!(topic, "state"),
        other => panic!("expected MissingKey, got {:?}", other.map(|p| p.info())),
    }
    let mut encoded = batch::encode(&batch, None).unwrap();
    batch::stamp_base_offset(&mut encoded, 0);
    assert!(matches!(
        partition.append_encoded(encoded),
        Err(LogError::MissingKey(_))
    ));
    assert_eq!(partition.high_watermark(), 0);
    // A tombstone has a key and no value: that is fine.
    append(&partition, &[keyed("k", None, NOW)]);
}

#[test]
fn committed_offsets_survive_restart_and_later_commits_win() {
    let dir = tempfile::tempdir().unwrap();
    let config = log_config(Durability::Fsync);
    let (log, _) = open(dir.path(), &config);
    let offsets = log.consumer_offsets().unwrap();
    offsets
        .commit_blocking("indexer", "otlp_logs", 0, 10, "first")
        .unwrap();
    offsets
        .commit_blocking("indexer", "otlp_logs", 1, 20, "")
        .unwrap();
    offsets
        .commit_blocking("alerts", "otlp_logs", 0, 5, "a")
        .unwrap();
    offsets
        .commit_blocking("indexer", "otlp_logs", 0, 15, "second")
        .unwrap();
    assert_eq!(offsets.fetch("indexer", "otlp_logs", 0).unwrap().offset, 15);
    close(log);

    let (log, _) = open(dir.path(), &config);
    let offsets = log.consumer_offsets().unwrap();
    let latest = offsets.fetch("indexer", "otlp_logs", 0).unwrap();
    assert_eq!((latest.offset, latest.metadata.as_str()), (15, "second"));
    assert_eq!(offsets.fetch("indexer", "otlp_logs", 1).unwrap().offset, 20);
    assert_eq!(offsets.fetch("alerts", "otlp_logs", 0).unwrap().offset, 5);
    assert_eq!(offsets.fetch("alerts", "otlp_logs", 1), None);
    assert_eq!(offsets.fetch("nobody", "otlp_logs", 0), None);
    assert_eq!(
        offsets.groups(),
        vec!["alerts".to_string(), "indexer".to_string()]
    );
    let group: Vec<(String, u32, u64)> = offsets
        .group("indexer")
        .into_iter()
        .map(|(t, p, o)| (t, p, o.offset))
        .collect();
    assert_eq!(
        group,
        vec![("otlp_logs".into(), 0, 15), ("otlp_logs".into(), 1, 20)]
    );
}

#[test]
fn acknowledged_commits_survive_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let config = log_config(Durability::Fsync);
    let (log, _) = open(dir.path(), &config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let offsets = log.consumer_offsets().unwrap();
    for i in 0..20u64 {
        runtime
            .block_on(offsets.commit("spans", "otlp_spans", (i % 3) as u32, i, ""))
            .unwrap();
    }
    let crashed = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), crashed.path());
    close(log);
    let (log, report) = open(crashed.path(), &config);
    assert!(!report.clean_shutdown);
    let offsets = log.consumer_offsets().unwrap();
    assert_eq!(offsets.fetch("spans", "otlp_spans", 0).unwrap().offset, 18);
    assert_eq!(offsets.fetch("spans", "otlp_spans", 1).unwrap().offset, 19);
    assert_eq!(offsets.fetch("spans", "otlp_spans", 2).unwrap().offset, 17);
}

#[test]
fn deleted_group_stays_deleted_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = log_config(Durability::Fsync);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (log, _) = open(dir.path(), &config);
    let offsets = log.consumer_offsets().unwrap();
    offsets
        .commit_blocking("old", "otlp_metrics", 0, 7, "")
        .unwrap();
    offsets
        .commit_blocking("old", "otlp_metrics", 3, 9, "")
        .unwrap();
    offsets
        .commit_blocking("kept", "otlp_metrics", 0, 1, "")
        .unwrap();
    runtime.block_on(offsets.delete_group("old")).unwrap();
    assert_eq!(offsets.fetch("old", "otlp_metrics", 0), None);
    assert!(offsets.group("old").is_empty());
    runtime
        .block_on(offsets.delete_group("never-existed"))
        .unwrap();
    close(log);

    let (log, _) = open(dir.path(), &config);
    let offsets = log.consumer_offsets().unwrap();
    assert_eq!(offsets.fetch("old", "otlp_metrics", 0), None);
    assert_eq!(offsets.fetch("old", "otlp_metrics", 3), None);
    assert_eq!(offsets.groups(), vec!["kept".to_string()]);
    // The group can come back.
    offsets
        .commit_blocking("old", "otlp_metrics", 0, 100, "")
        .unwrap();
    close(log);
    let (log, _) = open(dir.path(), &config);
    assert_eq!(
        log.consumer_offsets()
            .unwrap()
            .fetch("old", "otlp_metrics", 0)
            .unwrap()
            .offset,
        100
    );
}

/// A record whose value is 120 random bytes: zstd stores it raw, so every
/// batch of one such record has the same size.
fn fixed_size(key: &str, seed: u64) -> NewRecord {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let value: Vec<u8> = (0..120)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    NewRecord {
        timestamp: NOW,
        key: Some(Bytes::copy_from_slice(key.as_bytes())),
        value: Some(value.into()),
        headers: vec![],
    }
}

#[test]
fn stale_index_left_by_interrupted_compaction_is_not_trusted() {
    // Compaction renames the rewritten segment into place and then writes
    // its index; a crash in between leaves the old index beside the new
    // log. With equal-size batches the old entries land on batch starts of
    // the new file, each naming an offset whose batch has moved.
    let dir = tempfile::tempdir().unwrap();
    let config = log_config(Durability::Os);
    let (log, _) = open(dir.path(), &config);
    let probe = Arc::clone(
        &log.create_topic("probe", compacted_topic())
            .unwrap()
            .partitions()[0],
    );
    append(&probe, &[fixed_size("key-00", 0)]);
    let size = segment_files(probe.dir())[0].len;
    // An index entry every other batch; 20 batches per segment.
    let topic = TopicConfig {
        index_interval_bytes: size as u32 + 1,
        segment_bytes: 20 * size,
        ..compacted_topic()
    };
    let partition = Arc::clone(&log.create_topic("state", topic).unwrap().partitions()[0]);
    for i in 0..20 {
        let key = if i == 3 {
            "key-99".to_string()
        } else {
            format!("key-{i:02}")
        };
        append(&partition, &[fixed_size(&key, i)]);
    }
    append(&partition, &[fixed_size("key-99", 1000)]); // rolls; offset 3 is now superseded
    let sealed = segment_files(partition.dir())[0].clone();
    assert!(
        common::batches_in(&sealed.path)
            .iter()
            .all(|b| u64::from(b.header.size) == size)
    );
    let (index_path, time_path) = (
        sealed.path.with_extension("index"),
        sealed.path.with_extension("timeindex"),
    );
    let (old_index, old_time) = (
        std::fs::read(&index_path).unwrap(),
        std::fs::read(&time_path).unwrap(),
    );

    assert_eq!(partition.compact(NOW, true).unwrap().records_removed, 1);
    let new_len = std::fs::metadata(&sealed.path).unwrap().len();
    let last_entry = u32::from_be_bytes(old_index[old_index.len() - 4..].try_into().unwrap());
    assert!(
        u64::from(last_entry) < new_len,
        "the stale index passes the bounds check"
    );
    close(log);
    std::fs::write(&index_path, &old_index).unwrap();
    std::fs::write(&time_path, &old_time).unwrap();
    forget_clean_shutdown(dir.path());

    let checked = log_core::check::check(dir.path(), &config, false).unwrap();
    assert!(
        checked.problems.iter().any(|p| p.file == index_path),
        "check flags the index: {:?}",
        checked.problems
    );

    let (log, _) = open(dir.path(), &config);
    let partition = log.partition("state", 0).unwrap();
    for offset in 0..partition.high_watermark() {
        let fetched = partition.read(offset, 1).unwrap();
        let first = fetched.records(common::MAX_BATCH).next().unwrap().unwrap();
        let expected = if offset == 3 { 4 } else { offset };
        assert_eq!(
            first.offset, expected,
            "read at {offset} must not skip records"
        );
    }
    close(log);
    assert_ne!(
        std::fs::read(&index_path).unwrap(),
        old_index,
        "the index was rebuilt"
    );
    assert!(
        log_core::check::check(dir.path(), &config, false)
            .unwrap()
            .problems
            .is_empty()
    );
}
