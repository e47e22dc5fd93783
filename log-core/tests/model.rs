//! Model-based property test: random sequences of appends, reads, time
//! lookups, clean and unclean restarts and retention passes run against the
//! log and against a plain in-memory model (every record ever appended, per
//! partition, plus the log start offset). After every step the log must
//! agree with the model exactly: offsets dense and increasing, records
//! byte-identical, fetches made of whole valid batches within their budget.
//!
//! Unclean restarts copy the data dir while the log is open (what a crash
//! leaves behind when the page cache survives), optionally with a torn or a
//! complete-but-unacknowledged batch at the end of the newest segment, or
//! delete the clean-shutdown marker after a clean close.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{MAX_BATCH, assert_same, log_config, read_all, segment_files};
use log_core::batch::{self, BatchHeader};
use log_core::{Durability, Log, LogConfig, LogError, NewRecord, Partition, TopicConfig};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use tempfile::TempDir;

const TOPIC: &str = "model";
const PARTITIONS: u32 = 2;
/// Timestamps follow a logical clock that starts at `T0` and advances
/// `TICK` per append; each record lies within an hour of it either way, so
/// timestamps are not monotonic. Retention passes run at the clock ± 3h
/// against a 2h retention, so some segments expire and some do not.
const T0: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;
const TICK: i64 = HOUR / 6;
const RETENTION: Duration = Duration::from_secs(2 * 3600);

#[derive(Debug, Clone)]
struct Settings {
    durability: Durability,
    segment_bytes: u64,
    index_interval_bytes: u32,
    retention_bytes: Option<u64>,
}

#[derive(Debug, Clone)]
enum ReadAt {
    /// `log_start + pick % (high_watermark - log_start + 1)`.
    Within(u64),
    BelowLogStart,
    PastHighWatermark,
}

#[derive(Debug, Clone)]
enum TimeTarget {
    /// `T0 - 1h + fraction × (clock + 2h)`.
    Fraction(f64),
    /// The timestamp of a stored record (`pick` modulo their number), plus
    /// `delta` in -1..=1: lookups exactly at and around stored timestamps.
    OfRecord { pick: usize, delta: i64 },
}

/// What the newest segment of one partition ends with in the crash copy.
#[derive(Debug, Clone)]
enum Tail {
    Intact,
    Garbage(Vec<u8>),
    /// A prefix of a real batch: a write torn by the crash.
    TornBatch(Vec<NewRecord>, f64),
    /// A whole valid batch that was written but never acknowledged;
    /// recovery may keep it, and then its offsets are taken.
    UnacknowledgedBatch(Vec<NewRecord>),
}

#[derive(Debug, Clone)]
enum Crash {
    CopyWhileOpen { partition: u32, tail: Tail },
    MarkerLost,
}

/// Record timestamps in ops are relative: `[0, 2h)` maps to the clock ± 1h.
#[derive(Debug, Clone)]
enum Op {
    Append {
        partition: u32,
        records: Vec<NewRecord>,
    },
    Read {
        partition: u32,
        at: ReadAt,
        max_bytes: usize,
    },
    OffsetForTimestamp {
        partition: u32,
        target: TimeTarget,
    },
    Reopen,
    ReopenUnclean(Crash),
    /// Runs retention at the clock plus `delta` (± 3h).
    Retention {
        partition: u32,
        delta: i64,
    },
}

#[derive(Debug, Default)]
struct ModelPartition {
    /// Every record ever appended; the index is its offset.
    records: Vec<NewRecord>,
    /// base offset → encoded size of every batch.
    batches: BTreeMap<u64, usize>,
    log_start: u64,
}

impl ModelPartition {
    fn end(&self) -> u64 {
        self.records.len() as u64
    }

    fn push_batch(&mut self, records: &[NewRecord], size: usize) {
        self.batches.insert(self.end(), size);
        self.records.extend_from_slice(records);
    }
}

struct Harness {
    settings: Settings,
    config: LogConfig,
    dir: TempDir,
    log: Option<Arc<Log>>,
    model: Vec<ModelPartition>,
    /// Milliseconds after `T0`.
    clock: i64,
}

