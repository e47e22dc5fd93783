//! The indexer's way from an `otlp_logs` record to tantivy documents.
//!
//! It yields exactly the documents of [`decode_record`] followed by
//! [`LogDocument::to_tantivy`] (the reference mapping, field by field;
//! `tests.rs` holds the two equal over generated requests), without the
//! owned [`LogDocument`] in between: fields are copied into the document
//! straight from the decoded request, what belongs to a resource (its
//! attribute map, service name and stream labels) is worked out once per
//! resource rather than once per record, and label names of attribute
//! keys come from a cache. That conversion was a third of the CPU an
//! indexer spent per record.
//!
//! [`decode_record`]: super::decode_record
//! [`LogDocument`]: super::LogDocument
//! [`LogDocument::to_tantivy`]: super::LogDocument::to_tantivy

use std::borrow::Cow;
use std::collections::BTreeMap;

use log_core::Record;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use prost::Message;
use rustc_hash::FxHashMap;
use tantivy::TantivyDocument;
use tantivy::schema::OwnedValue;

use super::value::{DocValue, holds_bytes};
use super::{
    UNKNOWN_SERVICE, detected_level, hex_into, label_value, line_of, nanos, object_of,
    timestamp_of, value_of,
};
use crate::labels::label_name;
use crate::logs::schema::{Fields, SPAN_ID, TRACE_ID};

/// Attribute keys whose label names are kept. Keys come from instrumentation
/// and are few in practice; the bound holds when a client sends unique
/// keys, whose names are then made afresh each time.
const MAX_CACHED_NAMES: usize = 4096;

/// Longer keys are not cached, so the cache holds at most
/// 2 × 4096 × 256 bytes = 2 MiB of names per indexer whatever clients send.
const MAX_CACHED_KEY_BYTES: usize = 256;

/// Initial capacity of a document's value bytes: the benchmark's records
/// (ten attributes, nine resource attributes, a line of ~80 bytes) take
/// about 1.9 KiB, and tantivy's default of 1 KiB grew twice per document.
const DOCUMENT_BYTES: usize = 2048;

/// Builds the tantivy documents of `otlp_logs` records.
pub struct DocumentBuilder {
    fields: Fields,
    names: FxHashMap<String, String>,
}

/// A resource's share of its records' documents.
struct ResourcePart<'a> {
    attributes: AttributeMap<'a>,
    service_name: String,
    /// Its stream labels but `service_name` and `severity_text` (which
    /// follow every record's own), in query-view names.
    labels: Vec<(String, String)>,
}

impl<'a> ResourcePart<'a> {
    fn new(attributes: &'a [KeyValue]) -> ResourcePart<'a> {
        let attributes = AttributeMap::new(attributes);
        let service_name = attributes
            .non_empty_str("service.name")
            .unwrap_or(UNKNOWN_SERVICE)
            .to_owned();
        let labels = attributes
            .label_values()
            .into_iter()
            .map(|(key, value)| (label_name(key), value.into_owned()))
            .collect();
        ResourcePart {
            attributes,
            service_name,
            labels,
        }
    }
}

/// An attribute map, one value per key (the last), in key order.
enum AttributeMap<'a> {
    Borrowed(Vec<&'a KeyValue>),
    /// A map with bytes values somewhere, converted as [`decode_record`]
    /// does (their text is base64, which has nothing to borrow from).
    ///
    /// [`decode_record`]: super::decode_record
    Owned(BTreeMap<String, OwnedValue>),
}

impl<'a> AttributeMap<'a> {
    fn new(attributes: &'a [KeyValue]) -> AttributeMap<'a> {
        if attributes
            .iter()
            .any(|kv| kv.value.as_ref().is_some_and(holds_bytes))
        {
            return AttributeMap::Owned(object_of(attributes.to_vec()));
        }
        let mut sorted: Vec<&KeyValue> = attributes.iter().collect();
        // Stable, so that of equal keys the last stays last: it is kept.
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        keep_last_of_equal(&mut sorted, |a, b| a.key == b.key);
        AttributeMap::Borrowed(sorted)
    }

    fn value(&self) -> DocValue<'_> {
        match self {
            AttributeMap::Borrowed(pairs) => DocValue::Attributes(pairs),
            AttributeMap::Owned(map) => DocValue::OwnedMap(map),
        }
    }

