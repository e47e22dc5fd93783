//! What every integration's configuration shares: an absolute `http(s)`
//! URL, custom headers and a timeout, and their validation.
//!
//! Invariants after [`validate_url`], [`validate_headers`] and
//! [`validate_timeout`] succeed: the URL parses with a host, every custom
//! header is a valid HTTP header that does not collide with what the
//! transport sets itself (framing, hop-by-hop and signing headers), there
//! are at most [`MAX_HEADERS`] of them, and the timeout lies in
//! `(0, MAX_TIMEOUT]`.

use std::collections::BTreeMap;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::error::{AlertingError, Result};

/// Custom headers of an integration, by name.
pub type Headers = BTreeMap<String, String>;

/// Enough for authentication and routing headers; a receiver that needs
/// more is misconfigured.
pub const MAX_HEADERS: usize = 32;

/// A header value larger than this (a bearer token is well below) is a
/// configuration mistake and would be refused by most servers anyway.
pub const MAX_HEADER_VALUE: usize = 8 * 1024;

/// URLs longer than this are refused by common servers and proxies.
pub const MAX_URL: usize = 2048;

/// An attempt that takes longer holds an outbox worker for too long.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// The default per-attempt timeout, as Alertmanager's HTTP client.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

pub fn default_timeout() -> Duration {
    DEFAULT_TIMEOUT
}

pub fn default_true() -> bool {
    true
}

/// Headers the transport sets or that describe the connection rather
/// than the message; a custom value would break framing or signing.
const RESERVED: [&str; 15] = [
    "connection",
    "content-length",
    "content-type",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

/// Checks that `url` is an absolute `http` or `https` URL with a host.
pub fn validate_url(url: &str, path: &str) -> Result<()> {
    let invalid = |message: String| Err(AlertingError::invalid(path, message));
    if url.is_empty() {
        return invalid("required".into());
    }
    if url.len() > MAX_URL {
        return invalid(format!("longer than {MAX_URL} bytes"));
    }
    let parsed = match reqwest::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(e) => return invalid(format!("not an absolute URL: {e}")),
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return invalid(format!(
            "scheme {:?} is not supported, use http or https",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return invalid("has no host".into());
    }
    Ok(())
}

/// Checks custom headers; errors name `path.<header>`.
pub fn validate_headers(headers: &Headers, path: &str) -> Result<()> {
    if headers.len() > MAX_HEADERS {
        return Err(AlertingError::invalid(
            path,
            format!(
                "{} headers, at most {MAX_HEADERS} are allowed",
                headers.len()
            ),
        ));
    }
    for (name, value) in headers {
        let at = format!("{path}.{name}");
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(AlertingError::invalid(at, "not a valid header name"));
        }
        if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(AlertingError::invalid(
                at,
                "reserved header, set by the transport",
            ));
        }
        if value.len() > MAX_HEADER_VALUE {
            return Err(AlertingError::invalid(
                at,
                format!("value longer than {MAX_HEADER_VALUE} bytes"),
            ));
        }
        if HeaderValue::from_str(value).is_err() {
            return Err(AlertingError::invalid(
                at,
                "value has characters not allowed in a header",
            ));
        }
    }
    Ok(())
}

/// Checks that a timeout is positive and at most [`MAX_TIMEOUT`].
pub fn validate_timeout(timeout: Duration, path: &str) -> Result<()> {
    if timeout.is_zero() {
        return Err(AlertingError::invalid(path, "must be positive"));
    }
    if timeout > MAX_TIMEOUT {
        return Err(AlertingError::invalid(
            path,
            format!(
                "must be at most {}",
                crate::time::format_duration(MAX_TIMEOUT)
            ),
        ));
    }
    Ok(())
}

/// Validated custom headers as a header map (re-checked, since a
/// configuration may reach here without `validate`).
pub fn header_map(headers: &Headers) -> std::result::Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("headers.{name}: not a valid header name"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("headers.{name}: not a valid header value"))?;
        map.insert(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_absolute_http() {
        assert!(validate_url("https://example.com/hook", "u").is_ok());
        assert!(validate_url("http://127.0.0.1:9093", "u").is_ok());
        let err = validate_url("example.com/hook", "a.url").unwrap_err();
        assert!(err.to_string().starts_with("a.url: not an absolute URL"));
        let err = validate_url("ftp://example.com", "a.url").unwrap_err();
        assert!(err.to_string().contains("scheme \"ftp\""));
        assert!(validate_url("", "a.url").unwrap_err().to_string() == "a.url: required");
    }

    #[test]
    fn reserved_and_malformed_headers_are_refused() {
        let headers = |name: &str, value: &str| Headers::from([(name.into(), value.into())]);
        assert!(validate_headers(&headers("Authorization", "Bearer x"), "h").is_ok());
        for name in [
            "Content-Length",
            "Host",
            "webhook-signature",
            "Transfer-Encoding",
        ] {
            let err = validate_headers(&headers(name, "x"), "h").unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("h.{name}: reserved header, set by the transport")
            );
        }
        assert!(validate_headers(&headers("bad name", "x"), "h").is_err());
        assert!(validate_headers(&headers("X-A", "line\nbreak"), "h").is_err());
        let many: Headers = (0..=MAX_HEADERS)
            .map(|i| (format!("x-{i}"), "v".into()))
            .collect();
        assert!(validate_headers(&many, "h").is_err());
    }
}
