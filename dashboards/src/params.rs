//! Request parameters: the query string, plus a form-encoded (or, for the
//! native API, JSON) body on POST, as one list of name/value pairs —
//! Prometheus and Loki accept both and Grafana sends either.
//!
//! Times follow Loki: an integer of at most 10 digits is Unix seconds, a
//! longer one Unix nanoseconds, a decimal is fractional seconds, anything
//! else RFC 3339. Durations are Prometheus-style (`90s`, `5m`, `1h30m`) or
//! fractional seconds.

use std::time::UNIX_EPOCH;

pub use aggregator::clock::now_nanos;

/// The range of a request that gives neither `start` nor `since`: the
/// last hour, as Loki's.
const DEFAULT_SINCE_NANOS: i64 = 3_600 * 1_000_000_000;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;

use crate::error::ApiError;

/// Name/value pairs of a request, in order; a name may repeat (`match[]`).
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Params, ApiError> {
        let mut pairs: Vec<(String, String)> = request
            .uri()
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
        if content_type.starts_with("application/x-www-form-urlencoded") {
            pairs.extend(form_urlencoded::parse(&body).into_owned());
        } else if content_type.starts_with("application/json") && !body.is_empty() {
            let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&body)
                .map_err(|e| {
                    ApiError::bad_request(format!("request body is not a JSON object: {e}"))
                })?;
            for (name, value) in object {
                let text = match value {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Null => continue,
                    other => other.to_string(),
                };
                pairs.push((name, text));
            }
        }
        Ok(Params(pairs))
    }
}

impl Params {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Params {
        Params(pairs)
    }

    /// The last value of `name` (a later one overrides an earlier one).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A required parameter.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::bad_request(format!("missing parameter {name:?}")))
    }

    /// A time parameter in nanoseconds, or `default` when absent.
    pub fn time(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(name).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(text) => parse_time(text).ok_or_else(|| {
                ApiError::bad_request(format!("{name}: cannot parse {text:?} as a time"))
            }),
        }
    }

    /// A duration parameter in nanoseconds, if present.
    pub fn duration(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(text) => parse_duration(text).map(Some).ok_or_else(|| {
                ApiError::bad_request(format!("{name}: cannot parse {text:?} as a duration"))
            }),
        }
    }

    /// `[start, end)` of a request, as Loki reads it: `end` defaults to
    /// now, `start` to `end` minus `since` (default 1 h).
    pub fn range(&self) -> Result<(i64, i64), ApiError> {
        let end = self.time("end", now_nanos())?;
        let since = self.duration("since")?.unwrap_or(DEFAULT_SINCE_NANOS);
        let start = self.time("start", end.saturating_sub(since))?;
        if end < start {
            return Err(ApiError::bad_request(
                "the end timestamp must not be before the start time",
            ));
        }
        Ok((start, end))
    }

    /// A non-negative integer parameter, or `default`.
    pub fn usize(&self, name: &str, default: usize) -> Result<usize, ApiError> {
        match self.get(name).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(text) => text.parse().map_err(|_| {
                ApiError::bad_request(format!("{name}: {text:?} is not a non-negative integer"))
            }),
        }
    }
}

/// Parses a time as Loki does (see the module doc).
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if text == "now" {
        return Some(now_nanos());
    }
    if text.contains('.') && !text.contains('-') {
        if let Some(nanos) = decimal_seconds(text) {
            return Some(nanos);
        }
        let seconds: f64 = text.parse().ok()?;
        return seconds
            .is_finite()
            .then(|| (seconds * 1e9).clamp(i64::MIN as f64, i64::MAX as f64) as i64);
    }
    if let Ok(number) = text.parse::<i64>() {
        let digits = text.trim_start_matches('-').len();
        return Some(if digits <= 10 {
            number.saturating_mul(1_000_000_000)
        } else {
            number
        });
    }
    let time = humantime::parse_rfc3339_weak(text).ok()?;
    let nanos = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).ok()?,
        Err(before) => -i64::try_from(before.duration().as_nanos()).ok()?,
    };
    Some(nanos)
}

/// `<seconds>.<fraction>` read exactly: an f64 holds today's Unix time in
/// nanoseconds only to 256 ns, so `1700000000.25` would become
/// `...249999872` and its millisecond `.249`. Digits past nanoseconds are
/// dropped; `None` when `text` is not plain digits around one dot.
fn decimal_seconds(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.')?;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    let padded: String = fraction
        .chars()
        .chain(std::iter::repeat('0'))
        .take(9)
        .collect();
    let nanos: i64 = padded.parse().ok()?;
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos)
}

/// Parses a duration: `1h30m`, `250ms`, `1d`, `1w`, or fractional seconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then_some((seconds * 1e9) as i64);
    }
    let mut total: i64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            "w" => 604_800_000_000_000,
            "y" => 31_536_000_000_000_000,
            _ => return None,
        };
        total = total.checked_add(number.checked_mul(unit)?)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_loki_does() {
        assert_eq!(parse_time("1700000000"), Some(1_700_000_000_000_000_000));
        assert_eq!(
            parse_time("1700000000123456789"),
            Some(1_700_000_000_123_456_789)
        );
        assert_eq!(parse_time("1700000000.5"), Some(1_700_000_000_500_000_000));
        assert_eq!(parse_time("1700000000.25"), Some(1_700_000_000_250_000_000));
        assert_eq!(
            parse_time("1700000000.001"),
            Some(1_700_000_000_001_000_000)
        );
        assert_eq!(
            parse_time("1700000000.1234567891"),
            Some(1_700_000_000_123_456_789)
        );
        assert_eq!(parse_time("1.7e9"), Some(1_700_000_000_000_000_000));
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z"),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn durations_parse_as_prometheus_does() {
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_duration("15"), Some(15_000_000_000));
        assert_eq!(parse_duration("1.5"), Some(1_500_000_000));
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("m"), None);
    }
}
