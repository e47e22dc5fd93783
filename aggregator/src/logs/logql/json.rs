//! The `| json` stage: every field of a JSON object line becomes a label,
//! or, with parameters, the fields at the given paths.
//!
//! As in Loki: nested objects flatten with `_` (`{"a":{"b":1}}` gives
//! `a_b="1"`), names are sanitised to `[a-zA-Z0-9_]`, arrays are skipped
//! (a path may index into them: `a[0]`), `null` sets nothing, and a line
//! that is not a JSON object gets `__error__="JSONParserErr"` with the
//! decoder's message in `__error_details__`. A path that reaches an object
//! or array yields its JSON text.

use serde_json::{Map, Value};

use crate::labels::label_name;

use super::ast::{Extraction, PathPart};
use super::entry_labels::EntryLabels;

const JSON_ERROR: &str = "JSONParserErr";

/// Decodes the line as a JSON object, or records the parser error.
fn object(line: &str, labels: &mut EntryLabels) -> Option<Map<String, Value>> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => Some(map),
        Ok(_) => {
            labels.set_error(JSON_ERROR, "line is not a json object".to_owned());
            None
        }
        Err(e) => {
            labels.set_error(JSON_ERROR, e.to_string());
            None
        }
    }
}

/// `| json`: every scalar field, flattened.
pub(crate) fn extract_all(line: &str, labels: &mut EntryLabels) {
    if let Some(map) = object(line, labels) {
        flatten("", &map, labels);
    }
}

/// `| json a="x.y", b`: the fields at the given paths.
pub(crate) fn extract_paths(line: &str, extractions: &[Extraction], labels: &mut EntryLabels) {
    let Some(map) = object(line, labels) else {
        return;
    };
    let root = Value::Object(map);
    for extraction in extractions {
        let found = extraction
            .path
            .iter()
            .try_fold(&root, |value, part| match part {
                PathPart::Key(key) => value.get(key.as_str()),
                PathPart::Index(index) => value.get(*index),
            });
        let text = match found {
            Some(Value::Object(_) | Value::Array(_)) => found.map(Value::to_string),
            Some(value) => scalar(value),
            None => None,
        };
        if let Some(text) = text {
            labels.extract(extraction.label.clone(), text);
        }
    }
}

fn flatten(prefix: &str, map: &Map<String, Value>, labels: &mut EntryLabels) {
    for (key, value) in map {
        let name = if prefix.is_empty() {
            label_name(key)
        } else {
            format!("{prefix}_{}", label_name(key))
        };
        match value {
            Value::Object(inner) => flatten(&name, inner, labels),
            Value::Array(_) => {}
            value => {
                if let Some(text) = scalar(value) {
                    labels.extract(name, text);
                }
            }
        }
    }
}

/// A scalar's label text: strings verbatim, numbers and booleans printed.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Object(_) | Value::Array(_) => None,
    }
}
