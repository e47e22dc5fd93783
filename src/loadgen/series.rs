//! Metric series: which instrument, service and attributes series `s` has,
//! and its data point.
//!
//! Series `s` belongs to service `s % services` and instrument
//! `(s / services) % CATALOG.len()`; the rest of `s` picks its attribute
//! set as a mixed-radix number, so distinct `s` are distinct series. A
//! series' start time, rates and base values come from a generator seeded
//! by `s` alone, so every request of the pool that reports the series
//! agrees on them; cumulative values are stamped at send time as
//! `base + rate * ticks` (see [`super::stamp`]) and never go backwards.

use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
use opentelemetry_proto::tonic::metrics::v1::{HistogramDataPoint, NumberDataPoint};

use super::resource::{int, string};
use super::stamp::{Stamps, TICK};
use crate::bench::payload::Rng;

#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    /// A monotonic cumulative sum.
    Counter,
    /// A non-monotonic cumulative sum.
    UpDownCounter,
    Gauge,
    /// Explicit buckets, cumulative.
    Histogram,
}

pub struct Instrument {
    pub name: &'static str,
    pub unit: &'static str,
    pub kind: Kind,
    /// Labelled by HTTP route, method and status rather than by CPU mode.
    http: bool,
}

const fn instrument(name: &'static str, unit: &'static str, kind: Kind, http: bool) -> Instrument {
    Instrument {
        name,
        unit,
        kind,
        http,
    }
}

/// Two instruments of each kind, named after OpenTelemetry semantic conventions.
pub const CATALOG: &[Instrument] = &[
    instrument("http.server.requests", "{request}", Kind::Counter, true),
    instrument("process.cpu.time", "s", Kind::Counter, false),
    instrument(
        "http.server.active_requests",
        "{request}",
        Kind::UpDownCounter,
        true,
    ),
    instrument(
        "db.client.connection.count",
        "{connection}",
        Kind::UpDownCounter,
        false,
    ),
    instrument("process.memory.usage", "By", Kind::Gauge, false),
    instrument("system.cpu.utilization", "1", Kind::Gauge, false),
    instrument("http.server.request.duration", "s", Kind::Histogram, true),
    instrument("http.client.request.duration", "s", Kind::Histogram, true),
];

/// The OpenTelemetry semantic conventions' advice for HTTP durations.
pub const BOUNDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
const ROUTES: &[&str] = &[
    "/api/v1/cart/{id}",
    "/api/v1/products/{id}",
    "/api/v1/orders/{id}/items",
    "/api/v1/search",
    "/api/v1/checkout",
    "/healthz",
];
const METHODS: &[&str] = &["GET", "POST", "PUT"];
const STATUSES: &[i64] = &[200, 201, 404, 500];
const CPU_STATES: &[&str] = &["user", "system", "idle", "iowait"];
/// Series are up to an hour old when the run starts.
const MAX_SERIES_AGE_TICKS: u64 = 36_000;

/// Where series `s` belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Series {
    pub s: usize,
    pub service: usize,
    /// Index into [`CATALOG`].
    pub instrument: usize,
    services: usize,
}

impl Series {
    pub fn new(s: usize, services: usize) -> Series {
        Series {
            s,
            service: s % services,
            instrument: (s / services) % CATALOG.len(),
            services,
        }
    }
}

/// A data point of a number instrument or of a histogram.
pub enum Point {
    Number(NumberDataPoint),
    Histogram(HistogramDataPoint),
}

