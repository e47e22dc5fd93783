//! `weir bench log`: append throughput and acknowledgement latency of the
//! log under the `fsync` policy, with 1, 8 and 64 concurrent appenders,
//! beside a raw baseline measured in the same run: the same batch bytes
//! written to a plain file with one `fdatasync` per group window.
//!
//! Each round runs the baseline and then every log phase, and the report
//! gives medians over rounds, so a noisy neighbour hurts both sides alike.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use hdrhistogram::Histogram;
use log_core::{Durability, Log, LogConfig, NewRecord, OpenMode, PreparedBatch, TopicConfig};

use super::payload::{self, Rng};
use super::report::{self, Phase};

/// Distinct batches cycled through, so the compressor sees varied data.
const POOL_BATCHES: usize = 256;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendMode {
    /// Batches built by Weir's encoder beforehand (`append_prepared`): the
    /// log's own cost — offsets, indexes, group commit — against the disk.
    Prepared,
    /// Client-encoded batches (`append_encoded`): framing, CRC and every
    /// record validated, as for a Kafka produce.
    Client,
    /// Records encoded and zstd-compressed on every append (`append`):
    /// what ingest pays end to end.
    Records,
}

#[derive(clap::Args, Debug, Clone)]
pub struct LogBenchArgs {
    /// Directory for the benchmark's data (removed afterwards).
    #[arg(long, default_value = "./weir-bench-data")]
    pub dir: PathBuf,
    /// Seconds per phase.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Rounds of (baseline + every phase); medians are reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Concurrent appenders per phase.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    pub appenders: Vec<usize>,
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "prepared,client,records"
    )]
    pub modes: Vec<AppendMode>,
    /// Records per batch.
    #[arg(long, default_value_t = 64)]
    pub batch_records: usize,
    /// Approximate bytes per record value.
    #[arg(long, default_value_t = 450)]
    pub record_bytes: usize,
    /// The baseline's group window: one fdatasync per window.
    #[arg(long, default_value = "2ms")]
    pub baseline_window: humantime::Duration,
    /// The log's group-commit window (the longest a sync round gathers).
    #[arg(long, default_value = "2ms")]
    pub group_commit_window: humantime::Duration,
    #[arg(long, default_value_t = 3)]
    pub zstd_level: i32,
}

struct Pool {
    records: Vec<Arc<Vec<NewRecord>>>,
    prepared: Vec<PreparedBatch>,
    encoded: Vec<Bytes>,
}

impl Pool {
    fn build(args: &LogBenchArgs) -> Result<Pool> {
        let mut rng = Rng::new(0x5eed);
        let now = crate::clock::now_millis();
        let mut pool = Pool {
            records: Vec::new(),
            prepared: Vec::new(),
            encoded: Vec::new(),
        };
        for _ in 0..POOL_BATCHES {
            let records = payload::records(&mut rng, args.batch_records, args.record_bytes, now);
            let prepared = PreparedBatch::encode(&records, Some(args.zstd_level))?;
            pool.encoded.push(prepared.bytes().clone());
            pool.prepared.push(prepared);
            pool.records.push(Arc::new(records));
        }
        Ok(pool)
    }

    fn raw_bytes_per_batch(&self) -> f64 {
        let total: usize = self
            .records
            .iter()
            .flat_map(|b| b.iter())
            .map(NewRecord::encoded_len)
            .sum();
        total as f64 / self.records.len() as f64
    }

    fn encoded_bytes_per_batch(&self) -> f64 {
        self.encoded.iter().map(Bytes::len).sum::<usize>() as f64 / self.encoded.len() as f64
    }
}

