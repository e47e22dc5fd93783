//! Encoded requests whose time-dependent fields are rewritten at send time.
//!
//! A request of the pool is encoded once. Every field that must follow the
//! clock — timestamps, and the values of cumulative counters and histograms —
//! is a fixed-width protobuf field (`fixed64`, `sfixed64` or `double`,
//! packed or not), so its 8 bytes can be overwritten in place without
//! re-encoding. To find those bytes, the generator writes a *sentinel* into
//! each such field: the high 32 bits are [`SENTINEL_TAG`], the low 32 bits
//! index the [`Stamp`] that computes the real value. After encoding, the
//! bytes are scanned once for sentinels and their offsets kept.
//!
//! Invariant: every sentinel issued is found exactly once, and nothing else
//! is taken for one (checked when the template is built; a random trace id
//! could in principle carry the tag, and the check turns that into an error
//! rather than a corrupt field). Rendering then costs one copy of the bytes
//! plus eight bytes per stamp.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use bytes::{Bytes, BytesMut};

/// High half of a sentinel. As a double it is a large finite positive
/// number (exponent 0x57a), so no float field ever holds a NaN sentinel.
const SENTINEL_TAG: u32 = 0x57a3_9c1d;

/// Counters and histograms advance once per tick: cumulative values are
/// `base + per_tick * ticks`, integers for counts, so a histogram's count
/// always equals the sum of its buckets.
pub const TICK: Duration = Duration::from_millis(100);

/// How to compute one field at send time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stamp {
    /// A timestamp: now minus `lag_ns` (in Unix nanoseconds).
    Time { lag_ns: u64 },
    /// A cumulative integer (`fixed64` or `sfixed64`).
    Count { base: u64, per_tick: u64 },
    /// A cumulative double.
    Sum { base: f64, per_tick: f64 },
}

/// The clock reading one request is stamped with.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub now_ns: u64,
    /// Ticks since the pool's epoch.
    pub ticks: u64,
}

impl Clock {
    /// Reads the wall clock against `epoch_ns`, the time the pool was built.
    pub fn read(epoch_ns: u64) -> Clock {
        let now_ns = unix_nanos();
        Clock {
            now_ns,
            ticks: now_ns.saturating_sub(epoch_ns) / TICK.as_nanos() as u64,
        }
    }
}

/// Nanoseconds since the Unix epoch (0 before it).
pub fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Stamp {
    fn bits(self, clock: Clock) -> u64 {
        match self {
            Stamp::Time { lag_ns } => clock.now_ns.saturating_sub(lag_ns),
            Stamp::Count { base, per_tick } => base + per_tick * clock.ticks,
            Stamp::Sum { base, per_tick } => (base + per_tick * clock.ticks as f64).to_bits(),
        }
    }
}

/// Hands out sentinels while a request is generated.
#[derive(Debug, Default)]
pub struct Stamps {
    stamps: Vec<Stamp>,
}

impl Stamps {
    fn issue(&mut self, stamp: Stamp) -> u64 {
        let index = self.stamps.len() as u64;
        assert!(
            index < u64::from(u32::MAX),
            "too many stamps in one request"
        );
        self.stamps.push(stamp);
        (u64::from(SENTINEL_TAG) << 32) | index
    }

    /// A timestamp field: now minus `lag`.
    pub fn time(&mut self, lag: Duration) -> u64 {
        self.issue(Stamp::Time {
            lag_ns: lag.as_nanos() as u64,
        })
    }

    /// A cumulative count field.
    pub fn count(&mut self, base: u64, per_tick: u64) -> u64 {
        self.issue(Stamp::Count { base, per_tick })
    }

    /// A cumulative double field.
    pub fn sum(&mut self, base: f64, per_tick: f64) -> f64 {
        f64::from_bits(self.issue(Stamp::Sum { base, per_tick }))
    }

