//! The outbox's settings: how long a notification is retried, how the
//! delay between attempts grows, and the bounds on pending entries,
//! concurrent attempts and kept history.
//!
//! Every field has a default, durations are Prometheus durations (`24h`,
//! `500ms`) and unknown keys are refused. [`OutboxConfig::validate`]
//! names the offending field (`outbox.max_backoff: ...`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{AlertingError, Result};
use crate::time::{format_duration, prom_duration};

/// Where these settings live in the configuration, for error messages.
const PATH: &str = "outbox";

/// More attempts at once than this would open more connections than a
/// small appliance should hold for notifications alone.
const MAX_IN_FLIGHT_LIMIT: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Give up on a notification (and record it) once this much time has
    /// passed since it was enqueued. Alertmanager gives up after one
    /// group interval; an outage of a pager service lasts longer.
    #[serde(with = "prom_duration")]
    pub max_age: Duration,
    /// The delay after the first failed attempt; it doubles per attempt.
    #[serde(with = "prom_duration")]
    pub initial_backoff: Duration,
    /// The longest delay between two attempts.
    #[serde(with = "prom_duration")]
    pub max_backoff: Duration,
    /// Entries (one per notification and integration) held at most;
    /// enqueueing beyond fails rather than growing without bound.
    pub max_pending: usize,
    /// Attempts running at once.
    pub max_in_flight: usize,
    /// Attempts kept for the API, newest first.
    pub history_len: usize,
    /// The HTTP client's timeout for an attempt whose integration sets
    /// none; unset means the receivers' default.
    #[serde(
        with = "prom_duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub attempt_timeout: Option<Duration>,
}

impl Default for OutboxConfig {
    fn default() -> OutboxConfig {
        OutboxConfig {
            max_age: Duration::from_secs(24 * 3600),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5 * 60),
            max_pending: 100_000,
            max_in_flight: 16,
            history_len: 1000,
            attempt_timeout: None,
        }
    }
}

impl OutboxConfig {
    /// Checks the values together; errors name the field.
    pub fn validate(&self) -> Result<()> {
        let field = |name: &str| format!("{PATH}.{name}");
        if self.max_age.is_zero() {
            return Err(AlertingError::invalid(field("max_age"), "must be positive"));
        }
        if self.initial_backoff.is_zero() {
            return Err(AlertingError::invalid(
                field("initial_backoff"),
                "must be positive",
            ));
        }
        if self.max_backoff < self.initial_backoff {
            return Err(AlertingError::invalid(
                field("max_backoff"),
                format!(
                    "{} is shorter than initial_backoff {}",
                    format_duration(self.max_backoff),
                    format_duration(self.initial_backoff)
                ),
            ));
        }
        if self.max_pending == 0 {
            return Err(AlertingError::invalid(
                field("max_pending"),
                "must be at least 1",
            ));
        }
        if self.max_in_flight == 0 || self.max_in_flight > MAX_IN_FLIGHT_LIMIT {
            return Err(AlertingError::invalid(
                field("max_in_flight"),
                format!("must be between 1 and {MAX_IN_FLIGHT_LIMIT}"),
            ));
        }
        if self.attempt_timeout.is_some_and(|t| t.is_zero()) {
            return Err(AlertingError::invalid(
                field("attempt_timeout"),
                "must be positive",
            ));
        }
        Ok(())
    }

    /// The client timeout [`super::HttpDeliver`] uses.
    pub fn client_timeout(&self) -> Duration {
        self.attempt_timeout
            .unwrap_or_else(crate::notify::endpoint::default_timeout)
    }
}
