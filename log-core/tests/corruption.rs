//! Damaged bytes on disk and in client batches: torn and corrupted tails
//! are cut at the first invalid batch on an unclean start, everything
//! before survives byte for byte, `check` finds what recovery would cut and
//! `check --repair` cuts it, bad index files are rebuilt, and bad client
//! batches are refused without harm.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use common::{
    StoredBatch, append, assert_same, batches_in, close, flip_byte, forget_clean_shutdown,
    log_config, open, read_all, record, segment_files, topic_config,
};
use log_core::batch;
use log_core::check::check;
use log_core::{Durability, LogConfig, LogError, NewRecord, Partition};
use tempfile::TempDir;

const TOPIC: &str = "events";

/// A closed log with one partition and what was appended to it.
struct Fixture {
    dir: TempDir,
    config: LogConfig,
    /// Every appended batch, in offset order.
    batches: Vec<Vec<NewRecord>>,
}

impl Fixture {
    /// Appends batches of 5 records until there are `segments` segments and
    /// the newest one holds at least `newest_batches` batches; then closes
    /// the log cleanly.
    fn build(
        segment_bytes: u64,
        index_interval_bytes: u32,
        segments: usize,
        newest_batches: usize,
    ) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let config = log_config(Durability::Fsync);
        let (log, _) = open(dir.path(), &config);
        let topic = log
            .create_topic(
                TOPIC,
                log_core::TopicConfig {
                    index_interval_bytes,
                    ..topic_config(segment_bytes)
                },
            )
            .unwrap();
        let partition = Arc::clone(&topic.partitions()[0]);
        let mut batches = Vec::new();
        loop {
            let n = batches.len();
            let records: Vec<NewRecord> = (0..5)
                .map(|i| {
                    record(
                        &format!("key-{}", (n + i) % 7),
                        &format!("batch {n} record {i} {}", "x".repeat(40)),
                        1_700_000_000_000 + n as i64,
                    )
                })
                .collect();
            let (base, _) = append(&partition, &records);
            assert_eq!(base, 5 * n as u64);
            batches.push(records);
            let files = segment_files(partition.dir());
            if files.len() >= segments
                && batches_in(&files.last().unwrap().path).len() >= newest_batches
            {
                break;
            }
        }
        close(log);
        Fixture {
            dir,
            config,
            batches,
        }
    }

    fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    fn partition_dir(&self) -> PathBuf {
        self.dir.path().join("log").join(format!("{TOPIC}-0"))
    }

    fn records(&self) -> Vec<NewRecord> {
        self.batches.concat()
    }

    fn reopen(&self) -> (Arc<log_core::Log>, log_core::RecoveryReport, Arc<Partition>) {
        let (log, report) = open(self.data_dir(), &self.config);
        let partition = log.partition(TOPIC, 0).unwrap();
        (log, report, partition)
    }
}

/// Every record from the log start matches `expected`, offsets from 0.
fn assert_records(partition: &Partition, expected: &[NewRecord]) {
    let stored = read_all(partition, partition.log_start());
    assert_eq!(stored.len(), expected.len(), "number of surviving records");
    for (i, (s, e)) in stored.iter().zip(expected).enumerate() {
        assert_eq!(s.offset, i as u64);
        assert_same(s, e);
    }
}

/// The bytes a fetch from offset 0 returns, across segments.
fn fetch_all_bytes(partition: &Partition) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offset = partition.log_start();
    while offset < partition.high_watermark() {
        let fetched = partition.read(offset, 1 << 20).unwrap();
        assert!(!fetched.is_empty());
        offset = fetched.batches().last().unwrap().0.next_offset();
        out.extend_from_slice(&fetched.bytes);
    }
    out
}

/// After recovery cut the newest segment at `cut`, appends continue at the
/// cut batch's base offset and survive a clean restart.
fn assert_appends_continue_at(partition: &Arc<Partition>, cut: &StoredBatch, kept: &[NewRecord]) {
    assert_eq!(partition.high_watermark(), cut.header.base_offset);
    let next = vec![record(
        "after",
        "appended after recovery",
        1_800_000_000_000,
    )];
    let (base, _) = append(partition, &next);
    assert_eq!(
        base, cut.header.base_offset,
        "the first offset after the cut is reused: it was never acknowledged"
    );
    let mut expected = kept.to_vec();
    expected.extend(next);
    assert_records(partition, &expected);
}

