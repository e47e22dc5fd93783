//! A rule group: rules evaluated in file order at one timestamp every
//! `interval`, as Prometheus' `rules/group.go`.
//!
//! # Invariants
//! - Rules run in order, and a recording rule's samples are written to
//!   the sink before the next rule runs, so later rules can read them.
//! - Each rule's health records its own latest evaluation; one rule's
//!   failure does not stop the others.
//! - Queries run at `t - query_offset`; alert state, sends and health use
//!   `t`; written samples are stamped with the query time.
//! - A group is identified by (file, name): across a reload,
//!   [`RuleGroup::carry_state_from`] moves alerts and health of rules
//!   whose definition did not change; across a restart,
//!   [`GroupSnapshot`] restores alerts by rule position and name.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::rule::{Rule, RuleScope, millis};
use super::state::{ActiveAlert, AlertSnapshot};
use crate::model::{Alert, LabelSet};
use crate::query::{Language, QuerySample, RuleQuerier, SampleSink};

/// What an evaluation needs from the engine.
#[derive(Clone, Copy)]
pub struct EvalContext<'a> {
    pub querier: &'a dyn RuleQuerier,
    /// Where recorded series and `ALERTS` go; `None` writes nothing.
    pub sink: Option<&'a dyn SampleSink>,
    pub external_labels: &'a LabelSet,
    /// Weir's base URL, for templates and generator links.
    pub external_url: &'a str,
    /// How often a firing alert is re-sent (Prometheus'
    /// `--rules.alert.resend-delay`, 1m by default).
    pub resend_delay: Duration,
}

/// One group of one rule file.
#[derive(Debug, Clone)]
pub struct RuleGroup {
    pub name: String,
    /// The path the group was loaded from.
    pub file: String,
    pub interval: Duration,
    pub query_offset: Duration,
    pub language: Language,
    pub tenant: String,
    /// At most this many alerts (or series) per rule; 0 means no limit
    /// beyond the hard caps.
    pub limit: usize,
    /// The group's `labels` as written (already merged into each rule's).
    pub labels: LabelSet,
    pub rules: Vec<Rule>,
    pub last_evaluation_ms: Option<i64>,
    pub evaluation_duration: Duration,
}

/// A group's persisted alert state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupSnapshot {
    pub rules: Vec<RuleSnapshot>,
}

/// The alerts of the alerting rule at `position` named `name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSnapshot {
    pub position: usize,
    pub name: String,
    pub alerts: Vec<AlertSnapshot>,
}

impl RuleGroup {
    /// (file, name): the same group across reloads.
    pub fn identity(&self) -> (&str, &str) {
        (&self.file, &self.name)
    }

    /// Evaluates every rule at `t_ms` and returns the alerts to send.
    pub fn evaluate(&mut self, ctx: &EvalContext<'_>, t_ms: i64) -> Vec<Alert> {
        let started = Instant::now();
        let query_at = t_ms.saturating_sub(millis(self.query_offset));
        let resend_delay = millis(ctx.resend_delay);
        let interval = millis(self.interval);
        let scope = RuleScope {
            querier: ctx.querier,
            language: self.language,
            tenant: &self.tenant,
            limit: self.limit,
            external_labels: ctx.external_labels,
            external_url: ctx.external_url,
        };
        let mut to_send = Vec::new();
        for rule in &mut self.rules {
            let rule_started = Instant::now();
            let result = match rule {
                Rule::Alerting(r) => r.evaluate(&scope, t_ms, query_at).inspect(|_| {
                    let due = r.alerts.alerts_to_send(t_ms, resend_delay, interval);
                    to_send.extend(due.iter().map(|a| notification(a, &r.expr, ctx)));
                }),
                Rule::Recording(r) => r.evaluate(&scope, query_at),
            };
            let result = result.and_then(|samples| write(ctx, &self.tenant, query_at, &samples));
            rule.status_mut()
                .record(t_ms, rule_started.elapsed(), result.err());
        }
        self.last_evaluation_ms = Some(t_ms);
        self.evaluation_duration = started.elapsed();
        to_send
    }

