//! Who a read request is for.
//!
//! With bearer tokens configured (the same `[[ingest.tokens]]` that ingest
//! checks), a request must carry one and sees only its tenant's data.
//! Without tokens, Loki's `X-Scope-OrgID` header names the tenant, and a
//! request without it reads tenant `default` — the tenant ingest stamps
//! when it has no tokens.

use std::collections::HashMap;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use crate::error::ApiError;

pub use log_core::DEFAULT_TENANT;

/// Loki's and Mimir's tenant header.
pub const ORG_ID_HEADER: &str = "x-scope-orgid";

#[derive(Debug, Clone, Default)]
pub struct Tenancy {
    /// token → tenant; empty means no authentication.
    tokens: HashMap<String, String>,
}

impl Tenancy {
    pub fn new(tokens: HashMap<String, String>) -> Tenancy {
        Tenancy { tokens }
    }

    /// The tenant `headers` authenticate as.
    pub fn tenant(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        if self.tokens.is_empty() {
            return Ok(headers
                .get(ORG_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .unwrap_or(DEFAULT_TENANT)
                .to_owned());
        }
        let token = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
        self.tokens
            .get(token.trim())
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("unknown bearer token"))
    }
}