impl Harness {
    fn new(settings: Settings) -> Harness {
        let config = log_config(settings.durability);
        let dir = tempfile::tempdir().unwrap();
        let (log, report) = Log::open(dir.path(), config.clone(), Default::default()).unwrap();
        assert!(report.clean_shutdown, "a new data dir counts as clean");
        log.create_topic(
            TOPIC,
            TopicConfig {
                partitions: PARTITIONS,
                retention: Some(RETENTION),
                retention_bytes: settings.retention_bytes,
                segment_bytes: settings.segment_bytes,
                segment_age: Duration::from_secs(3600),
                index_interval_bytes: settings.index_interval_bytes,
                ..TopicConfig::default()
            },
        )
        .unwrap();
        let model = (0..PARTITIONS).map(|_| ModelPartition::default()).collect();
        Harness {
            settings,
            config,
            dir,
            log: Some(log),
            model,
            clock: 0,
        }
    }

    fn log(&self) -> &Arc<Log> {
        self.log.as_ref().expect("log is open")
    }

    fn partition(&self, id: u32) -> Arc<Partition> {
        self.log().partition(TOPIC, id).unwrap()
    }

    fn run(&mut self, op: &Op) {
        match op {
            Op::Append { partition, records } => {
                let records = self.stamp(records);
                self.append(*partition, &records);
            }
            Op::Read {
                partition,
                at,
                max_bytes,
            } => self.read(*partition, at, *max_bytes),
            Op::OffsetForTimestamp { partition, target } => {
                let model = &self.model[*partition as usize];
                let timestamp = match *target {
                    TimeTarget::OfRecord { pick, delta } if model.end() > model.log_start => {
                        let stored = &model.records[model.log_start as usize..];
                        stored[pick % stored.len()].timestamp + delta
                    }
                    TimeTarget::OfRecord { .. } => T0,
                    TimeTarget::Fraction(fraction) => {
                        T0 - HOUR + (fraction * (self.clock + 2 * HOUR) as f64) as i64
                    }
                };
                self.offset_for_timestamp(*partition, timestamp);
            }
            Op::Reopen => self.reopen(),
            Op::ReopenUnclean(crash) => self.reopen_unclean(crash),
            Op::Retention { partition, delta } => {
                self.retention(*partition, T0 + self.clock + delta)
            }
        }
    }

    /// Turns relative timestamps into absolute ones and advances the clock.
    fn stamp(&mut self, records: &[NewRecord]) -> Vec<NewRecord> {
        self.clock += TICK;
        let mut records = records.to_vec();
        for record in &mut records {
            record.timestamp += T0 + self.clock - HOUR;
        }
        records
    }

    fn append(&mut self, id: u32, records: &[NewRecord]) {
        let partition = self.partition(id);
        let model = &mut self.model[id as usize];
        let info = partition.append(records).unwrap().wait().unwrap();
        assert_eq!(info.base_offset, model.end(), "base offset of an append");
        assert_eq!(
            info.last_offset,
            model.end() + records.len() as u64 - 1,
            "last offset of an append"
        );
        model.push_batch(records, info.batch_bytes);
        assert_eq!(
            partition.high_watermark(),
            model.end(),
            "an acknowledged append is readable"
        );
    }

