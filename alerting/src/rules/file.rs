//! The rule-file format: Prometheus' (`groups: [{name, interval,
//! query_offset, limit, labels, rules: [{record | alert, expr, for,
//! keep_firing_for, labels, annotations}]}]`), read with
//! `deny_unknown_fields`, plus two Weir keys on a group:
//!
//! - `language: promql | logql`: the language of the group's `expr`s.
//!   Without it, the language of the list the file was configured in
//!   (metric rule files PromQL, log rule files LogQL, as Loki's ruler
//!   reads its own files).
//! - `tenant: <id>`: whose data the group queries and writes; `default`.
//!
//! [`load`] validates as Prometheus' `rulefmt` does and reports every
//! problem of a file, each at `file:line:column`: a YAML or schema error
//! where the parser stopped, a semantic error at the key it concerns
//! (located by [`Outline`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::group::RuleGroup;
use super::outline::{Outline, Position};
use super::rule::{AlertingRule, RecordingRule, Rule, RuleStatus, TemplateMap};
use super::state::{AlertTable, METRIC_NAME};
use super::{MAX_FILE_BYTES, MAX_GROUPS_PER_FILE, MAX_RULES_PER_GROUP};
use crate::error::AlertingError;
use crate::query::{Language, RuleQuerier};
use crate::template::Template;
use crate::time::parse_duration;

mod names;
mod raw;
mod scalar;

use names::{check_label_name, check_tenant, is_label_name, is_metric_name};
use raw::{RawFile, RawGroup, RawRule};
use scalar::Scalar;

/// The tenant of a group without a `tenant` key.
pub const DEFAULT_TENANT: &str = "default";

/// One rule file to load: where it came from, its text, and the language
/// of the list it was configured in.
#[derive(Debug, Clone)]
pub struct RuleSource {
    pub path: String,
    pub text: String,
    pub language: Language,
}

/// Loads several files, collecting the problems of all of them.
pub fn load_all(
    sources: &[RuleSource],
    default_interval: Duration,
    querier: &dyn RuleQuerier,
) -> Result<Vec<RuleGroup>, Vec<AlertingError>> {
    let mut groups = Vec::new();
    let mut errors = Vec::new();
    for source in sources {
        match load(
            &source.path,
            &source.text,
            source.language,
            default_interval,
            querier,
        ) {
            Ok(loaded) => groups.extend(loaded),
            Err(found) => errors.extend(found),
        }
    }
    if errors.is_empty() {
        Ok(groups)
    } else {
        Err(errors)
    }
}

/// Parses and validates one rule file. Expressions are checked with
/// `querier.check` in each group's language.
pub fn load(
    path: &str,
    text: &str,
    default_language: Language,
    default_interval: Duration,
    querier: &dyn RuleQuerier,
) -> Result<Vec<RuleGroup>, Vec<AlertingError>> {
    if text.len() > MAX_FILE_BYTES {
        let message = format!("rule file of {} bytes exceeds {MAX_FILE_BYTES}", text.len());
        return Err(vec![AlertingError::invalid(format!("{path}:1:1"), message)]);
    }
    let raw: RawFile = match serde_yaml_ng::from_str(text) {
        Ok(raw) => raw,
        Err(e) => return Err(vec![yaml_error(path, &e)]),
    };
    let mut loader = Loader {
        path,
        outline: Outline::scan(text),
        errors: Vec::new(),
        querier,
    };
    if raw.groups.len() > MAX_GROUPS_PER_FILE {
        let message = format!(
            "{} groups exceed the limit of {MAX_GROUPS_PER_FILE} per file",
            raw.groups.len()
        );
        loader.error(Position { line: 1, column: 1 }, message);
        return Err(loader.errors);
    }
    let mut names = BTreeSet::new();
    let mut groups = Vec::new();
    for (g, group) in raw.groups.into_iter().enumerate() {
        if !group.name.is_empty() && !names.insert(group.name.clone()) {
            let message = format!(
                "groups[{g}]: group name {:?} is repeated in the same file",
                group.name
            );
            loader.error(loader.outline.group(g), message);
        }
        if let Some(loaded) = loader.group(g, group, default_language, default_interval) {
            groups.push(loaded);
        }
    }
    if loader.errors.is_empty() {
        Ok(groups)
    } else {
        Err(loader.errors)
    }
}

