//! `[ingest]`: limits, backpressure and bearer tokens of the OTLP
//! receivers, mapped onto `ingest::PipelineConfig` and `ingest::Auth`.

use std::collections::HashMap;
use std::time::Duration;

use ingest::{Limits, PipelineConfig};
use serde::Deserialize;

use super::ConfigError;

/// `[ingest]` as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a table of ingest settings")]
pub struct RawIngest {
    pub max_request_bytes: usize,
    pub max_inflight_bytes: usize,
    pub max_attributes: usize,
    pub max_attribute_value_bytes: usize,
    #[serde(with = "humantime_serde")]
    pub retry_after: Duration,
    pub tokens: Vec<RawToken>,
}

/// One `[[ingest.tokens]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table with token and tenant")]
pub struct RawToken {
    pub token: String,
    pub tenant: String,
}

impl Default for RawIngest {
    /// The defaults are the ingest crate's, so that they are defined once.
    fn default() -> Self {
        let pipeline = PipelineConfig::default();
        RawIngest {
            max_request_bytes: pipeline.limits.max_request_bytes,
            max_inflight_bytes: pipeline.max_inflight_bytes,
            max_attributes: pipeline.limits.max_attributes,
            max_attribute_value_bytes: pipeline.limits.max_attribute_value_bytes,
            retry_after: pipeline.retry_after,
            tokens: Vec::new(),
        }
    }
}

/// Validated `[ingest]`.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestSettings {
    pub pipeline: PipelineConfig,
    /// token → tenant; empty means no authentication.
    pub tokens: HashMap<String, String>,
}

impl RawIngest {
    pub fn validate(&self) -> Result<IngestSettings, ConfigError> {
        let field =
            |name: &str, reason: String| ConfigError::field(format!("ingest.{name}"), reason);
        if !(1024..=1 << 30).contains(&self.max_request_bytes) {
            return Err(field(
                "max_request_bytes",
                format!("{} is not in 1024..=1073741824", self.max_request_bytes),
            ));
        }
        if self.max_inflight_bytes < self.max_request_bytes {
            return Err(field(
                "max_inflight_bytes",
                format!(
                    "{} is smaller than max_request_bytes ({})",
                    self.max_inflight_bytes, self.max_request_bytes
                ),
            ));
        }
        if self.max_attributes == 0 {
            return Err(field("max_attributes", "must be positive".into()));
        }
        if self.max_attribute_value_bytes == 0 {
            return Err(field(
                "max_attribute_value_bytes",
                "must be positive".into(),
            ));
        }
        if self.retry_after.is_zero() || self.retry_after > Duration::from_secs(3600) {
            return Err(field("retry_after", "must be between 1ms and 1h".into()));
        }
        let mut tokens = HashMap::new();
        for (i, entry) in self.tokens.iter().enumerate() {
            if entry.token.len() < 8 || entry.token.chars().any(char::is_whitespace) {
                return Err(field(
                    &format!("tokens[{i}].token"),
                    "must be at least 8 characters without spaces".into(),
                ));
            }
            // Tenants name keys of the log index's label field, where
            // control characters separate path segments.
            if entry.tenant.is_empty() || entry.tenant.chars().any(char::is_control) {
                return Err(field(
                    &format!("tokens[{i}].tenant"),
                    "must not be empty or hold control characters".into(),
                ));
            }
            if tokens
                .insert(entry.token.clone(), entry.tenant.clone())
                .is_some()
            {
                return Err(field(
                    &format!("tokens[{i}].token"),
                    "is listed twice".into(),
                ));
            }
        }
        Ok(IngestSettings {
            pipeline: PipelineConfig {
                limits: Limits {
                    max_request_bytes: self.max_request_bytes,
                    max_attributes: self.max_attributes,
                    max_attribute_value_bytes: self.max_attribute_value_bytes,
                },
                max_inflight_bytes: self.max_inflight_bytes,
                retry_after: self.retry_after,
            },
            tokens,
        })
    }
}
