//! Generic webhooks: Alertmanager's webhook JSON (version 4), so any
//! receiver written for Alertmanager works unchanged, signed per Standard
//! Webhooks (see [`super::signing`]).
//!
//! Body, field order as Alertmanager writes it: `receiver`, `status`,
//! `alerts` (`status`, `labels`, `annotations`, `startsAt`, `endsAt`,
//! `generatorURL`, `fingerprint`), `groupLabels`, `commonLabels`,
//! `commonAnnotations`, `externalURL`, `version`, `groupKey`,
//! `truncatedAlerts`. Firing alerts' `endsAt` is Go's zero time, as
//! Alertmanager prints it. With `max_alerts` only the first alerts are
//! listed and `truncatedAlerts` counts the others; common labels still
//! describe all of them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::endpoint::{self, Headers};
use super::group::Group;
use super::{signing, transport};
use crate::error::Result;
use crate::model::{LabelSet, Notification};
use crate::time::{ZERO_TIME, format_rfc3339, prom_duration};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    #[serde(default = "endpoint::default_true")]
    pub send_resolved: bool,
    /// At most this many alerts per message; 0 lists them all.
    #[serde(default)]
    pub max_alerts: usize,
    #[serde(default, skip_serializing_if = "Headers::is_empty")]
    pub headers: Headers,
    /// A Standard Webhooks secret, `whsec_<base64>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
    #[serde(with = "prom_duration", default = "endpoint::default_timeout")]
    pub timeout: Duration,
}

impl WebhookConfig {
    pub fn validate(&self, path: &str) -> Result<()> {
        endpoint::validate_url(&self.url, &format!("{path}.url"))?;
        endpoint::validate_headers(&self.headers, &format!("{path}.headers"))?;
        if let Some(secret) = &self.signing_secret {
            signing::validate_secret(secret, &format!("{path}.signing_secret"))?;
        }
        endpoint::validate_timeout(self.timeout, &format!("{path}.timeout"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message<'a> {
    pub receiver: &'a str,
    pub status: &'static str,
    pub alerts: Vec<MessageAlert<'a>>,
    pub group_labels: &'a LabelSet,
    pub common_labels: LabelSet,
    pub common_annotations: LabelSet,
    #[serde(rename = "externalURL")]
    pub external_url: &'a str,
    pub version: &'static str,
    pub group_key: &'a str,
    pub truncated_alerts: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageAlert<'a> {
    pub status: &'static str,
    pub labels: &'a LabelSet,
    pub annotations: &'a LabelSet,
    pub starts_at: String,
    pub ends_at: String,
    #[serde(rename = "generatorURL")]
    pub generator_url: &'a str,
    pub fingerprint: String,
}

/// The message for `notification`, or `None` if there is nothing to send.
pub fn message<'a>(config: &WebhookConfig, notification: &'a Notification) -> Option<Message<'a>> {
    let group = Group::select(notification, config.send_resolved)?;
    let all: Vec<_> = group.alerts().collect();
    let listed = match config.max_alerts {
        0 => all.len(),
        max => max.min(all.len()),
    };
    let alerts = all[..listed]
        .iter()
        .map(|alert| {
            let resolved = group.is_resolved(alert);
            MessageAlert {
                status: if resolved { "resolved" } else { "firing" },
                labels: &alert.labels,
                annotations: &alert.annotations,
                starts_at: format_rfc3339(alert.starts_at_ms),
                ends_at: if resolved {
                    format_rfc3339(alert.ends_at_ms)
                } else {
                    ZERO_TIME.to_owned()
                },
                generator_url: &alert.generator_url,
                fingerprint: format!("{:016x}", alert.fingerprint()),
            }
        })
        .collect();
    Some(Message {
        receiver: &notification.receiver,
        status: group.status(),
        alerts,
        group_labels: &notification.group_labels,
        common_labels: group.common_labels(),
        common_annotations: group.common_annotations(),
        external_url: &notification.external_url,
        version: "4",
        group_key: &notification.group_key,
        truncated_alerts: all.len() - listed,
    })
}

/// The attempt at `now_ms`, or `None` if there is nothing to send.
pub fn request(
    config: &WebhookConfig,
    notification: &Notification,
    now_ms: i64,
) -> std::result::Result<Option<transport::Request>, String> {
    let Some(message) = message(config, notification) else {
        return Ok(None);
    };
    let body = serde_json::to_vec(&message).map_err(|e| format!("rendering the body: {e}"))?;
    let mut headers = endpoint::header_map(&config.headers)?;
    signing::add_headers(
        &mut headers,
        config.signing_secret.as_deref(),
        &notification.id,
        now_ms,
        &body,
    )?;
    Ok(Some(transport::Request {
        url: config.url.clone(),
        headers,
        body,
        timeout: config.timeout,
    }))
}