#[test]
fn torn_last_batch_is_cut_at_its_start() {
    let fixture = Fixture::build(1 << 20, 4096, 1, 10);
    let segment = segment_files(&fixture.partition_dir()).pop().unwrap();
    let original = std::fs::read(&segment.path).unwrap();
    let stored = batches_in(&segment.path);
    let last = *stored.last().unwrap();
    let torn_len = last.position + u64::from(last.header.size) / 2;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segment.path)
        .unwrap()
        .set_len(torn_len)
        .unwrap();
    forget_clean_shutdown(fixture.data_dir());

    let (log, report, partition) = fixture.reopen();
    assert!(!report.clean_shutdown);
    assert_eq!(report.truncations.len(), 1, "{:?}", report.truncations);
    let cut = &report.truncations[0];
    assert_eq!(cut.damage.file, segment.path);
    assert_eq!(
        cut.damage.position, last.position,
        "cut where the torn batch starts"
    );
    assert_eq!(cut.dropped_bytes, torn_len - last.position);
    assert!(cut.damage.reason.contains("torn"), "{}", cut.damage.reason);
    assert_eq!(
        std::fs::metadata(&segment.path).unwrap().len(),
        last.position,
        "the file is truncated"
    );

    let kept = fixture.batches[..stored.len() - 1].concat();
    assert_eq!(
        fetch_all_bytes(&partition),
        original[..last.position as usize],
        "surviving batches are byte-identical"
    );
    assert_records(&partition, &kept);
    assert_appends_continue_at(&partition, &last, &kept);
    close(log);

    let (_log, report, partition) = fixture.reopen();
    assert!(report.clean_shutdown && report.truncations.is_empty());
    assert_eq!(partition.high_watermark(), last.header.base_offset + 1);
}

#[test]
fn crc_mismatch_in_last_batch_truncates_tail_and_check_reports_it() {
    let fixture = Fixture::build(1 << 20, 4096, 1, 10);
    let segment = segment_files(&fixture.partition_dir()).pop().unwrap();
    let stored = batches_in(&segment.path);
    let last = *stored.last().unwrap();
    flip_byte(
        &segment.path,
        last.position + u64::from(last.header.size) - 3,
    );
    forget_clean_shutdown(fixture.data_dir());
    let damaged = std::fs::read(&segment.path).unwrap();

    let checked = check(fixture.data_dir(), &fixture.config, false).unwrap();
    assert_eq!(
        std::fs::read(&segment.path).unwrap(),
        damaged,
        "check without repair changes nothing"
    );
    let problem = checked
        .problems
        .iter()
        .find(|p| p.file == segment.path)
        .unwrap_or_else(|| {
            panic!(
                "no problem reported for {}: {:?}",
                segment.path.display(),
                checked.problems
            )
        });
    assert_eq!(problem.position, last.position);
    assert!(
        problem.detail.contains("crc mismatch"),
        "{}",
        problem.detail
    );
    assert!(!problem.repaired);
    assert!(
        checked
            .problems
            .iter()
            .all(|p| p.file.starts_with(fixture.partition_dir())),
        "{:?}",
        checked.problems
    );

    let (_log, report, partition) = fixture.reopen();
    assert!(!report.clean_shutdown);
    assert_eq!(report.truncations.len(), 1, "{:?}", report.truncations);
    let cut = &report.truncations[0];
    assert_eq!(
        (&cut.damage.file, cut.damage.position),
        (&problem.file, problem.position),
        "recovery cuts what check reported"
    );
    assert_eq!(cut.dropped_bytes, u64::from(last.header.size));
    assert!(
        cut.damage.reason.contains("crc mismatch"),
        "{}",
        cut.damage.reason
    );

    let kept = fixture.batches[..stored.len() - 1].concat();
    assert_eq!(
        fetch_all_bytes(&partition),
        damaged[..last.position as usize]
    );
    assert_records(&partition, &kept);
    assert_appends_continue_at(&partition, &last, &kept);
}

