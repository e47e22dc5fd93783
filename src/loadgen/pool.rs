//! The pool of pre-encoded requests a run cycles through.
//!
//! Generating and encoding a request of 512 log records costs far more
//! than sending it, so the pool is built before the clock starts, on every
//! core, and each send only copies a template and stamps the current time
//! into it (see [`super::stamp`]). Request `i` of the pool is generated
//! from its own seed, so the pool is the same whatever the thread count.

use anyhow::{Result, bail};
use bytes::Bytes;

use super::resource::{self, Service};
use super::signal::Signal;
use super::stamp::{self, Clock, Template};
use super::{logs, metrics, traces};
use crate::bench::payload::Rng;

/// Requests in the pool: enough that consecutive requests differ and the
/// server's compressor sees varied data, few enough to build in well under
/// a second. A metrics pool grows to cover every series.
const POOL_REQUESTS: usize = 128;
/// Fewer requests when they are large, to stay within this many bytes.
const POOL_BYTES: usize = 256 << 20;
const MIN_POOL_REQUESTS: usize = 4;

/// What the pool is made of.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub signal: Signal,
    pub batch: usize,
    pub services: usize,
    pub series: usize,
    pub seed: u64,
    /// Requests the run will send at most, if bounded.
    pub requests: Option<u64>,
}

pub struct Pool {
    templates: Vec<Template>,
    /// Cumulative metric values count ticks from here.
    epoch_ns: u64,
}

impl Pool {
    pub fn build(shape: Shape) -> Result<Pool> {
        if shape.batch == 0 || shape.services == 0 || shape.series == 0 {
            bail!("batch size, services and series must be at least 1");
        }
        let epoch_ns = stamp::unix_nanos();
        let services = resource::services(shape.services, &mut Rng::new(shape.seed));
        let first = generate(&shape, &services, epoch_ns, 0)?;
        let by_bytes = (POOL_BYTES / first.len().max(1)).max(MIN_POOL_REQUESTS);
        // Metrics: enough requests to report every series once per cycle.
        let cycle = match shape.signal {
            Signal::Metrics => shape.series.div_ceil(shape.batch),
            Signal::Logs | Signal::Traces => 0,
        };
        let wanted = POOL_REQUESTS.max(cycle);
        let wanted = shape
            .requests
            .map_or(wanted, |n| n.min(wanted as u64) as usize);
        let count = wanted.min(by_bytes).max(1);
        if count < wanted.min(cycle) {
            eprintln!(
                "warning: a pool of {count} requests ({} MiB) reports only {} of the {} series",
                POOL_BYTES >> 20,
                count * shape.batch,
                shape.series
            );
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(count);
        let mut built: Vec<(usize, Template)> = vec![(0, first)];
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let services = &services;
                    scope.spawn(move || {
                        (1..count)
                            .filter(|i| i % threads == t)
                            .map(|i| Ok((i, generate(&shape, services, epoch_ns, i)?)))
                            .collect::<Result<Vec<_>>>()
                    })
                })
                .collect();
            for worker in workers {
                built.extend(worker.join().expect("request generator panicked")?);
            }
            Ok::<_, anyhow::Error>(())
        })?;
        built.sort_by_key(|(i, _)| *i);
        Ok(Pool {
            templates: built.into_iter().map(|(_, t)| t).collect(),
            epoch_ns,
        })
    }

    pub fn len(&self) -> usize {
        self.templates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    /// Mean encoded request size in bytes.
    pub fn mean_request_bytes(&self) -> usize {
        self.templates.iter().map(Template::len).sum::<usize>() / self.len().max(1)
    }

    /// The `slot`-th request of the run, stamped now: its bytes and how
    /// many items it carries.
    pub fn render(&self, slot: u64) -> (Bytes, u64) {
        let template = &self.templates[(slot % self.templates.len() as u64) as usize];
        (
            template.render(Clock::read(self.epoch_ns)),
            template.records,
        )
    }
}

fn generate(shape: &Shape, services: &[Service], epoch_ns: u64, index: usize) -> Result<Template> {
    let mut rng = Rng::new(shape.seed ^ (index as u64 + 1).wrapping_mul(0xd6e8_feb8_6659_fd93));
    match shape.signal {
        Signal::Logs => logs::request(services, index, shape.batch, &mut rng),
        Signal::Metrics => metrics::request(
            services,
            shape.series,
            shape.seed,
            epoch_ns,
            index,
            shape.batch,
        ),
        Signal::Traces => traces::request(services, index, shape.batch, &mut rng),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(signal: Signal) -> Shape {
        Shape {
            signal,
            batch: 64,
            services: 20,
            series: 1000,
            seed: 9,
            requests: Some(12),
        }
    }

    #[test]
    fn pool_is_bounded_by_the_requests_to_send() {
        let pool = Pool::build(shape(Signal::Traces)).unwrap();
        assert_eq!(pool.len(), 12);
        let (bytes, records) = pool.render(13);
        assert_eq!(records, 64);
        assert!(bytes.len() > 64 * 100);
    }

    #[test]
    fn a_metrics_pool_covers_every_series() {
        let pool = Pool::build(Shape {
            series: 20_000,
            requests: None,
            ..shape(Signal::Metrics)
        })
        .unwrap();
        assert_eq!(pool.len(), 20_000 / 64 + 1);
    }

    #[test]
    fn empty_batches_are_refused() {
        let error = Pool::build(Shape {
            batch: 0,
            ..shape(Signal::Logs)
        })
        .err()
        .unwrap();
        assert!(error.to_string().contains("batch size"), "{error}");
    }
}
