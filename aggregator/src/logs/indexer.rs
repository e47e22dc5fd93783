//! The indexer of one `otlp_logs` partition: a [`PartitionSink`] that turns
//! records into documents of the split of their time bucket and commits
//! every split with the partition's next offset.
//!
//! # Exactly once
//! - It starts at the partition's checkpoint (see `store.rs`).
//! - A split's writer, when opened, learns the split's committed next
//!   offset and skips the records below it: they are in the split already.
//! - A commit round commits every split written since the last round with
//!   the same next offset, reloads their readers (the documents become
//!   searchable), then writes the checkpoint. A split evicted to make room
//!   for another is committed with the offset of the record that evicted
//!   it, which every document it was given precedes: a split already given
//!   a document of that record is never the one evicted (a record spanning
//!   more buckets than `max_open_splits` opens more writers instead).
//!
//! A crash anywhere loses only uncommitted documents, whose records lie at
//! or above the checkpoint and the split's payload, so the replay adds each
//! of them once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log_core::Record;
use tantivy::indexer::LogMergePolicy;
use tantivy::{IndexWriter, TantivyDocument};
use tracing::{debug, warn};

use crate::clock::now_nanos;
use crate::consumer::PartitionSink;
use crate::error::{AggregatorError, Result};
use crate::logs::document::DocumentBuilder;
use crate::logs::schema;
use crate::logs::split::{Split, SplitId};
use crate::logs::store::LogStore;
use crate::telemetry;

/// Segments merged at once by the merge policy: with one commit per second
/// a split gets 3,600 segments an hour, merged in logarithmic tiers so
/// that each tier holds fewer than this many.
const MERGE_FACTOR: usize = 8;

/// Segments with more documents than this are not merged again: each
/// merge rewrites every term of its inputs, and the unique ones (trace and
/// span ids) make a busy split's later merges cost more than indexing did.
/// A merge of [`MERGE_FACTOR`] smaller ones still makes segments up to
/// eight times larger, so a split of an hour holds a handful of them.
const MAX_DOCS_BEFORE_MERGE: usize = 500_000;

/// A writer closed after this long without documents, so a bucket that
/// ended stops holding memory and retention can delete it later.
const IDLE_WRITER: Duration = Duration::from_secs(60);

/// The merge policy of every split writer.
pub fn merge_policy() -> LogMergePolicy {
    let mut policy = LogMergePolicy::default();
    policy.set_min_num_segments(MERGE_FACTOR);
    policy.set_max_docs_before_merge(MAX_DOCS_BEFORE_MERGE);
    policy
}

struct OpenWriter {
    split: Arc<Split>,
    writer: IndexWriter<TantivyDocument>,
    /// Records below this offset are in the split already.
    skip_below: u64,
    dirty: bool,
    last_used: Instant,
    /// The offset of the last record it was given a document of.
    newest_record: Option<u64>,
}

/// Indexes one partition.
pub struct PartitionIndexer {
    store: Arc<LogStore>,
    partition: u32,
    documents: DocumentBuilder,
    writers: HashMap<SplitId, OpenWriter>,
    checkpoint: u64,
    docs_since_commit: usize,
    last_commit: Instant,
    scratch: Vec<(i64, TantivyDocument)>,
}

impl PartitionIndexer {
    /// An indexer that resumes at the partition's checkpoint.
    pub fn new(store: Arc<LogStore>, partition: u32) -> Result<PartitionIndexer> {
        let checkpoint = store.checkpoint(partition)?;
        Ok(PartitionIndexer {
            store,
            partition,
            documents: DocumentBuilder::new(schema::schema().1),
            writers: HashMap::new(),
            checkpoint,
            docs_since_commit: 0,
            last_commit: Instant::now(),
            scratch: Vec::new(),
        })
    }

    fn writer(&mut self, id: SplitId, offset: u64) -> Result<&mut OpenWriter> {
        if !self.writers.contains_key(&id) {
            while self.writers.len() >= self.store.config().max_open_splits {
                // A writer holding documents of this record can be committed
                // neither at `offset` (a replay would add them again) nor
                // after it (the record may have more for it): only writers
                // the record has not touched are evicted, and a record
                // spanning more buckets than the cap exceeds it.
                let Some(oldest) = self
                    .writers
                    .iter()
                    .filter(|(_, w)| w.newest_record != Some(offset))
                    .min_by_key(|(_, w)| w.last_used)
                    .map(|(id, _)| *id)
                else {
                    break;
                };
                let writer = self.writers.remove(&oldest).expect("present");
                // It holds documents of records before `offset` only.
                close_writer(writer, offset)?;
            }
            let split = self.store.split_for_write(id)?;
            let config = self.store.config();
            let writer = split
                .index()
                .writer_with_num_threads(1, config.writer_memory_bytes)
                .map_err(|e| AggregatorError::index(format!("open a writer on {split:?}"), e))?;
            writer.set_merge_policy(Box::new(merge_policy()));
            let skip_below = split.committed_offset();
            self.writers.insert(
                id,
                OpenWriter {
                    split,
                    writer,
                    skip_below,
                    dirty: false,
                    last_used: Instant::now(),
                    newest_record: None,
                },
            );
        }
        Ok(self.writers.get_mut(&id).expect("inserted above"))
    }