    fn read(&self, id: u32, at: &ReadAt, max_bytes: usize) {
        let partition = self.partition(id);
        let model = &self.model[id as usize];
        let offset = match *at {
            ReadAt::Within(pick) => model.log_start + pick % (model.end() - model.log_start + 1),
            ReadAt::BelowLogStart if model.log_start > 0 => model.log_start - 1,
            ReadAt::BelowLogStart => return,
            ReadAt::PastHighWatermark => model.end() + 1,
        };
        if offset < model.log_start || offset > model.end() {
            match partition.read(offset, max_bytes) {
                Err(LogError::OffsetOutOfRange {
                    offset: o,
                    log_start,
                    log_end,
                    ..
                }) => {
                    assert_eq!(
                        (o, log_start, log_end),
                        (offset, model.log_start, model.end())
                    );
                }
                other => panic!(
                    "read at {offset} outside [{}, {}]: {other:?}",
                    model.log_start,
                    model.end()
                ),
            }
            return;
        }
        let fetched = partition.read(offset, max_bytes).unwrap();
        assert_eq!(fetched.high_watermark, model.end());
        assert_eq!(fetched.log_start, model.log_start);
        if offset == model.end() {
            assert!(
                fetched.is_empty(),
                "a read at the high watermark returns nothing"
            );
            return;
        }
        // Whole, valid batches, each one the model knows, back to back.
        let mut headers: Vec<BatchHeader> = Vec::new();
        let mut covered = 0usize;
        for (header, bytes) in fetched.batches() {
            batch::validate(&bytes).expect("every fetched batch passes its CRC");
            assert_eq!(
                model.batches.get(&header.base_offset),
                Some(&(header.size as usize)),
                "batch at {}",
                header.base_offset
            );
            if let Some(previous) = headers.last() {
                assert_eq!(
                    header.base_offset,
                    previous.next_offset(),
                    "fetched batches are consecutive"
                );
            }
            covered += header.size as usize;
            headers.push(header);
        }
        assert_eq!(
            covered,
            fetched.bytes.len(),
            "a fetch holds whole batches only"
        );
        let first = headers
            .first()
            .expect("a read below the high watermark returns a batch");
        assert!(
            first.base_offset <= offset && offset <= first.last_offset(),
            "first batch holds {offset}"
        );
        let budget = max_bytes.max(first.size as usize);
        assert!(
            fetched.bytes.len() <= budget,
            "{} bytes for a budget of {budget}",
            fetched.bytes.len()
        );
        // As many batches as fit: stopping early is allowed only at the end
        // of a segment (a fetch reads from one segment).
        let end = headers.last().unwrap().next_offset();
        if end < model.end() {
            let next_size = model.batches[&end];
            if fetched.bytes.len() + next_size <= budget {
                let bases: BTreeSet<u64> = segment_files(partition.dir())
                    .iter()
                    .map(|s| s.base_offset)
                    .collect();
                assert!(
                    bases.contains(&end),
                    "fetch stopped at {end} with room for the next batch"
                );
            }
        }
        let records: Vec<_> = fetched.records(MAX_BATCH).map(|r| r.unwrap()).collect();
        assert_eq!(
            records.first().map(|r| r.offset),
            Some(offset),
            "records start at the requested offset"
        );
        assert_eq!(
            records.last().unwrap().offset + 1,
            end,
            "records run to the end of the last batch"
        );
        for (i, stored) in records.iter().enumerate() {
            assert_eq!(stored.offset, offset + i as u64, "offsets are dense");
            assert_same(stored, &model.records[stored.offset as usize]);
        }
    }

    fn offset_for_timestamp(&self, id: u32, timestamp: i64) {
        let model = &self.model[id as usize];
        let expected = (model.log_start..model.end())
            .map(|o| (o, model.records[o as usize].timestamp))
            .find(|&(_, ts)| ts >= timestamp);
        let actual = self.partition(id).offset_for_timestamp(timestamp).unwrap();
        assert_eq!(actual, expected, "offset for timestamp {timestamp}");
    }

    fn reopen(&mut self) {
        self.log.take().unwrap().close().unwrap();
        let (log, report) =
            Log::open(self.dir.path(), self.config.clone(), Default::default()).unwrap();
        assert!(report.clean_shutdown, "a closed log reopens clean");
        assert!(report.truncations.is_empty(), "{:?}", report.truncations);
        self.log = Some(log);
        self.verify_all();
    }

