//! PagerDuty's Events API v2 (`POST /v2/enqueue`).
//!
//! One alert group is one PagerDuty alert: `dedup_key` is the lowercase
//! hex SHA-256 of the notification's group key (as Alertmanager keys
//! them), the same for `trigger` and `resolve` and across restarts. A
//! group with a firing alert sends `trigger` with a payload; a group
//! with none sends `resolve`, which carries only the routing key, the
//! action and the dedup key. Bounds: the summary is cut to
//! [`MAX_SUMMARY`] characters (PagerDuty's limit), the alert listings in
//! `custom_details` to [`MAX_DETAILS`] bytes each, so an event stays well
//! under PagerDuty's 512 KiB.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::endpoint;
use super::group::Group;
use super::transport;
use crate::error::{AlertingError, Result};
use crate::model::{Alert, Notification};
use crate::time::{format_rfc3339, prom_duration};

pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// PagerDuty truncates longer summaries itself; cutting here keeps the
/// cut on a character boundary.
pub const MAX_SUMMARY: usize = 1024;

/// Per listing (`firing`, `resolved`) in `custom_details`.
pub const MAX_DETAILS: usize = 16 * 1024;

/// The severities PagerDuty accepts, most severe first.
pub const SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyConfig {
    /// The integration key of an Events API v2 integration.
    pub routing_key: String,
    #[serde(default = "default_url")]
    pub url: String,
    #[serde(default = "endpoint::default_true")]
    pub send_resolved: bool,
    /// The label whose value gives the severity.
    #[serde(default = "default_severity_label")]
    pub severity_label: String,
    /// The severity when the label is missing or not recognised.
    #[serde(default = "default_severity")]
    pub default_severity: String,
    #[serde(default = "default_client")]
    pub client: String,
    /// Defaults to the notification's external URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_url: Option<String>,
    /// Defaults to the first alert's `instance` label, else `weir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Labels whose values fill `payload.component`, `.group`, `.class`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_label: Option<String>,
    #[serde(with = "prom_duration", default = "endpoint::default_timeout")]
    pub timeout: Duration,
}

fn default_url() -> String {
    DEFAULT_URL.into()
}
fn default_severity_label() -> String {
    "severity".into()
}
fn default_severity() -> String {
    "error".into()
}
fn default_client() -> String {
    "Weir".into()
}

impl PagerDutyConfig {
    pub fn validate(&self, path: &str) -> Result<()> {
        let key = &self.routing_key;
        if key.is_empty() || key.len() > 256 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AlertingError::invalid(
                format!("{path}.routing_key"),
                "required: the integration key, up to 256 visible characters",
            ));
        }
        endpoint::validate_url(&self.url, &format!("{path}.url"))?;
        if let Some(url) = &self.client_url {
            endpoint::validate_url(url, &format!("{path}.client_url"))?;
        }
        if !SEVERITIES.contains(&self.default_severity.as_str()) {
            return Err(AlertingError::invalid(
                format!("{path}.default_severity"),
                format!("must be one of {}", SEVERITIES.join(", ")),
            ));
        }
        if self.severity_label.is_empty() {
            return Err(AlertingError::invalid(
                format!("{path}.severity_label"),
                "must not be empty",
            ));
        }
        endpoint::validate_timeout(self.timeout, &format!("{path}.timeout"))
    }
}