/// A serde_yaml_ng error at its own position, without the position
/// repeated in the message.
fn yaml_error(path: &str, error: &serde_yaml_ng::Error) -> AlertingError {
    let (line, column) = error.location().map_or((1, 1), |l| (l.line(), l.column()));
    let text = error.to_string();
    let message = match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    };
    AlertingError::invalid(format!("{path}:{line}:{column}"), message)
}

struct Loader<'a> {
    path: &'a str,
    outline: Outline<'a>,
    errors: Vec<AlertingError>,
    querier: &'a dyn RuleQuerier,
}

impl Loader<'_> {
    fn error(&mut self, at: Position, message: String) {
        self.errors.push(AlertingError::invalid(
            format!("{}:{at}", self.path),
            message,
        ));
    }

    fn group(
        &mut self,
        g: usize,
        raw: RawGroup,
        default_language: Language,
        default_interval: Duration,
    ) -> Option<RuleGroup> {
        let errors_before = self.errors.len();
        let at = self.outline.group(g);
        let here = format!("groups[{g}]");
        if raw.name.is_empty() {
            self.error(at, format!("{here}: group name must not be empty"));
        }
        if raw.rules.is_empty() {
            self.error(at, format!("{here} ({:?}): group has no rules", raw.name));
        }
        if raw.rules.len() > MAX_RULES_PER_GROUP {
            let message = format!(
                "{here} ({:?}): {} rules exceed the limit of {MAX_RULES_PER_GROUP} per group",
                raw.name,
                raw.rules.len()
            );
            self.error(at, message);
            return None;
        }
        let interval = self.duration(self.outline.group_key(g, "interval"), &here, raw.interval);
        let query_offset = self.duration(
            self.outline.group_key(g, "query_offset"),
            &here,
            raw.query_offset,
        );
        let tenant = raw.tenant.unwrap_or_else(|| DEFAULT_TENANT.to_owned());
        if let Err(why) = check_tenant(&tenant) {
            self.error(
                self.outline.group_key(g, "tenant"),
                format!("{here}: {why}"),
            );
        }
        let mut labels = BTreeMap::new();
        for (name, value) in raw.labels {
            let at = self.outline.group_nested(g, "labels", &name);
            if let Err(why) = check_label_name(&name) {
                self.error(at, format!("{here}.labels: {why}"));
            }
            labels.insert(name, value.0);
        }
        let language = raw.language.unwrap_or(default_language);
        let mut rules = Vec::with_capacity(raw.rules.len());
        for (r, rule) in raw.rules.into_iter().enumerate() {
            let context = RuleContext {
                g,
                r,
                language,
                group_labels: &labels,
            };
            if let Some(rule) = self.rule(&context, rule) {
                rules.push(rule);
            }
        }
        if self.errors.len() > errors_before {
            return None;
        }
        Some(RuleGroup {
            name: raw.name,
            file: self.path.to_owned(),
            interval: interval
                .filter(|i| !i.is_zero())
                .unwrap_or(default_interval),
            query_offset: query_offset.unwrap_or_default(),
            language,
            tenant,
            limit: raw.limit,
            labels: labels.into_iter().collect(),
            rules,
            last_evaluation_ms: None,
            evaluation_duration: Duration::ZERO,
        })
    }

    fn rule(&mut self, cx: &RuleContext<'_>, raw: RawRule) -> Option<Rule> {
        let (g, r) = (cx.g, cx.r);
        let errors_before = self.errors.len();
        let record = raw.record.0;
        let alert = raw.alert.0;
        let here = match (record.is_empty(), alert.is_empty()) {
            (false, _) => format!("groups[{g}].rules[{r}] (record {record:?})"),
            (true, false) => format!("groups[{g}].rules[{r}] (alert {alert:?})"),
            (true, true) => format!("groups[{g}].rules[{r}]"),
        };
        let at = self.outline.rule(g, r);
        match (record.is_empty(), alert.is_empty()) {
            (false, false) => self.error(
                at,
                format!("{here}: only one of 'record' and 'alert' must be set"),
            ),
            (true, true) => self.error(
                at,
                format!("{here}: one of 'record' or 'alert' must be set"),
            ),
            _ => {}
        }
        let expr = raw.expr.0;
        let expr_at = self.outline.rule_key(g, r, "expr");
        if expr.trim().is_empty() {
            self.error(at, format!("{here}: field 'expr' must be set in rule"));
        } else if let Err(why) = self.querier.check(cx.language, &expr) {
            let message = format!(
                "{here}: could not parse {} expression: {why}",
                cx.language.as_str()
            );
            self.error(expr_at, message);
        }
        let hold = self.duration(self.outline.rule_key(g, r, "for"), &here, raw.hold);
        let keep_firing_for = self.duration(
            self.outline.rule_key(g, r, "keep_firing_for"),
            &here,
            raw.keep_firing_for,
        );
        let is_recording = !record.is_empty();
        if is_recording {
            if !is_metric_name(&record) {
                let at = self.outline.rule_key(g, r, "record");
                self.error(
                    at,
                    format!("{here}: invalid recording rule name {record:?}"),
                );
            }
            for (key, set) in [
                ("for", hold.is_some_and(|d| !d.is_zero())),
                (
                    "keep_firing_for",
                    keep_firing_for.is_some_and(|d| !d.is_zero()),
                ),
                (
                    "annotations",
                    raw.annotations.as_ref().is_some_and(|a| !a.is_empty()),
                ),
            ] {
                if set {
                    let at = self.outline.rule_key(g, r, key);
                    self.error(
                        at,
                        format!("{here}: invalid field '{key}' in recording rule"),
                    );
                }
            }
        }
        let mut labels: BTreeMap<String, String> = cx.group_labels.clone();
        for (name, value) in raw.labels.unwrap_or_default() {
            let at = self.outline.rule_nested(g, r, "labels", &name);
            if let Err(why) = check_label_name(&name) {
                self.error(at, format!("{here}.labels: {why}"));
            } else if name == METRIC_NAME && !is_recording {
                self.error(
                    at,
                    format!("{here}.labels: invalid label name {METRIC_NAME:?} in alerting rule"),
                );
            }
            labels.insert(name, value.0);
        }
        let annotations: BTreeMap<String, String> = raw
            .annotations
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value)| (name, value.0))
            .collect();
        if is_recording {
            if self.errors.len() > errors_before {
                return None;
            }
            return Some(Rule::Recording(RecordingRule {
                name: record,
                expr,
                labels: labels.into_iter().collect(),
                status: RuleStatus::default(),
            }));
        }
        for name in annotations.keys() {
            if !is_label_name(name) {
                let at = self.outline.rule_nested(g, r, "annotations", name);
                self.error(
                    at,
                    format!("{here}.annotations: invalid annotation name {name:?}"),
                );
            }
        }
        let labels = self.templates(cx, "labels", labels);
        let annotations = self.templates(cx, "annotations", annotations);
        if self.errors.len() > errors_before {
            return None;
        }
        Some(Rule::Alerting(AlertingRule {
            name: alert,
            expr,
            hold: hold.unwrap_or_default(),
            keep_firing_for: keep_firing_for.unwrap_or_default(),
            labels,
            annotations,
            alerts: AlertTable::new(),
            status: RuleStatus::default(),
        }))
    }

    /// A Prometheus duration, if given; an error at `at` if invalid.
    fn duration(&mut self, at: Position, here: &str, value: Scalar) -> Option<Duration> {
        if value.0.is_empty() {
            return None;
        }
        match parse_duration(&value.0) {
            Ok(duration) => Some(duration),
            Err(why) => {
                self.error(at, format!("{here}: {why}"));
                None
            }
        }
    }

    /// Parses each value as a template named
    /// `groups[g].rules[r].<kind>.<name>`.
    fn templates(
        &mut self,
        cx: &RuleContext<'_>,
        kind: &str,
        values: BTreeMap<String, String>,
    ) -> TemplateMap {
        let mut entries = Vec::with_capacity(values.len());
        for (name, source) in values {
            let template_name = format!("groups[{}].rules[{}].{kind}.{name}", cx.g, cx.r);
            match Template::parse(&template_name, &source) {
                Ok(template) => entries.push((name, source, template)),
                Err(e) => {
                    let at = self.outline.rule_nested(cx.g, cx.r, kind, &name);
                    self.error(at, format!("{template_name}: invalid template: {e}"));
                }
            }
        }
        TemplateMap::new(entries)
    }
}

struct RuleContext<'a> {
    g: usize,
    r: usize,
    language: Language,
    group_labels: &'a BTreeMap<String, String>,
}