    /// The value of `key` if it is a non-empty string.
    fn non_empty_str(&self, key: &str) -> Option<&str> {
        let found = match self {
            AttributeMap::Borrowed(pairs) => {
                let at = pairs.binary_search_by(|kv| kv.key.as_str().cmp(key)).ok()?;
                match &pairs[at].value.as_ref()?.value {
                    Some(any_value::Value::StringValue(s)) => s.as_str(),
                    _ => return None,
                }
            }
            AttributeMap::Owned(map) => match map.get(key)? {
                OwnedValue::Str(s) => s.as_str(),
                _ => return None,
            },
        };
        (!found.is_empty()).then_some(found)
    }

    /// `(key, label value)` of every pair, in key order.
    fn label_values(&self) -> Vec<(&str, Cow<'_, str>)> {
        match self {
            AttributeMap::Borrowed(pairs) => pairs
                .iter()
                .map(|kv| (kv.key.as_str(), otlp_label_value(kv.value.as_ref())))
                .collect(),
            AttributeMap::Owned(map) => map
                .iter()
                .map(|(key, value)| (key.as_str(), Cow::Owned(label_value(value))))
                .collect(),
        }
    }
}

impl DocumentBuilder {
    pub fn new(fields: Fields) -> DocumentBuilder {
        DocumentBuilder {
            fields,
            names: FxHashMap::default(),
        }
    }

    /// Appends `(timestamp_nanos, document)` of every log record of
    /// `record` to `out`. Fails when the value is not an
    /// `ExportLogsServiceRequest`.
    pub fn build(
        &mut self,
        record: &Record,
        out: &mut Vec<(i64, TantivyDocument)>,
    ) -> Result<(), prost::DecodeError> {
        let value = record.value.as_deref().unwrap_or_default();
        let request = ExportLogsServiceRequest::decode(value)?;
        let tenant = record.tenant();
        let append_nanos = record.timestamp.saturating_mul(1_000_000);
        for resource_logs in &request.resource_logs {
            let attributes = resource_logs
                .resource
                .as_ref()
                .map_or(&[][..], |r| &r.attributes);
            let resource = ResourcePart::new(attributes);
            for scope_logs in &resource_logs.scope_logs {
                let scope_name = scope_logs.scope.as_ref().map_or("", |s| s.name.as_str());
                for log in &scope_logs.log_records {
                    let timestamp_nanos = timestamp_of(log, append_nanos);
                    let doc = self.document(
                        &Context {
                            tenant,
                            offset: record.offset,
                            scope_name,
                            resource: &resource,
                        },
                        log,
                        timestamp_nanos,
                    );
                    out.push((timestamp_nanos, doc));
                }
            }
        }
        Ok(())
    }

    /// The label name of `key`, kept for next time while there is room.
    fn cache_name(&mut self, key: &str) {
        if self.names.len() < MAX_CACHED_NAMES
            && key.len() <= MAX_CACHED_KEY_BYTES
            && !self.names.contains_key(key)
        {
            self.names.insert(key.to_owned(), label_name(key));
        }
    }