    /// Takes over the alerts and health of `old`'s rules whose kind,
    /// name, expression and labels are unchanged (each old rule at most
    /// once, in order), and the group's last evaluation.
    pub fn carry_state_from(&mut self, old: &RuleGroup) {
        let mut used = vec![false; old.rules.len()];
        for rule in &mut self.rules {
            let found = old
                .rules
                .iter()
                .enumerate()
                .find(|(i, o)| !used[*i] && o.same_definition(rule));
            let Some((i, old_rule)) = found else {
                continue;
            };
            used[i] = true;
            *rule.status_mut() = old_rule.status().clone();
            if let (Rule::Alerting(new), Rule::Alerting(old)) = (rule, old_rule) {
                new.alerts = old.alerts.clone();
            }
        }
        self.last_evaluation_ms = old.last_evaluation_ms;
        self.evaluation_duration = old.evaluation_duration;
    }

    pub fn snapshot(&self) -> GroupSnapshot {
        let rules = self
            .rules
            .iter()
            .enumerate()
            .filter_map(|(position, rule)| match rule {
                Rule::Alerting(r) => Some(RuleSnapshot {
                    position,
                    name: r.name.clone(),
                    alerts: r.alerts.snapshot(),
                }),
                Rule::Recording(_) => None,
            })
            .collect();
        GroupSnapshot { rules }
    }

    /// Restores alerts into the alerting rules at the same position with
    /// the same name; entries that match no rule are ignored.
    pub fn restore(&mut self, snapshot: GroupSnapshot) {
        for saved in snapshot.rules {
            if let Some(Rule::Alerting(rule)) = self.rules.get_mut(saved.position)
                && rule.name == saved.name
            {
                rule.alerts.restore(saved.alerts);
            }
        }
    }

    /// Every pending and firing alert of the group's alerting rules.
    pub fn active_alerts(&self) -> impl Iterator<Item = &ActiveAlert> {
        self.rules
            .iter()
            .flat_map(|rule| match rule {
                Rule::Alerting(r) => Some(r.alerts.active()),
                Rule::Recording(_) => None,
            })
            .flatten()
    }
}

fn write(
    ctx: &EvalContext<'_>,
    tenant: &str,
    at_ms: i64,
    samples: &[QuerySample],
) -> Result<(), String> {
    match ctx.sink {
        Some(sink) if !samples.is_empty() => sink
            .write(tenant, at_ms, samples)
            .map_err(|e| format!("writing samples: {e}")),
        _ => Ok(()),
    }
}

/// The alert as the notifier gets it (Prometheus' `sendAlerts`): starts
/// when it fired, ends when it resolved or when its validity runs out,
/// with the external labels the alert does not set itself.
fn notification(alert: &ActiveAlert, expr: &str, ctx: &EvalContext<'_>) -> Alert {
    let mut labels = alert.labels.clone();
    for (name, value) in ctx.external_labels {
        labels.entry(name.clone()).or_insert_with(|| value.clone());
    }
    Alert {
        labels,
        annotations: alert.annotations.clone(),
        starts_at_ms: alert.fired_at_ms.unwrap_or(alert.active_at_ms),
        ends_at_ms: alert
            .resolved_at_ms
            .or(alert.valid_until_ms)
            .unwrap_or(alert.active_at_ms),
        generator_url: generator_url(ctx.external_url, expr),
    }
}

/// `{external_url}/graph?g0.expr=<expr>&g0.tab=1`, Prometheus' link to a
/// rule's expression.
pub fn generator_url(external_url: &str, expr: &str) -> String {
    format!(
        "{}/graph?g0.expr={}&g0.tab=1",
        external_url.trim_end_matches('/'),
        query_escape(expr)
    )
}

/// Escapes a query-string value: unreserved bytes stay, a space becomes
/// `+`, every other byte `%XX`.
fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
