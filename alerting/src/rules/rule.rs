//! Alerting and recording rules as loaded from a file, and one
//! evaluation of each: run the query, label the result, and either feed
//! the alert state machine ([`AlertTable`]) or produce the recorded
//! series.
//!
//! # Invariants
//! - A rule's `labels` already include its group's `labels` (the rule's
//!   own win), as Prometheus merges them at load.
//! - Evaluation never panics on a result: duplicate label sets and
//!   results over the limit are evaluation errors, a template that fails
//!   to render yields `<error expanding template: …>` as Prometheus does.
//! - A failed evaluation changes no alert state, except exceeding the
//!   limit, which drops the rule's alerts.

use std::time::Duration;

use serde::Serialize;

use super::MAX_SERIES_PER_RECORDING_RULE;
use super::state::{AlertTable, Candidate, METRIC_NAME, Timing};
use crate::model::{ALERT_NAME, LabelSet};
use crate::query::{Language, QuerySample, RuleQuerier};
use crate::template::{Template, TemplateData};

/// Whether a rule's last evaluation worked, as Prometheus reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleHealth {
    /// Not evaluated yet.
    #[default]
    Unknown,
    Ok,
    Err,
}

/// The outcome of a rule's latest evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleStatus {
    pub health: RuleHealth,
    pub last_error: Option<String>,
    pub last_evaluation_ms: Option<i64>,
    pub evaluation_duration: Duration,
}

impl RuleStatus {
    pub fn record(&mut self, at_ms: i64, took: Duration, error: Option<String>) {
        self.health = if error.is_some() {
            RuleHealth::Err
        } else {
            RuleHealth::Ok
        };
        self.last_error = error;
        self.last_evaluation_ms = Some(at_ms);
        self.evaluation_duration = took;
    }
}

/// Label values or annotations as written (for the API) and parsed.
#[derive(Debug, Clone, Default)]
pub struct TemplateMap {
    entries: Vec<(String, String, Template)>,
}

impl TemplateMap {
    /// `(name, source, parsed)` triples, in name order.
    pub fn new(mut entries: Vec<(String, String, Template)>) -> TemplateMap {
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
        TemplateMap { entries }
    }

    /// Names to their sources.
    pub fn sources(&self) -> LabelSet {
        self.entries
            .iter()
            .map(|(name, source, _)| (name.clone(), source.clone()))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn render_into(&self, data: &TemplateData<'_>, out: &mut LabelSet) {
        for (name, _, template) in &self.entries {
            let value = template
                .render(data)
                .unwrap_or_else(|e| format!("<error expanding template: {e}>"));
            out.insert(name.clone(), value);
        }
    }
}

/// Where and how a rule is evaluated: the group's settings and the
/// engine's.
#[derive(Clone, Copy)]
pub struct RuleScope<'a> {
    pub querier: &'a dyn RuleQuerier,
    pub language: Language,
    pub tenant: &'a str,
    pub limit: usize,
    pub external_labels: &'a LabelSet,
    pub external_url: &'a str,
}

/// An `alert:` rule.
#[derive(Debug, Clone)]
pub struct AlertingRule {
    pub name: String,
    pub expr: String,
    /// `for`: how long a result must persist before it fires.
    pub hold: Duration,
    pub keep_firing_for: Duration,
    pub labels: TemplateMap,
    pub annotations: TemplateMap,
    pub alerts: AlertTable,
    pub status: RuleStatus,
}

impl AlertingRule {
    pub fn timing(&self, limit: usize) -> Timing {
        Timing {
            hold_ms: millis(self.hold),
            keep_firing_for_ms: millis(self.keep_firing_for),
            limit,
        }
    }

    /// Queries at `query_at_ms`, updates the alerts as of `t_ms` and
    /// returns the `ALERTS` / `ALERTS_FOR_STATE` samples.
    pub fn evaluate(
        &mut self,
        scope: &RuleScope<'_>,
        t_ms: i64,
        query_at_ms: i64,
    ) -> Result<Vec<QuerySample>, String> {
        let samples =
            scope
                .querier
                .instant(scope.language, scope.tenant, &self.expr, query_at_ms)?;
        let timing = self.timing(scope.limit);
        let limit = timing.effective_limit();
        if samples.len() > limit {
            self.alerts.clear();
            return Err(format!(
                "exceeded limit of {limit} with {} alerts",
                samples.len()
            ));
        }
        let candidates = samples
            .iter()
            .map(|sample| self.candidate(scope, sample))
            .collect();
        self.alerts
            .update(t_ms, candidates, timing)
            .map_err(|e| e.to_string())?;
        Ok(self.alerts.series())
    }

