//! Scenario tests of the rules module, on fakes: a [`ScriptedQuerier`]
//! answering per expression and timestamp, and a [`RecordingSink`]
//! keeping what was written. Both log to one shared event list so tests
//! can check the order of queries and writes.

mod api;
mod file;
mod lifecycle;
mod restart;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::file::load;
use super::group::{EvalContext, RuleGroup};
use super::rule::Rule;
use super::state::{ActiveAlert, AlertState};
use crate::model::{Alert, LabelSet};
use crate::query::{Language, QuerySample, RuleQuerier, SampleSink};

pub type Events = Arc<Mutex<Vec<String>>>;

/// Results by (expression, timestamp in ms).
type Script = BTreeMap<(String, i64), Result<Vec<QuerySample>, String>>;

/// Answers `instant(expr, t)` from a script; unscripted is empty.
/// `check` rejects any expression containing `((`.
#[derive(Default)]
pub struct ScriptedQuerier {
    script: Mutex<Script>,
    pub checks: Mutex<Vec<(Language, String)>>,
    pub queries: Mutex<Vec<(Language, String, String, i64)>>,
    pub events: Events,
}

impl ScriptedQuerier {
    pub fn new(events: &Events) -> ScriptedQuerier {
        ScriptedQuerier {
            events: events.clone(),
            ..ScriptedQuerier::default()
        }
    }

    /// `expr` returns `samples` at each of `times` (seconds).
    pub fn returns(&self, expr: &str, times: &[i64], samples: &[QuerySample]) {
        let mut script = lock(&self.script);
        for t in times {
            script.insert((expr.to_owned(), t * 1_000), Ok(samples.to_vec()));
        }
    }

    pub fn fails(&self, expr: &str, at_s: i64, error: &str) {
        lock(&self.script).insert((expr.to_owned(), at_s * 1_000), Err(error.to_owned()));
    }
}

impl RuleQuerier for ScriptedQuerier {
    fn check(&self, language: Language, expr: &str) -> Result<(), String> {
        lock(&self.checks).push((language, expr.to_owned()));
        match expr.find("((") {
            Some(at) => Err(format!("1:{}: unclosed parenthesis", at + 1)),
            None => Ok(()),
        }
    }

    fn instant(
        &self,
        language: Language,
        tenant: &str,
        expr: &str,
        at_ms: i64,
    ) -> Result<Vec<QuerySample>, String> {
        lock(&self.queries).push((language, tenant.to_owned(), expr.to_owned(), at_ms));
        lock(&self.events).push(format!("query {expr}"));
        let script = lock(&self.script);
        script
            .get(&(expr.to_owned(), at_ms))
            .cloned()
            .unwrap_or(Ok(Vec::new()))
    }
}

/// Keeps every write.
#[derive(Default)]
pub struct RecordingSink {
    pub writes: Mutex<Vec<(String, i64, Vec<QuerySample>)>>,
    pub events: Events,
}

impl RecordingSink {
    pub fn new(events: &Events) -> RecordingSink {
        RecordingSink {
            events: events.clone(),
            ..RecordingSink::default()
        }
    }

    /// Samples written at `at_s` whose `__name__` is `name`.
    pub fn written(&self, at_s: i64, name: &str) -> Vec<QuerySample> {
        lock(&self.writes)
            .iter()
            .filter(|(_, at, _)| *at == at_s * 1_000)
            .flat_map(|(_, _, samples)| samples.clone())
            .filter(|s| s.labels.get("__name__").map(String::as_str) == Some(name))
            .collect()
    }
}

impl SampleSink for RecordingSink {
    fn write(&self, tenant: &str, at_ms: i64, samples: &[QuerySample]) -> Result<(), String> {
        let names: Vec<&str> = samples
            .iter()
            .filter_map(|s| s.labels.get("__name__").map(String::as_str))
            .collect();
        lock(&self.events).push(format!("write {}", names.join(",")));
        lock(&self.writes).push((tenant.to_owned(), at_ms, samples.to_vec()));
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Everything a scenario needs.
pub struct Harness {
    pub events: Events,
    pub querier: ScriptedQuerier,
    pub sink: RecordingSink,
    pub external_labels: LabelSet,
    pub resend_delay: Duration,
}

impl Harness {
    pub fn new() -> Harness {
        let events = Events::default();
        Harness {
            querier: ScriptedQuerier::new(&events),
            sink: RecordingSink::new(&events),
            events,
            external_labels: labels(&[("cluster", "eu1")]),
            resend_delay: Duration::from_secs(60),
        }
    }

    /// The groups of `text`, loaded as a metric rule file.
    pub fn load(&self, text: &str) -> Vec<RuleGroup> {
        match load(
            "rules.yml",
            text,
            Language::PromQl,
            Duration::from_secs(15),
            &self.querier,
        ) {
            Ok(groups) => groups,
            Err(errors) => panic!("rule file should load: {errors:?}"),
        }
    }

    /// Evaluates `group` at `t_s` seconds; the alerts to send.
    pub fn eval(&self, group: &mut RuleGroup, t_s: i64) -> Vec<Alert> {
        let ctx = EvalContext {
            querier: &self.querier,
            sink: Some(&self.sink),
            external_labels: &self.external_labels,
            external_url: "http://weir.example:9090/",
            resend_delay: self.resend_delay,
        };
        group.evaluate(&ctx, t_s * 1_000)
    }
}

pub fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn sample(pairs: &[(&str, &str)], value: f64) -> QuerySample {
    QuerySample {
        labels: labels(pairs),
        value,
    }
}

/// The alerts of the group's `n`-th rule, which must be an alerting rule.
pub fn alerts(group: &RuleGroup, n: usize) -> Vec<ActiveAlert> {
    match &group.rules[n] {
        Rule::Alerting(r) => r.alerts.all().cloned().collect(),
        Rule::Recording(_) => panic!("rule {n} is a recording rule"),
    }
}

/// (state, active_at in seconds) of the only alert of rule `n`, if any.
pub fn only(group: &RuleGroup, n: usize) -> Option<(AlertState, i64)> {
    let all = alerts(group, n);
    assert!(all.len() <= 1, "expected at most one alert, got {all:?}");
    all.first().map(|a| (a.state, a.active_at_ms / 1_000))
}
