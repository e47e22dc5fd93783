//! When each request may start: the stop conditions (`--duration`,
//! `--requests`) and the rate limit (`--rate`).
//!
//! The rate limit is a token bucket kept as a schedule: request `k` is due
//! one interval (`batch / rate` seconds) after request `k - 1`, and a
//! sender sleeps until its request is due — no polling. When the server
//! falls behind, due times may lag the clock by at most [`BURST`]
//! intervals (the bucket's capacity); older credit is dropped, so a stalled
//! server is not answered with an unbounded burst once it recovers.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Requests' worth of unused rate a sender may catch up on.
const BURST: u32 = 8;

pub struct Schedule {
    /// Requests claimed so far (including ones refused at the deadline).
    claimed: AtomicU64,
    max_requests: Option<u64>,
    deadline: Option<Instant>,
    /// Time between requests; `None` sends as fast as possible.
    interval: Option<Duration>,
    next_due: Mutex<Instant>,
    /// Set by [`Schedule::stop`] (Ctrl-C): no request starts after it.
    stopped: AtomicBool,
}

impl Schedule {
    /// `rate` is in items per second (0: unlimited), `batch` items per request.
    pub fn new(
        start: Instant,
        duration: Option<Duration>,
        max_requests: Option<u64>,
        rate: u64,
        batch: usize,
    ) -> Schedule {
        Schedule {
            claimed: AtomicU64::new(0),
            max_requests,
            deadline: duration.map(|d| start + d),
            interval: (rate > 0).then(|| Duration::from_secs_f64(batch as f64 / rate as f64)),
            next_due: Mutex::new(start),
            stopped: AtomicBool::new(false),
        }
    }

    /// Waits until the next request may start and returns its sequence
    /// number, or `None` once the run is over.
    pub async fn next(&self) -> Option<u64> {
        if self.is_stopped() || self.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        let slot = self.claimed.fetch_add(1, Ordering::Relaxed);
        if self.max_requests.is_some_and(|max| slot >= max) {
            return None;
        }
        if let Some(interval) = self.interval {
            let due = self.claim_due(interval, Instant::now());
            if self.deadline.is_some_and(|d| due >= d) {
                return None;
            }
            tokio::time::sleep_until(due.into()).await;
            if self.is_stopped() {
                return None;
            }
        }
        Some(slot)
    }

    /// Ends the run early; requests in flight still complete.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    fn claim_due(&self, interval: Duration, now: Instant) -> Instant {
        let mut next = self.next_due.lock().expect("schedule lock");
        let oldest = now.checked_sub(interval * BURST).unwrap_or(now);
        let due = (*next).max(oldest);
        *next = due + interval;
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stops_after_max_requests() {
        let schedule = Schedule::new(Instant::now(), None, Some(3), 0, 10);
        let mut slots = Vec::new();
        while let Some(slot) = schedule.next().await {
            slots.push(slot);
        }
        assert_eq!(slots, vec![0, 1, 2]);
    }

    #[tokio::test]
    async fn nothing_starts_after_stop() {
        let schedule = Schedule::new(Instant::now(), None, None, 0, 10);
        assert_eq!(schedule.next().await, Some(0));
        schedule.stop();
        assert_eq!(schedule.next().await, None);
    }

    #[tokio::test]
    async fn paces_requests_at_the_rate() {
        // 100 items/s in batches of 10: one request per 100 ms.
        let start = Instant::now();
        let schedule = Schedule::new(start, Some(Duration::from_millis(350)), None, 100, 10);
        let mut count = 0;
        while schedule.next().await.is_some() {
            count += 1;
        }
        assert_eq!(count, 4, "requests due at 0, 100, 200 and 300 ms");
        assert!(start.elapsed() >= Duration::from_millis(300));
    }

    #[test]
    fn lag_is_capped_at_the_burst() {
        let start = Instant::now();
        let schedule = Schedule::new(start, None, None, 1000, 10);
        let interval = Duration::from_millis(10);
        let late = start + Duration::from_secs(5);
        let first = schedule.claim_due(interval, late);
        assert_eq!(first, late - interval * BURST);
        assert_eq!(schedule.claim_due(interval, late), first + interval);
    }
}