#[test]
fn crc_mismatch_in_middle_batch_cuts_everything_after_it() {
    let fixture = Fixture::build(4096, 4096, 3, 6);
    let files = segment_files(&fixture.partition_dir());
    let sealed: Vec<Vec<u8>> = files[..files.len() - 1]
        .iter()
        .map(|s| std::fs::read(&s.path).unwrap())
        .collect();
    let newest = files.last().unwrap();
    let stored = batches_in(&newest.path);
    let victim = stored[stored.len() / 2];
    // A byte inside the compressed records, covered by the CRC.
    flip_byte(&newest.path, victim.position + 70);
    forget_clean_shutdown(fixture.data_dir());

    let (_log, report, partition) = fixture.reopen();
    assert_eq!(report.truncations.len(), 1, "{:?}", report.truncations);
    let cut = &report.truncations[0];
    assert_eq!(
        (&cut.damage.file, cut.damage.position),
        (&newest.path, victim.position)
    );
    assert_eq!(cut.dropped_bytes, newest.len - victim.position);
    assert!(
        cut.damage.reason.contains("crc mismatch"),
        "{}",
        cut.damage.reason
    );
    for (file, bytes) in files.iter().zip(&sealed) {
        assert_eq!(
            &std::fs::read(&file.path).unwrap(),
            bytes,
            "sealed {} untouched",
            file.path.display()
        );
    }
    let kept = fixture.records()[..victim.header.base_offset as usize].to_vec();
    assert_records(&partition, &kept);
    assert_appends_continue_at(&partition, &victim, &kept);
}

#[test]
fn garbage_index_of_sealed_segment_is_rebuilt_at_open() {
    // Several index entries per segment, so lookups depend on them.
    let fixture = Fixture::build(4096, 256, 3, 1);
    let files = segment_files(&fixture.partition_dir());
    let sealed = &files[1];
    let index_path = sealed.path.with_extension("index");
    let original_index = std::fs::read(&index_path).unwrap();
    assert!(
        original_index.len() >= 16,
        "the segment has several index entries"
    );
    let batches = batches_in(&sealed.path).len() as u64;
    let past_end = [
        0u32.to_be_bytes(),
        0u32.to_be_bytes(),
        5u32.to_be_bytes(),
        (sealed.len as u32 + 10).to_be_bytes(),
    ]
    .concat();
    let garbage: [(&str, Option<Vec<u8>>); 5] = [
        ("not a whole entry", Some(vec![7; 13])),
        (
            "decreasing entries",
            Some(vec![
                0xff, 0xff, 0xff, 0xff, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0,
            ]),
        ),
        ("entry past the end", Some(past_end)),
        ("empty for a non-empty segment", Some(Vec::new())),
        ("missing", None),
    ];
    let expected = fixture.records();
    for (what, bytes) in garbage {
        match bytes {
            Some(bytes) => std::fs::write(&index_path, bytes).unwrap(),
            None => std::fs::remove_file(&index_path).unwrap(),
        }
        let (log, report, partition) = fixture.reopen();
        assert!(report.clean_shutdown, "{what}");
        assert_eq!(
            report.scanned_batches, batches,
            "{what}: only the segment with the bad index is scanned"
        );
        assert!(
            report.truncations.is_empty(),
            "{what}: {:?}",
            report.truncations
        );
        assert_records(&partition, &expected);
        for offset in 0..partition.high_watermark() {
            let fetched = partition.read(offset, 1).unwrap();
            let first = fetched.records(common::MAX_BATCH).next().unwrap().unwrap();
            assert_eq!(first.offset, offset, "{what}: lookup of {offset}");
        }
        close(log);
        assert_eq!(
            std::fs::read(&index_path).unwrap(),
            original_index,
            "{what}: the index is rewritten"
        );
        let checked = check(fixture.data_dir(), &fixture.config, false).unwrap();
        assert!(
            checked.problems.is_empty(),
            "{what}: {:?}",
            checked.problems
        );
    }
}