    fn document(
        &mut self,
        at: &Context<'_, '_>,
        log: &LogRecord,
        timestamp_nanos: i64,
    ) -> TantivyDocument {
        let fields = self.fields;
        let attributes = AttributeMap::new(&log.attributes);
        let attribute_labels = attributes.label_values();
        for (key, _) in &attribute_labels {
            self.cache_name(key);
        }
        let mut ids = String::with_capacity(2 * (log.trace_id.len() + log.span_id.len()));
        hex_into(&mut ids, &log.trace_id);
        hex_into(&mut ids, &log.span_id);
        let (trace_id, span_id) = ids.split_at(2 * log.trace_id.len());
        let severity_number = u64::try_from(log.severity_number).unwrap_or(0);
        let body: Cow<'_, str> = match log.body.as_ref() {
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(s)),
            }) => Cow::Borrowed(s),
            Some(body) => Cow::Owned(line_of(body.clone())),
            None => Cow::Borrowed(""),
        };

        let mut doc = TantivyDocument::with_capacity(DOCUMENT_BYTES);
        doc.add_i64(fields.timestamp_nanos, timestamp_nanos);
        doc.add_i64(
            fields.observed_timestamp_nanos,
            nanos(log.observed_time_unix_nano),
        );
        doc.add_text(fields.service_name, &at.resource.service_name);
        doc.add_text(fields.severity_text, &log.severity_text);
        doc.add_u64(fields.severity_number, severity_number);
        doc.add_text(fields.body, &body);
        doc.add_u64(fields.body_bytes, body.len() as u64);
        doc.add_field_value(fields.attributes, attributes.value());
        doc.add_field_value(fields.resource_attributes, at.resource.attributes.value());
        if !trace_id.is_empty() {
            doc.add_text(fields.trace_id, trace_id);
        }
        if !span_id.is_empty() {
            doc.add_text(fields.span_id, span_id);
        }
        doc.add_u64(fields.trace_flags, u64::from(log.flags & 0xff));
        doc.add_text(fields.scope_name, at.scope_name);
        doc.add_text(fields.tenant, at.tenant);

        // The pairs of `unique_pairs(metadata_pairs ++ stream_pairs)`, in
        // the same order, so that the same one of equal names is kept.
        let names: Vec<Cow<'_, str>> = attribute_labels
            .iter()
            .map(|(key, _)| match self.names.get(*key) {
                Some(name) => Cow::Borrowed(name.as_str()),
                None => Cow::Owned(label_name(key)),
            })
            .collect();
        let mut pairs: Vec<(&str, &str)> =
            Vec::with_capacity(attribute_labels.len() + at.resource.labels.len() + 5);
        pairs.extend(
            names
                .iter()
                .zip(&attribute_labels)
                .map(|(name, (_, value))| (name.as_ref(), value.as_ref())),
        );
        pairs.push((TRACE_ID, trace_id));
        pairs.push((SPAN_ID, span_id));
        pairs.push((
            "detected_level",
            detected_level(severity_number, &log.severity_text),
        ));
        pairs.extend(
            at.resource
                .labels
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str())),
        );
        pairs.push(("service_name", &at.resource.service_name));
        pairs.push(("severity_text", &log.severity_text));
        pairs.retain(|(_, value)| !value.is_empty());
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        keep_last_of_equal(&mut pairs, |a, b| a.0 == b.0);
        for (name, value) in &mut pairs {
            // The record's own ids are in their own fields (see the schema doc).
            if (*name == TRACE_ID && *value == trace_id) || (*name == SPAN_ID && *value == span_id)
            {
                *value = "";
            }
        }
        doc.add_field_value(
            fields.labels,
            DocValue::Labels {
                tenant: at.tenant,
                pairs: &pairs,
            },
        );
        doc.add_u64(fields.offset, at.offset);
        doc
    }
}

/// What the records of one scope share.
struct Context<'a, 'r> {
    tenant: &'a str,
    offset: u64,
    scope_name: &'a str,
    resource: &'a ResourcePart<'r>,
}

/// Of each run of adjacent equal items of a sorted `items`, keeps the last.
fn keep_last_of_equal<T: Copy>(items: &mut Vec<T>, equal: impl Fn(&T, &T) -> bool) {
    items.dedup_by(|later, earlier| {
        let same = equal(later, earlier);
        if same {
            *earlier = *later;
        }
        same
    });
}

/// [`label_value`] of an OTLP value, borrowed where it is a string.
fn otlp_label_value(value: Option<&AnyValue>) -> Cow<'_, str> {
    use any_value::Value as V;
    match value.and_then(|v| v.value.as_ref()) {
        None | Some(V::StringValueStrindex(_)) => Cow::Borrowed(""),
        Some(V::StringValue(s)) => Cow::Borrowed(s),
        Some(V::BoolValue(b)) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Some(V::IntValue(i)) => Cow::Owned(i.to_string()),
        Some(V::DoubleValue(d)) => Cow::Owned(d.to_string()),
        Some(_) => Cow::Owned(label_value(&value_of(value.cloned().unwrap_or_default()))),
    }
}

#[cfg(test)]
mod tests;
