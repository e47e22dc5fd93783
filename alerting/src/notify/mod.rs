//! Receivers: how a notification becomes an HTTP request to a webhook,
//! an Alertmanager, PagerDuty or Slack, and how the answer is classified
//! for the outbox.
//!
//! # Invariants
//! - A body is rendered from the notification alone, so every attempt
//!   sends the same bytes; only per-attempt headers (`webhook-timestamp`,
//!   `webhook-signature`) change. `webhook-id` is the notification's id.
//! - [`send`] never panics and never reads more than a bounded excerpt of
//!   a response; a notification that cannot be rendered is `Rejected`
//!   with no status rather than retried forever.
//! - An [`Integration`] carries its own configuration, so its id, hash
//!   and `send_resolved` need nothing else.
//!
//! # Layout
//! - [`webhook`], [`alertmanager`], [`pagerduty`], [`slack`]: each
//!   integration's configuration and payload.
//! - [`signing`]: Standard Webhooks headers.
//! - [`endpoint`]: URL, header and timeout validation shared by all.
//! - [`transport`]: the HTTP client, one attempt, classification.
//! - [`retry_after`]: the `Retry-After` header.
//! - `group`: the alerts an integration sends and their common values.

pub mod alertmanager;
pub mod endpoint;
mod group;
pub mod pagerduty;
pub mod retry_after;
pub mod signing;
pub mod slack;
pub mod transport;
pub mod webhook;

#[cfg(test)]
mod tests;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::error::{AlertingError, Result};
use crate::model::Notification;

pub use alertmanager::AlertmanagerConfig;
pub use pagerduty::PagerDutyConfig;
pub use slack::SlackConfig;
pub use webhook::WebhookConfig;

/// One receiver of the routing file: a name and its integrations, as in
/// Alertmanager's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhook_configs: Vec<WebhookConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alertmanager_configs: Vec<AlertmanagerConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pagerduty_configs: Vec<PagerDutyConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slack_configs: Vec<SlackConfig>,
}

/// A receiver with more integrations than this is a configuration
/// mistake (and would fan one notification out without bound).
pub const MAX_INTEGRATIONS: usize = 64;

impl ReceiverConfig {
    /// Checks every integration; errors name `path` (e.g.
    /// `receivers[2].webhook_configs[0].url`).
    pub fn validate(&self, path: &str) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(AlertingError::invalid(format!("{path}.name"), "required"));
        }
        let count = self.webhook_configs.len()
            + self.alertmanager_configs.len()
            + self.pagerduty_configs.len()
            + self.slack_configs.len();
        if count > MAX_INTEGRATIONS {
            return Err(AlertingError::invalid(
                path,
                format!("{count} integrations, at most {MAX_INTEGRATIONS} are allowed"),
            ));
        }
        for (i, c) in self.webhook_configs.iter().enumerate() {
            c.validate(&format!("{path}.webhook_configs[{i}]"))?;
        }
        for (i, c) in self.alertmanager_configs.iter().enumerate() {
            c.validate(&format!("{path}.alertmanager_configs[{i}]"))?;
        }
        for (i, c) in self.pagerduty_configs.iter().enumerate() {
            c.validate(&format!("{path}.pagerduty_configs[{i}]"))?;
        }
        for (i, c) in self.slack_configs.iter().enumerate() {
            c.validate(&format!("{path}.slack_configs[{i}]"))?;
        }
        Ok(())
    }

    /// The receiver's integrations, in file order (webhooks, then
    /// Alertmanagers, PagerDuty, Slack).
    pub fn integrations(&self) -> Vec<Integration> {
        let one = |index, config| Integration::new(&self.name, index, config);
        let webhooks = self
            .webhook_configs
            .iter()
            .cloned()
            .map(IntegrationConfig::Webhook);
        let ams = self
            .alertmanager_configs
            .iter()
            .cloned()
            .map(IntegrationConfig::Alertmanager);
        let pds = self
            .pagerduty_configs
            .iter()
            .cloned()
            .map(IntegrationConfig::PagerDuty);
        let slacks = self
            .slack_configs
            .iter()
            .cloned()
            .map(IntegrationConfig::Slack);
        let mut out = Vec::new();
        out.extend(webhooks.enumerate().map(|(i, c)| one(i, c)));
        out.extend(ams.enumerate().map(|(i, c)| one(i, c)));
        out.extend(pds.enumerate().map(|(i, c)| one(i, c)));
        out.extend(slacks.enumerate().map(|(i, c)| one(i, c)));
        out
    }
}

