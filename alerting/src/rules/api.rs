//! The `data` of Prometheus' `/api/v1/rules` and `/api/v1/alerts`, field
//! for field, so Grafana and other Prometheus clients read Weir's rules
//! as Prometheus'. Durations are seconds (floats), timestamps RFC 3339
//! (Go's zero time for "never"), sample values Go's shortest `%e`
//! (`1e+00`, `2.5e-01`).
//!
//! # Invariants
//! - Only pending and firing alerts are listed; resolved ones kept for
//!   retention are not (Prometheus' `ActiveAlerts`).
//! - Rules keep their file order inside a group, groups their load order.

use serde::Serialize;

use super::group::RuleGroup;
use super::rule::{Rule, RuleHealth};
use super::state::ActiveAlert;
use crate::error::{AlertingError, Result};
use crate::model::LabelSet;
use crate::time::{ZERO_TIME, format_rfc3339};

/// `/api/v1/rules`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RulesData {
    pub groups: Vec<GroupView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupView {
    pub name: String,
    pub file: String,
    pub rules: Vec<RuleView>,
    pub interval: f64,
    pub limit: usize,
    pub evaluation_time: f64,
    pub last_evaluation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RuleView {
    Alerting(AlertingRuleView),
    Recording(RecordingRuleView),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertingRuleView {
    pub state: &'static str,
    pub name: String,
    pub query: String,
    pub duration: f64,
    pub keep_firing_for: f64,
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub alerts: Vec<AlertView>,
    pub health: RuleHealth,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub evaluation_time: f64,
    pub last_evaluation: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingRuleView {
    pub name: String,
    pub query: String,
    #[serde(skip_serializing_if = "LabelSet::is_empty")]
    pub labels: LabelSet,
    pub health: RuleHealth,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub evaluation_time: f64,
    pub last_evaluation: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// `/api/v1/alerts`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertsData {
    pub alerts: Vec<AlertView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertView {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub state: &'static str,
    pub active_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_firing_since: Option<String>,
    pub value: String,
}

/// The rules of `groups`; `type_filter` is the API's `type` parameter,
/// `alert` or `record`. With a filter, groups left without rules are
/// omitted.
pub fn rules_view(groups: &[RuleGroup], type_filter: Option<&str>) -> Result<RulesData> {
    let (alerting, recording) = match type_filter {
        None => (true, true),
        Some("alert") => (true, false),
        Some("record") => (false, true),
        Some(other) => {
            return Err(AlertingError::BadRequest(format!(
                "unsupported rule type {other:?}: expected alert or record"
            )));
        }
    };
    let groups = groups
        .iter()
        .map(|group| GroupView {
            name: group.name.clone(),
            file: group.file.clone(),
            rules: group
                .rules
                .iter()
                .filter(|rule| match rule {
                    Rule::Alerting(_) => alerting,
                    Rule::Recording(_) => recording,
                })
                .map(rule_view)
                .collect(),
            interval: group.interval.as_secs_f64(),
            limit: group.limit,
            evaluation_time: group.evaluation_duration.as_secs_f64(),
            last_evaluation: timestamp(group.last_evaluation_ms),
        })
        .filter(|view| type_filter.is_none() || !view.rules.is_empty())
        .collect();
    Ok(RulesData { groups })
}

/// Every pending and firing alert of `groups`.
pub fn alerts_view(groups: &[RuleGroup]) -> AlertsData {
    AlertsData {
        alerts: groups
            .iter()
            .flat_map(RuleGroup::active_alerts)
            .map(alert_view)
            .collect(),
    }
}

fn rule_view(rule: &Rule) -> RuleView {
    match rule {
        Rule::Alerting(r) => RuleView::Alerting(AlertingRuleView {
            state: r.alerts.state().as_str(),
            name: r.name.clone(),
            query: r.expr.clone(),
            duration: r.hold.as_secs_f64(),
            keep_firing_for: r.keep_firing_for.as_secs_f64(),
            labels: r.labels.sources(),
            annotations: r.annotations.sources(),
            alerts: r.alerts.active().map(alert_view).collect(),
            health: r.status.health,
            last_error: r.status.last_error.clone(),
            evaluation_time: r.status.evaluation_duration.as_secs_f64(),
            last_evaluation: timestamp(r.status.last_evaluation_ms),
            kind: "alerting",
        }),
        Rule::Recording(r) => RuleView::Recording(RecordingRuleView {
            name: r.name.clone(),
            query: r.expr.clone(),
            labels: r.labels.clone(),
            health: r.status.health,
            last_error: r.status.last_error.clone(),
            evaluation_time: r.status.evaluation_duration.as_secs_f64(),
            last_evaluation: timestamp(r.status.last_evaluation_ms),
            kind: "recording",
        }),
    }
}

fn alert_view(alert: &ActiveAlert) -> AlertView {
    AlertView {
        labels: alert.labels.clone(),
        annotations: alert.annotations.clone(),
        state: alert.state.as_str(),
        active_at: format_rfc3339(alert.active_at_ms),
        keep_firing_since: alert.keep_firing_since_ms.map(format_rfc3339),
        value: format_value(alert.value),
    }
}

fn timestamp(ms: Option<i64>) -> String {
    ms.map_or_else(|| ZERO_TIME.to_owned(), format_rfc3339)
}

/// A sample value as Go's `strconv.FormatFloat(v, 'e', -1, 64)`: the
/// shortest mantissa that round-trips, an exponent of at least two
/// digits with its sign.
pub fn format_value(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let text = format!("{value:e}");
    let Some((mantissa, exponent)) = text.split_once('e') else {
        return text;
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
}
