//! The stored records of the outbox: an [`Entry`] per pending
//! (notification, integration) in the outbox topic, a [`DisabledRecord`]
//! per endpoint that answered 410 in the state topic, and the retry
//! schedule computed from an entry's attempt count.
//!
//! Decoding is strict about what makes an entry usable (its key matches
//! its content, the version is one this build writes) and lenient about
//! unknown fields, so an older build reads values a newer one extended.

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{AlertingError, Result};
use crate::model::Notification;

use super::config::OutboxConfig;

/// The entry format written by this build; loading accepts it and older.
const VERSION: u32 = 1;

/// Prefix of disabled endpoints' keys in the state topic.
pub const DISABLED_PREFIX: &str = "disabled/";

/// The outbox key of `notification_id` for `integration_id`.
pub fn entry_key(notification_id: &str, integration_id: &str) -> String {
    format!("{notification_id}/{integration_id}")
}

/// The state key of a disabled integration.
pub fn disabled_key(integration_id: &str) -> String {
    format!("{DISABLED_PREFIX}{integration_id}")
}

/// One notification for one integration, not yet finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(default = "first_version")]
    pub version: u32,
    pub notification: Notification,
    pub integration_id: String,
    pub enqueued_at_ms: i64,
    /// Attempts made so far.
    pub attempts: u32,
    pub next_attempt_ms: i64,
    #[serde(default)]
    pub last_error: Option<String>,
}

fn first_version() -> u32 {
    1
}

impl Entry {
    /// A fresh entry, due at once.
    pub fn new(notification: Notification, integration_id: String, now_ms: i64) -> Entry {
        Entry {
            version: VERSION,
            notification,
            integration_id,
            enqueued_at_ms: now_ms,
            attempts: 0,
            next_attempt_ms: now_ms,
            last_error: None,
        }
    }

    pub fn key(&self) -> String {
        entry_key(&self.notification.id, &self.integration_id)
    }

    pub fn encode(&self) -> Result<Bytes> {
        serde_json::to_vec(self)
            .map(Bytes::from)
            .map_err(|e| AlertingError::invalid(self.key(), format!("cannot encode: {e}")))
    }

    /// Decodes the value stored under `key`.
    pub fn decode(key: &str, value: &[u8]) -> Result<Entry> {
        let corrupt = |detail: String| AlertingError::Corruption {
            what: format!("outbox entry {key}"),
            detail,
        };
        let entry: Entry = serde_json::from_slice(value).map_err(|e| corrupt(e.to_string()))?;
        if entry.version > VERSION {
            return Err(corrupt(format!(
                "version {} is newer than this build's {VERSION}",
                entry.version
            )));
        }
        if entry.key() != key {
            return Err(corrupt(format!(
                "holds notification {} for {}",
                entry.notification.id, entry.integration_id
            )));
        }
        Ok(entry)
    }

    /// When the outbox stops trying.
    pub fn deadline_ms(&self, config: &OutboxConfig) -> i64 {
        self.enqueued_at_ms
            .saturating_add(config.max_age.as_millis() as i64)
    }
}

/// An endpoint disabled by a 410 answer, and the configuration it had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisabledRecord {
    pub config_hash: u64,
    pub disabled_at_ms: i64,
    pub error: String,
}

impl DisabledRecord {
    pub fn encode(&self) -> Bytes {
        // A struct of integers and a string always serialises.
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(key: &str, value: &[u8]) -> Result<DisabledRecord> {
        serde_json::from_slice(value).map_err(|e| AlertingError::Corruption {
            what: format!("state {key}"),
            detail: e.to_string(),
        })
    }
}

/// The delay before attempt `attempts + 1` after `attempts` failures,
/// before jitter: `initial × 2^(attempts-1)`, at most `max_backoff`.
pub fn backoff(config: &OutboxConfig, attempts: u32) -> Duration {
    // 2^20 × any sane initial backoff is far past any sane maximum.
    let doublings = attempts.saturating_sub(1).min(20);
    config
        .initial_backoff
        .saturating_mul(1 << doublings)
        .min(config.max_backoff)
}

/// A delay drawn uniformly from `[delay / 2, delay]`, so receivers that
/// failed together are not retried in lockstep.
pub fn jittered(delay: Duration) -> Duration {
    let full = delay.as_millis() as u64;
    Duration::from_millis(rand::random_range(full / 2..=full))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let config = OutboxConfig::default();
        let secs = |n| backoff(&config, n).as_secs();
        assert_eq!([secs(1), secs(2), secs(3), secs(4)], [1, 2, 4, 8]);
        assert_eq!(secs(9), 256);
        assert_eq!(secs(10), 300);
        assert_eq!(secs(u32::MAX), 300);
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(8));
            assert!(d >= Duration::from_secs(4) && d <= Duration::from_secs(8));
        }
    }
}
