//! Errors of the read API and their HTTP status codes.
//!
//! A query that does not parse or cannot run as asked is the client's
//! (400), a limit is the client's to narrow (422 for too much, 503 for a
//! timeout, as Prometheus and Loki answer), anything else is ours (500).
//! The native API answers `{"error": "..."}`; the Loki API answers the
//! message as plain text, as Loki does.

use aggregator::AggregatorError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tracing::error;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: message.into(),
        }
    }

    /// Loki's rendering: the message as text.
    pub fn into_text(self) -> Response {
        (self.status, format!("{}\n", self.message)).into_response()
    }
}

impl From<AggregatorError> for ApiError {
    fn from(e: AggregatorError) -> ApiError {
        let status = match &e {
            AggregatorError::Parse { .. } | AggregatorError::BadRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            AggregatorError::TooMany { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AggregatorError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => {
                error!(error = %e, "query failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError {
            status,
            message: e.to_string(),
        }
    }
}

/// The native rendering: `{"error": "..."}`.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

/// Runs a blocking query on a blocking thread.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AggregatorError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(e) => Err(ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("query task failed: {e}"),
        }),
    }
}
