//! OTLP log records as documents, and documents back as the views the
//! query APIs serve.
//!
//! A record of `otlp_logs` holds one `ExportLogsServiceRequest` with one
//! resource; each of its log records becomes one [`LogDocument`]. The
//! mapping, field by field (names as in Quickwit's OTLP logs index):
//! - `timestamp_nanos`: the record's `time_unix_nano`, else its
//!   `observed_time_unix_nano`, else the log record's append time;
//! - `service_name`: the resource's `service.name`, else `unknown_service`
//!   (the OpenTelemetry default);
//! - `body`: a string body verbatim; any other body as JSON text (bytes as
//!   base64);
//! - `attributes`, `resource_attributes`: JSON objects under their original
//!   keys;
//! - `trace_id`, `span_id`: lowercase hex, empty when unset;
//! - `tenant`: the record's `weir.tenant` header, else `default`.
//!
//! The Loki view ([`LogDocument::stream_labels`], [`LogDocument::metadata`])
//! is derived from these fields both when indexing (for the `labels`
//! field) and when reading, so the two cannot disagree.
//!
//! [`decode_record`] and [`LogDocument::to_tantivy`] are the reference
//! mapping. The indexer builds the same documents with a
//! [`DocumentBuilder`], which skips the owned [`LogDocument`] in between
//! (half the CPU of decoding and converting); a property test holds the
//! two equal.
//!
//! # Layout
//! - `builder`: [`DocumentBuilder`].
//! - `value`: borrowed tantivy values over OTLP values and label pairs.

use std::collections::BTreeMap;

use base64::Engine as _;
use log_core::Record;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use prost::Message;
use serde::Serialize;
use tantivy::TantivyDocument;
use tantivy::schema::document::Value;
use tantivy::schema::{OwnedValue, document::CompactDocValue};

use crate::labels::{Labels, label_name, unique_pairs};
use crate::logs::schema::{Fields, SPAN_ID, TRACE_ID};
use value::DocValue;

pub use builder::DocumentBuilder;

mod builder;
mod value;

/// The service name of a resource without `service.name`.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// One log record as indexed and as served by the native search API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogDocument {
    #[serde(skip)]
    pub tenant: String,
    /// The record's offset in its `otlp_logs` partition.
    pub offset: u64,
    pub timestamp_nanos: i64,
    pub observed_timestamp_nanos: i64,
    pub service_name: String,
    pub severity_text: String,
    pub severity_number: u64,
    pub body: String,
    pub attributes: BTreeMap<String, OwnedValue>,
    pub resource_attributes: BTreeMap<String, OwnedValue>,
    pub trace_id: String,
    pub span_id: String,
    pub trace_flags: u64,
    pub scope_name: String,
}

/// Appends the documents of one `otlp_logs` record to `out`. Fails when the
/// value is not an `ExportLogsServiceRequest`.
///
/// With [`LogDocument::to_tantivy`] this is the reference mapping; the
/// indexer builds the same documents with a [`DocumentBuilder`].
pub fn decode_record(
    record: &Record,
    out: &mut Vec<LogDocument>,
) -> Result<(), prost::DecodeError> {
    let value = record.value.as_deref().unwrap_or_default();
    let request = ExportLogsServiceRequest::decode(value)?;
    let tenant = record.tenant();
    let append_nanos = record.timestamp.saturating_mul(1_000_000);
    for resource_logs in request.resource_logs {
        let resource_attributes = resource_logs
            .resource
            .map(|r| object_of(r.attributes))
            .unwrap_or_default();
        let service_name = match resource_attributes.get("service.name") {
            Some(OwnedValue::Str(name)) if !name.is_empty() => name.clone(),
            _ => UNKNOWN_SERVICE.to_owned(),
        };
        for scope_logs in resource_logs.scope_logs {
            let scope_name = scope_logs.scope.map(|s| s.name).unwrap_or_default();
            for log in scope_logs.log_records {
                let timestamp_nanos = timestamp_of(&log, append_nanos);
                out.push(LogDocument {
                    tenant: tenant.to_owned(),
                    offset: record.offset,
                    timestamp_nanos,
                    observed_timestamp_nanos: nanos(log.observed_time_unix_nano),
                    service_name: service_name.clone(),
                    severity_text: log.severity_text,
                    severity_number: u64::try_from(log.severity_number).unwrap_or(0),
                    body: log.body.map(line_of).unwrap_or_default(),
                    attributes: object_of(log.attributes),
                    resource_attributes: resource_attributes.clone(),
                    trace_id: hex(&log.trace_id),
                    span_id: hex(&log.span_id),
                    trace_flags: u64::from(log.flags & 0xff),
                    scope_name: scope_name.clone(),
                });
            }
        }
    }
    Ok(())
}

