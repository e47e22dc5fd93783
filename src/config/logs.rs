//! `[logs]`: the log index (tantivy), mapped onto
//! `aggregator::logs::store::LogIndexConfig`; and `[query]`: the bounds
//! every query runs under, mapped onto `aggregator::query::QueryLimits`.

use std::time::Duration;

use aggregator::logs::store::LogIndexConfig;
use aggregator::query::QueryLimits;
use serde::Deserialize;

use super::ConfigError;
use super::topic::Retention;

/// `[logs]` as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    deny_unknown_fields,
    default,
    expecting = "a table of log index settings"
)]
pub struct RawLogs {
    #[serde(with = "humantime_serde")]
    pub commit_interval: Duration,
    pub commit_docs: usize,
    #[serde(with = "humantime_serde")]
    pub split_duration: Duration,
    pub retention: Retention,
    pub writer_memory_bytes: usize,
    pub max_open_splits: usize,
}

impl Default for RawLogs {
    /// The aggregator's defaults, so that they are defined once.
    fn default() -> Self {
        let config = LogIndexConfig::default();
        RawLogs {
            commit_interval: config.commit_interval,
            commit_docs: config.commit_docs,
            split_duration: config.split_duration,
            retention: config.retention.map_or(Retention::Forever, Retention::For),
            writer_memory_bytes: config.writer_memory_bytes,
            max_open_splits: config.max_open_splits,
        }
    }
}

impl RawLogs {
    pub fn validate(&self) -> Result<LogIndexConfig, ConfigError> {
        let config = LogIndexConfig {
            commit_interval: self.commit_interval,
            commit_docs: self.commit_docs,
            split_duration: self.split_duration,
            retention: match self.retention {
                Retention::Forever => None,
                Retention::For(age) => Some(age),
            },
            writer_memory_bytes: self.writer_memory_bytes,
            max_open_splits: self.max_open_splits,
        };
        config
            .validate()
            .map_err(|e| ConfigError::field(format!("logs.{}", e.key), e.reason))?;
        Ok(config)
    }
}

/// `[query]` as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a table of query limits")]
pub struct RawQuery {
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    pub max_series: usize,
    pub max_samples: usize,
    pub max_hits: usize,
}

impl Default for RawQuery {
    fn default() -> Self {
        let limits = QueryLimits::default();
        RawQuery {
            timeout: limits.timeout,
            max_series: limits.max_series,
            max_samples: limits.max_samples,
            max_hits: limits.max_hits,
        }
    }
}

impl RawQuery {
    pub fn validate(&self) -> Result<QueryLimits, ConfigError> {
        let field = |name: &str| ConfigError::field(format!("query.{name}"), "must be more than 0");
        if self.timeout.is_zero() {
            return Err(field("timeout"));
        }
        if self.max_series == 0 {
            return Err(field("max_series"));
        }
        if self.max_samples == 0 {
            return Err(field("max_samples"));
        }
        if self.max_hits == 0 {
            return Err(field("max_hits"));
        }
        Ok(QueryLimits {
            timeout: self.timeout,
            max_series: self.max_series,
            max_samples: self.max_samples,
            max_hits: self.max_hits,
        })
    }
}