    /// Commits every dirty split at `next_offset`, then the checkpoint.
    fn commit(&mut self, next_offset: u64) -> Result<()> {
        let started = Instant::now();
        let mut committed = 0;
        for writer in self.writers.values_mut() {
            if writer.dirty {
                commit_writer(writer, next_offset)?;
                committed += 1;
            } else {
                // Merges finish after the commits that start them; searches
                // see the merged segments from the next round on.
                writer.split.reload()?;
            }
        }
        // Every document below `next_offset` is committed now.
        self.store.round_committed(self.partition, next_offset);
        if next_offset != self.checkpoint {
            self.store.write_checkpoint(self.partition, next_offset)?;
            self.checkpoint = next_offset;
        }
        self.docs_since_commit = 0;
        self.last_commit = Instant::now();
        metrics::histogram!(telemetry::LOG_INDEX_COMMIT_SECONDS)
            .record(started.elapsed().as_secs_f64());
        debug!(
            partition = self.partition,
            next_offset,
            splits = committed,
            "log index committed"
        );
        // Close writers of buckets that stopped receiving documents.
        let idle: Vec<SplitId> = self
            .writers
            .iter()
            .filter(|(_, w)| !w.dirty && w.last_used.elapsed() >= IDLE_WRITER)
            .map(|(id, _)| *id)
            .collect();
        for id in idle {
            let writer = self.writers.remove(&id).expect("present");
            close_writer(writer, next_offset)?;
        }
        Ok(())
    }
}

fn commit_writer(writer: &mut OpenWriter, next_offset: u64) -> Result<()> {
    let context = || format!("commit {:?}", writer.split);
    let mut prepared = writer
        .writer
        .prepare_commit()
        .map_err(|e| AggregatorError::index(context(), e))?;
    prepared.set_payload(&Split::payload(next_offset));
    prepared
        .commit()
        .map_err(|e| AggregatorError::index(context(), e))?;
    writer.split.committed_through(next_offset)?;
    writer.skip_below = next_offset;
    writer.dirty = false;
    Ok(())
}

/// Commits a writer if it has uncommitted documents, then closes it.
fn close_writer(mut writer: OpenWriter, next_offset: u64) -> Result<()> {
    if writer.dirty {
        commit_writer(&mut writer, next_offset)?;
    }
    let split = Arc::clone(&writer.split);
    writer
        .writer
        .wait_merging_threads()
        .map_err(|e| AggregatorError::index(format!("close {split:?}"), e))?;
    split.reload()?;
    split.set_writing(false);
    Ok(())
}

impl PartitionSink for PartitionIndexer {
    fn start_offset(&self) -> u64 {
        self.checkpoint
    }

    fn apply(&mut self, records: Vec<Record>) -> Result<()> {
        let bucket_secs = self.store.config().bucket_secs();
        let cutoff = self.store.retention_cutoff_nanos(now_nanos());
        let mut added = 0usize;
        let mut scratch = std::mem::take(&mut self.scratch);
        for record in &records {
            scratch.clear();
            if let Err(e) = self.documents.build(record, &mut scratch) {
                warn!(partition = self.partition, offset = record.offset, error = %e,
                    "skipping a record that is not an OTLP logs request");
                metrics::counter!(telemetry::LOG_INDEX_SKIPPED_RECORDS_TOTAL).increment(1);
                continue;
            }
            for (timestamp_nanos, doc) in scratch.drain(..) {
                if cutoff.is_some_and(|cutoff| timestamp_nanos < cutoff) {
                    metrics::counter!(telemetry::LOG_INDEX_EXPIRED_DOCUMENTS_TOTAL).increment(1);
                    continue;
                }
                let id = SplitId::of(self.partition, timestamp_nanos, bucket_secs);
                let writer = self.writer(id, record.offset)?;
                if record.offset < writer.skip_below {
                    continue;
                }
                writer
                    .writer
                    .add_document(doc)
                    .map_err(|e| AggregatorError::index("add a document", e))?;
                writer.dirty = true;
                writer.last_used = Instant::now();
                writer.newest_record = Some(record.offset);
                added += 1;
            }
        }
        self.scratch = scratch;
        self.docs_since_commit += added;
        metrics::counter!(telemetry::LOG_INDEX_DOCUMENTS_TOTAL).increment(added as u64);
        Ok(())
    }

    fn tick(&mut self, next_offset: u64, _caught_up: bool) -> Result<()> {
        let config = self.store.config();
        let due = self.last_commit.elapsed() >= config.commit_interval;
        if self.docs_since_commit >= config.commit_docs
            || (due && (self.docs_since_commit > 0 || next_offset != self.checkpoint))
            || (due && !self.writers.is_empty())
        {
            self.commit(next_offset)?;
        }
        Ok(())
    }

    fn tick_interval(&self) -> Duration {
        self.store.config().commit_interval
    }

    fn close(&mut self, next_offset: u64) -> Result<()> {
        self.commit(next_offset)?;
        for (_, writer) in self.writers.drain() {
            close_writer(writer, next_offset)?;
        }
        Ok(())
    }
}
