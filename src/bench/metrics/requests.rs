//! The run's requests, and the decode floor.

use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;

use super::MetricsBenchArgs;
use crate::bench::payload::Rng;
use crate::loadgen::resource::services;
use crate::loadgen::stamp::{Clock, TICK, Template, unix_nanos};

/// Services of the generated resources (`weir loadgen`'s default).
const SERVICES: usize = 20;
/// Event time between two cycles of the pool: one default window.
pub(super) const CYCLE: Duration = Duration::from_secs(10);
/// The newest event time lies this far before the run's start.
const END_LAG: Duration = Duration::from_secs(60);

pub(super) struct Requests {
    pub templates: Vec<Template>,
    pub count: u64,
    /// Event time of the first cycle.
    first_ns: u64,
    epoch_ns: u64,
}

impl Requests {
    pub fn build(args: &MetricsBenchArgs) -> Result<Requests> {
        let batch = args.batch_size as usize;
        let pool = args.series.div_ceil(batch).max(1);
        let count = args.points.div_ceil(batch as u64).max(1);
        let cycles = count.div_ceil(pool as u64);
        let now = unix_nanos();
        let first_ns = now - END_LAG.as_nanos() as u64 - cycles * CYCLE.as_nanos() as u64;
        let epoch_ns = first_ns;
        let services = services(SERVICES, &mut Rng::new(args.seed));
        let templates = (0..pool)
            .map(|i| {
                crate::loadgen::metrics::request(
                    &services,
                    args.series,
                    args.seed,
                    epoch_ns,
                    i,
                    batch,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Requests {
            templates,
            count,
            first_ns,
            epoch_ns,
        })
    }

    pub fn total_points(&self) -> u64 {
        (0..self.count)
            .map(|i| self.templates[(i % self.templates.len() as u64) as usize].records)
            .sum()
    }

    pub fn mean_bytes(&self) -> usize {
        self.templates.iter().map(Template::len).sum::<usize>() / self.templates.len()
    }

    /// Request `i`, stamped with its cycle's event time.
    pub fn render(&self, i: u64) -> (Bytes, u64) {
        let pool = self.templates.len() as u64;
        let template = &self.templates[(i % pool) as usize];
        let cycle = i / pool;
        let now_ns = self.first_ns + cycle * CYCLE.as_nanos() as u64;
        let clock = Clock {
            now_ns,
            ticks: (now_ns - self.epoch_ns) / TICK.as_nanos() as u64,
        };
        (template.render(clock), template.records)
    }
}

pub(super) struct Floor {
    pub points: u64,
    pub seconds: f64,
    pub threads: usize,
}

impl Floor {
    pub fn points_per_sec(&self) -> f64 {
        self.points as f64 / self.seconds
    }
}

/// Renders and decodes every request, one thread per core.
pub(super) fn decode_floor(requests: &Requests) -> Result<Floor> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = Instant::now();
    let points = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut points = 0u64;
                    for i in (t as u64..requests.count).step_by(threads) {
                        let (bytes, n) = requests.render(i);
                        let request = ExportMetricsServiceRequest::decode(bytes)?;
                        std::hint::black_box(request);
                        points += n;
                    }
                    anyhow::Ok(points)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("decode thread panicked"))
            .sum::<Result<u64>>()
    })?;
    Ok(Floor {
        points,
        seconds: start.elapsed().as_secs_f64(),
        threads,
    })
}
