//! The builder's documents are the reference mapping's, value for value
//! and in the same order, over requests made to hit its corners: keys
//! that collide once made label names, duplicate keys, bytes anywhere,
//! structured bodies, ids that attributes shadow, empty values.

use bytes::Bytes;
use log_core::{Record, TENANT_HEADER};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use proptest::prelude::*;
use prost::Message;
use tantivy::TantivyDocument;
use tantivy::schema::{Field, OwnedValue};

use super::{DocumentBuilder, MAX_CACHED_NAMES};
use crate::logs::document::decode_record;
use crate::logs::schema;

/// Keys that meet as label names (`a.b`, `a_b`), shadow built-in labels,
/// start with a digit, or are `service.name`.
const KEYS: &[&str] = &[
    "service.name",
    "a.b",
    "a_b",
    "trace.id",
    "span_id",
    "detected_level",
    "service_name",
    "severity_text",
    "1st",
    "host.name",
    // Longer than the cache takes.
    concat!(
        "long.key.",
        "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
        "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
        "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
    ),
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(vec!["", "x", "checkout", "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a"])
            .prop_map(|s| Value::StringValue(s.to_owned())),
        1 => any::<i64>().prop_map(Value::IntValue),
        1 => prop::sample::select(vec![0.0, -1.5, 2.0, 1e21, f64::MAX]).prop_map(Value::DoubleValue),
        1 => any::<bool>().prop_map(Value::BoolValue),
        1 => prop::collection::vec(any::<u8>(), 0..4).prop_map(Value::BytesValue),
        1 => Just(Value::StringValueStrindex(3)),
    ]
}

fn value() -> impl Strategy<Value = Option<AnyValue>> {
    let tree = leaf().prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(|values| Value::ArrayValue(
                ArrayValue {
                    values: values
                        .into_iter()
                        .map(|v| AnyValue { value: Some(v) })
                        .collect(),
                }
            )),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..3).prop_map(|pairs| {
                Value::KvlistValue(KeyValueList {
                    values: pairs
                        .into_iter()
                        .map(|(key, v)| KeyValue {
                            key: key.to_owned(),
                            value: Some(AnyValue { value: Some(v) }),
                            ..KeyValue::default()
                        })
                        .collect(),
                })
            }),
        ]
    });
    prop_oneof![
        8 => tree.prop_map(|v| Some(AnyValue { value: Some(v) })),
        1 => Just(Some(AnyValue { value: None })),
        1 => Just(None),
    ]
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec((prop::sample::select(KEYS), value()), 0..6).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(key, value)| KeyValue {
                key: key.to_owned(),
                value,
                ..KeyValue::default()
            })
            .collect()
    })
}

fn log_record() -> impl Strategy<Value = LogRecord> {
    (
        (
            prop_oneof![Just(0u64), 1u64..u64::MAX],
            prop_oneof![Just(0u64), 1u64..u64::MAX],
        ),
        (
            0i32..26,
            prop::sample::select(vec!["", "INFO", "error", "Warning", "x"]),
        ),
        value(),
        attributes(),
        (
            prop_oneof![Just(vec![]), prop::collection::vec(any::<u8>(), 16)],
            prop_oneof![Just(vec![]), prop::collection::vec(any::<u8>(), 8)],
            any::<u32>(),
        ),
    )
        .prop_map(
            |((time, observed), (number, text), body, attributes, (trace_id, span_id, flags))| {
                LogRecord {
                    time_unix_nano: time,
                    observed_time_unix_nano: observed,
                    severity_number: number,
                    severity_text: text.to_owned(),
                    body,
                    attributes,
                    trace_id,
                    span_id,
                    flags,
                    ..LogRecord::default()
                }
            },
        )
}

fn request() -> impl Strategy<Value = ExportLogsServiceRequest> {
    let scope = (
        prop::option::of(prop::sample::select(vec!["", "io.weir"])),
        prop::collection::vec(log_record(), 0..4),
    )
        .prop_map(|(name, log_records)| ScopeLogs {
            scope: name.map(|name| InstrumentationScope {
                name: name.to_owned(),
                ..InstrumentationScope::default()
            }),
            log_records,
            ..ScopeLogs::default()
        });
    let resource = (
        prop::option::of(attributes()),
        prop::collection::vec(scope, 0..3),
    )
        .prop_map(|(attributes, scope_logs)| ResourceLogs {
            resource: attributes.map(|attributes| Resource {
                attributes,
                ..Resource::default()
            }),
            scope_logs,
            ..ResourceLogs::default()
        });
    prop::collection::vec(resource, 0..3)
        .prop_map(|resource_logs| ExportLogsServiceRequest { resource_logs })
}

/// Every value of a document in order, as owned values.
fn values(doc: &TantivyDocument) -> Vec<(Field, OwnedValue)> {
    doc.field_values()
        .map(|(field, value)| (field, OwnedValue::from(value)))
        .collect()
}

proptest! {
    #[test]
    fn builds_the_documents_of_the_reference_mapping(
        request in request(),
        tenant in prop::option::of(prop::sample::select(vec!["", "t1"])),
        offset in 0u64..1000,
    ) {
        let record = Record {
            offset,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::from(request.encode_to_vec())),
            headers: tenant
                .map(|t| (TENANT_HEADER.to_owned(), Some(Bytes::from(t))))
                .into_iter()
                .collect(),
        };
        let (_, fields) = schema::schema();
        let mut expected = Vec::new();
        decode_record(&record, &mut expected).unwrap();
        let mut built = Vec::new();
        let fresh = DocumentBuilder::new(fields);
        // A cache with no room, so that every name is made afresh.
        let mut full = DocumentBuilder::new(fields);
        full.names = (0..MAX_CACHED_NAMES).map(|i| (format!("k{i}"), format!("k{i}"))).collect();
        // Twice each, so that the second build sees what the first cached.
        for mut builder in [fresh, full] {
            for _ in 0..2 {
                built.clear();
                builder.build(&record, &mut built).unwrap();
                prop_assert_eq!(built.len(), expected.len());
                for ((timestamp_nanos, doc), reference) in built.iter().zip(&expected) {
                    prop_assert_eq!(*timestamp_nanos, reference.timestamp_nanos);
                    prop_assert_eq!(values(doc), values(&reference.to_tantivy(&fields)));
                }
            }
        }
    }
}

#[test]
fn a_value_that_is_not_an_otlp_request_is_an_error() {
    let record = Record {
        offset: 0,
        timestamp: 0,
        key: None,
        value: Some(Bytes::from_static(b"\xff\xff\xff")),
        headers: Vec::new(),
    };
    let mut out = Vec::new();
    let mut builder = DocumentBuilder::new(schema::schema().1);
    assert!(builder.build(&record, &mut out).is_err());
    assert!(out.is_empty());
}
