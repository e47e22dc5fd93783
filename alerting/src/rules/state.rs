//! One alerting rule's alerts and their lifecycle, as Prometheus'
//! `rules/alerting.go`: a label set returned by the rule's query becomes
//! `pending`, then `firing` once it has been returned for the rule's
//! `for`; when it stops being returned a pending alert is dropped and a
//! firing one resolves (after `keep_firing_for`, if set) and is kept for
//! [`RESOLVED_RETENTION_MS`] so its resolution is delivered.
//!
//! # Invariants
//! - Alerts are keyed by their full label set (including `alertname`);
//!   two results with the same label set fail the evaluation before any
//!   state changes.
//! - At most the effective limit (the group `limit`, capped by
//!   [`MAX_ALERTS_PER_RULE`]) alerts are active; exceeding it drops every
//!   alert of the rule, as Prometheus does. Resolved alerts kept for
//!   retention are bounded by twice the cap.
//! - Pending alerts are never sent. A firing alert is sent every
//!   `resend_delay`; a resolution is sent as soon as it happens and then
//!   re-sent every `resend_delay` until retention ends.
//! - All times are milliseconds since the epoch; durations are
//!   milliseconds.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{MAX_ALERTS_PER_RULE, RESOLVED_RETENTION_MS};
use crate::model::LabelSet;
use crate::query::QuerySample;

/// The name of the series holding every pending and firing alert.
pub const ALERTS_METRIC: &str = "ALERTS";
/// The name of the series holding each active alert's `active_at`.
pub const ALERTS_FOR_STATE_METRIC: &str = "ALERTS_FOR_STATE";
/// The label of `ALERTS` naming the state.
pub const ALERT_STATE_LABEL: &str = "alertstate";
/// Prometheus' metric-name label.
pub const METRIC_NAME: &str = "__name__";

/// An alert's state. Ordered: a rule's state is its alerts' maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Resolved and kept for retention.
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of a rule with everything needed to continue after a
/// restart; also its snapshot form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveAlert {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    /// The sample value of the latest evaluation that returned it. Stored
    /// as text so NaN and infinities survive JSON.
    #[serde(with = "float_text")]
    pub value: f64,
    pub state: AlertState,
    pub active_at_ms: i64,
    pub fired_at_ms: Option<i64>,
    pub resolved_at_ms: Option<i64>,
    pub last_sent_at_ms: Option<i64>,
    pub valid_until_ms: Option<i64>,
    pub keep_firing_since_ms: Option<i64>,
}

/// What [`AlertTable::snapshot`] returns and [`AlertTable::restore`] takes.
pub type AlertSnapshot = ActiveAlert;

/// One result of an evaluation, labelled and annotated by its rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub value: f64,
}

/// The timing of a rule, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The rule's `for`.
    pub hold_ms: i64,
    pub keep_firing_for_ms: i64,
    /// The group's `limit`; 0 means none (the hard cap still applies).
    pub limit: usize,
}

impl Timing {
    /// The largest number of active alerts allowed.
    pub fn effective_limit(&self) -> usize {
        match self.limit {
            0 => MAX_ALERTS_PER_RULE,
            n => n.min(MAX_ALERTS_PER_RULE),
        }
    }
}

/// Why [`AlertTable::update`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    #[error("vector contains metrics with the same labelset after applying alert labels")]
    DuplicateLabelSet,
    #[error("exceeded limit of {limit} with {count} alerts")]
    LimitExceeded { limit: usize, count: usize },
}

/// The alerts of one rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertTable {
    alerts: BTreeMap<LabelSet, ActiveAlert>,
}

impl AlertTable {
    pub fn new() -> AlertTable {
        AlertTable::default()
    }

    /// Applies one successful evaluation at `t`.
    pub fn update(
        &mut self,
        t: i64,
        candidates: Vec<Candidate>,
        timing: Timing,
    ) -> Result<(), UpdateError> {
        let mut returned = BTreeMap::new();
        for candidate in candidates {
            if returned.contains_key(&candidate.labels) {
                return Err(UpdateError::DuplicateLabelSet);
            }
            returned.insert(candidate.labels.clone(), candidate);
        }
        for (labels, candidate) in &returned {
            match self.alerts.get_mut(labels) {
                Some(alert) if alert.state != AlertState::Inactive => {
                    alert.value = candidate.value;
                    alert.annotations = candidate.annotations.clone();
                }
                _ => {
                    self.alerts
                        .insert(labels.clone(), new_pending(t, candidate));
                }
            }
        }
        let mut active = 0;
        self.alerts.retain(|labels, alert| {
            if returned.contains_key(labels) {
                alert.keep_firing_since_ms = None;
            } else {
                let keep_firing = alert.state == AlertState::Firing
                    && timing.keep_firing_for_ms > 0
                    && t.saturating_sub(*alert.keep_firing_since_ms.get_or_insert(t))
                        < timing.keep_firing_for_ms;
                if alert.state == AlertState::Pending
                    || alert
                        .resolved_at_ms
                        .is_some_and(|at| t.saturating_sub(at) > RESOLVED_RETENTION_MS)
                {
                    return false;
                }
                if keep_firing {
                    active += 1;
                    return true;
                }
                if alert.state != AlertState::Inactive {
                    alert.state = AlertState::Inactive;
                    alert.resolved_at_ms = Some(t);
                }
                return true;
            }
            active += 1;
            if alert.state == AlertState::Pending
                && t.saturating_sub(alert.active_at_ms) >= timing.hold_ms
            {
                alert.state = AlertState::Firing;
                alert.fired_at_ms = Some(t);
            }
            true
        });
        let limit = timing.effective_limit();
        if active > limit {
            self.alerts.clear();
            return Err(UpdateError::LimitExceeded {
                limit,
                count: active,
            });
        }
        self.bound_resolved();
        Ok(())
    }