    fn reopen_unclean(&mut self, crash: &Crash) {
        let mut expected_cut = None;
        match crash {
            Crash::CopyWhileOpen { partition, tail } => {
                let copy = tempfile::tempdir().unwrap();
                common::copy_dir(self.dir.path(), copy.path());
                self.log.take().unwrap().close().unwrap();
                self.dir = copy;
                let dir = self
                    .dir
                    .path()
                    .join("log")
                    .join(format!("{TOPIC}-{partition}"));
                let newest = segment_files(&dir).pop().unwrap();
                let tail = match tail {
                    Tail::TornBatch(records, keep) => Tail::TornBatch(self.stamp(records), *keep),
                    Tail::UnacknowledgedBatch(records) => {
                        Tail::UnacknowledgedBatch(self.stamp(records))
                    }
                    other => other.clone(),
                };
                let model = &mut self.model[*partition as usize];
                let extra: Vec<u8> = match &tail {
                    Tail::Intact => Vec::new(),
                    Tail::Garbage(bytes) => bytes.clone(),
                    Tail::TornBatch(records, keep) => {
                        let mut encoded = batch::encode(records, Some(3)).unwrap();
                        batch::stamp_base_offset(&mut encoded, model.end());
                        let cut =
                            ((encoded.len() as f64 * keep) as usize).clamp(1, encoded.len() - 1);
                        encoded[..cut].to_vec()
                    }
                    Tail::UnacknowledgedBatch(records) => {
                        let mut encoded = batch::encode(records, Some(3)).unwrap();
                        batch::stamp_base_offset(&mut encoded, model.end());
                        model.push_batch(records, encoded.len());
                        encoded.to_vec()
                    }
                };
                if matches!(tail, Tail::Garbage(_) | Tail::TornBatch(..)) {
                    expected_cut = Some((newest.path.clone(), newest.len, extra.len() as u64));
                }
                let mut file = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&newest.path)
                    .unwrap();
                file.write_all(&extra).unwrap();
            }
            Crash::MarkerLost => {
                self.log.take().unwrap().close().unwrap();
                common::forget_clean_shutdown(self.dir.path());
            }
        }
        let (log, report) =
            Log::open(self.dir.path(), self.config.clone(), Default::default()).unwrap();
        assert!(!report.clean_shutdown, "a crashed log reopens unclean");
        match expected_cut {
            None => assert!(report.truncations.is_empty(), "{:?}", report.truncations),
            Some((file, position, dropped)) => {
                assert_eq!(report.truncations.len(), 1, "{:?}", report.truncations);
                let cut = &report.truncations[0];
                assert_eq!(
                    (&cut.damage.file, cut.damage.position, cut.dropped_bytes),
                    (&file, position, dropped)
                );
            }
        }
        self.log = Some(log);
        self.verify_all();
    }

    fn retention(&mut self, id: u32, now: i64) {
        let partition = self.partition(id);
        let model = &mut self.model[id as usize];
        // Kafka's rule, from the outside: walk sealed segments oldest first
        // and delete while the segment's newest record is older than the
        // retention or the partition minus the segment is still at least
        // `retention_bytes`; stop at the first segment that must stay.
        let files = segment_files(partition.dir());
        assert_eq!(
            files[0].base_offset, model.log_start,
            "the first segment starts at the log start"
        );
        let mut total: u64 = files.iter().map(|s| s.len).sum();
        let mut expected = Vec::new();
        for pair in files.windows(2) {
            let (segment, next) = (&pair[0], &pair[1]);
            let newest = (segment.base_offset..next.base_offset)
                .map(|o| model.records[o as usize].timestamp)
                .max()
                .unwrap();
            let expired = newest < now - RETENTION.as_millis() as i64;
            let oversize = self
                .settings
                .retention_bytes
                .is_some_and(|limit| total - segment.len >= limit);
            if !(expired || oversize) {
                break;
            }
            total -= segment.len;
            expected.push(segment.clone());
        }
        let outcome = partition.apply_retention(now).unwrap();
        assert_eq!(
            outcome.segments_deleted,
            expected.len(),
            "segments deleted at {now}"
        );
        assert_eq!(
            outcome.bytes_deleted,
            expected.iter().map(|s| s.len).sum::<u64>()
        );
        if let Some(kept) = files.get(expected.len()) {
            model.log_start = kept.base_offset;
        }
        assert_eq!(partition.log_start(), model.log_start);
        assert_eq!(
            partition.high_watermark(),
            model.end(),
            "retention never touches the active segment"
        );
        for gone in &expected {
            assert!(!gone.path.exists(), "{} was deleted", gone.path.display());
            assert!(!gone.path.with_extension("index").exists());
            assert!(!gone.path.with_extension("timeindex").exists());
        }
    }

    /// The whole log equals the model.
    fn verify_all(&self) {
        let info = self.log().describe(TOPIC).unwrap();
        for (id, model) in self.model.iter().enumerate() {
            let partition = self.partition(id as u32);
            assert_eq!(
                partition.high_watermark(),
                model.end(),
                "high watermark of partition {id}"
            );
            assert_eq!(
                partition.log_start(),
                model.log_start,
                "log start of partition {id}"
            );
            assert_eq!(info.partitions[id].high_watermark, model.end());
            assert_eq!(info.partitions[id].log_start, model.log_start);
            let stored = read_all(&partition, model.log_start);
            assert_eq!(
                stored.len() as u64,
                model.end() - model.log_start,
                "records of partition {id}"
            );
            for (i, record) in stored.iter().enumerate() {
                assert_eq!(record.offset, model.log_start + i as u64);
                assert_same(record, &model.records[record.offset as usize]);
            }
        }
    }
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn value() -> impl Strategy<Value = Option<Bytes>> {
    prop_oneof![
        1 => Just(None),
        6 => bytes(64).prop_map(Some),
        4 => bytes(1200).prop_map(Some),
        // Compressible and sometimes larger than a segment on its own.
        1 => (any::<u8>(), 0usize..6000).prop_map(|(b, n)| Some(Bytes::from(vec![b; n]))),
    ]
}