    /// Encodes `message` and locates every sentinel issued for it.
    pub fn finish(self, message: &impl prost::Message, records: u64) -> Result<Template> {
        let bytes = message.encode_to_vec();
        let tag = SENTINEL_TAG.to_le_bytes();
        let mut sites: Vec<(usize, Stamp)> = Vec::with_capacity(self.stamps.len());
        let mut seen = vec![false; self.stamps.len()];
        let mut at = 0;
        while at + 8 <= bytes.len() {
            if bytes[at + 4..at + 8] == tag {
                let index = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
                let index = index as usize;
                if index >= seen.len() || seen[index] {
                    bail!("request template: stray sentinel at byte {at}");
                }
                seen[index] = true;
                sites.push((at, self.stamps[index]));
                at += 8;
            } else {
                at += 1;
            }
        }
        if sites.len() != self.stamps.len() {
            bail!(
                "request template: found {} of {} stamped fields",
                sites.len(),
                self.stamps.len()
            );
        }
        Ok(Template {
            bytes: Bytes::from(bytes),
            records,
            sites,
        })
    }
}

/// One encoded request of the pool.
#[derive(Debug, Clone)]
pub struct Template {
    bytes: Bytes,
    /// Log records, metric data points or spans in the request.
    pub records: u64,
    sites: Vec<(usize, Stamp)>,
}

impl Template {
    /// Encoded size in bytes (the same for every rendering).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The request as sent at `clock`.
    pub fn render(&self, clock: Clock) -> Bytes {
        let mut out = BytesMut::from(&self.bytes[..]);
        for &(at, stamp) in &self.sites {
            out[at..at + 8].copy_from_slice(&stamp.bits(clock).to_le_bytes());
        }
        out.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
    use opentelemetry_proto::tonic::metrics::v1::{HistogramDataPoint, NumberDataPoint};
    use prost::Message;

    #[test]
    fn render_rewrites_every_stamped_field() {
        let mut stamps = Stamps::default();
        let point = HistogramDataPoint {
            start_time_unix_nano: 7,
            time_unix_nano: stamps.time(Duration::from_nanos(5)),
            count: stamps.count(10, 3),
            sum: Some(stamps.sum(1.5, 0.5)),
            bucket_counts: vec![stamps.count(4, 1), stamps.count(6, 2)],
            explicit_bounds: vec![1.0],
            ..Default::default()
        };
        let template = stamps.finish(&point, 1).unwrap();
        let clock = Clock {
            now_ns: 1_000,
            ticks: 10,
        };
        let decoded = HistogramDataPoint::decode(template.render(clock)).unwrap();
        assert_eq!(decoded.start_time_unix_nano, 7);
        assert_eq!(decoded.time_unix_nano, 995);
        assert_eq!(decoded.count, 40);
        assert_eq!(decoded.sum, Some(6.5));
        assert_eq!(decoded.bucket_counts, vec![14, 26]);
    }

    #[test]
    fn signed_and_double_values_keep_their_bytes() {
        let mut stamps = Stamps::default();
        let point = NumberDataPoint {
            time_unix_nano: stamps.time(Duration::ZERO),
            value: Some(Value::AsInt(stamps.count(100, 1) as i64)),
            ..Default::default()
        };
        let template = stamps.finish(&point, 1).unwrap();
        let decoded = NumberDataPoint::decode(template.render(Clock {
            now_ns: 9,
            ticks: 2,
        }))
        .unwrap();
        assert_eq!(decoded.time_unix_nano, 9);
        assert_eq!(decoded.value, Some(Value::AsInt(102)));
    }

    #[test]
    fn a_lost_sentinel_is_an_error() {
        let mut stamps = Stamps::default();
        let _unused = stamps.time(Duration::ZERO);
        let error = stamps.finish(&NumberDataPoint::default(), 1).unwrap_err();
        assert!(error.to_string().contains("found 0 of 1"), "{error}");
    }
}