    fn candidate(&self, scope: &RuleScope<'_>, sample: &QuerySample) -> Candidate {
        let data = TemplateData {
            labels: &sample.labels,
            external_labels: scope.external_labels,
            value: sample.value,
            external_url: scope.external_url,
        };
        let mut labels = sample.labels.clone();
        labels.remove(METRIC_NAME);
        self.labels.render_into(&data, &mut labels);
        labels.insert(ALERT_NAME.into(), self.name.clone());
        let mut annotations = LabelSet::new();
        self.annotations.render_into(&data, &mut annotations);
        Candidate {
            labels,
            annotations,
            value: sample.value,
        }
    }
}

/// A `record:` rule.
#[derive(Debug, Clone)]
pub struct RecordingRule {
    /// The metric name written.
    pub name: String,
    pub expr: String,
    pub labels: LabelSet,
    pub status: RuleStatus,
}

impl RecordingRule {
    /// Queries at `query_at_ms` and returns the samples to record, named
    /// and labelled.
    pub fn evaluate(
        &self,
        scope: &RuleScope<'_>,
        query_at_ms: i64,
    ) -> Result<Vec<QuerySample>, String> {
        let mut samples =
            scope
                .querier
                .instant(scope.language, scope.tenant, &self.expr, query_at_ms)?;
        let limit = match scope.limit {
            0 => MAX_SERIES_PER_RECORDING_RULE,
            n => n.min(MAX_SERIES_PER_RECORDING_RULE),
        };
        if samples.len() > limit {
            return Err(format!(
                "exceeded limit of {limit} with {} series",
                samples.len()
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for sample in &mut samples {
            sample.labels.insert(METRIC_NAME.into(), self.name.clone());
            for (name, value) in &self.labels {
                sample.labels.insert(name.clone(), value.clone());
            }
            if !seen.insert(sample.labels.clone()) {
                return Err(
                    "vector contains metrics with the same labelset after applying rule labels"
                        .into(),
                );
            }
        }
        Ok(samples)
    }
}

/// A rule of either kind, in file order within its group.
#[derive(Debug, Clone)]
pub enum Rule {
    Alerting(AlertingRule),
    Recording(RecordingRule),
}

impl Rule {
    /// The alert name or the recorded metric name.
    pub fn name(&self) -> &str {
        match self {
            Rule::Alerting(r) => &r.name,
            Rule::Recording(r) => &r.name,
        }
    }

    pub fn expr(&self) -> &str {
        match self {
            Rule::Alerting(r) => &r.expr,
            Rule::Recording(r) => &r.expr,
        }
    }

    /// The rule's labels as written (templates unexpanded).
    pub fn label_sources(&self) -> LabelSet {
        match self {
            Rule::Alerting(r) => r.labels.sources(),
            Rule::Recording(r) => r.labels.clone(),
        }
    }

    pub fn status(&self) -> &RuleStatus {
        match self {
            Rule::Alerting(r) => &r.status,
            Rule::Recording(r) => &r.status,
        }
    }

    pub fn status_mut(&mut self) -> &mut RuleStatus {
        match self {
            Rule::Alerting(r) => &mut r.status,
            Rule::Recording(r) => &mut r.status,
        }
    }

    /// Same kind, name, expression and labels: the same rule across a
    /// reload.
    pub fn same_definition(&self, other: &Rule) -> bool {
        matches!(
            (self, other),
            (Rule::Alerting(_), Rule::Alerting(_)) | (Rule::Recording(_), Rule::Recording(_))
        ) && self.name() == other.name()
            && self.expr() == other.expr()
            && self.label_sources() == other.label_sources()
    }
}

/// A duration in milliseconds, saturating.
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
