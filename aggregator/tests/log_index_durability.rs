//! The log index across restarts, lost checkpoints, retention and damaged
//! files: every record's documents are indexed exactly once, expired
//! splits go, and bad bytes on disk are reported or cleaned up.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aggregator::AggregatorError;
use aggregator::logs::indexer::PartitionIndexer;
use aggregator::logs::store::{LogIndexConfig, LogStore};

use common::{HOUR, Harness, MINUTE, SECOND, T0, fast_config, line, request};

/// Appends `records` records to each partition, record `i` holding a
/// document in hour buckets `i`, `i + 2`, `i` again and `i + 4` (mod 5)
/// after `T0`, so that with fewer open writers than buckets one record
/// evicts a split it wrote to and comes back to it. Returns the bodies.
fn append_spread(harness: &Harness, partitions: u32, from: usize, to: usize) -> Vec<String> {
    let mut bodies = Vec::new();
    for i in from..to {
        for partition in 0..partitions {
            let logs = [0, 2, 0, 4]
                .iter()
                .enumerate()
                .map(|(j, shift)| {
                    let hour = ((i + shift) % 5) as i64;
                    let body = format!("p{partition} r{i} d{j}");
                    bodies.push(body.clone());
                    line(T0 + hour * HOUR + i as i64 * SECOND, "INFO", &body)
                })
                .collect();
            harness.append(partition, None, &request("spread", &[], logs));
        }
    }
    bodies
}

fn assert_each_once(harness: &Harness, bodies: &[String]) {
    let counts = harness.body_counts("default");
    let twice: BTreeMap<&String, &usize> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "indexed more than once with {} open splits: {twice:?}",
        harness.config.max_open_splits
    );
    let missing: Vec<&String> = bodies.iter().filter(|b| !counts.contains_key(*b)).collect();
    assert!(missing.is_empty(), "never indexed: {missing:?}");
    assert_eq!(counts.len(), bodies.len(), "unexpected documents");
}

#[test]
fn a_restarted_consumer_resumes_at_the_checkpoint_and_adds_each_record_once() {
    let mut harness = Harness::started(2, fast_config());
    let mut bodies = append_spread(&harness, 2, 0, 10);
    harness.wait_indexed();
    assert_each_once(&harness, &bodies);

    // A new consumer on the same store.
    harness.stop();
    bodies.extend(append_spread(&harness, 2, 10, 15));
    harness.start();
    harness.wait_indexed();
    assert_each_once(&harness, &bodies);

    // A new process: the store opened again from disk.
    harness.stop();
    harness.reopen_store();
    bodies.extend(append_spread(&harness, 2, 15, 18));
    harness.start();
    harness.wait_indexed();
    assert_each_once(&harness, &bodies);

    let mut buckets: Vec<(u32, i64)> = harness
        .store
        .all_splits()
        .iter()
        .map(|s| (s.id.partition, s.id.bucket_start_secs))
        .collect();
    buckets.sort();
    let expected: Vec<(u32, i64)> = (0..2)
        .flat_map(|p| (0..5).map(move |h| (p, (T0 + h * HOUR) / SECOND)))
        .collect();
    assert_eq!(buckets, expected, "one split per partition and hour");
}

