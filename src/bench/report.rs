//! Printing benchmark results: throughput and latency percentiles.

use std::path::Path;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;

/// One measured phase.
pub struct Phase {
    pub name: String,
    pub bytes: u64,
    pub records: u64,
    pub seconds: f64,
    /// Acknowledgement latency in microseconds.
    pub latency: Histogram<u64>,
}

impl Phase {
    pub fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / self.seconds / 1e6
    }

    pub fn records_per_sec(&self) -> f64 {
        self.records as f64 / self.seconds
    }
}

/// A latency histogram in microseconds, 1 µs to 60 s, 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

pub fn millis(h: &Histogram<u64>, quantile: f64) -> f64 {
    h.value_at_quantile(quantile) as f64 / 1000.0
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    if values.is_empty() {
        return 0.0;
    }
    values[values.len() / 2]
}

pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("remove {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Bytes of the files under `dir`.
pub(crate) fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&entry.path()),
            _ => entry.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

/// CPU time (user + system) of the whole process, in seconds.
pub(crate) fn cpu_seconds() -> f64 {
    let usage = rusage();
    timeval_seconds(usage.ru_utime) + timeval_seconds(usage.ru_stime)
}

/// Peak resident memory of the process.
pub(crate) fn peak_rss_mib() -> u64 {
    // Linux reports `ru_maxrss` in KiB.
    rusage().ru_maxrss as u64 / 1024
}

pub(crate) fn rusage() -> libc::rusage {
    // SAFETY: `rusage` is plain old data, and getrusage fills the struct
    // it is given (it cannot fail for RUSAGE_SELF).
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    }
}

pub(crate) fn timeval_seconds(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

/// CPU time of the calling thread, in seconds.
pub(crate) fn thread_cpu_seconds() -> f64 {
    // SAFETY: `timespec` is plain old data, and clock_gettime fills it.
    let t = unsafe {
        let mut t: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t);
        t
    };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}
