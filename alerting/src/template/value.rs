//! Values during evaluation, with Go's truthiness and `%v` printing.
//!
//! The data a rule template sees has few types: the root (Prometheus'
//! struct of `Labels`, `ExternalLabels`, `ExternalURL`, `Value`), label
//! maps, strings, and the numbers and booleans of literals and functions.
//! Maps borrow the caller's label sets; nothing is copied until printed.

use super::TemplateData;
use super::format::format_float;
use crate::model::LabelSet;

#[derive(Debug, Clone)]
pub enum Value<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Map(&'a LabelSet),
    Root(&'a TemplateData<'a>),
}

impl<'a> Value<'a> {
    /// Go's type name, as error messages and `%!verb(type=value)` show it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Map(_) => "map[string]string",
            Value::Root(_) => "struct",
        }
    }

    /// Go's truth: false, 0, "", an empty map and nil are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Root(_) => true,
        }
    }

    /// A field: `.Labels` on the root, a label on a map (`""` if missing,
    /// as with `missingkey=zero`).
    pub fn field(&self, name: &str) -> Result<Value<'a>, String> {
        match self {
            Value::Root(data) => match name {
                "Labels" => Ok(Value::Map(data.labels)),
                "ExternalLabels" => Ok(Value::Map(data.external_labels)),
                "ExternalURL" => Ok(Value::Str(data.external_url.to_owned())),
                "Value" => Ok(Value::Float(data.value)),
                _ => Err(format!(
                    "can't evaluate field {name} in template data \
                     (fields: Labels, ExternalLabels, ExternalURL, Value)"
                )),
            },
            Value::Map(map) => Ok(Value::Str(map.get(name).cloned().unwrap_or_default())),
            Value::Nil => Err(format!("nil pointer evaluating .{name}")),
            other => Err(format!(
                "can't evaluate field {name} in type {}",
                other.type_name()
            )),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Go's `%v` (and `fmt.Sprint`) of a value.
pub fn go_v(value: &Value<'_>) -> String {
    match value {
        Value::Nil => "<nil>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_float(*f, 'g', None),
        Value::Str(s) => s.clone(),
        Value::Map(m) => map_string(m),
        Value::Root(d) => format!(
            "{{{} {} {} {}}}",
            map_string(d.labels),
            map_string(d.external_labels),
            d.external_url,
            format_float(d.value, 'g', None)
        ),
    }
}

fn map_string(map: &LabelSet) -> String {
    let pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("map[{}]", pairs.join(" "))
}
