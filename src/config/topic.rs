//! `[log.topic_defaults]` and `[log.telemetry_topics]`: the settings a topic
//! is created with, mapped onto `log_core::TopicConfig`.
//!
//! Every key is optional; an unset key takes its value from a base config
//! (the built-in defaults for `topic_defaults`; the resolved
//! `topic_defaults` with telemetry overrides for `telemetry_topics`, see
//! [`super::log`]).
//!
//! Values:
//! - durations are humantime strings: `"90s"`, `"1h"`, `"3d"`;
//! - `retention` is a duration or `"forever"` (no time limit);
//! - `retention_bytes` is a positive integer or `"unlimited"` (no size
//!   limit). TOML has no null, so "no limit" is spelt out.

use std::fmt;
use std::time::Duration;

use log_core::{CleanupPolicy, TopicConfig};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::ConfigError;

/// Settings of topics as written; `None` means "take it from the base".
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a table of topic settings")]
pub struct RawTopic {
    pub partitions: Option<u32>,
    pub retention: Option<Retention>,
    pub retention_bytes: Option<RetentionBytes>,
    pub segment_bytes: Option<u64>,
    #[serde(with = "humantime_serde")]
    pub segment_age: Option<Duration>,
    pub index_interval_bytes: Option<u32>,
    pub cleanup_policy: Option<CleanupPolicy>,
    #[serde(with = "humantime_serde")]
    pub delete_retention: Option<Duration>,
}

impl RawTopic {
    /// Fills unset keys from `base` and validates the result; errors name
    /// `section.key`.
    pub fn resolve(&self, base: &TopicConfig, section: &str) -> Result<TopicConfig, ConfigError> {
        let config = TopicConfig {
            partitions: self.partitions.unwrap_or(base.partitions),
            retention: match self.retention {
                None => base.retention,
                Some(Retention::Forever) => None,
                Some(Retention::For(age)) => Some(age),
            },
            retention_bytes: match self.retention_bytes {
                None => base.retention_bytes,
                Some(RetentionBytes::Unlimited) => None,
                Some(RetentionBytes::Bytes(bytes)) => Some(bytes),
            },
            segment_bytes: self.segment_bytes.unwrap_or(base.segment_bytes),
            segment_age: self.segment_age.unwrap_or(base.segment_age),
            index_interval_bytes: self
                .index_interval_bytes
                .unwrap_or(base.index_interval_bytes),
            cleanup_policy: self.cleanup_policy.unwrap_or(base.cleanup_policy),
            delete_retention: self.delete_retention.unwrap_or(base.delete_retention),
        };
        // Checked here rather than by log-core for a message that fits the
        // file's spelling of "no limit".
        if config.retention == Some(Duration::ZERO) {
            return Err(ConfigError::field(
                format!("{section}.retention"),
                "must be positive (use \"forever\" for no time limit)",
            ));
        }
        if config.retention_bytes == Some(0) {
            return Err(ConfigError::field(
                format!("{section}.retention_bytes"),
                "must be positive (use \"unlimited\" for no size limit)",
            ));
        }
        config
            .validate()
            .map_err(|e| ConfigError::from_log(section, e))?;
        Ok(config)
    }
}

/// `retention`: how long data is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    Forever,
    For(Duration),
}

impl<'de> Deserialize<'de> for Retention {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(RetentionVisitor)
    }
}

struct RetentionVisitor;

impl Visitor<'_> for RetentionVisitor {
    type Value = Retention;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration like \"3d\" or \"forever\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Retention, E> {
        if text == "forever" {
            return Ok(Retention::Forever);
        }
        humantime::parse_duration(text)
            .map(Retention::For)
            .map_err(|e| {
                E::custom(format!(
                    "{text:?} is neither a duration like \"3d\" nor \"forever\" ({e})"
                ))
            })
    }
}

/// `retention_bytes`: how large a partition may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionBytes {
    Unlimited,
    Bytes(u64),
}

impl<'de> Deserialize<'de> for RetentionBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RetentionBytesVisitor)
    }
}

struct RetentionBytesVisitor;

impl Visitor<'_> for RetentionBytesVisitor {
    type Value = RetentionBytes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number of bytes or \"unlimited\"")
    }

    fn visit_u64<E: de::Error>(self, bytes: u64) -> Result<RetentionBytes, E> {
        Ok(RetentionBytes::Bytes(bytes))
    }

    fn visit_i64<E: de::Error>(self, bytes: i64) -> Result<RetentionBytes, E> {
        u64::try_from(bytes)
            .map(RetentionBytes::Bytes)
            .map_err(|_| {
                E::custom(format!(
                    "{bytes} is negative (use \"unlimited\" for no size limit)"
                ))
            })
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<RetentionBytes, E> {
        match text {
            "unlimited" => Ok(RetentionBytes::Unlimited),
            _ => Err(E::invalid_value(de::Unexpected::Str(text), &self)),
        }
    }
}
