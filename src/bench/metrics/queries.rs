//! The query phase: a day of windows, then `sum by (service_name)
//! (rate(X[5m]))` timed as instant and range queries.
//!
//! The store is filled through its own publish/persist path with the
//! windows a worker would close for `--query-series` counters: 1 m windows
//! (tier 1) and 1 h windows (tier 2) over `--hours`, persisted every 30
//! minutes of event time so blocks are cut as in service. The query's
//! range is 5 m, so both forms read tier 1 (the coarsest tier no longer
//! than the range); tier 0 (10 s) is left empty, as it would not be read.

use std::sync::Arc;
use std::time::Instant;

use aggregator::AggregatorError;
use aggregator::labels::Labels;
use aggregator::metrics::promql::{PromQlEngine, Value};
use aggregator::metrics::source::WindowValue;
use aggregator::metrics::store::WindowStore;
use aggregator::metrics::window::{ClosedWindow, SeriesKey, SeriesKind};
use aggregator::metrics::worker::{Mark, WindowOutput};
use aggregator::query::QueryLimits;
use anyhow::{Result, bail};
use hdrhistogram::Histogram;

use super::MetricsBenchArgs;
use super::pipeline::{default_store, rss_bytes};
use crate::bench::payload::Rng;
use crate::bench::report::{dir_bytes, latency_histogram, millis, thousands};

const QUERY: &str = "sum by (service_name) (rate(bench_requests_total[5m]))";
const SERVICES: usize = 20;
const PARTITIONS: u32 = 4;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
/// Event time between two persists (checkpoints) of a partition.
const PERSIST_EVERY: i64 = 30 * MINUTE;

fn series_keys(count: usize) -> Vec<Arc<SeriesKey>> {
    (0..count)
        .map(|i| {
            Arc::new(SeriesKey {
                tenant: log_core::DEFAULT_TENANT.to_owned(),
                labels: Labels::new([
                    ("__name__".to_owned(), "bench_requests_total".to_owned()),
                    (
                        "service_name".to_owned(),
                        format!("svc-{:02}", i % SERVICES),
                    ),
                    ("instance".to_owned(), format!("i-{i:05}")),
                ]),
                kind: SeriesKind::Counter,
            })
        })
        .collect()
}

/// Fills the store; returns the range of window ends written.
fn fill(store: &WindowStore, args: &MetricsBenchArgs) -> Result<(i64, i64)> {
    let keys = series_keys(args.query_series);
    let now = aggregator::clock::now_nanos() / 1_000_000;
    let last = now / MINUTE * MINUTE - MINUTE;
    let first = last - i64::from(args.hours) * HOUR + MINUTE;
    let mut totals = vec![0.0f64; keys.len()];
    let mut hour_deltas = vec![0.0f64; keys.len()];
    let mut offset = 0u64;
    let mut end = first;
    while end <= last {
        for p in 0..PARTITIONS {
            let mut minute = Vec::new();
            let mut hour = Vec::new();
            for (i, key) in keys
                .iter()
                .enumerate()
                .skip(p as usize)
                .step_by(PARTITIONS as usize)
            {
                let delta = 60.0 * (1 + i % 7) as f64;
                totals[i] += delta;
                hour_deltas[i] += delta;
                minute.push(ClosedWindow {
                    series: Arc::clone(key),
                    end_ms: end,
                    value: WindowValue::Counter {
                        delta,
                        total: totals[i],
                    },
                });
                if end % HOUR == 0 {
                    hour.push(ClosedWindow {
                        series: Arc::clone(key),
                        end_ms: end,
                        value: WindowValue::Counter {
                            delta: std::mem::take(&mut hour_deltas[i]),
                            total: totals[i],
                        },
                    });
                }
            }
            store.publish(p, 1, minute);
            if !hour.is_empty() {
                store.publish(p, 2, hour);
            }
        }
        if (end - first) % PERSIST_EVERY == 0 || end == last {
            offset += 1;
            for p in 0..PARTITIONS {
                store.persist(p, mark(offset, end))?;
            }
        }
        end += MINUTE;
    }
    // Once more, so the last complete spans are cut into blocks.
    for p in 0..PARTITIONS {
        store.persist(p, mark(offset + 1, last))?;
    }
    Ok((first, last))
}

fn mark(next_offset: u64, closed_through_ms: i64) -> Mark {
    Mark {
        next_offset,
        closed_through_ms,
    }
}

/// Prints the first run (which decodes the blocks it reads into the
/// cache) apart from the percentiles of the runs after it.
fn time(label: &str, samples: &[f64], histogram: &Histogram<u64>) {
    println!(
        "query {label}: first {:.1} ms; after it n {}, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        samples.first().copied().unwrap_or(0.0),
        samples.len().saturating_sub(1),
        millis(histogram, 0.5),
        millis(histogram, 0.99),
        histogram.max() as f64 / 1000.0,
    );
}

