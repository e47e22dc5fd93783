//! The aggregator's error type. HTTP status codes are chosen at the edge
//! (`dashboards`), from the variant: a bad query is the client's fault, a
//! limit is the client's to narrow, storage failures are ours.

use std::time::Duration;

use log_core::LogError;

pub type Result<T, E = AggregatorError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum AggregatorError {
    /// A query that does not parse; `position` is a byte offset into it.
    #[error("parse error at position {position}: {message}")]
    Parse { position: usize, message: String },

    /// A query or request that parses but cannot be run as asked.
    #[error("bad request: {0}")]
    BadRequest(String),

    /// A query ran past its deadline.
    #[error("query timed out after {0:?}; narrow the time range or the selector")]
    Timeout(Duration),

    /// A query would exceed a configured bound (series, samples, hits).
    #[error(
        "query would exceed the limit of {limit} {what}; narrow the time range or the selector"
    )]
    TooMany { what: &'static str, limit: usize },

    /// Bytes read from our own files that do not decode.
    #[error("corrupt {what}: {detail}")]
    Corruption { what: String, detail: String },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// A failure of the log index (tantivy) that is not about bytes read.
    #[error("{context}: {source}")]
    Index {
        context: String,
        #[source]
        source: tantivy::TantivyError,
    },

    #[error(transparent)]
    Log(#[from] LogError),
}

impl AggregatorError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> AggregatorError {
        AggregatorError::Io {
            context: context.into(),
            source,
        }
    }

    pub fn index(
        context: impl Into<String>,
        source: impl Into<tantivy::TantivyError>,
    ) -> AggregatorError {
        AggregatorError::Index {
            context: context.into(),
            source: source.into(),
        }
    }
}