#[test]
fn check_repair_truncates_newest_segment_and_a_second_check_is_clean() {
    let fixture = Fixture::build(4096, 256, 2, 6);
    let newest = segment_files(&fixture.partition_dir()).pop().unwrap();
    let stored = batches_in(&newest.path);
    let victim = stored[2];
    flip_byte(&newest.path, victim.position + 70);

    let repaired = check(fixture.data_dir(), &fixture.config, true).unwrap();
    let problem = repaired
        .problems
        .iter()
        .find(|p| p.file == newest.path)
        .expect("damage found");
    assert_eq!(problem.position, victim.position);
    assert!(problem.repaired, "{problem}");
    assert_eq!(
        std::fs::metadata(&newest.path).unwrap().len(),
        victim.position,
        "cut at the damaged batch"
    );

    let second = check(fixture.data_dir(), &fixture.config, false).unwrap();
    assert!(second.problems.is_empty(), "{:?}", second.problems);
    assert_eq!(second.batches, repaired.batches);

    let (_log, _report, partition) = fixture.reopen();
    let kept = fixture.records()[..victim.header.base_offset as usize].to_vec();
    assert_records(&partition, &kept);
    assert_appends_continue_at(&partition, &victim, &kept);
}

#[test]
fn check_repair_of_sealed_segment_keeps_later_segments_behind_a_gap() {
    let fixture = Fixture::build(4096, 256, 4, 1);
    let files = segment_files(&fixture.partition_dir());
    let sealed = &files[1];
    let stored = batches_in(&sealed.path);
    let victim = stored[stored.len() / 2];
    flip_byte(&sealed.path, victim.position + 70);

    let repaired = check(fixture.data_dir(), &fixture.config, true).unwrap();
    assert_eq!(
        (&repaired.problems[0].file, repaired.problems[0].position),
        (&sealed.path, victim.position)
    );
    // Its index now points past the cut, so it is reported and rewritten too.
    assert!(
        repaired
            .problems
            .iter()
            .all(|p| p.repaired && p.file.with_extension("log") == sealed.path),
        "{:?}",
        repaired.problems
    );
    assert_eq!(
        std::fs::metadata(&sealed.path).unwrap().len(),
        victim.position
    );
    let second = check(fixture.data_dir(), &fixture.config, false).unwrap();
    assert!(second.problems.is_empty(), "{:?}", second.problems);

    // Offsets never move: the records after the damaged run keep theirs.
    let (_log, report, partition) = fixture.reopen();
    assert!(report.truncations.is_empty());
    let all = fixture.records();
    let gap = victim.header.base_offset..files[2].base_offset;
    let stored = read_all(&partition, 0);
    let expected: Vec<u64> = (0..all.len() as u64).filter(|o| !gap.contains(o)).collect();
    assert_eq!(
        stored.iter().map(|r| r.offset).collect::<Vec<_>>(),
        expected
    );
    for r in &stored {
        assert_same(r, &all[r.offset as usize]);
    }
    let (base, _) = append(&partition, &[record("k", "after repair", 1)]);
    assert_eq!(base, all.len() as u64);
}

#[test]
fn leftovers_of_an_interrupted_compaction_are_removed_at_open() {
    let fixture = Fixture::build(4096, 4096, 2, 1);
    let first = segment_files(&fixture.partition_dir())[0].path.clone();
    let cleaned = first.with_extension("log.cleaned");
    std::fs::write(&cleaned, b"half a rewrite").unwrap();
    let (_log, report, partition) = fixture.reopen();
    assert!(!cleaned.exists(), "stray .cleaned file removed");
    assert!(report.truncations.is_empty());
    assert_records(&partition, &fixture.records());
}

/// A new single-partition log with `records` appended through `append`.
fn log_with(records: &[NewRecord]) -> (TempDir, Arc<log_core::Log>, Arc<Partition>) {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), &log_config(Durability::Fsync));
    log.create_topic(TOPIC, topic_config(1 << 20)).unwrap();
    let partition = log.partition(TOPIC, 0).unwrap();
    if !records.is_empty() {
        append(&partition, records);
    }
    (dir, log, partition)
}

