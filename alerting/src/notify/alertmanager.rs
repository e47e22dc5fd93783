//! Forwarding to an Alertmanager: its v2 API's postable alerts
//! (`POST /api/v2/alerts`, a JSON array of `labels`, `annotations`,
//! `startsAt`, `endsAt`, `generatorURL`).
//!
//! Every alert of the notification is sent as it is, firing and resolved:
//! the rule engine sets a firing alert's end to its resend horizon, which
//! is what Prometheus sends too, so the Alertmanager resolves an alert on
//! its own when Weir stops resending it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::endpoint::{self, Headers};
use super::transport;
use crate::error::Result;
use crate::model::{LabelSet, Notification};
use crate::time::{format_rfc3339, prom_duration};

/// The path of Alertmanager's alert ingestion API.
pub const ALERTS_PATH: &str = "/api/v2/alerts";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// The Alertmanager's base URL (`http://127.0.0.1:9093`);
    /// [`ALERTS_PATH`] is appended unless the URL already ends with it.
    pub url: String,
    #[serde(default, skip_serializing_if = "Headers::is_empty")]
    pub headers: Headers,
    #[serde(with = "prom_duration", default = "endpoint::default_timeout")]
    pub timeout: Duration,
}

impl AlertmanagerConfig {
    pub fn validate(&self, path: &str) -> Result<()> {
        endpoint::validate_url(&self.url, &format!("{path}.url"))?;
        endpoint::validate_headers(&self.headers, &format!("{path}.headers"))?;
        endpoint::validate_timeout(self.timeout, &format!("{path}.timeout"))
    }

    /// The URL alerts are posted to.
    pub fn alerts_url(&self) -> String {
        let base = self.url.trim_end_matches('/');
        if base.ends_with(ALERTS_PATH) {
            base.to_owned()
        } else {
            format!("{base}{ALERTS_PATH}")
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableAlert<'a> {
    pub labels: &'a LabelSet,
    pub annotations: &'a LabelSet,
    pub starts_at: String,
    pub ends_at: String,
    #[serde(rename = "generatorURL")]
    pub generator_url: &'a str,
}

/// The postable alerts of `notification`.
pub fn alerts(notification: &Notification) -> Vec<PostableAlert<'_>> {
    notification
        .alerts
        .iter()
        .map(|alert| PostableAlert {
            labels: &alert.labels,
            annotations: &alert.annotations,
            starts_at: format_rfc3339(alert.starts_at_ms),
            ends_at: format_rfc3339(alert.ends_at_ms),
            generator_url: &alert.generator_url,
        })
        .collect()
}

/// The attempt, or `None` for a notification without alerts.
pub fn request(
    config: &AlertmanagerConfig,
    notification: &Notification,
) -> std::result::Result<Option<transport::Request>, String> {
    if notification.alerts.is_empty() {
        return Ok(None);
    }
    let body = serde_json::to_vec(&alerts(notification))
        .map_err(|e| format!("rendering the body: {e}"))?;
    Ok(Some(transport::Request {
        url: config.alerts_url(),
        headers: endpoint::header_map(&config.headers)?,
        body,
        timeout: config.timeout,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_path_is_appended_once() {
        let url = |u: &str| AlertmanagerConfig {
            url: u.into(),
            headers: Headers::new(),
            timeout: endpoint::DEFAULT_TIMEOUT,
        };
        let expected = "http://127.0.0.1:9093/api/v2/alerts";
        assert_eq!(url("http://127.0.0.1:9093").alerts_url(), expected);
        assert_eq!(url("http://127.0.0.1:9093/").alerts_url(), expected);
        assert_eq!(url(expected).alerts_url(), expected);
        assert_eq!(
            url("http://am/prefix").alerts_url(),
            "http://am/prefix/api/v2/alerts"
        );
    }
}
