//! The JSON envelopes of the HTTP API, shared by the server and the CLI:
//! Prometheus' `{"status": "success", "data": ...}` and its error shape.

use serde::{Deserialize, Serialize};

/// `{"status": "success", "data": ...}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Success<T> {
    pub status: String,
    pub data: T,
}

impl<T> Success<T> {
    pub fn new(data: T) -> Success<T> {
        Success {
            status: "success".to_owned(),
            data,
        }
    }
}

/// `{"status": "error", "errorType": ..., "error": ...}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub status: String,
    pub error_type: String,
    pub error: String,
}

impl Failure {
    pub fn new(error_type: &str, error: impl Into<String>) -> Failure {
        Failure {
            status: "error".to_owned(),
            error_type: error_type.to_owned(),
            error: error.into(),
        }
    }
}
