//! `weir loadgen`: a load generator for OTLP ingest. It sends logs, metrics
//! or traces over OTLP/gRPC or OTLP/HTTP (binary protobuf) and reports the
//! acknowledged throughput, acknowledgement latency percentiles and failed
//! requests by status.
//!
//! The content looks like real telemetry — twenty-odd services with their
//! resources, access-log records, metric series of every kind, multi-service
//! traces — and every request holds several resources, so a receiver's
//! per-resource splitting is exercised. Requests are generated before the
//! clock starts and cycled through; each is stamped with the current time
//! as it is sent.
//!
//! Bounds: at most `--concurrency` requests in flight (one sender task
//! each), a pool of 128 requests (fewer when they are large, more when
//! metric series need them) within 256 MiB, a deadline on every request,
//! and a token-bucket schedule for `--rate`. Ctrl-C ends the run early and
//! still prints the report.
//!
//! # Layout
//! - [`pool`]: the pre-encoded requests; [`stamp`]: rewriting their
//!   timestamps and cumulative values at send time.
//! - [`logs`], [`metrics`] (of [`series`]), [`traces`]: request content per
//!   signal, from [`resource`] (the services) and [`exchange`] (simulated
//!   HTTP traffic).
//! - [`transport`] over [`grpc`] and [`http`]: sending and naming failures.
//! - [`schedule`]: stop conditions and rate limit; [`report`]: progress
//!   and the final report; [`signal`]: per-signal paths and responses.

pub mod exchange;
pub mod grpc;
pub mod http;
pub mod logs;
pub mod metrics;
pub mod pool;
pub mod report;
pub mod resource;
pub mod schedule;
pub mod series;
pub mod signal;
pub mod stamp;
pub mod traces;
pub mod transport;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use reqwest::Url;

use self::pool::{Pool, Shape};
use self::report::{Live, Tally};
use self::schedule::Schedule;
use self::signal::Signal;
use self::transport::{Failure, Options, Protocol, Transport};

/// How long a run lasts when neither `--duration` nor `--requests` is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// A sender whose request got no answer at all (refused, reset, timed out)
/// waits this long before the next, rather than spinning.
const UNANSWERED_PAUSE: Duration = Duration::from_millis(100);

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
}

#[derive(clap::Args, Debug, Clone)]
pub struct LoadgenArgs {
    /// What to send
    #[arg(long, value_enum, default_value = "logs")]
    pub signal: Signal,
    #[arg(long, value_enum, default_value = "grpc")]
    pub protocol: Protocol,
    /// Where to send [default: http://127.0.0.1:4317 for grpc, http://127.0.0.1:4318 for http]
    #[arg(long, value_name = "URL", value_parser = transport::parse_endpoint)]
    pub endpoint: Option<Url>,
    /// Records (log records, data points or spans) per second in total; 0 sends as fast as possible
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Requests in flight at once
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub concurrency: u16,
    /// Records per request
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub batch_size: u32,
    /// How long to send [default: 10s, or until --requests are sent if that is given]
    #[arg(long)]
    pub duration: Option<humantime::Duration>,
    /// Stop after this many requests (whichever of --duration and --requests comes first)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,
    /// Distinct services (resources)
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub services: u32,
    /// Distinct metric series (for --signal metrics)
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    pub series: u32,
    #[arg(long, value_enum, default_value = "none")]
    pub compression: Compression,
    /// Bearer token sent as `Authorization: Bearer TOKEN`
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Seed of the generated content; a seed always gives the same requests
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Deadline of each request
    #[arg(long, default_value = "10s")]
    pub timeout: humantime::Duration,
}