fn client_records() -> Vec<NewRecord> {
    (0..4)
        .map(|i| NewRecord {
            timestamp: 1_700_000_000_000 + i,
            key: (i % 2 == 0).then(|| Bytes::from(format!("client-key-{i}"))),
            value: Some(Bytes::from(format!("client value {i}"))),
            headers: vec![
                ("trace".into(), Some(Bytes::from_static(b"abc"))),
                ("empty".into(), None),
            ],
        })
        .collect()
}

#[test]
fn client_batch_with_bad_crc_is_rejected() {
    let (_dir, _log, partition) = log_with(&[]);
    let mut encoded = batch::encode(&client_records(), None).unwrap();
    batch::stamp_base_offset(&mut encoded, 1234);
    let at = encoded.len() - 4;
    encoded[at] ^= 0x01;
    match partition.append_encoded(encoded) {
        Err(LogError::InvalidBatch(reason)) => assert!(reason.contains("crc"), "{reason}"),
        other => panic!(
            "expected an invalid batch error, got {:?}",
            other.map(|p| p.info())
        ),
    }
    assert_eq!(partition.high_watermark(), 0, "nothing was appended");
}

#[test]
fn client_batch_is_stored_verbatim_except_base_offset() {
    let (_dir, _log, partition) = log_with(&[record("k", "first", 1), record("k", "second", 2)]);
    let records = client_records();
    let mut encoded = batch::encode(&records, None).unwrap();
    batch::stamp_base_offset(&mut encoded, 1234);
    let sent = encoded.to_vec();
    let info = partition.append_encoded(encoded).unwrap().wait().unwrap();
    assert_eq!((info.base_offset, info.last_offset), (2, 5));
    assert_eq!(info.batch_bytes, sent.len());

    let fetched = partition.read(2, 1 << 20).unwrap();
    let stored = fetched.bytes.to_vec();
    assert_eq!(stored.len(), sent.len(), "exactly the one batch");
    assert_eq!(
        stored[8..],
        sent[8..],
        "everything after baseOffset is the client's bytes"
    );
    assert_eq!(
        stored[..8],
        2i64.to_be_bytes(),
        "baseOffset is the assigned offset"
    );
    let decoded: Vec<_> = fetched
        .records(common::MAX_BATCH)
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(decoded.len(), records.len());
    for (i, (d, r)) in decoded.iter().zip(&records).enumerate() {
        assert_eq!(d.offset, 2 + i as u64);
        assert_same(d, r);
    }
}

#[test]
fn client_batch_whose_records_disagree_with_its_header_is_rejected() {
    let (_dir, _log, partition) = log_with(&[]);
    let mut encoded = batch::encode(&client_records(), None).unwrap();
    // lastOffsetDelta (bytes 23..27) claims one record fewer; fix the CRC so
    // only the inconsistency is wrong.
    encoded[23..27].copy_from_slice(&2i32.to_be_bytes());
    let crc = crc32c::crc32c(&encoded[21..]);
    encoded[17..21].copy_from_slice(&crc.to_be_bytes());
    assert!(matches!(
        partition.append_encoded(encoded),
        Err(LogError::InvalidBatch(_))
    ));
    assert_eq!(partition.high_watermark(), 0);
}

