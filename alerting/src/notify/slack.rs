//! Slack incoming webhooks: a fallback `text` and Block Kit `blocks` — a
//! header with the group's title, one section per alert (firing first)
//! and a context line linking to Weir.
//!
//! Bounds are Slack's: at most [`MAX_BLOCKS`] blocks (alerts beyond them
//! collapse into one "… and N more" section), [`MAX_SECTION`] characters
//! per section and [`MAX_HEADER`] per header. Label and annotation values
//! are escaped for mrkdwn (`&`, `<`, `>`), so they cannot inject links or
//! mentions.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::endpoint;
use super::group::Group;
use super::transport;
use crate::error::{AlertingError, Result};
use crate::model::{ALERT_NAME, Alert, Notification};
use crate::time::prom_duration;

pub const MAX_BLOCKS: usize = 50;
pub const MAX_SECTION: usize = 3000;
pub const MAX_HEADER: usize = 150;

/// Configured strings longer than this are certainly mistakes.
const MAX_SETTING: usize = 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The incoming webhook's URL.
    pub api_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_emoji: Option<String>,
    /// Off by default, as in Alertmanager.
    #[serde(default)]
    pub send_resolved: bool,
    /// The header; defaults to the group's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The notification fallback text; defaults to the group's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(with = "prom_duration", default = "endpoint::default_timeout")]
    pub timeout: Duration,
}

impl SlackConfig {
    pub fn validate(&self, path: &str) -> Result<()> {
        endpoint::validate_url(&self.api_url, &format!("{path}.api_url"))?;
        let settings = [
            ("channel", &self.channel),
            ("username", &self.username),
            ("icon_emoji", &self.icon_emoji),
            ("title", &self.title),
            ("text", &self.text),
        ];
        for (field, value) in settings {
            if value
                .as_ref()
                .is_some_and(|v| v.chars().count() > MAX_SETTING)
            {
                return Err(AlertingError::invalid(
                    format!("{path}.{field}"),
                    format!("longer than {MAX_SETTING} characters"),
                ));
            }
        }
        endpoint::validate_timeout(self.timeout, &format!("{path}.timeout"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon_emoji: Option<&'a str>,
    pub text: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Header { text: Text },
    Section { text: Text },
    Context { elements: Vec<Text> },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Text {
    PlainText { text: String, emoji: bool },
    Mrkdwn { text: String },
}

/// The message for `notification`, or `None` if there is nothing to send.
pub fn message<'a>(config: &'a SlackConfig, notification: &'a Notification) -> Option<Message<'a>> {
    let group = Group::select(notification, config.send_resolved)?;
    let title = group.title();
    let header = config.title.clone().unwrap_or_else(|| title.clone());
    let mut blocks = vec![Block::Header {
        text: Text::PlainText {
            text: cut(&header, MAX_HEADER),
            emoji: true,
        },
    }];
    let context = (!notification.external_url.is_empty()).then(|| Block::Context {
        elements: vec![Text::Mrkdwn {
            text: format!("<{}|Open in Weir>", escape(&notification.external_url)),
        }],
    });
    let room = MAX_BLOCKS - blocks.len() - usize::from(context.is_some());
    let alerts: Vec<(&Alert, bool)> = group
        .firing
        .iter()
        .map(|a| (*a, false))
        .chain(group.resolved.iter().map(|a| (*a, true)))
        .collect();
    let shown = if alerts.len() <= room {
        alerts.len()
    } else {
        room - 1
    };
    for (alert, resolved) in &alerts[..shown] {
        blocks.push(mrkdwn_section(section(alert, *resolved)));
    }
    if shown < alerts.len() {
        let more = format!("… and {} more", alerts.len() - shown);
        blocks.push(mrkdwn_section(more));
    }
    blocks.extend(context);
    Some(Message {
        channel: config.channel.as_deref(),
        username: config.username.as_deref(),
        icon_emoji: config.icon_emoji.as_deref(),
        text: cut(config.text.as_deref().unwrap_or(&title), MAX_SECTION),
        blocks,
    })
}

fn mrkdwn_section(text: String) -> Block {
    Block::Section {
        text: Text::Mrkdwn {
            text: cut(&text, MAX_SECTION),
        },
    }
}

/// `*[FIRING] Name* · critical`, the summary and description
/// annotations, and the other labels.
fn section(alert: &Alert, resolved: bool) -> String {
    let status = if resolved { "RESOLVED" } else { "FIRING" };
    let mut text = format!("*[{status}] {}*", escape(alert.name()));
    if let Some(severity) = alert.labels.get("severity") {
        text.push_str(&format!(" · {}", escape(severity)));
    }
    for (key, heading) in [("summary", "Summary"), ("description", "Description")] {
        if let Some(value) = alert.annotations.get(key) {
            text.push_str(&format!("\n*{heading}:* {}", escape(value)));
        }
    }
    let labels: Vec<String> = alert
        .labels
        .iter()
        .filter(|(k, _)| *k != ALERT_NAME && *k != "severity")
        .map(|(k, v)| format!("`{}={}`", escape(k), escape(v)))
        .collect();
    if !labels.is_empty() {
        text.push_str(&format!("\n*Labels:* {}", labels.join(", ")));
    }
    text
}

/// Slack's mrkdwn escaping: the three control characters.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `max` characters, the last one `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The attempt, or `None` if there is nothing to send.
pub fn request(
    config: &SlackConfig,
    notification: &Notification,
) -> std::result::Result<Option<transport::Request>, String> {
    let Some(message) = message(config, notification) else {
        return Ok(None);
    };
    let body = serde_json::to_vec(&message).map_err(|e| format!("rendering the body: {e}"))?;
    Ok(Some(transport::Request {
        url: config.api_url.clone(),
        headers: http::HeaderMap::new(),
        body,
        timeout: config.timeout,
    }))
}
