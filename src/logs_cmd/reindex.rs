//! `weir logs reindex`: deletes the log index and rebuilds it from the start
//! of `otlp_logs`, offline, with a progress bar on stderr.
//!
//! It holds the data dir's lock (so no server indexes at the same time),
//! reads the log without changing it, and runs the same partition indexers
//! as `weir serve`; the result is the index a server would have built, one
//! document per log record still in the log.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aggregator::consumer::{Consumer, ConsumerConfig};
use aggregator::logs::indexer::PartitionIndexer;
use aggregator::logs::store::LogStore;
use anyhow::Context;
use log_core::{Log, OTLP_LOGS, OpenMode, PartitionReader};

use crate::config::Settings;

pub fn run(settings: &Settings) -> anyhow::Result<ExitCode> {
    let (log, _) = Log::open(&settings.data_dir, settings.log.clone(), OpenMode::ReadOnly)?;
    if log.topic(OTLP_LOGS).is_none() {
        anyhow::bail!(
            "{} has no topic {OTLP_LOGS}; nothing to index",
            settings.data_dir.display()
        );
    }
    let root = settings.data_dir.join("index").join("logs");
    let store = LogStore::open(&root, settings.logs.clone()).context("open the log index")?;
    store.clear().context("delete the log index")?;
    // What there is to index now; records appended later are a server's.
    let partitions = log.partition_count(OTLP_LOGS)?;
    let mut targets = Vec::with_capacity(partitions as usize);
    for partition in 0..partitions {
        targets.push(log.bounds(OTLP_LOGS, partition)?);
    }
    let total: u64 = targets.iter().map(|(start, end)| end - start).sum();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let consumer = Consumer::start(
        Arc::clone(&log),
        OTLP_LOGS,
        ConsumerConfig::default(),
        runtime.handle().clone(),
        |partition| PartitionIndexer::new(Arc::clone(&store), partition),
    )?;
    loop {
        let done: u64 = consumer
            .progress()
            .map(|(p, progress)| {
                let (start, end) = targets[p as usize];
                progress
                    .next_offset
                    .load(std::sync::atomic::Ordering::Relaxed)
                    .clamp(start, end)
                    - start
            })
            .sum();
        draw(done, total, started.elapsed());
        if done >= total {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    consumer.stop().context("finish indexing")?;
    eprintln!();
    let (docs, bytes) = store.size();
    println!(
        "reindexed {total} records of {OTLP_LOGS} into {docs} documents ({:.1} MiB) in {:.1} s",
        bytes as f64 / (1 << 20) as f64,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn draw(done: u64, total: u64, elapsed: Duration) {
    const WIDTH: u64 = 40;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-3);
    eprint!(
        "\r[{}{}] {done}/{total} records, {rate:.0}/s ",
        "#".repeat(filled as usize),
        " ".repeat((WIDTH - filled) as usize)
    );
    let _ = std::io::stderr().flush();
}
