//! HTTP for receivers: the shared client (reqwest's rustls with its
//! default provider and the platform's roots), one POST per attempt, and the
//! classification of its result into an [`Outcome`].
//!
//! Classification: 2xx delivered; network errors, timeouts, 408, 429 and
//! 5xx retryable (honouring `Retry-After`); 410 gone; every other status
//! rejected. At most [`MAX_EXCERPT`] bytes of a response body are read,
//! so a misbehaving receiver cannot make us buffer without bound.

use std::error::Error as _;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::{Outcome, retry_after};

/// How much of an error response is kept in the attempt's record: enough
/// for `{"status":"invalid event","errors":[...]}`, small enough to store
/// with every attempt.
pub const MAX_EXCERPT: usize = 512;

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("Weir/", env!("CARGO_PKG_VERSION"));

/// One rendered attempt: the same URL, headers and body on every retry
/// except for per-attempt signing headers.
#[derive(Debug, Clone)]
pub struct Request {
    pub url: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub timeout: Duration,
}

/// Builds an HTTP client for receivers. `timeout` bounds each request
/// unless the integration sets its own. Redirects are not followed: a
/// receiver's configured URL must be the one that answers.
pub fn client(timeout: Duration) -> reqwest::Client {
    let builder = || {
        reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
    };
    match builder().build() {
        Ok(client) => client,
        Err(error) => {
            // The platform verifier could not start (no usable trust
            // store): keep plain http working and let https attempts fail
            // certificate checks, which are recorded as retryable errors.
            tracing::error!(%error, "receiver TLS roots unavailable, https deliveries will fail");
            builder()
                .tls_certs_only(std::iter::empty())
                .build()
                .unwrap_or_default()
        }
    }
}

/// Sends `request` once and classifies the answer.
pub async fn post(client: &reqwest::Client, request: Request, now_ms: i64) -> Outcome {
    let mut headers = request.headers;
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
    let sent = client
        .post(&request.url)
        .headers(headers)
        .timeout(request.timeout)
        .body(request.body)
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(error) => {
            return Outcome::Retryable {
                status: None,
                error: describe(&error),
                retry_after: None,
            };
        }
    };
    let status = response.status();
    if status.is_success() {
        return Outcome::Delivered {
            status: status.as_u16(),
        };
    }
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry_after::parse(v, now_ms));
    let excerpt = read_excerpt(&mut response).await;
    classify(status, &excerpt, retry_after)
}

/// The outcome of a non-2xx answer.
pub fn classify(status: StatusCode, excerpt: &str, retry_after: Option<Duration>) -> Outcome {
    let code = status.as_u16();
    let error = if excerpt.is_empty() {
        format!("HTTP {code}")
    } else {
        format!("HTTP {code}: {excerpt}")
    };
    match code {
        200..=299 => Outcome::Delivered { status: code },
        408 | 429 | 500..=599 => Outcome::Retryable {
            status: Some(code),
            error,
            retry_after,
        },
        410 => Outcome::Gone { error },
        _ => Outcome::Rejected {
            status: Some(code),
            error,
        },
    }
}

/// Up to [`MAX_EXCERPT`] bytes of the body, whitespace collapsed, cut on
/// a character boundary. A body that fails mid-way keeps what arrived.
async fn read_excerpt(response: &mut reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < MAX_EXCERPT {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    bytes.truncate(MAX_EXCERPT);
    let text = String::from_utf8_lossy(&bytes);
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate(&collapsed, MAX_EXCERPT).to_owned()
}

/// A reqwest error with its causes (`connection refused`, `timed out`),
/// bounded like an excerpt.
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connect failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    truncate(&text, MAX_EXCERPT).to_owned()
}

/// The longest prefix of `text` of at most `max` bytes that ends on a
/// character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        let of = |code: u16| classify(StatusCode::from_u16(code).unwrap(), "x", None);
        assert_eq!(of(204), Outcome::Delivered { status: 204 });
        for code in [408, 429, 500, 502, 503] {
            assert!(matches!(of(code), Outcome::Retryable { .. }), "{code}");
        }
        assert!(matches!(of(410), Outcome::Gone { .. }));
        for code in [301, 400, 401, 403, 404, 413, 422] {
            assert!(matches!(of(code), Outcome::Rejected { .. }), "{code}");
        }
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, "invalid routing key", None),
            Outcome::Rejected {
                status: Some(400),
                error: "HTTP 400: invalid routing key".into()
            }
        );
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
