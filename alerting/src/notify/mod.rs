//! Receivers: how a notification becomes an HTTP request to a webhook,
//! an Alertmanager, PagerDuty or Slack, and how the answer is classified
//! for the outbox. (Interface only; the implementation lands with its
//! tests.)

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::Notification;

/// One receiver of the routing file: a name and its integrations, as in
/// Alertmanager's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    pub name: String,
}

impl ReceiverConfig {
    /// Checks every integration; errors name `path` (e.g.
    /// `receivers[2].webhook_configs[0].url`).
    pub fn validate(&self, path: &str) -> Result<()> {
        let _ = path;
        Ok(())
    }

    /// The receiver's integrations, in file order.
    pub fn integrations(&self) -> Vec<Integration> {
        Vec::new()
    }
}

/// One configured integration of one receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    pub receiver: String,
    /// Position among the receiver's integrations of the same kind.
    pub index: usize,
    pub kind: IntegrationKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntegrationKind {
    Webhook,
    Alertmanager,
    PagerDuty,
    Slack,
}

impl Integration {
    /// `receiver/kind/index`, stable while the routing file keeps it.
    pub fn id(&self) -> String {
        format!("{}/{:?}/{}", self.receiver, self.kind, self.index).to_lowercase()
    }

    /// A hash of the integration's configuration; a disabled endpoint is
    /// re-enabled when it changes.
    pub fn config_hash(&self) -> u64 {
        0
    }

    /// Whether resolved alerts are sent to it.
    pub fn send_resolved(&self) -> bool {
        true
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// 2xx.
    Delivered { status: u16 },
    /// A network error, timeout, 5xx or 429: try again, not before
    /// `retry_after` if the receiver said so.
    Retryable {
        status: Option<u16>,
        error: String,
        retry_after: Option<Duration>,
    },
    /// Any other 4xx (or a notification that cannot be rendered): give up
    /// and record why.
    Rejected { status: Option<u16>, error: String },
    /// 410 Gone: disable the endpoint until its configuration changes.
    Gone { error: String },
}

/// Builds HTTP clients for receivers (TLS with the system's roots).
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .expect("an HTTP client with default settings")
}

/// Sends `notification` to `integration` once. `None` when there is
/// nothing to send (only resolved alerts and `send_resolved: false`).
/// The body is rendered from the notification alone, so every attempt
/// sends the same bytes; signing headers are computed per attempt at
/// `now_ms`, with `notification.id` as the `webhook-id`.
pub async fn send(
    client: &reqwest::Client,
    receivers: &[ReceiverConfig],
    integration: &Integration,
    notification: &Notification,
    now_ms: i64,
) -> Option<Outcome> {
    let _ = (client, receivers, integration, notification, now_ms);
    None
}
