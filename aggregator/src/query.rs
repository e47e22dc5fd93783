//! Bounds every query runs under, shared by LogQL, PromQL and the native
//! search API.

use std::time::{Duration, Instant};

use crate::error::{AggregatorError, Result};

/// Per-query bounds. A query that would pass one fails with a clear error
/// rather than using unbounded time or memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Wall-clock time a query may run.
    pub timeout: Duration,
    /// Series (or log streams) a query may return or hold at once.
    pub max_series: usize,
    /// Samples (metric points, or log lines for a metric query) a query may
    /// touch in all.
    pub max_samples: usize,
    /// Log lines a query may return.
    pub max_hits: usize,
}

impl Default for QueryLimits {
    fn default() -> QueryLimits {
        QueryLimits {
            // Grafana's default data source timeout is 30 s; answer first.
            timeout: Duration::from_secs(25),
            max_series: 10_000,
            // Prometheus' default `--query.max-samples`.
            max_samples: 50_000_000,
            // Loki's default `max_entries_limit_per_query`.
            max_hits: 5_000,
        }
    }
}

/// When a query must stop; checked between units of work.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    pub fn after(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    /// Fails with [`AggregatorError::Timeout`] once the deadline passed.
    pub fn check(&self) -> Result<()> {
        if Instant::now() >= self.at {
            Err(AggregatorError::Timeout(self.timeout))
        } else {
            Ok(())
        }
    }
}

/// Threads one query may compute on: the machine's cores, at most 4, so
/// a few concurrent queries do not multiply past the machine.
pub(crate) fn threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4)
    })
}

/// `part` over `items` split into `threads` contiguous parts, each on its
/// own thread (the first on the caller's), concatenated in item order.
pub(crate) fn in_parts<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    part: &(dyn Fn(&[T]) -> Vec<R> + Sync),
) -> Vec<R> {
    if threads <= 1 || items.len() <= 1 {
        return part(items);
    }
    std::thread::scope(|scope| {
        let mut parts = items.chunks(items.len().div_ceil(threads));
        let first = parts.next().unwrap_or_default();
        let others: Vec<_> = parts.map(|p| scope.spawn(move || part(p))).collect();
        let mut out = part(first);
        for other in others {
            out.extend(
                other
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        out
    })
}