pub fn run(args: LogBenchArgs) -> Result<()> {
    std::fs::create_dir_all(&args.dir).with_context(|| format!("create {}", args.dir.display()))?;
    let pool = Arc::new(Pool::build(&args)?);
    println!(
        "weir bench log: {} records/batch, {:.0} B raw -> {:.0} B zstd-{} per batch, {} s per phase, {} rounds, dir {}",
        args.batch_records,
        pool.raw_bytes_per_batch(),
        pool.encoded_bytes_per_batch(),
        args.zstd_level,
        args.seconds,
        args.rounds,
        args.dir.display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut baseline: Vec<Phase> = Vec::new();
    let mut phases: Vec<Vec<Phase>> = Vec::new();
    let duration = Duration::from_secs_f64(args.seconds);
    for round in 0..args.rounds {
        eprintln!("round {}/{}: baseline", round + 1, args.rounds);
        baseline.push(run_baseline(
            &args.dir,
            &pool,
            duration,
            *args.baseline_window,
            args.batch_records,
        )?);
        let mut i = 0;
        for &mode in &args.modes {
            for &appenders in &args.appenders {
                eprintln!(
                    "round {}/{}: log {mode:?} x{appenders}",
                    round + 1,
                    args.rounds
                );
                let phase = run_log(&runtime, &args, &pool, mode, appenders, duration)?;
                if phases.len() <= i {
                    phases.push(Vec::new());
                }
                phases[i].push(phase);
                i += 1;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&args.dir);
    print_report(&args, &baseline, &phases);
    Ok(())
}

/// Writes the pool's batch bytes to a plain file, with one `fdatasync` per
/// window. A write's latency is from its start to the end of the sync that
/// covers it.
fn run_baseline(
    dir: &Path,
    pool: &Pool,
    duration: Duration,
    window: Duration,
    batch_records: usize,
) -> Result<Phase> {
    let path = dir.join("baseline.bin");
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)?;
    let mut latency = report::latency_histogram();
    let mut unsynced: Vec<Instant> = Vec::new();
    let (mut bytes, mut batches) = (0u64, 0u64);
    let start = Instant::now();
    let mut last_sync = start;
    let mut i = 0;
    while start.elapsed() < duration {
        let batch = &pool.encoded[i % pool.encoded.len()];
        unsynced.push(Instant::now());
        file.write_all(batch)?;
        bytes += batch.len() as u64;
        batches += 1;
        i += 1;
        if last_sync.elapsed() >= window {
            file.sync_data()?;
            last_sync = Instant::now();
            for t in unsynced.drain(..) {
                latency.saturating_record(t.elapsed().as_micros() as u64);
            }
        }
    }
    file.sync_data()?;
    let seconds = start.elapsed().as_secs_f64();
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(Phase {
        name: "baseline".into(),
        bytes,
        records: batches * batch_records as u64,
        seconds,
        latency,
    })
}

fn run_log(
    runtime: &tokio::runtime::Runtime,
    args: &LogBenchArgs,
    pool: &Arc<Pool>,
    mode: AppendMode,
    appenders: usize,
    duration: Duration,
) -> Result<Phase> {
    let dir = args.dir.join("log");
    let _ = std::fs::remove_dir_all(&dir);
    let config = LogConfig {
        durability: Durability::Fsync,
        group_commit_window: *args.group_commit_window,
        zstd_level: args.zstd_level,
        ..LogConfig::default()
    };
    let (log, _) = Log::open(&dir, config, OpenMode::ReadWrite)?;
    let topic = log.create_topic(
        "bench",
        TopicConfig {
            partitions: 1,
            ..TopicConfig::default()
        },
    )?;
    let partition = Arc::clone(&topic.partitions()[0]);
    let start = Instant::now();
    let deadline = start + duration;
    let results: Vec<(u64, u64, Histogram<u64>)> = runtime.block_on(async {
        let tasks: Vec<_> = (0..appenders)
            .map(|task| {
                let partition = Arc::clone(&partition);
                let pool = Arc::clone(pool);
                tokio::spawn(async move {
                    let mut latency = report::latency_histogram();
                    let (mut bytes, mut records) = (0u64, 0u64);
                    let mut i = task * 7;
                    while Instant::now() < deadline {
                        let at = i % POOL_BATCHES;
                        i += 1;
                        let t = Instant::now();
                        let pending = match mode {
                            AppendMode::Prepared => {
                                partition.append_prepared(&pool.prepared[at])?
                            }
                            AppendMode::Client => {
                                partition.append_encoded(pool.encoded[at].clone())?
                            }
                            AppendMode::Records => partition.append(&pool.records[at])?,
                        };
                        let info = pending.durable().await?;
                        latency.saturating_record(t.elapsed().as_micros() as u64);
                        bytes += info.batch_bytes as u64;
                        records += info.last_offset - info.base_offset + 1;
                    }
                    Ok::<_, log_core::LogError>((bytes, records, latency))
                })
            })
            .collect();
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.expect("appender task panicked")?);
        }
        Ok::<_, log_core::LogError>(out)
    })?;
    let seconds = start.elapsed().as_secs_f64();
    log.close()?;
    drop(log);
    std::fs::remove_dir_all(&dir)?;
    let mut latency = report::latency_histogram();
    let (mut bytes, mut records) = (0, 0);
    for (b, r, h) in results {
        bytes += b;
        records += r;
        latency.add(&h)?;
    }
    Ok(Phase {
        name: format!("log {mode:?} x{appenders}").to_lowercase(),
        bytes,
        records,
        seconds,
        latency,
    })
}

fn print_report(args: &LogBenchArgs, baseline: &[Phase], phases: &[Vec<Phase>]) {
    let base_mbps = report::median(baseline.iter().map(Phase::mb_per_sec).collect());
    println!();
    println!(
        "{:<22} {:>9} {:>12} {:>9} {:>9} {:>9} {:>10}",
        "phase (median of rounds)", "MB/s", "records/s", "p50 ms", "p99 ms", "p99.9 ms", "vs base"
    );
    let row = |name: &str, runs: &[Phase]| {
        let mut latency = report::latency_histogram();
        for run in runs {
            latency.add(&run.latency).expect("same histogram bounds");
        }
        let mbps = report::median(runs.iter().map(Phase::mb_per_sec).collect());
        println!(
            "{:<22} {:>9.1} {:>12.0} {:>9.2} {:>9.2} {:>9.2} {:>9.0}%",
            name,
            mbps,
            report::median(runs.iter().map(Phase::records_per_sec).collect()),
            report::millis(&latency, 0.5),
            report::millis(&latency, 0.99),
            report::millis(&latency, 0.999),
            100.0 * mbps / base_mbps,
        );
    };
    row(
        &format!("baseline (sync/{})", args.baseline_window),
        baseline,
    );
    for runs in phases {
        row(&runs[0].name, runs);
    }
    println!("\nMB/s counts encoded (on-disk) batch bytes; latency is append-to-acknowledgement.");
}