    /// Drops every alert (the rule's result exceeded its limit).
    pub fn clear(&mut self) {
        self.alerts.clear();
    }

    /// The alerts due to be sent at `t`, marked as sent: each firing
    /// alert every `resend_delay_ms`, each resolution once when it happens
    /// and then every `resend_delay_ms` while it is retained. A sent
    /// alert stays valid for four times the larger of the interval and
    /// the resend delay, so two lost evaluations or sends do not resolve
    /// it at the receiver.
    pub fn alerts_to_send(
        &mut self,
        t: i64,
        resend_delay_ms: i64,
        interval_ms: i64,
    ) -> Vec<ActiveAlert> {
        let validity = resend_delay_ms.max(interval_ms).saturating_mul(4);
        let mut due = Vec::new();
        for alert in self.alerts.values_mut() {
            if needs_sending(alert, t, resend_delay_ms) {
                alert.last_sent_at_ms = Some(t);
                alert.valid_until_ms = Some(t.saturating_add(validity));
                due.push(alert.clone());
            }
        }
        due
    }

    /// `ALERTS` and `ALERTS_FOR_STATE` samples for every pending and
    /// firing alert.
    pub fn series(&self) -> Vec<QuerySample> {
        let mut samples = Vec::new();
        for alert in self.active() {
            let mut labels = alert.labels.clone();
            labels.insert(METRIC_NAME.into(), ALERTS_FOR_STATE_METRIC.into());
            samples.push(QuerySample {
                labels: labels.clone(),
                value: alert.active_at_ms.div_euclid(1_000) as f64,
            });
            labels.insert(METRIC_NAME.into(), ALERTS_METRIC.into());
            labels.insert(ALERT_STATE_LABEL.into(), alert.state.as_str().into());
            samples.push(QuerySample { labels, value: 1.0 });
        }
        samples
    }

    /// Pending and firing alerts, in label order.
    pub fn active(&self) -> impl Iterator<Item = &ActiveAlert> {
        self.alerts
            .values()
            .filter(|a| a.state != AlertState::Inactive)
    }

    /// Every alert including resolved ones still retained.
    pub fn all(&self) -> impl Iterator<Item = &ActiveAlert> {
        self.alerts.values()
    }

    /// The most severe state of any alert: the rule's state.
    pub fn state(&self) -> AlertState {
        self.active()
            .map(|a| a.state)
            .max()
            .unwrap_or(AlertState::Inactive)
    }

    pub fn snapshot(&self) -> Vec<AlertSnapshot> {
        self.alerts.values().cloned().collect()
    }

    /// Replaces the table with a snapshot, keeping at most the hard cap
    /// of active alerts and twice the cap in total.
    pub fn restore(&mut self, snapshot: Vec<AlertSnapshot>) {
        self.alerts.clear();
        let mut active = 0;
        for alert in snapshot {
            if alert.state != AlertState::Inactive {
                if active == MAX_ALERTS_PER_RULE {
                    continue;
                }
                active += 1;
            }
            self.alerts.insert(alert.labels.clone(), alert);
        }
        self.bound_resolved();
    }

    /// Forgets the oldest resolutions beyond twice the cap.
    fn bound_resolved(&mut self) {
        let excess = self.alerts.len().saturating_sub(2 * MAX_ALERTS_PER_RULE);
        if excess == 0 {
            return;
        }
        let mut resolved: Vec<(i64, LabelSet)> = self
            .alerts
            .values()
            .filter(|a| a.state == AlertState::Inactive)
            .map(|a| (a.resolved_at_ms.unwrap_or(i64::MIN), a.labels.clone()))
            .collect();
        resolved.sort();
        let oldest: BTreeSet<LabelSet> = resolved.into_iter().take(excess).map(|r| r.1).collect();
        self.alerts.retain(|labels, _| !oldest.contains(labels));
    }
}

fn new_pending(t: i64, candidate: &Candidate) -> ActiveAlert {
    ActiveAlert {
        labels: candidate.labels.clone(),
        annotations: candidate.annotations.clone(),
        value: candidate.value,
        state: AlertState::Pending,
        active_at_ms: t,
        fired_at_ms: None,
        resolved_at_ms: None,
        last_sent_at_ms: None,
        valid_until_ms: None,
        keep_firing_since_ms: None,
    }
}

/// Prometheus' `needsSending`.
fn needs_sending(alert: &ActiveAlert, t: i64, resend_delay_ms: i64) -> bool {
    if alert.state == AlertState::Pending {
        return false;
    }
    let Some(last_sent) = alert.last_sent_at_ms else {
        return true;
    };
    if alert.resolved_at_ms.is_some_and(|at| at > last_sent) {
        return true;
    }
    last_sent.saturating_add(resend_delay_ms) < t
}

/// Serde for an `f64` written as its shortest round-tripping text
/// (`NaN`, `inf` and `-inf` included).
mod float_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|_| serde::de::Error::custom(format!("invalid sample value {text:?}")))
    }
}
