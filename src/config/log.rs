//! `[log]`: the durable log, mapped onto `log_core::LogConfig`, with its
//! two topic sections.

use std::time::Duration;

use log_core::{CleanupPolicy, Durability, LogConfig, TopicConfig};
use serde::Deserialize;

use super::{ConfigError, RawTopic};

/// How long telemetry is kept unless configured. Telemetry is high volume
/// and mostly read while fresh; three days cover a weekend's incident review
/// while keeping the disk bounded.
pub const TELEMETRY_RETENTION: Duration = Duration::from_secs(3 * 24 * 3600);
/// Segment age of telemetry topics unless configured. Retention deletes
/// whole sealed segments, so with the general one-day segments up to a day
/// more than `retention` would stay on disk; hourly segments free space in
/// hourly steps.
pub const TELEMETRY_SEGMENT_AGE: Duration = Duration::from_secs(3600);
/// Partitions of telemetry topics unless configured: one aggregator worker
/// per partition, and four keep the two cores of a small appliance busy
/// with room to grow.
pub const TELEMETRY_PARTITIONS: u32 = 4;

/// `[log]` as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a table of log settings")]
pub struct RawLog {
    pub durability: Durability,
    #[serde(with = "humantime_serde")]
    pub group_commit_window: Duration,
    pub sync_threads: usize,
    pub max_record_bytes: usize,
    pub max_batch_bytes: usize,
    pub zstd_level: i32,
    #[serde(with = "humantime_serde")]
    pub cleanup_interval: Duration,
    pub compaction_max_keys: usize,
    pub topic_defaults: RawTopic,
    pub telemetry_topics: RawTopic,
}

impl Default for RawLog {
    /// The defaults are log-core's, so that they are defined once.
    fn default() -> Self {
        let log = LogConfig::default();
        RawLog {
            durability: log.durability,
            group_commit_window: log.group_commit_window,
            sync_threads: log.sync_threads,
            max_record_bytes: log.max_record_bytes,
            max_batch_bytes: log.max_batch_bytes,
            zstd_level: log.zstd_level,
            cleanup_interval: log.cleanup_interval,
            compaction_max_keys: log.compaction_max_keys,
            topic_defaults: RawTopic::default(),
            telemetry_topics: RawTopic::default(),
        }
    }
}

impl RawLog {
    /// Returns the log settings and the telemetry topics' settings.
    pub fn validate(&self) -> Result<(LogConfig, TopicConfig), ConfigError> {
        // Topic sections first: `LogConfig::validate` also checks
        // `topic_defaults` but reports its keys without the section.
        let topic_defaults = self
            .topic_defaults
            .resolve(&LogConfig::default().topic_defaults, "log.topic_defaults")?;
        let telemetry = self
            .telemetry_topics
            .resolve(&telemetry_base(&topic_defaults), "log.telemetry_topics")?;
        if telemetry.cleanup_policy == CleanupPolicy::Compact {
            return Err(ConfigError::field(
                "log.telemetry_topics.cleanup_policy",
                "must be \"delete\": compaction would keep only the latest record per service",
            ));
        }
        if self.compaction_max_keys == 0 {
            return Err(ConfigError::field(
                "log.compaction_max_keys",
                "must be positive",
            ));
        }
        let log = LogConfig {
            durability: self.durability,
            group_commit_window: self.group_commit_window,
            sync_threads: self.sync_threads,
            max_record_bytes: self.max_record_bytes,
            max_batch_bytes: self.max_batch_bytes,
            zstd_level: self.zstd_level,
            cleanup_interval: self.cleanup_interval,
            compaction_max_keys: self.compaction_max_keys,
            topic_defaults,
        };
        log.validate()
            .map_err(|e| ConfigError::from_log("log", e))?;
        Ok((log, telemetry))
    }
}

/// What `[log.telemetry_topics]` keys default to: the resolved
/// `topic_defaults` with the telemetry overrides above.
pub fn telemetry_base(topic_defaults: &TopicConfig) -> TopicConfig {
    TopicConfig {
        partitions: TELEMETRY_PARTITIONS,
        retention: Some(TELEMETRY_RETENTION),
        segment_age: TELEMETRY_SEGMENT_AGE,
        ..topic_defaults.clone()
    }
}