impl LogDocument {
    /// The tantivy document, including the index-only fields (the
    /// reference mapping: see [`DocumentBuilder`]).
    pub fn to_tantivy(&self, fields: &Fields) -> TantivyDocument {
        let mut doc = TantivyDocument::new();
        doc.add_i64(fields.timestamp_nanos, self.timestamp_nanos);
        doc.add_i64(
            fields.observed_timestamp_nanos,
            self.observed_timestamp_nanos,
        );
        doc.add_text(fields.service_name, &self.service_name);
        doc.add_text(fields.severity_text, &self.severity_text);
        doc.add_u64(fields.severity_number, self.severity_number);
        doc.add_text(fields.body, &self.body);
        doc.add_u64(fields.body_bytes, self.body.len() as u64);
        doc.add_field_value(fields.attributes, DocValue::OwnedMap(&self.attributes));
        doc.add_field_value(
            fields.resource_attributes,
            DocValue::OwnedMap(&self.resource_attributes),
        );
        if !self.trace_id.is_empty() {
            doc.add_text(fields.trace_id, &self.trace_id);
        }
        if !self.span_id.is_empty() {
            doc.add_text(fields.span_id, &self.span_id);
        }
        doc.add_u64(fields.trace_flags, self.trace_flags);
        doc.add_text(fields.scope_name, &self.scope_name);
        doc.add_text(fields.tenant, &self.tenant);
        // One value per name, the one a selector sees: a stream label
        // shadows metadata of the same name (`Labels::new` keeps the last),
        // or a pushed-down `name!="v"` would drop entries the engine keeps.
        let labels = unique_pairs(self.metadata_pairs().chain(self.stream_pairs()))
            .into_iter()
            .map(|(name, value)| {
                // The record's own ids are in their own fields: the name
                // alone keeps them among the label names (see the schema doc).
                let own_id = (name == TRACE_ID && value == self.trace_id)
                    || (name == SPAN_ID && value == self.span_id);
                let value = if own_id { String::new() } else { value };
                (name, OwnedValue::Str(value))
            })
            .collect();
        doc.add_field_value(
            fields.labels,
            &OwnedValue::Object(vec![(self.tenant.clone(), OwnedValue::Object(labels))]),
        );
        doc.add_u64(fields.offset, self.offset);
        doc
    }

