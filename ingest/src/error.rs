//! Why a request was refused, independent of the protocol. The receivers
//! map it to an HTTP status or a gRPC code at the edge (see `otlp_http`
//! and `otlp_grpc`), following the OTLP specification on which failures an
//! exporter may retry.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// No or wrong bearer token: 401 / `UNAUTHENTICATED`.
    #[error("{0}")]
    Unauthenticated(String),
    /// The body cannot be decoded: 400 / `INVALID_ARGUMENT`; not retried.
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than the limit (after decompression): 413 /
    /// `RESOURCE_EXHAUSTED` without retry information; not retried.
    #[error("{0}")]
    TooLarge(String),
    /// An unsupported `Content-Type` or `Content-Encoding`: 415.
    #[error("{0}")]
    UnsupportedMedia(String),
    /// In-flight data is at its bound: 429 / `UNAVAILABLE` with a retry
    /// hint. Nothing of the request was stored.
    #[error("{reason}")]
    Overloaded {
        reason: String,
        retry_after: Duration,
    },
    /// The log cannot take data now (disk full, a failed partition,
    /// shutting down): 503 / `UNAVAILABLE` with a retry hint.
    #[error("{reason}")]
    Unavailable {
        reason: String,
        retry_after: Duration,
    },
    /// A bug or an unexpected failure: 500 / `INTERNAL`.
    #[error("{0}")]
    Internal(String),
}

impl IngestError {
    /// The label used for this outcome in `/metrics`.
    pub fn outcome(&self) -> &'static str {
        match self {
            IngestError::Unauthenticated(_) => "unauthenticated",
            IngestError::BadRequest(_) => "bad_request",
            IngestError::TooLarge(_) => "too_large",
            IngestError::UnsupportedMedia(_) => "unsupported_media",
            IngestError::Overloaded { .. } => "overloaded",
            IngestError::Unavailable { .. } => "unavailable",
            IngestError::Internal(_) => "internal",
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            IngestError::Overloaded { retry_after, .. }
            | IngestError::Unavailable { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}