/// Maps a label value to a PagerDuty severity.
pub fn severity(value: &str) -> Option<&'static str> {
    match value.to_ascii_lowercase().as_str() {
        "critical" | "page" => Some("critical"),
        "error" | "high" => Some("error"),
        "warning" | "warn" => Some("warning"),
        "info" | "low" | "none" => Some("info"),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event<'a> {
    pub routing_key: &'a str,
    pub event_action: &'static str,
    pub dedup_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_url: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Payload {
    pub summary: String,
    pub source: String,
    pub severity: &'static str,
    pub timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    pub custom_details: Details,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Details {
    pub firing: String,
    pub resolved: String,
    pub num_firing: usize,
    pub num_resolved: usize,
}

/// The key of a group's PagerDuty alert.
pub fn dedup_key(group_key: &str) -> String {
    let digest = Sha256::digest(group_key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The event for `notification`, or `None` if there is nothing to send.
pub fn event<'a>(config: &'a PagerDutyConfig, notification: &'a Notification) -> Option<Event<'a>> {
    let group = Group::select(notification, config.send_resolved)?;
    let dedup_key = dedup_key(&notification.group_key);
    if group.firing.is_empty() {
        return Some(Event {
            routing_key: &config.routing_key,
            event_action: "resolve",
            dedup_key,
            payload: None,
            client: None,
            client_url: None,
        });
    }
    let common = group.common_labels();
    let label = |name: &Option<String>| {
        let name = name.as_deref()?;
        common
            .get(name)
            .or_else(|| group.firing.iter().find_map(|a| a.labels.get(name)))
            .map(|v| transport::truncate(v, MAX_SUMMARY).to_owned())
    };
    let source = config
        .source
        .clone()
        .or_else(|| group.firing.first()?.labels.get("instance").cloned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "weir".into());
    let client_url = config
        .client_url
        .as_deref()
        .or(Some(notification.external_url.as_str()))
        .filter(|u| !u.is_empty());
    Some(Event {
        routing_key: &config.routing_key,
        event_action: "trigger",
        dedup_key,
        payload: Some(Payload {
            summary: truncate_chars(&group.title(), MAX_SUMMARY),
            source: transport::truncate(&source, MAX_SUMMARY).to_owned(),
            severity: group_severity(config, &group),
            timestamp: format_rfc3339(notification.created_at_ms),
            component: label(&config.component_label),
            group: label(&config.group_label),
            class: label(&config.class_label),
            custom_details: Details {
                firing: listing(&group.firing),
                resolved: listing(&group.resolved),
                num_firing: group.firing.len(),
                num_resolved: group.resolved.len(),
            },
        }),
        client: Some(&config.client),
        client_url,
    })
}

/// The common label's severity, else the most severe among firing
/// alerts, else the configured default.
fn group_severity(config: &PagerDutyConfig, group: &Group<'_>) -> &'static str {
    let of = |alert: &Alert| {
        alert
            .labels
            .get(&config.severity_label)
            .and_then(|v| severity(v))
    };
    let common = group.common_labels();
    if let Some(found) = common.get(&config.severity_label).and_then(|v| severity(v)) {
        return found;
    }
    let rank = |s: &str| {
        SEVERITIES
            .iter()
            .position(|x| *x == s)
            .unwrap_or(usize::MAX)
    };
    group
        .firing
        .iter()
        .filter_map(|a| of(a))
        .min_by_key(|s| rank(s))
        .or_else(|| {
            SEVERITIES
                .iter()
                .copied()
                .find(|s| *s == config.default_severity)
        })
        .unwrap_or("error")
}

/// Alertmanager's instance listing: labels, annotations and source per
/// alert, cut at [`MAX_DETAILS`] with a count of what was left out.
fn listing(alerts: &[&Alert]) -> String {
    let mut out = String::new();
    for (shown, alert) in alerts.iter().enumerate() {
        let mut entry = String::from("Labels:\n");
        for (k, v) in &alert.labels {
            entry.push_str(&format!(" - {k} = {v}\n"));
        }
        entry.push_str("Annotations:\n");
        for (k, v) in &alert.annotations {
            entry.push_str(&format!(" - {k} = {v}\n"));
        }
        entry.push_str(&format!("Source: {}\n", alert.generator_url));
        if out.len() + entry.len() > MAX_DETAILS {
            out.push_str(&format!("… and {} more\n", alerts.len() - shown));
            break;
        }
        out.push_str(&entry);
    }
    out
}

/// The first `max` characters of `text`.
fn truncate_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// The attempt, or `None` if there is nothing to send.
pub fn request(
    config: &PagerDutyConfig,
    notification: &Notification,
) -> std::result::Result<Option<transport::Request>, String> {
    let Some(event) = event(config, notification) else {
        return Ok(None);
    };
    let body = serde_json::to_vec(&event).map_err(|e| format!("rendering the body: {e}"))?;
    Ok(Some(transport::Request {
        url: config.url.clone(),
        headers: http::HeaderMap::new(),
        body,
        timeout: config.timeout,
    }))
}