/// The splits' commit payloads alone must make a replay idempotent: a
/// checkpoint lost (or older than the splits) replays records whose
/// documents are in some splits already, including splits evicted in the
/// middle of a record because it spans more buckets than open writers.
#[test]
fn a_replay_from_a_lost_or_older_checkpoint_adds_nothing_twice() {
    for max_open_splits in [1, 2, 4] {
        let config = LogIndexConfig {
            max_open_splits,
            ..fast_config()
        };
        let mut harness = Harness::started(1, config);
        let bodies = append_spread(&harness, 1, 0, 12);
        harness.wait_indexed();
        assert_each_once(&harness, &bodies);

        harness.stop();
        std::fs::remove_file(harness.checkpoint_path(0)).unwrap();
        harness.reopen_store();
        harness.start();
        harness.wait_indexed();
        assert_each_once(&harness, &bodies);

        harness.stop();
        harness.store.write_checkpoint(0, 5).unwrap();
        harness.start();
        harness.wait_indexed();
        assert_each_once(&harness, &bodies);
    }
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

#[test]
fn retention_deletes_expired_splits_and_never_indexes_expired_documents() {
    let config = LogIndexConfig {
        retention: Some(Duration::from_secs(2 * 3600)),
        ..fast_config()
    };
    let mut harness = Harness::started(1, config);
    let now = now_nanos();
    let hour = now - now.rem_euclid(HOUR);
    harness.append(
        0,
        None,
        &request(
            "api",
            &[],
            vec![
                line(now - 5 * HOUR, "INFO", "expired on arrival"),
                line(hour - HOUR + MINUTE, "INFO", "last hour"),
                line(hour + MINUTE, "INFO", "this hour"),
            ],
        ),
    );
    harness.wait_indexed();
    let counts = harness.body_counts("default");
    assert_eq!(
        counts.keys().collect::<Vec<_>>(),
        vec!["last hour", "this hour"]
    );
    assert_eq!(harness.store.all_splits().len(), 2);

    // Splits with an open writer are left alone, even when expired.
    let later = hour + 2 * HOUR + 30 * MINUTE;
    assert_eq!(harness.store.apply_retention(later).unwrap(), 0);
    harness.stop();

    // Now `[hour - 1h, hour)` ended before the cutoff (`hour + 30m`).
    assert_eq!(harness.store.apply_retention(later).unwrap(), 1);
    let buckets: Vec<i64> = harness
        .store
        .all_splits()
        .iter()
        .map(|s| s.id.bucket_start_secs)
        .collect();
    assert_eq!(buckets, vec![hour / SECOND]);
    let expired_dir = harness
        .index_dir()
        .join(format!("p0/{:012}", (hour - HOUR) / SECOND));
    assert!(
        !expired_dir.exists(),
        "{} still exists",
        expired_dir.display()
    );
    assert_eq!(
        harness.body_counts("default").keys().collect::<Vec<_>>(),
        vec!["this hour"]
    );
    assert_eq!(harness.store.apply_retention(later).unwrap(), 0);

    // Gone for good: a reopened store does not find it either.
    harness.reopen_store();
    assert_eq!(harness.store.all_splits().len(), 1);
    // And without retention nothing is deleted.
    let keep_all = LogStore::open(&harness.index_dir(), fast_config()).unwrap();
    assert_eq!(keep_all.apply_retention(i64::MAX).unwrap(), 0);
}

#[test]
fn a_split_directory_without_meta_json_is_removed_at_open() {
    let mut harness = Harness::started(1, fast_config());
    harness.append(
        0,
        None,
        &request("api", &[], vec![line(T0, "INFO", "kept")]),
    );
    harness.wait_indexed();
    harness.stop();

    // A split whose creation died before its first commit, and things
    // that are not splits at all.
    let half_created = harness
        .index_dir()
        .join(format!("p0/{:012}", (T0 + HOUR) / SECOND));
    std::fs::create_dir_all(&half_created).unwrap();
    std::fs::write(half_created.join("0a1b.idx"), b"partial").unwrap();
    let stranger = harness.index_dir().join("p0/notes");
    std::fs::create_dir_all(&stranger).unwrap();

    harness.reopen_store();
    assert!(!half_created.exists(), "a half-created split survived");
    assert!(
        stranger.exists(),
        "a directory that is no split was removed"
    );
    assert_eq!(harness.store.all_splits().len(), 1);
    assert_eq!(harness.body_counts("default").len(), 1);

    // Indexing goes on into the same bucket without trouble.
    harness.start();
    harness.append(
        0,
        None,
        &request("api", &[], vec![line(T0 + HOUR, "INFO", "later")]),
    );
    harness.wait_indexed();
    assert_eq!(harness.body_counts("default").len(), 2);
}

#[test]
fn a_garbage_checkpoint_is_a_corruption_error_naming_the_file() {
    let harness = Harness::new(1, fast_config());
    let path = harness.checkpoint_path(0);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"{\"next_offset\": \"twelve\"").unwrap();

    let error = harness.store.checkpoint(0).unwrap_err();
    match &error {
        AggregatorError::Corruption { what, .. } => {
            assert!(what.ends_with("p0/checkpoint.json"), "{what}");
        }
        other => panic!("not a corruption error: {other:?}"),
    }
    assert!(error.to_string().contains(&path.display().to_string()));
    // An indexer refuses to start from it rather than replaying from 0.
    let refused = PartitionIndexer::new(harness.store.clone(), 0);
    assert!(matches!(refused, Err(AggregatorError::Corruption { .. })));
    // A partition without a checkpoint starts at 0.
    assert_eq!(harness.store.checkpoint(1).unwrap(), 0);
}
