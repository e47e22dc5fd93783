//! Runs a log pipeline over one entry: line filters, parsers, label
//! filters, drop/keep and line_format, in query order.
//!
//! Label filter semantics follow Loki: a string matcher reads a missing
//! label as ""; a numeric, duration or byte-size comparison drops an entry
//! without the label, and when the value does not parse it keeps the entry
//! and marks it `__error__="LabelFilterErr"`; an entry already marked with
//! an error passes numeric comparisons untouched (only string matchers,
//! such as `__error__=""`, can filter it out).

use crate::logs::source::LogEntry;

use super::ast::{LabelFilter, LineFilter, Needle, Stage, TemplatePart, Unit};
use super::entry_labels::{ERROR_DETAILS_LABEL, ERROR_LABEL, EntryLabels};
use super::{json, logfmt, units};

const LABEL_FILTER_ERROR: &str = "LabelFilterErr";

/// An entry that passed the pipeline.
#[derive(Debug)]
pub(crate) struct Processed {
    pub timestamp_nanos: i64,
    pub line: String,
    pub labels: EntryLabels,
}

/// Runs `stages` over `entry`; `None` when a filter drops it.
pub(crate) fn run(stages: &[Stage], entry: LogEntry) -> Option<Processed> {
    // Leading line filters need no labels: run them before building any.
    let leading = stages
        .iter()
        .take_while(|s| matches!(s, Stage::LineFilter(_)))
        .count();
    for stage in &stages[..leading] {
        if let Stage::LineFilter(filter) = stage
            && !filter.keeps(&entry.line)
        {
            return None;
        }
    }
    let mut labels = EntryLabels::new(&entry.labels, &entry.metadata);
    let mut line = entry.line;
    for stage in &stages[leading..] {
        match stage {
            Stage::LineFilter(filter) => {
                if !filter.keeps(&line) {
                    return None;
                }
            }
            Stage::Json(extractions) if extractions.is_empty() => {
                json::extract_all(&line, &mut labels)
            }
            Stage::Json(extractions) => json::extract_paths(&line, extractions, &mut labels),
            Stage::Logfmt {
                strict,
                extractions,
            } => logfmt::extract(&line, *strict, extractions, &mut labels),
            Stage::Regexp(pattern) => {
                if let Some(captures) = pattern.regex.captures(&line) {
                    for name in pattern.regex.capture_names().flatten() {
                        if let Some(found) = captures.name(name) {
                            labels.extract(name.to_owned(), found.as_str().to_owned());
                        }
                    }
                }
            }
            Stage::LabelFilter(filter) => {
                if !filter_labels(filter, &mut labels) {
                    return None;
                }
            }
            Stage::Drop(selectors) => {
                let error_dropped = selectors.iter().any(|s| {
                    labels
                        .get(ERROR_LABEL)
                        .is_some_and(|value| s.selects(ERROR_LABEL, value))
                });
                labels.retain(|name, value| {
                    let dropped = selectors.iter().any(|s| s.selects(name, value));
                    let details_dropped = error_dropped && name == ERROR_DETAILS_LABEL;
                    !(dropped || details_dropped)
                });
            }
            Stage::Keep(selectors) => labels.retain(|name, value| {
                name == ERROR_LABEL
                    || name == ERROR_DETAILS_LABEL
                    || selectors.iter().any(|s| s.selects(name, value))
            }),
            Stage::LineFormat(parts) => line = format_line(parts, &line, &labels),
        }
    }
    Some(Processed {
        timestamp_nanos: entry.timestamp_nanos,
        line,
        labels,
    })
}

impl LineFilter {
    /// Whether the line passes: any needle found, or for a negated filter
    /// none found.
    pub(crate) fn keeps(&self, line: &str) -> bool {
        let found = self.needles.iter().any(|needle| match needle {
            Needle::Literal(text) => line.contains(text.as_str()),
            Needle::Regex(pattern) => pattern.regex.is_match(line),
        });
        found != self.negated
    }
}

/// Evaluates a label filter, possibly marking the entry with an error.
pub(crate) fn filter_labels(filter: &LabelFilter, labels: &mut EntryLabels) -> bool {
    match filter {
        LabelFilter::Match(matcher) => matcher.matches(labels.get(&matcher.name).unwrap_or("")),
        LabelFilter::Compare {
            name,
            op,
            value,
            unit,
        } => {
            if labels.has_error() {
                return true;
            }
            let Some(raw) = labels.get(name) else {
                return false;
            };
            match read_number(raw, *unit) {
                Some(actual) => op.holds(actual, *value),
                None => {
                    let details = format!(
                        "label {name}: cannot read {raw:?} as a {}",
                        unit_name(*unit)
                    );
                    labels.set_error(LABEL_FILTER_ERROR, details);
                    true
                }
            }
        }
        LabelFilter::And(lhs, rhs) => filter_labels(lhs, labels) && filter_labels(rhs, labels),
        LabelFilter::Or(lhs, rhs) => filter_labels(lhs, labels) || filter_labels(rhs, labels),
    }
}

/// A label value read as a number, a duration (seconds) or bytes.
pub(crate) fn read_number(raw: &str, unit: Unit) -> Option<f64> {
    match unit {
        Unit::Number => raw.trim().parse().ok(),
        Unit::Duration => units::parse_duration_seconds(raw.trim()),
        Unit::Bytes => units::parse_bytes(raw),
    }
}

pub(crate) fn unit_name(unit: Unit) -> &'static str {
    match unit {
        Unit::Number => "number",
        Unit::Duration => "duration",
        Unit::Bytes => "byte size",
    }
}

fn format_line(parts: &[TemplatePart], line: &str, labels: &EntryLabels) -> String {
    let mut out = String::new();
    for part in parts {
        match part {
            TemplatePart::Literal(text) => out.push_str(text),
            TemplatePart::Label(name) if name == "__line__" => out.push_str(line),
            TemplatePart::Label(name) => out.push_str(labels.get(name).unwrap_or("")),
        }
    }
    out
}

/// The `|=` literals a source may use to narrow candidates: every
/// single-needle `|=` before the line is first rewritten.
pub(crate) fn required_substrings(stages: &[Stage]) -> Vec<String> {
    let mut out = Vec::new();
    for stage in stages {
        match stage {
            Stage::LineFilter(LineFilter {
                negated: false,
                needles,
            }) => {
                if let [Needle::Literal(text)] = needles.as_slice()
                    && !text.is_empty()
                    && !out.contains(text)
                {
                    out.push(text.clone());
                }
            }
            Stage::LineFormat(_) => break,
            _ => {}
        }
    }
    out
}
