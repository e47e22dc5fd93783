//! Partition consumers: one worker thread per partition of a topic, each
//! feeding the records of its partition, in offset order, to a sink.
//!
//! A worker asks its sink where to start (the sink's checkpoint: the next
//! offset it has not made durable), then loops: read whole batches from the
//! log, decode them, hand the records to the sink, and let the sink commit
//! when its own policy says so (`tick`). When it has caught up it waits for
//! the high watermark to move, waking at least every tick interval so that
//! a sink can commit on time while idle.
//!
//! # Invariants
//! - A sink sees each offset at most once per run and in increasing order,
//!   starting at its own `start_offset`; exactly-once across crashes is the
//!   sink's commit protocol (it stores the next offset with its state).
//! - A batch that does not decode is reported (log line + counter) and
//!   skipped whole; the worker never stops on bad bytes.
//! - When retention removed the next offset, the worker skips to the log
//!   start and reports how many offsets it lost.
//! - Reads are bounded by [`ConsumerConfig::max_fetch_bytes`] and decoding
//!   by [`ConsumerConfig::max_batch_bytes`]: a worker holds at most one
//!   fetch of records at a time.
//!
//! Workers run on their own threads, not on the async runtime: indexing
//! and window rolling are CPU-bound, and a partition's records must be
//! applied in order anyway.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use log_core::batch;
use log_core::{LogError, PartitionReader, Record};
use tokio::runtime::Handle;
use tracing::{error, info, warn};

use crate::error::{AggregatorError, Result};

/// What a worker feeds.
pub trait PartitionSink: Send + 'static {
    /// The next offset to consume: the sink's durable checkpoint, or 0.
    fn start_offset(&self) -> u64;

    /// Applies `records`, all in one partition and in offset order.
    fn apply(&mut self, records: Vec<Record>) -> Result<()>;

    /// Called after every `apply` and at least every [`tick_interval`]
    /// while idle, with the next offset to consume; the sink commits here
    /// when its policy says so. `caught_up` is true when the worker has
    /// read up to the high watermark.
    ///
    /// [`tick_interval`]: PartitionSink::tick_interval
    fn tick(&mut self, next_offset: u64, caught_up: bool) -> Result<()>;

    /// How long an idle worker may wait before calling `tick` again.
    fn tick_interval(&self) -> Duration;

    /// Called once when the worker stops: commit what was applied.
    fn close(&mut self, next_offset: u64) -> Result<()>;
}

/// Bounds of one worker's reads.
#[derive(Debug, Clone, Copy)]
pub struct ConsumerConfig {
    /// Bytes of batches read from the log per fetch (at least one batch).
    pub max_fetch_bytes: usize,
    /// Largest decompressed batch accepted; should equal the log's
    /// `max_batch_bytes`.
    pub max_batch_bytes: usize,
}

impl Default for ConsumerConfig {
    fn default() -> ConsumerConfig {
        ConsumerConfig {
            // Large enough to amortise a read and a decode call over many
            // batches; small enough that a worker's records stay a few MiB.
            max_fetch_bytes: 1 << 20,
            max_batch_bytes: 64 << 20,
        }
    }
}

/// Where one worker is, shared with status endpoints.
#[derive(Debug, Default)]
pub struct Progress {
    /// The next offset the worker will read.
    pub next_offset: AtomicU64,
    /// The high watermark it last saw.
    pub high_watermark: AtomicU64,
    /// Batches skipped because they did not decode.
    pub skipped_batches: AtomicU64,
    /// Offsets skipped because retention removed them first.
    pub skipped_offsets: AtomicU64,
}

impl Progress {
    /// Records not yet consumed.
    pub fn lag(&self) -> u64 {
        self.high_watermark
            .load(Ordering::Relaxed)
            .saturating_sub(self.next_offset.load(Ordering::Relaxed))
    }
}

/// The running workers of one topic.
pub struct Consumer {
    topic: String,
    stop: Arc<AtomicBool>,
    workers: Vec<(u32, Arc<Progress>, JoinHandle<Result<()>>)>,
}