fn new_record() -> impl Strategy<Value = NewRecord> {
    let header = (".{0,8}", prop::option::of(bytes(16)));
    (
        0..2 * HOUR,
        prop::option::of(bytes(16)),
        value(),
        prop::collection::vec(header, 0..3),
    )
        .prop_map(|(timestamp, key, value, headers)| NewRecord {
            timestamp,
            key,
            value,
            headers,
        })
}

fn records() -> impl Strategy<Value = Vec<NewRecord>> {
    prop::collection::vec(new_record(), 1..20)
}

fn crash() -> impl Strategy<Value = Crash> {
    let tail = prop_oneof![
        2 => Just(Tail::Intact),
        1 => prop::collection::vec(any::<u8>(), 1..200).prop_map(Tail::Garbage),
        2 => (records(), 0.0..1.0f64).prop_map(|(r, keep)| Tail::TornBatch(r, keep)),
        1 => records().prop_map(Tail::UnacknowledgedBatch),
    ];
    prop_oneof![
        3 => (0..PARTITIONS, tail).prop_map(|(partition, tail)| Crash::CopyWhileOpen { partition, tail }),
        1 => Just(Crash::MarkerLost),
    ]
}

fn time_target() -> impl Strategy<Value = TimeTarget> {
    prop_oneof![
        (0.0..1.0f64).prop_map(TimeTarget::Fraction),
        (any::<usize>(), -1i64..=1).prop_map(|(pick, delta)| TimeTarget::OfRecord { pick, delta }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let read_at = prop_oneof![
        8 => any::<u64>().prop_map(ReadAt::Within),
        1 => Just(ReadAt::BelowLogStart),
        1 => Just(ReadAt::PastHighWatermark),
    ];
    prop_oneof![
        10 => (0..PARTITIONS, records()).prop_map(|(partition, records)| Op::Append { partition, records }),
        6 => (0..PARTITIONS, read_at, 0usize..20_000)
            .prop_map(|(partition, at, max_bytes)| Op::Read { partition, at, max_bytes }),
        2 => (0..PARTITIONS, time_target()).prop_map(|(partition, target)| Op::OffsetForTimestamp { partition, target }),
        1 => Just(Op::Reopen),
        2 => crash().prop_map(Op::ReopenUnclean),
        2 => (0..PARTITIONS, -3 * HOUR..3 * HOUR).prop_map(|(partition, delta)| Op::Retention { partition, delta }),
    ]
}

fn settings(durability: Durability) -> impl Strategy<Value = Settings> {
    (
        prop_oneof![3 => 4096u64..8192, 1 => 8192u64..16_384],
        prop_oneof![Just(64u32), Just(512), Just(4096)],
        prop::option::of(8_192u64..65_536),
    )
        .prop_map(
            move |(segment_bytes, index_interval_bytes, retention_bytes)| Settings {
                durability,
                segment_bytes,
                index_interval_bytes,
                retention_bytes,
            },
        )
}

fn run(settings: Settings, ops: Vec<Op>) {
    let mut harness = Harness::new(settings);
    for op in &ops {
        harness.run(op);
    }
    harness.verify_all();
}

fn proptest_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_shrink_iters: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/model.txt",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(proptest_config(40))]

    #[test]
    fn log_matches_model_under_os_durability(
        settings in settings(Durability::Os),
        ops in prop::collection::vec(op(), 1..50),
    ) {
        run(settings, ops);
    }
}

proptest! {
    #![proptest_config(proptest_config(16))]

    #[test]
    fn log_matches_model_under_fsync_durability(
        settings in settings(Durability::Fsync),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        run(settings, ops);
    }
}