/// Runs the load and prints the report; the tally tells whether anything
/// was acknowledged.
pub fn run(args: LoadgenArgs) -> Result<Tally> {
    let endpoint = match &args.endpoint {
        Some(url) => url.clone(),
        None => Url::parse(args.protocol.default_endpoint()).expect("valid default endpoint"),
    };
    let duration = match (args.duration, args.requests) {
        (Some(d), _) => Some(*d),
        (None, Some(_)) => None,
        (None, None) => Some(DEFAULT_DURATION),
    };
    let batch = args.batch_size as usize;
    let pool = Arc::new(Pool::build(Shape {
        signal: args.signal,
        batch,
        services: args.services as usize,
        series: args.series as usize,
        seed: args.seed,
        requests: args.requests,
    })?);
    let shown = endpoint.as_str().trim_end_matches('/');
    eprintln!(
        "weir loadgen: {} over {} to {shown}: {batch} {} per request ({} B encoded), {} in flight, {}, pool of {} requests",
        args.signal.name(),
        args.protocol.name(),
        args.signal.unit(),
        pool.mean_request_bytes(),
        args.concurrency,
        match args.rate {
            0 => "no rate limit".to_string(),
            rate => format!("{rate} records/s"),
        },
        pool.len(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("weir-loadgen")
        .build()
        .context("start the async runtime")?;
    let (tally, elapsed) = runtime.block_on(async {
        let transport = Transport::connect(Options {
            protocol: args.protocol,
            endpoint: &endpoint,
            signal: args.signal,
            gzip: args.compression == Compression::Gzip,
            token: args.token.as_deref(),
            timeout: *args.timeout,
            concurrency: args.concurrency as usize,
        })
        .await?;
        let start = Instant::now();
        let schedule = Arc::new(Schedule::new(
            start,
            duration,
            args.requests,
            args.rate,
            batch,
        ));
        let live = Arc::new(Live::default());
        let progress = {
            let live = Arc::clone(&live);
            tokio::spawn(async move { report::progress(&live, start).await })
        };
        let interrupt = tokio::spawn(stop_on_ctrl_c(Arc::clone(&schedule)));
        let senders: Vec<_> = (0..args.concurrency)
            .map(|_| {
                let sender = Sender {
                    transport: transport.clone(),
                    pool: Arc::clone(&pool),
                    schedule: Arc::clone(&schedule),
                    live: Arc::clone(&live),
                    signal: args.signal,
                };
                tokio::spawn(sender.run())
            })
            .collect();
        let mut tally = Tally::default();
        for sender in senders {
            tally.merge(sender.await.context("sender task")?);
        }
        let elapsed = start.elapsed();
        progress.abort();
        interrupt.abort();
        Ok::<_, anyhow::Error>((tally, elapsed))
    })?;
    println!("signal: {}", args.signal.name());
    println!("protocol: {}", args.protocol.name());
    println!("endpoint: {shown}");
    println!(
        "{}",
        report::render(&tally, elapsed.as_secs_f64(), args.signal.unit())
    );
    Ok(tally)
}

/// The first Ctrl-C ends the run after the requests in flight (the report
/// is still printed); a second one exits at once.
async fn stop_on_ctrl_c(schedule: Arc<Schedule>) {
    while tokio::signal::ctrl_c().await.is_ok() {
        if schedule.is_stopped() {
            std::process::exit(130);
        }
        eprintln!("interrupted: waiting for the requests in flight (Ctrl-C again to quit now)");
        schedule.stop();
    }
}

/// One request in flight at a time, for as long as the schedule allows.
struct Sender {
    transport: Transport,
    pool: Arc<Pool>,
    schedule: Arc<Schedule>,
    live: Arc<Live>,
    signal: Signal,
}

impl Sender {
    async fn run(self) -> Tally {
        let mut tally = Tally::default();
        while let Some(slot) = self.schedule.next().await {
            let (body, records) = self.pool.render(slot);
            let bytes = body.len() as u64;
            let started = Instant::now();
            let outcome = self.transport.send(body).await.and_then(|response| {
                self.signal
                    .rejected(&response)
                    .map_err(|_| Failure::answered("undecodable response".to_string()))
            });
            tally.requests += 1;
            match outcome {
                Ok(rejected) => {
                    tally
                        .latency
                        .saturating_record(started.elapsed().as_micros() as u64);
                    tally.acknowledged += 1;
                    tally.records += records;
                    tally.rejected += rejected;
                    tally.bytes += bytes;
                    self.live.records.fetch_add(records, Ordering::Relaxed);
                    self.live.bytes.fetch_add(bytes, Ordering::Relaxed);
                }
                Err(failure) => {
                    *tally.failures.entry(failure.label).or_default() += 1;
                    self.live.failed.fetch_add(1, Ordering::Relaxed);
                    if !failure.answered {
                        tokio::time::sleep(UNANSWERED_PAUSE).await;
                    }
                }
            }
        }
        tally
    }
}
