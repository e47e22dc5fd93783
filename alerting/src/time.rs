//! Time as rule files and the APIs write it: Prometheus durations
//! (`90s`, `1h30m`, `7d`) and RFC 3339 timestamps.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serializer};

/// Go's zero `time.Time`, which Alertmanager prints for "no end".
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Parses a Prometheus duration: one or more `<integer><unit>` with units
/// `ms`, `s`, `m`, `h`, `d`, `w`, `y` (365 days), largest first, or `0`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = |why: &str| format!("invalid duration {text:?}: {why}");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err(bad("empty"));
    }
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let mut rest = text;
    let mut total_ms: u64 = 0;
    let mut last_rank = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad("expected a number"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| bad("number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        let rank = UNITS
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(|| bad("units are ms, s, m, h, d, w and y"))?;
        if last_rank.is_some_and(|r| rank <= r) {
            return Err(bad("units must go from largest to smallest, each once"));
        }
        last_rank = Some(rank);
        total_ms = number
            .checked_mul(UNITS[rank].1)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(|| bad("too large"))?;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_millis(total_ms))
}

/// Formats a duration as Prometheus does (`1h30m`, `90ms`, `0s`).
pub fn format_duration(duration: Duration) -> String {
    let mut ms = duration.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("y", 365 * 86_400_000u64),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// Formats milliseconds since the epoch as RFC 3339 in UTC with
/// millisecond precision (`2026-12-06T19:13:17.123Z`).
pub fn format_rfc3339(ms: i64) -> String {
    if ms < 0 {
        return ZERO_TIME.into();
    }
    let at = UNIX_EPOCH + Duration::from_millis(ms as u64);
    humantime::format_rfc3339_millis(at).to_string()
}

/// Parses an RFC 3339 timestamp with `Z` or a `±hh:mm` offset and any
/// fraction of a second, to milliseconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let bad = || format!("invalid RFC 3339 timestamp {text:?}");
    let text = text.trim();
    let (local, offset_ms) = match text.rfind(['+', '-']) {
        Some(at) if at > 10 && text.len() - at == 6 => {
            let sign = if text.as_bytes()[at] == b'-' { -1 } else { 1 };
            let hours: i64 = text[at + 1..at + 3].parse().map_err(|_| bad())?;
            let minutes: i64 = text[at + 4..].parse().map_err(|_| bad())?;
            (&text[..at], sign * (hours * 60 + minutes) * 60_000)
        }
        _ => (text.strip_suffix(['Z', 'z']).ok_or_else(bad)?, 0),
    };
    let at = humantime::parse_rfc3339_weak(local).map_err(|_| bad())?;
    let ms = at
        .duration_since(UNIX_EPOCH)
        .map_err(|_| bad())?
        .as_millis() as i64;
    Ok(ms - offset_ms)
}

/// Milliseconds since the epoch of a `SystemTime`.
pub fn system_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Serde for `Duration` fields written as Prometheus durations.
pub mod prom_duration {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).map_err(serde::de::Error::custom)
    }

    pub fn serialize<S: Serializer>(duration: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*duration))
    }

    /// For `Option<Duration>` fields (with `#[serde(default)]`).
    pub mod option {
        use super::*;

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            let text = Option::<String>::deserialize(d)?;
            text.map(|t| parse_duration(&t).map_err(serde::de::Error::custom))
                .transpose()
        }

        pub fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(d) => s.serialize_str(&format_duration(*d)),
                None => s.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_durations() {
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(
            parse_duration("1y").unwrap(),
            Duration::from_secs(365 * 86400)
        );
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("5").unwrap_err().contains("units"));
        assert!(parse_duration("30m1h").unwrap_err().contains("largest"));
        assert!(parse_duration("1.5h").is_err());
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s500ms");
    }

    #[test]
    fn rfc3339_round_trip_and_offsets() {
        let ms = parse_rfc3339("2026-12-06T19:13:17.123Z").unwrap();
        assert_eq!(format_rfc3339(ms), "2026-12-06T19:13:17.123Z");
        assert_eq!(parse_rfc3339("2026-12-06T20:13:17.123+01:00").unwrap(), ms);
        assert_eq!(parse_rfc3339("2026-12-06T18:13:17.123-01:00").unwrap(), ms);
        assert!(parse_rfc3339("yesterday").is_err());
        assert_eq!(format_rfc3339(-1), ZERO_TIME);
    }
}
