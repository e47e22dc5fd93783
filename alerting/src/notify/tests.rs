//! Payload snapshots for a fixed notification (two firing alerts, one
//! resolved), plus the shared fixture of the other receiver tests:
//! configuration parsing ([`config`]), Standard Webhooks verification
//! ([`signature`]) and delivery against a local server ([`server`]).

mod config;
mod server;
mod signature;

use std::time::Duration;

use super::*;
use crate::model::{Alert, LabelSet};

/// 2026-05-28T20:26:40Z.
pub const CREATED_MS: i64 = 1_780_000_000_000;

pub fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn alert(instance: &str, starts_at_ms: i64, ends_at_ms: i64) -> Alert {
    Alert {
        labels: labels(&[
            ("alertname", "HighErrorRate"),
            ("instance", instance),
            ("service", "checkout"),
            ("severity", "critical"),
        ]),
        annotations: labels(&[
            ("summary", "Error rate above 5% <for> checkout & co"),
            ("description", "5xx responses are 7.2% of all requests"),
        ]),
        starts_at_ms,
        ends_at_ms,
        generator_url: "https://weir.example/alerts/rules/HighErrorRate".into(),
    }
}

/// Two firing alerts and one that resolved a minute ago.
pub fn notification() -> Notification {
    Notification {
        id: "msg_2f1c7b6a9d8e4f00a1b2c3d4e5f60718".into(),
        receiver: "oncall".into(),
        group_key: "{}/{severity=\"critical\"}:{alertname=\"HighErrorRate\"}".into(),
        group_labels: labels(&[("alertname", "HighErrorRate")]),
        alerts: vec![
            alert("10.0.0.1:9100", CREATED_MS - 300_000, CREATED_MS + 180_000),
            alert("10.0.0.2:9100", CREATED_MS - 240_000, CREATED_MS + 180_000),
            alert("10.0.0.3:9100", CREATED_MS - 900_000, CREATED_MS - 60_000),
        ],
        created_at_ms: CREATED_MS,
        external_url: "https://weir.example".into(),
    }
}

/// The same group later, every alert resolved.
pub fn resolved_notification() -> Notification {
    let mut n = notification();
    n.id = "msg_9a8b7c6d5e4f30211203f4e5d6c7b8a9".into();
    n.created_at_ms = CREATED_MS + 600_000;
    n
}

pub fn webhook_config(url: &str) -> WebhookConfig {
    WebhookConfig {
        url: url.into(),
        send_resolved: true,
        max_alerts: 0,
        headers: Default::default(),
        signing_secret: None,
        timeout: Duration::from_secs(5),
    }
}

pub fn pagerduty_config(url: &str) -> PagerDutyConfig {
    serde_yaml_ng::from_str(&format!(
        "{{routing_key: 0123456789abcdef0123456789abcdef, url: '{url}', component_label: service}}"
    ))
    .unwrap()
}

pub fn slack_config(url: &str) -> SlackConfig {
    serde_yaml_ng::from_str(&format!(
        "{{api_url: '{url}', channel: '#oncall', username: weir, send_resolved: true}}"
    ))
    .unwrap()
}

#[test]
fn webhook_message_snapshot() {
    let n = notification();
    let message = webhook::message(&webhook_config("http://h"), &n).unwrap();
    insta::assert_json_snapshot!("webhook_message", message);
}

#[test]
fn webhook_message_truncated_snapshot() {
    let n = notification();
    let config = WebhookConfig {
        max_alerts: 1,
        ..webhook_config("http://h")
    };
    let message = webhook::message(&config, &n).unwrap();
    assert_eq!(message.truncated_alerts, 2);
    insta::assert_json_snapshot!("webhook_message_truncated", message);
}

#[test]
fn webhook_without_resolved_drops_them_and_skips_resolved_groups() {
    let config = WebhookConfig {
        send_resolved: false,
        ..webhook_config("http://h")
    };
    let n = notification();
    let message = webhook::message(&config, &n).unwrap();
    assert_eq!(message.alerts.len(), 2);
    assert!(message.alerts.iter().all(|a| a.status == "firing"));
    assert!(webhook::message(&config, &resolved_notification()).is_none());
}

#[test]
fn alertmanager_alerts_snapshot() {
    insta::assert_json_snapshot!("alertmanager_alerts", alertmanager::alerts(&notification()));
}

#[test]
fn pagerduty_trigger_snapshot() {
    let config = pagerduty_config(pagerduty::DEFAULT_URL);
    let n = notification();
    let event = pagerduty::event(&config, &n).unwrap();
    let summary = &event.payload.as_ref().unwrap().summary;
    assert_eq!(summary, "[FIRING:2] HighErrorRate (checkout critical)");
    insta::assert_json_snapshot!("pagerduty_trigger", event);
}

#[test]
fn pagerduty_resolve_snapshot() {
    let config = pagerduty_config(pagerduty::DEFAULT_URL);
    let n = resolved_notification();
    insta::assert_json_snapshot!("pagerduty_resolve", pagerduty::event(&config, &n).unwrap());
}

#[test]
fn pagerduty_severity_falls_back_to_the_worst_firing_alert() {
    let config = pagerduty_config(pagerduty::DEFAULT_URL);
    let mut n = notification();
    let severities = ["warn", "page", "low"];
    for (alert, severity) in n.alerts.iter_mut().zip(severities) {
        alert.labels.insert("severity".into(), severity.into());
    }
    let event = pagerduty::event(&config, &n).unwrap();
    assert_eq!(event.payload.unwrap().severity, "critical");
    for alert in &mut n.alerts {
        alert.labels.insert("severity".into(), "sev-1".into());
    }
    let event = pagerduty::event(&config, &n).unwrap();
    assert_eq!(event.payload.unwrap().severity, "error");
}

#[test]
fn pagerduty_summary_is_cut_on_a_char_boundary() {
    let config = pagerduty_config(pagerduty::DEFAULT_URL);
    let mut n = notification();
    n.group_labels.insert("alertname".into(), "é".repeat(2000));
    let event = pagerduty::event(&config, &n).unwrap();
    let summary = event.payload.unwrap().summary;
    assert_eq!(summary.chars().count(), pagerduty::MAX_SUMMARY);
}

#[test]
fn slack_message_snapshot() {
    let config = slack_config("https://hooks.slack.com/services/T/B/X");
    let n = notification();
    insta::assert_json_snapshot!("slack_message", slack::message(&config, &n).unwrap());
}

#[test]
fn slack_blocks_are_bounded() {
    let config = slack_config("https://hooks.slack.com/services/T/B/X");
    let mut n = notification();
    let template = n.alerts[0].clone();
    n.alerts = (0..120)
        .map(|i| {
            let mut a = template.clone();
            a.labels
                .insert("instance".into(), format!("10.0.1.{i}:9100"));
            a.annotations.insert("description".into(), "x".repeat(5000));
            a
        })
        .collect();
    let message = slack::message(&config, &n).unwrap();
    assert_eq!(message.blocks.len(), slack::MAX_BLOCKS);
    let sections: Vec<&str> = message
        .blocks
        .iter()
        .filter_map(|b| match b {
            slack::Block::Section {
                text: slack::Text::Mrkdwn { text },
            } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        sections
            .iter()
            .all(|t| t.chars().count() <= slack::MAX_SECTION)
    );
    assert_eq!(sections.last(), Some(&"… and 73 more"));
}