/// Runs `f` `n + 1` times; the percentiles are of the last `n`.
fn timed(mut f: impl FnMut() -> Result<Value>, n: usize) -> Result<(Vec<f64>, Histogram<u64>)> {
    let mut h = latency_histogram();
    let mut samples = Vec::with_capacity(n + 1);
    for run in 0..=n {
        let started = Instant::now();
        let value = f()?;
        let elapsed = started.elapsed();
        let groups = match &value {
            Value::Vector(v) => v.len(),
            Value::Matrix(m) => m.len(),
            _ => 0,
        };
        if groups != SERVICES {
            bail!("the query answered {groups} series, expected {SERVICES}");
        }
        if run > 0 {
            h.saturating_record(elapsed.as_micros() as u64);
        }
        samples.push(elapsed.as_secs_f64() * 1000.0);
    }
    Ok((samples, h))
}

pub(super) fn run(args: &MetricsBenchArgs) -> Result<()> {
    let root = args.dir.join("queries");
    let (config, _) = default_store(None)?;
    let started = Instant::now();
    let (first, last) = {
        let store = WindowStore::open(&root, config.clone())?;
        fill(&store, args)?
    };
    let windows = args.query_series as i64 * ((last - first) / MINUTE + 1);
    println!(
        "query store: {} series x {} h = {} 1-minute windows (+ hourly rollups) written in {:.1} s, {:.1} MiB on disk",
        thousands(args.query_series as u64),
        args.hours,
        thousands(windows as u64),
        started.elapsed().as_secs_f64(),
        dir_bytes(&root) as f64 / (1 << 20) as f64,
    );

    // Reopened as `weir serve` opens it: blocks registered, heads loaded
    // from the chunks, nothing decoded yet.
    let rss = rss_bytes();
    let store = WindowStore::open(&root, config)?;
    for p in 0..PARTITIONS {
        store.recover_partition(p, mark(u64::MAX, i64::MAX))?;
    }
    let engine = PromQlEngine::new(
        Arc::clone(&store) as Arc<dyn aggregator::metrics::source::SeriesSource>,
        QueryLimits::default(),
    );
    let tenant = log_core::DEFAULT_TENANT;
    let mut rng = Rng::new(args.seed);
    let span = (last - first - 10 * MINUTE).max(1) as u64;
    let mut at = || first + 10 * MINUTE + (rng.next() % span) as i64;

    let n = args.queries.max(1);
    let (samples, h) = timed(|| Ok(engine.instant(tenant, QUERY, at())?), n)?;
    time("instant, random times over the span", &samples, &h);
    let (samples, h) = timed(|| Ok(engine.instant(tenant, QUERY, last)?), n)?;
    time("instant, at the newest window", &samples, &h);
    let mut range_p50 = Vec::new();
    for step in [5 * MINUTE, MINUTE] {
        let label = format!("range over {} h, step {} s", args.hours, step / 1000);
        // A range query past the engine's timeout is a figure, not a
        // failure of the bench: say so and go on to the next step.
        let runs = timed(
            || Ok(engine.range(tenant, QUERY, first + 5 * MINUTE, last, step)?),
            n,
        );
        let (samples, h) = match runs {
            Err(e) => match e.downcast_ref::<AggregatorError>() {
                Some(AggregatorError::Timeout(limit)) => {
                    println!("query {label}: timed out after {} s", limit.as_secs());
                    continue;
                }
                _ => return Err(e),
            },
            Ok(runs) => runs,
        };
        time(&label, &samples, &h);
        range_p50.push((step, millis(&h, 0.5)));
    }
    let stats = store.stats();
    println!(
        "query store: {} blocks per tier {:?}, {:.1} MiB of decoded blocks cached, resident memory +{:.1} MiB",
        stats.blocks.iter().sum::<usize>(),
        stats.blocks,
        stats.cache_bytes as f64 / (1 << 20) as f64,
        rss_bytes().saturating_sub(rss) as f64 / (1 << 20) as f64,
    );
    let floor = memory_floor(windows as usize);
    println!(
        "query floor: one thread reading {} windows' 16 bytes (a counter's delta and total) once: {floor:.1} ms, median of 5; the range queries' p50 are {} times it",
        thousands(windows as u64),
        range_p50
            .iter()
            .map(|(step, p50)| format!("{:.1} (step {} s)", p50 / floor, step / 1000))
            .collect::<Vec<_>>()
            .join(", "),
    );
    Ok(())
}

/// What reading `windows` counter windows costs on this machine now, the
/// baseline of the range queries: one thread summing 16 bytes per window
/// (with eight sums, so the adds keep up with memory), median of 5 runs.
fn memory_floor(windows: usize) -> f64 {
    let columns: Vec<f64> = (0..windows * 2).map(|i| (i % 1000) as f64).collect();
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let mut sums = [0.0f64; 8];
            for chunk in columns.chunks_exact(8) {
                for (sum, x) in sums.iter_mut().zip(chunk) {
                    *sum += x;
                }
            }
            std::hint::black_box(sums);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}