impl Consumer {
    /// Starts one worker per partition of `topic`; `sink_for` builds each
    /// partition's sink (opening its checkpoint). `runtime` drives the
    /// waits for new records.
    pub fn start<R, S>(
        reader: Arc<R>,
        topic: &str,
        config: ConsumerConfig,
        runtime: Handle,
        mut sink_for: impl FnMut(u32) -> Result<S>,
    ) -> Result<Consumer>
    where
        R: PartitionReader,
        S: PartitionSink,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let partitions = reader.partition_count(topic)?;
        let mut workers = Vec::with_capacity(partitions as usize);
        for partition in 0..partitions {
            let sink = sink_for(partition)?;
            let progress = Arc::new(Progress::default());
            let worker = Worker {
                reader: Arc::clone(&reader),
                topic: topic.to_owned(),
                partition,
                config,
                runtime: runtime.clone(),
                stop: Arc::clone(&stop),
                progress: Arc::clone(&progress),
            };
            let handle = std::thread::Builder::new()
                .name(format!("{topic}-{partition}"))
                .spawn(move || worker.run(sink))
                .map_err(|e| AggregatorError::io("spawn a consumer thread", e))?;
            workers.push((partition, progress, handle));
        }
        Ok(Consumer {
            topic: topic.to_owned(),
            stop,
            workers,
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Each partition's progress.
    pub fn progress(&self) -> impl Iterator<Item = (u32, &Arc<Progress>)> {
        self.workers.iter().map(|(p, progress, _)| (*p, progress))
    }

    /// Stops every worker, letting each close its sink (a final commit),
    /// and returns the first error any worker ended with.
    pub fn stop(self) -> Result<()> {
        self.stop.store(true, Ordering::Release);
        let mut first = Ok(());
        for (partition, _, handle) in self.workers {
            let result = handle.join().unwrap_or_else(|_| {
                Err(AggregatorError::BadRequest(format!(
                    "the consumer of {}-{partition} panicked",
                    self.topic
                )))
            });
            if let Err(e) = result {
                error!(topic = %self.topic, partition, error = %e, "consumer failed");
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }
}

struct Worker<R> {
    reader: Arc<R>,
    topic: String,
    partition: u32,
    config: ConsumerConfig,
    runtime: Handle,
    stop: Arc<AtomicBool>,
    progress: Arc<Progress>,
}

impl<R: PartitionReader> Worker<R> {
    fn run<S: PartitionSink>(self, mut sink: S) -> Result<()> {
        let mut next = sink.start_offset();
        info!(topic = %self.topic, partition = self.partition, offset = next, "consumer started");
        let result = self.consume(&mut sink, &mut next);
        let closed = sink.close(next);
        info!(topic = %self.topic, partition = self.partition, offset = next, "consumer stopped");
        result.and(closed)
    }

    fn consume<S: PartitionSink>(&self, sink: &mut S, next: &mut u64) -> Result<()> {
        while !self.stop.load(Ordering::Acquire) {
            self.progress.next_offset.store(*next, Ordering::Relaxed);
            let fetched = match self.reader.read(
                &self.topic,
                self.partition,
                *next,
                self.config.max_fetch_bytes,
            ) {
                Ok(fetched) => fetched,
                Err(LogError::OffsetOutOfRange {
                    log_start, log_end, ..
                }) => {
                    *next = self.recover_position(*next, log_start, log_end);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            self.progress
                .high_watermark
                .store(fetched.high_watermark, Ordering::Relaxed);
            if fetched.is_empty() {
                sink.tick(*next, true)?;
                let timeout = sink.tick_interval().min(Duration::from_millis(250));
                let wait = self
                    .reader
                    .wait_for(&self.topic, self.partition, *next, timeout);
                self.runtime.block_on(wait)?;
                continue;
            }
            let mut records = Vec::new();
            for (header, bytes) in fetched.batches() {
                if header.next_offset() <= *next {
                    continue;
                }
                match batch::decode(bytes, self.config.max_batch_bytes) {
                    Ok(decoded) => {
                        records.extend(decoded.into_iter().filter(|r| r.offset >= *next));
                    }
                    Err(e) => {
                        error!(
                            topic = %self.topic,
                            partition = self.partition,
                            base_offset = header.base_offset,
                            error = %e,
                            "skipping a batch that does not decode"
                        );
                        self.progress
                            .skipped_batches
                            .fetch_add(1, Ordering::Relaxed);
                    }
                }
                *next = header.next_offset();
            }
            if !records.is_empty() {
                sink.apply(records)?;
            }
            let caught_up = *next >= fetched.high_watermark;
            sink.tick(*next, caught_up)?;
        }
        Ok(())
    }

    /// Where to go on when `next` is no longer readable.
    fn recover_position(&self, next: u64, log_start: u64, log_end: u64) -> u64 {
        if next < log_start {
            warn!(
                topic = %self.topic,
                partition = self.partition,
                from = next,
                to = log_start,
                "retention removed offsets before they were consumed; skipping them"
            );
            self.progress
                .skipped_offsets
                .fetch_add(log_start - next, Ordering::Relaxed);
            log_start
        } else {
            // The checkpoint is past the log's end: the log lost records it
            // never acknowledged (an `os` durability crash). Go on from the
            // end rather than wait for offsets that may mean other records.
            warn!(
                topic = %self.topic,
                partition = self.partition,
                checkpoint = next,
                log_end,
                "checkpoint is past the end of the log; resuming at the end"
            );
            log_end
        }
    }
}