    /// Rebuilds a document from its stored fields (`tenant` is not stored
    /// and comes back empty).
    pub fn from_stored(doc: &TantivyDocument, fields: &Fields) -> LogDocument {
        let text = |field| {
            doc.get_first(field)
                .and_then(|v: CompactDocValue<'_>| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let int = |field| doc.get_first(field).and_then(|v| v.as_i64()).unwrap_or(0);
        let uint = |field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0);
        let object = |field| match doc.get_first(field).map(OwnedValue::from) {
            Some(OwnedValue::Object(pairs)) => pairs.into_iter().collect(),
            _ => BTreeMap::new(),
        };
        LogDocument {
            tenant: String::new(),
            offset: uint(fields.offset),
            timestamp_nanos: int(fields.timestamp_nanos),
            observed_timestamp_nanos: int(fields.observed_timestamp_nanos),
            service_name: text(fields.service_name),
            severity_text: text(fields.severity_text),
            severity_number: uint(fields.severity_number),
            body: text(fields.body),
            attributes: object(fields.attributes),
            resource_attributes: object(fields.resource_attributes),
            trace_id: text(fields.trace_id),
            span_id: text(fields.span_id),
            trace_flags: uint(fields.trace_flags),
            scope_name: text(fields.scope_name),
        }
    }

    /// Loki's stream labels: `service_name`, `severity_text` and every
    /// resource attribute under its query-view name.
    pub fn stream_labels(&self) -> Labels {
        Labels::new(self.stream_pairs())
    }

    fn stream_pairs(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.resource_attributes
            .iter()
            .map(|(key, value)| (label_name(key), label_value(value)))
            .chain([
                ("service_name".to_owned(), self.service_name.clone()),
                ("severity_text".to_owned(), self.severity_text.clone()),
            ])
    }

    /// Loki's structured metadata: every attribute under its query-view
    /// name, `trace_id`, `span_id` and `detected_level`.
    pub fn metadata(&self) -> Labels {
        Labels::new(self.metadata_pairs())
    }

    fn metadata_pairs(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.attributes
            .iter()
            .map(|(key, value)| (label_name(key), label_value(value)))
            .chain([
                (TRACE_ID.to_owned(), self.trace_id.clone()),
                (SPAN_ID.to_owned(), self.span_id.clone()),
                (
                    "detected_level".to_owned(),
                    detected_level(self.severity_number, &self.severity_text).to_owned(),
                ),
            ])
    }
}

/// Loki's `detected_level` of a record: from the severity number's range
/// (OpenTelemetry's 1–24 scale), else from the severity text.
pub fn detected_level(number: u64, text: &str) -> &'static str {
    match number {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warn",
        17..=20 => "error",
        21..=24 => "fatal",
        _ => match text.to_ascii_lowercase().as_str() {
            "trace" => "trace",
            "debug" => "debug",
            "info" | "information" | "notice" => "info",
            "warn" | "warning" => "warn",
            "error" | "err" => "error",
            "fatal" | "critical" | "crit" | "emergency" | "alert" | "panic" => "fatal",
            _ => "unknown",
        },
    }
}

/// A JSON value as a label value: strings verbatim, scalars as text,
/// arrays and objects as JSON.
pub fn label_value(value: &OwnedValue) -> String {
    match value {
        OwnedValue::Str(s) => s.clone(),
        OwnedValue::I64(v) => v.to_string(),
        OwnedValue::U64(v) => v.to_string(),
        OwnedValue::F64(v) => v.to_string(),
        OwnedValue::Bool(v) => v.to_string(),
        OwnedValue::Null => String::new(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// A record's `timestamp_nanos`: its time, else its observed time, else
/// `append_nanos` (when the log record was appended).
fn timestamp_of(log: &LogRecord, append_nanos: i64) -> i64 {
    [log.time_unix_nano, log.observed_time_unix_nano]
        .into_iter()
        .find(|t| *t != 0)
        .map_or(append_nanos, nanos)
}

fn nanos(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(2 * bytes.len());
    hex_into(&mut text, bytes);
    text
}

/// Appends the lowercase hex of `bytes` to `text`.
fn hex_into(text: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
}

fn object_of(attributes: Vec<KeyValue>) -> BTreeMap<String, OwnedValue> {
    attributes
        .into_iter()
        .map(|kv| (kv.key, kv.value.map_or(OwnedValue::Null, value_of)))
        .collect()
}

fn value_of(value: AnyValue) -> OwnedValue {
    match value.value {
        // An index into a profiles string table, which logs never carry.
        None | Some(any_value::Value::StringValueStrindex(_)) => OwnedValue::Null,
        Some(any_value::Value::StringValue(s)) => OwnedValue::Str(s),
        Some(any_value::Value::BoolValue(b)) => OwnedValue::Bool(b),
        Some(any_value::Value::IntValue(i)) => OwnedValue::I64(i),
        Some(any_value::Value::DoubleValue(d)) => OwnedValue::F64(d),
        Some(any_value::Value::BytesValue(b)) => {
            OwnedValue::Str(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(any_value::Value::ArrayValue(a)) => {
            OwnedValue::Array(a.values.into_iter().map(value_of).collect())
        }
        Some(any_value::Value::KvlistValue(kv)) => OwnedValue::Object(
            kv.values
                .into_iter()
                .map(|kv| (kv.key, kv.value.map_or(OwnedValue::Null, value_of)))
                .collect(),
        ),
    }
}

/// The log line of a body: a string verbatim, anything else as JSON.
fn line_of(body: AnyValue) -> String {
    match value_of(body) {
        OwnedValue::Str(s) => s,
        OwnedValue::Null => String::new(),
        other => serde_json::to_string(&other).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests;