/// The series' data point, stamped to be sent `lag` after collection;
/// `epoch_ns` is when the pool was built (tick 0).
pub fn point(
    series: Series,
    seed: u64,
    epoch_ns: u64,
    lag: Duration,
    stamps: &mut Stamps,
) -> Point {
    let spec = &CATALOG[series.instrument];
    let mut rng = Rng::new(seed ^ (series.s as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let age_ticks = rng.next() % MAX_SERIES_AGE_TICKS + 1;
    let start_time_unix_nano = epoch_ns.saturating_sub(age_ticks * TICK.as_nanos() as u64);
    let attributes = attributes(spec, series.s / series.services / CATALOG.len());
    let time_unix_nano = stamps.time(lag);
    let number = |value| {
        Point::Number(NumberDataPoint {
            attributes: attributes.clone(),
            start_time_unix_nano,
            time_unix_nano,
            value: Some(value),
            ..Default::default()
        })
    };
    match (spec.kind, spec.unit) {
        (Kind::Counter, "s") => {
            let per_tick = 0.001 + (rng.next() % 90) as f64 / 1000.0;
            number(Value::AsDouble(
                stamps.sum(per_tick * age_ticks as f64, per_tick),
            ))
        }
        (Kind::Counter, _) => {
            let per_tick = 1 + rng.next() % 50;
            number(Value::AsInt(
                stamps.count(per_tick * age_ticks, per_tick) as i64
            ))
        }
        (Kind::UpDownCounter, _) => number(Value::AsInt((rng.next() % 200) as i64)),
        (Kind::Gauge, "By") => number(Value::AsInt((50 + rng.next() % 2000) as i64 * 1_048_576)),
        (Kind::Gauge, _) => number(Value::AsDouble((rng.next() % 10_000) as f64 / 10_000.0)),
        (Kind::Histogram, _) => {
            // Per-tick bucket rates: a bump around 25–100 ms with a tail.
            let rates: Vec<u64> = (0..=BOUNDS.len())
                .map(|i| {
                    let weight = [1, 2, 4, 6, 8, 8, 6, 4, 2, 1, 1, 0, 0, 0, 0][i.min(14)];
                    weight * (1 + rng.next() % 3)
                })
                .collect();
            let sum_per_tick: f64 = rates
                .iter()
                .enumerate()
                .map(|(i, &r)| r as f64 * midpoint(i))
                .sum();
            let count_per_tick: u64 = rates.iter().sum();
            Point::Histogram(HistogramDataPoint {
                attributes,
                start_time_unix_nano,
                time_unix_nano,
                count: stamps.count(count_per_tick * age_ticks, count_per_tick),
                sum: Some(stamps.sum(sum_per_tick * age_ticks as f64, sum_per_tick)),
                bucket_counts: rates
                    .iter()
                    .map(|&r| stamps.count(r * age_ticks, r))
                    .collect(),
                explicit_bounds: BOUNDS.to_vec(),
                ..Default::default()
            })
        }
    }
}

/// A representative value of bucket `i` (the last, unbounded, at 15 s).
fn midpoint(i: usize) -> f64 {
    let upper = BOUNDS.get(i).copied().unwrap_or(15.0);
    let lower = if i == 0 { 0.0 } else { BOUNDS[i - 1] };
    (lower + upper) / 2.0
}

/// The `combo`-th attribute set of an instrument: a mixed-radix reading
/// of `combo`, so distinct combos give distinct sets.
fn attributes(spec: &Instrument, combo: usize) -> Vec<KeyValue> {
    let (mut attributes, rest) = if spec.http {
        let (route, rest) = (combo % ROUTES.len(), combo / ROUTES.len());
        let (method, rest) = (rest % METHODS.len(), rest / METHODS.len());
        let (status, rest) = (rest % STATUSES.len(), rest / STATUSES.len());
        let attributes = vec![
            string("http.request.method", METHODS[method]),
            string("http.route", ROUTES[route]),
            int("http.response.status_code", STATUSES[status]),
        ];
        (attributes, rest)
    } else {
        let (state, rest) = (combo % CPU_STATES.len(), combo / CPU_STATES.len());
        (vec![string("cpu.mode", CPU_STATES[state])], rest)
    };
    if rest > 0 {
        attributes.push(int("worker.id", rest as i64));
    }
    attributes
}
