//! Deterministic, realistic-looking record payloads for benchmarks.
//!
//! Values look like structured application logs (service, severity, HTTP
//! method, path, status, latency, trace id, free text), so that zstd sees
//! the redundancy real telemetry has — neither random bytes (incompressible)
//! nor repeated bytes (compress to nothing).

use bytes::Bytes;
use log_core::NewRecord;

/// xorshift64*: tiny, fast, and good enough to vary payloads.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// A number in `0..n` (`n` > 0); the modulo bias is negligible for the
    /// small `n` payloads use.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `len` random bytes (trace and span ids).
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

/// Names of the simulated services, shared by benchmarks and `weir loadgen`.
pub const SERVICES: &[&str] = &[
    "checkout",
    "cart",
    "payment",
    "shipping",
    "frontend",
    "auth",
    "search",
    "catalog",
    "ads",
    "email",
    "currency",
    "recommendation",
    "inventory",
    "orders",
    "users",
    "gateway",
    "billing",
    "notifications",
    "reviews",
    "quote",
];
const SEVERITIES: &[&str] = &["DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR"];
const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "PUT", "DELETE"];
const PATHS: &[&str] = &[
    "/api/v1/cart",
    "/api/v1/checkout",
    "/api/v1/products",
    "/api/v1/users/me",
    "/healthz",
    "/api/v1/orders",
    "/api/v1/search",
    "/static/app.js",
];
pub const WORDS: &[&str] = &[
    "request",
    "completed",
    "failed",
    "retrying",
    "upstream",
    "timeout",
    "cache",
    "miss",
    "hit",
    "connection",
    "reset",
    "user",
    "order",
    "payment",
    "declined",
    "accepted",
    "queue",
    "latency",
];

/// One log-like value of roughly `target_bytes`.
pub fn value(rng: &mut Rng, target_bytes: usize) -> Bytes {
    let mut s = format!(
        "{{\"service\":\"{}\",\"severity\":\"{}\",\"method\":\"{}\",\"path\":\"{}\",\"status\":{},\"latency_ms\":{},\"trace_id\":\"{:016x}{:016x}\",\"msg\":\"",
        rng.pick(SERVICES),
        rng.pick(SEVERITIES),
        rng.pick(METHODS),
        rng.pick(PATHS),
        [200, 200, 200, 201, 204, 404, 500, 503][(rng.next() % 8) as usize],
        rng.next() % 2000,
        rng.next(),
        rng.next(),
    );
    while s.len() + 2 < target_bytes {
        s.push_str(rng.pick(WORDS));
        s.push(' ');
    }
    s.push_str("\"}");
    Bytes::from(s)
}

/// A batch of `count` records with values of about `value_bytes`.
pub fn records(rng: &mut Rng, count: usize, value_bytes: usize, timestamp: i64) -> Vec<NewRecord> {
    (0..count)
        .map(|_| NewRecord {
            timestamp,
            key: Some(Bytes::from_static(b"bench")),
            value: Some(value(rng, value_bytes)),
            headers: Vec::new(),
        })
        .collect()
}