/// Zigzag varint, as Kafka encodes record fields.
fn put_varint(out: &mut Vec<u8>, value: i64) {
    let mut z = ((value << 1) ^ (value >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// An uncompressed batch with a valid CRC holding one empty record that
/// declares `headers` headers, with `record_count` in the batch header.
fn hand_built_batch(record_count: i32, headers: i64) -> BytesMut {
    let mut body = vec![0u8]; // attributes
    for field in [0, 0, -1, -1, headers] {
        // timestamp delta, offset delta, null key, null value, header count
        put_varint(&mut body, field);
    }
    let mut out = Vec::new();
    out.extend_from_slice(&0i64.to_be_bytes()); // baseOffset
    out.extend_from_slice(&0i32.to_be_bytes()); // batchLength, set below
    out.extend_from_slice(&(-1i32).to_be_bytes()); // leaderEpoch
    out.push(2); // magic
    out.extend_from_slice(&0u32.to_be_bytes()); // crc, set below
    out.extend_from_slice(&0i16.to_be_bytes()); // attributes: no codec
    out.extend_from_slice(&(record_count - 1).to_be_bytes()); // lastOffsetDelta
    out.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    out.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    out.extend_from_slice(&(-1i64).to_be_bytes()); // producerId
    out.extend_from_slice(&(-1i16).to_be_bytes()); // producerEpoch
    out.extend_from_slice(&(-1i32).to_be_bytes()); // baseSequence
    out.extend_from_slice(&record_count.to_be_bytes());
    put_varint(&mut out, body.len() as i64);
    out.extend_from_slice(&body);
    let length = (out.len() - 12) as i32;
    out[8..12].copy_from_slice(&length.to_be_bytes());
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    BytesMut::from(&out[..])
}

#[test]
fn client_batch_declaring_huge_counts_is_rejected_without_allocating() {
    let (_dir, _log, partition) = log_with(&[]);
    // The builder itself is sound: one record, no headers, is accepted.
    partition
        .append_encoded(hand_built_batch(1, 0))
        .unwrap()
        .wait()
        .unwrap();
    // Before the fix each of these aborted the process trying to reserve
    // tens to hundreds of gigabytes.
    for (records, headers) in [(i32::MAX, 0), (1, i64::from(i32::MAX)), (1, 1)] {
        match partition.append_encoded(hand_built_batch(records, headers)) {
            Err(LogError::InvalidBatch(reason)) => assert!(reason.contains("declare"), "{reason}"),
            other => panic!(
                "{records} records, {headers} headers: {:?}",
                other.map(|p| p.info())
            ),
        }
    }
    assert_eq!(partition.high_watermark(), 1);
}

#[test]
fn repeated_header_keys_are_stored_in_order() {
    let (_dir, _log, partition) = log_with(&[]);
    let mut records = client_records();
    records[1]
        .headers
        .push(("trace".into(), Some(Bytes::from_static(b"second"))));
    let info = partition.append(&records).unwrap().wait().unwrap();
    let fetched = partition.read(info.base_offset, 1 << 20).unwrap();
    let back: Vec<_> = fetched.records(1 << 20).map(|r| r.unwrap()).collect();
    assert_eq!(back.len(), records.len());
    for (got, want) in back.iter().zip(&records) {
        assert_eq!(got.headers, want.headers);
    }
}

#[test]
fn read_only_open_reports_damage_and_changes_nothing() {
    let fixture = Fixture::build(1 << 20, 4096, 1, 10);
    let segment = segment_files(&fixture.partition_dir()).pop().unwrap();
    let stored = batches_in(&segment.path);
    let victim = stored[6];
    flip_byte(&segment.path, victim.position + 70);
    forget_clean_shutdown(fixture.data_dir());
    let damaged = std::fs::read(&segment.path).unwrap();

    let (log, report) = log_core::Log::open(
        fixture.data_dir(),
        fixture.config.clone(),
        log_core::OpenMode::ReadOnly,
    )
    .unwrap();
    assert_eq!(report.truncations.len(), 1, "{:?}", report.truncations);
    assert_eq!(report.truncations[0].damage.position, victim.position);
    let partition = log.partition(TOPIC, 0).unwrap();
    assert_records(
        &partition,
        &fixture.records()[..victim.header.base_offset as usize],
    );
    assert!(matches!(
        partition.append(&[record("k", "v", 1)]),
        Err(LogError::ReadOnly)
    ));
    close(log);
    assert_eq!(
        std::fs::read(&segment.path).unwrap(),
        damaged,
        "nothing on disk changed"
    );
    assert!(
        !common::clean_shutdown_marker(fixture.data_dir()).exists(),
        "a read-only close does not claim a clean shutdown"
    );
}