/// One configured integration of one receiver, with its configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    pub receiver: String,
    /// Position among the receiver's integrations of the same kind.
    pub index: usize,
    pub kind: IntegrationKind,
    pub config: IntegrationConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntegrationKind {
    Webhook,
    Alertmanager,
    PagerDuty,
    Slack,
}

/// An integration's configuration, by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntegrationConfig {
    Webhook(WebhookConfig),
    Alertmanager(AlertmanagerConfig),
    PagerDuty(PagerDutyConfig),
    Slack(SlackConfig),
}

impl IntegrationConfig {
    pub fn kind(&self) -> IntegrationKind {
        match self {
            IntegrationConfig::Webhook(_) => IntegrationKind::Webhook,
            IntegrationConfig::Alertmanager(_) => IntegrationKind::Alertmanager,
            IntegrationConfig::PagerDuty(_) => IntegrationKind::PagerDuty,
            IntegrationConfig::Slack(_) => IntegrationKind::Slack,
        }
    }
}

impl Integration {
    pub fn new(receiver: &str, index: usize, config: IntegrationConfig) -> Integration {
        Integration {
            receiver: receiver.to_owned(),
            index,
            kind: config.kind(),
            config,
        }
    }

    /// `receiver/kind/index` (kind in lowercase), stable while the
    /// routing file keeps it.
    pub fn id(&self) -> String {
        let kind = format!("{:?}", self.kind).to_lowercase();
        format!("{}/{kind}/{}", self.receiver, self.index)
    }

    /// A hash of the integration's configuration, stable across
    /// restarts; a disabled endpoint is re-enabled when it changes.
    pub fn config_hash(&self) -> u64 {
        // Serialising plain structs and sorted maps cannot fail; an empty
        // encoding would still hash consistently.
        let encoded = serde_json::to_vec(&self.config).unwrap_or_default();
        xxh3_64(&encoded)
    }

    /// Whether resolved alerts are sent to it.
    pub fn send_resolved(&self) -> bool {
        match &self.config {
            IntegrationConfig::Webhook(c) => c.send_resolved,
            IntegrationConfig::Alertmanager(_) => true,
            IntegrationConfig::PagerDuty(c) => c.send_resolved,
            IntegrationConfig::Slack(c) => c.send_resolved,
        }
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// 2xx.
    Delivered { status: u16 },
    /// A network error, timeout, 5xx, 408 or 429: try again, not before
    /// `retry_after` if the receiver said so (capped at an hour).
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

/// Builds HTTP clients for receivers (rustls with reqwest's provider and
/// the platform's roots; plain http works too).
pub fn client(timeout: Duration) -> reqwest::Client {
    transport::client(timeout)
}

/// Sends `notification` to `integration` once. `None` when there is
/// nothing to send (only resolved alerts and `send_resolved: false`).
/// The body is rendered from the notification alone, so every attempt
/// sends the same bytes; signing headers are computed per attempt at
/// `now_ms`, with `notification.id` as the `webhook-id`.
pub async fn send(
    client: &reqwest::Client,
    integration: &Integration,
    notification: &Notification,
    now_ms: i64,
) -> Option<Outcome> {
    let rendered = match &integration.config {
        IntegrationConfig::Webhook(c) => webhook::request(c, notification, now_ms),
        IntegrationConfig::Alertmanager(c) => alertmanager::request(c, notification),
        IntegrationConfig::PagerDuty(c) => pagerduty::request(c, notification),
        IntegrationConfig::Slack(c) => slack::request(c, notification),
    };
    match rendered {
        Ok(Some(request)) => Some(transport::post(client, request, now_ms).await),
        Ok(None) => None,
        Err(error) => Some(Outcome::Rejected {
            status: None,
            error: format!("{}: {error}", integration.id()),
        }),
    }
}
