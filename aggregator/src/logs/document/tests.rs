//! The OTLP → document mapping field by field, the Loki view derived from
//! it, and the tantivy round trip.

use std::collections::BTreeMap;

use bytes::Bytes;
use log_core::{DEFAULT_TENANT, Record, TENANT_HEADER};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use tantivy::schema::OwnedValue;
use tantivy::{Index, TantivyDocument};

use super::{LogDocument, UNKNOWN_SERVICE, decode_record, detected_level};
use crate::labels::Labels;
use crate::logs::schema;

const SECOND: u64 = 1_000_000_000;

fn string(s: &str) -> AnyValue {
    AnyValue {
        value: Some(Value::StringValue(s.to_owned())),
    }
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn text(key: &str, value: &str) -> KeyValue {
    kv(key, Value::StringValue(value.to_owned()))
}

fn request(resource: Vec<KeyValue>, logs: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: resource,
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "io.weir.test".to_owned(),
                    ..InstrumentationScope::default()
                }),
                log_records: logs,
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
}

fn record(
    offset: u64,
    timestamp_ms: i64,
    headers: &[(&str, &str)],
    request: &ExportLogsServiceRequest,
) -> Record {
    Record {
        offset,
        timestamp: timestamp_ms,
        key: None,
        value: Some(Bytes::from(request.encode_to_vec())),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Some(Bytes::from(v.to_string()))))
            .collect(),
    }
}

fn decode(record: &Record) -> Vec<LogDocument> {
    let mut out = Vec::new();
    decode_record(record, &mut out).expect("an OTLP logs request");
    out
}

fn decode_one(record: &Record) -> LogDocument {
    let mut docs = decode(record);
    assert_eq!(docs.len(), 1, "{docs:?}");
    docs.remove(0)
}

/// A record that sets every field, with every attribute value type.
fn full_record() -> Record {
    let log = LogRecord {
        time_unix_nano: 1_700_000_000 * SECOND + 5,
        observed_time_unix_nano: 1_700_000_001 * SECOND,
        severity_number: 17,
        severity_text: "ERROR".to_owned(),
        body: Some(string("connection refused: upstream timeout")),
        attributes: vec![
            text("http.method", "GET"),
            kv("http.status_code", Value::IntValue(503)),
            kv("duration", Value::DoubleValue(1.25)),
            kv("retry", Value::BoolValue(true)),
            kv(
                "tags",
                Value::ArrayValue(ArrayValue {
                    values: vec![string("a"), string("b")],
                }),
            ),
            kv("payload", Value::BytesValue(vec![0xde, 0xad, 0xbe, 0xef])),
        ],
        trace_id: vec![0x0a; 16],
        span_id: vec![0xf0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0xff],
        flags: 0x0101,
        ..LogRecord::default()
    };
    let request = request(
        vec![
            text("service.name", "checkout"),
            text("k8s.pod.name", "checkout-7d9f"),
            kv("replicas", Value::IntValue(3)),
        ],
        vec![log],
    );
    record(42, 1_700_000_100_000, &[(TENANT_HEADER, "acme")], &request)
}

#[test]
fn every_field_of_a_record_maps_to_its_document_field() {
    let doc = decode_one(&full_record());
    let expected = LogDocument {
        tenant: "acme".to_owned(),
        offset: 42,
        timestamp_nanos: 1_700_000_000 * SECOND as i64 + 5,
        observed_timestamp_nanos: 1_700_000_001 * SECOND as i64,
        service_name: "checkout".to_owned(),
        severity_text: "ERROR".to_owned(),
        severity_number: 17,
        body: "connection refused: upstream timeout".to_owned(),
        attributes: BTreeMap::from([
            ("duration".to_owned(), OwnedValue::F64(1.25)),
            ("http.method".to_owned(), OwnedValue::Str("GET".to_owned())),
            ("http.status_code".to_owned(), OwnedValue::I64(503)),
            ("payload".to_owned(), OwnedValue::Str("3q2+7w==".to_owned())),
            ("retry".to_owned(), OwnedValue::Bool(true)),
            (
                "tags".to_owned(),
                OwnedValue::Array(vec![
                    OwnedValue::Str("a".to_owned()),
                    OwnedValue::Str("b".to_owned()),
                ]),
            ),
        ]),
        resource_attributes: BTreeMap::from([
            (
                "k8s.pod.name".to_owned(),
                OwnedValue::Str("checkout-7d9f".to_owned()),
            ),
            ("replicas".to_owned(), OwnedValue::I64(3)),
            (
                "service.name".to_owned(),
                OwnedValue::Str("checkout".to_owned()),
            ),
        ]),
        trace_id: "0a".repeat(16),
        span_id: "f0010203040506ff".to_owned(),
        // Only the low byte: the W3C trace flags.
        trace_flags: 1,
        scope_name: "io.weir.test".to_owned(),
    };
    assert_eq!(doc, expected);
}

#[test]
fn a_structured_body_becomes_a_json_line() {
    let body = AnyValue {
        value: Some(Value::KvlistValue(KeyValueList {
            values: vec![
                text("msg", "payment failed"),
                kv("status", Value::IntValue(502)),
                kv("ok", Value::BoolValue(false)),
                kv(
                    "req",
                    Value::KvlistValue(KeyValueList {
                        values: vec![text("path", "/pay")],
                    }),
                ),
            ],
        })),
    };
    let log = LogRecord {
        time_unix_nano: SECOND,
        body: Some(body),
        ..LogRecord::default()
    };
    let doc = decode_one(&record(0, 0, &[], &request(vec![], vec![log])));
    // Keys keep the order of the request.
    assert_eq!(
        doc.body,
        r#"{"msg":"payment failed","status":502,"ok":false,"req":{"path":"/pay"}}"#
    );
    let json: serde_json::Value = serde_json::from_str(&doc.body).expect("a JSON line");
    assert_eq!(json["status"], 502);
}

#[test]
fn scalar_array_bytes_and_missing_bodies_become_lines() {
    let line = |body: Option<AnyValue>| {
        let log = LogRecord {
            time_unix_nano: SECOND,
            body,
            ..LogRecord::default()
        };
        decode_one(&record(0, 0, &[], &request(vec![], vec![log]))).body
    };
    let value = |v| Some(AnyValue { value: Some(v) });
    assert_eq!(line(value(Value::IntValue(-7))), "-7");
    assert_eq!(line(value(Value::BoolValue(true))), "true");
    assert_eq!(line(value(Value::BytesValue(b"hi".to_vec()))), "aGk=");
    assert_eq!(
        line(value(Value::ArrayValue(ArrayValue {
            values: vec![string("x"), AnyValue::default()],
        }))),
        r#"["x",null]"#
    );
    assert_eq!(line(None), "");
    assert_eq!(line(Some(AnyValue::default())), "");
}

#[test]
fn a_resource_without_a_string_service_name_is_unknown_service() {
    let service = |resource: Vec<KeyValue>| {
        let log = LogRecord {
            time_unix_nano: SECOND,
            ..LogRecord::default()
        };
        decode_one(&record(0, 0, &[], &request(resource, vec![log]))).service_name
    };
    assert_eq!(service(vec![]), UNKNOWN_SERVICE);
    assert_eq!(service(vec![text("service.name", "")]), UNKNOWN_SERVICE);
    assert_eq!(
        service(vec![kv("service.name", Value::IntValue(1))]),
        UNKNOWN_SERVICE
    );
    assert_eq!(service(vec![text("service.name", "api")]), "api");
    // No resource at all.
    let mut request = request(vec![], vec![LogRecord::default()]);
    request.resource_logs[0].resource = None;
    assert_eq!(
        decode_one(&record(0, 0, &[], &request)).service_name,
        UNKNOWN_SERVICE
    );
}

#[test]
fn timestamp_falls_back_to_observed_time_then_append_time() {
    let timestamp = |time: u64, observed: u64| {
        let log = LogRecord {
            time_unix_nano: time,
            observed_time_unix_nano: observed,
            ..LogRecord::default()
        };
        let doc = decode_one(&record(
            0,
            1_700_000_000_123,
            &[],
            &request(vec![], vec![log]),
        ));
        (doc.timestamp_nanos, doc.observed_timestamp_nanos)
    };
    assert_eq!(
        timestamp(5 * SECOND, 6 * SECOND),
        (5_000_000_000, 6_000_000_000)
    );
    assert_eq!(timestamp(0, 6 * SECOND), (6_000_000_000, 6_000_000_000));
    // The append time is in milliseconds.
    assert_eq!(timestamp(0, 0), (1_700_000_000_123_000_000, 0));
    // Beyond i64 nanoseconds saturates rather than wrapping negative.
    assert_eq!(timestamp(u64::MAX, 0).0, i64::MAX);
}

#[test]
fn tenant_is_the_last_tenant_header_else_default() {
    let log = || vec![LogRecord::default()];
    let tenant = |headers: &[(&str, &str)]| {
        decode_one(&record(0, 0, headers, &request(vec![], log()))).tenant
    };
    assert_eq!(tenant(&[]), DEFAULT_TENANT);
    assert_eq!(tenant(&[("other", "x")]), DEFAULT_TENANT);
    assert_eq!(tenant(&[(TENANT_HEADER, "a")]), "a");
    assert_eq!(tenant(&[(TENANT_HEADER, "a"), (TENANT_HEADER, "b")]), "b");
    // A header without a value, or not UTF-8, is no tenant.
    let mut record = record(0, 0, &[], &request(vec![], log()));
    record.headers = vec![(TENANT_HEADER.to_owned(), None)];
    assert_eq!(decode_one(&record).tenant, DEFAULT_TENANT);
    record.headers = vec![(TENANT_HEADER.to_owned(), Some(Bytes::from_static(b"\xff")))];
    assert_eq!(decode_one(&record).tenant, DEFAULT_TENANT);
}

#[test]
fn every_log_record_of_every_scope_becomes_a_document() {
    let mut request = request(
        vec![text("service.name", "api")],
        vec![LogRecord::default(), LogRecord::default()],
    );
    let second_scope = ScopeLogs {
        scope: None,
        log_records: vec![LogRecord {
            severity_text: "WARN".to_owned(),
            ..LogRecord::default()
        }],
        ..ScopeLogs::default()
    };
    request.resource_logs[0].scope_logs.push(second_scope);
    let docs = decode(&record(9, 0, &[], &request));
    assert_eq!(docs.len(), 3);
    assert!(
        docs.iter()
            .all(|d| d.offset == 9 && d.service_name == "api")
    );
    assert_eq!(docs[0].scope_name, "io.weir.test");
    assert_eq!(docs[2].scope_name, "");
    assert_eq!(docs[2].severity_text, "WARN");
}

#[test]
fn a_value_that_is_not_an_otlp_request_is_an_error() {
    let mut record = record(0, 0, &[], &request(vec![], vec![]));
    record.value = Some(Bytes::from_static(b"\xff\xff\xff not protobuf"));
    let mut out = Vec::new();
    assert!(decode_record(&record, &mut out).is_err());
    assert!(out.is_empty());
    // An empty value is an empty request: no documents, no error.
    record.value = None;
    decode_record(&record, &mut out).unwrap();
    assert!(out.is_empty());
}

fn pairs(labels: &Labels) -> Vec<(&str, &str)> {
    labels.iter().collect()
}

#[test]
fn stream_labels_and_metadata_use_query_view_names() {
    let doc = decode_one(&full_record());
    assert_eq!(
        pairs(&doc.stream_labels()),
        vec![
            ("k8s_pod_name", "checkout-7d9f"),
            ("replicas", "3"),
            ("service_name", "checkout"),
            ("severity_text", "ERROR"),
        ]
    );
    let trace_id = "0a".repeat(16);
    assert_eq!(
        pairs(&doc.metadata()),
        vec![
            ("detected_level", "error"),
            ("duration", "1.25"),
            ("http_method", "GET"),
            ("http_status_code", "503"),
            ("payload", "3q2+7w=="),
            ("retry", "true"),
            ("span_id", "f0010203040506ff"),
            ("tags", r#"["a","b"]"#),
            ("trace_id", trace_id.as_str()),
        ]
    );
    // Unset ids and an empty severity are no labels at all.
    let bare = decode_one(&record(
        0,
        0,
        &[],
        &request(vec![], vec![LogRecord::default()]),
    ));
    assert_eq!(
        pairs(&bare.stream_labels()),
        vec![("service_name", UNKNOWN_SERVICE)]
    );
    assert_eq!(pairs(&bare.metadata()), vec![("detected_level", "unknown")]);
}

#[test]
fn detected_level_comes_from_the_number_else_the_text() {
    let cases = [
        (1, "", "trace"),
        (4, "", "trace"),
        (5, "", "debug"),
        (9, "", "info"),
        (12, "", "info"),
        (13, "", "warn"),
        (17, "", "error"),
        (20, "", "error"),
        (21, "", "fatal"),
        (24, "", "fatal"),
        // The number wins over the text.
        (9, "ERROR", "info"),
        // Out of range: the text, case-insensitively.
        (0, "Warning", "warn"),
        (25, "err", "error"),
        (0, "CRITICAL", "fatal"),
        (0, "notice", "info"),
        (0, "debug", "debug"),
        (0, "TRACE", "trace"),
        (0, "verbose", "unknown"),
        (0, "", "unknown"),
    ];
    for (number, text, level) in cases {
        assert_eq!(detected_level(number, text), level, "{number} {text:?}");
    }
}

/// Indexes `docs` in a fresh in-memory index and reads them back stored.
fn round_trip(docs: &[LogDocument]) -> Vec<LogDocument> {
    let (schema, fields) = schema::schema();
    let index = Index::create_in_ram(schema);
    schema::register_tokenizers(&index);
    let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
    for doc in docs {
        writer.add_document(doc.to_tantivy(&fields)).unwrap();
    }
    writer.commit().unwrap();
    let searcher = index.reader().unwrap().searcher();
    let mut back: Vec<LogDocument> = searcher
        .segment_readers()
        .iter()
        .enumerate()
        .flat_map(|(segment, reader)| {
            (0..reader.max_doc()).map(move |doc| tantivy::DocAddress::new(segment as u32, doc))
        })
        .map(|addr| {
            let stored: TantivyDocument = searcher.doc(addr).unwrap();
            LogDocument::from_stored(&stored, &fields)
        })
        .collect();
    back.sort_by_key(|d| d.offset);
    back
}

#[test]
fn a_document_survives_indexing_except_its_tenant() {
    let full = decode_one(&full_record());
    let mut bare = decode_one(&record(
        7,
        1_000,
        &[],
        &request(vec![], vec![LogRecord::default()]),
    ));
    bare.offset = 43;
    let mut structured = decode_one(&record(
        44,
        0,
        &[],
        &request(
            vec![text("service.name", "api")],
            vec![LogRecord {
                time_unix_nano: 1,
                body: Some(AnyValue {
                    value: Some(Value::KvlistValue(KeyValueList {
                        values: vec![kv("n", Value::IntValue(1))],
                    })),
                }),
                attributes: vec![
                    kv("negative", Value::IntValue(-1)),
                    kv("big", Value::IntValue(i64::MAX)),
                    KeyValue {
                        key: "unset".to_owned(),
                        value: None,
                        ..KeyValue::default()
                    },
                ],
                ..LogRecord::default()
            }],
        ),
    ));
    structured.offset = 44;
    let docs = vec![full, bare, structured];
    let back = round_trip(&docs);
    let expected: Vec<LogDocument> = docs
        .into_iter()
        .map(|doc| LogDocument {
            tenant: String::new(),
            ..doc
        })
        .collect();
    assert_eq!(back, expected);
}

/// The `labels` field must say what the query view says: a selector's
/// `name="v"` / `name!="v"` is pushed down as one term of it, and the
/// engine looks a name up in the stream labels first, then the metadata.
#[test]
fn indexed_labels_hold_one_value_per_name_as_the_query_view_resolves_it() {
    let log = LogRecord {
        time_unix_nano: SECOND,
        severity_text: "INFO".to_owned(),
        // Collides with the resource's `host.name` and with `service_name`.
        attributes: vec![
            text("host.name", "from-record"),
            text("service_name", "shadow"),
        ],
        trace_id: vec![0x0a; 16],
        span_id: vec![0x0b; 8],
        ..LogRecord::default()
    };
    let doc = decode_one(&record(
        0,
        0,
        &[(TENANT_HEADER, "t")],
        &request(
            vec![
                text("service.name", "api"),
                text("host.name", "from-resource"),
                // Shadows the record's span id in the query view.
                text("span.id", "from-resource"),
            ],
            vec![log],
        ),
    ));
    let (_, fields) = schema::schema();
    let tantivy_doc = doc.to_tantivy(&fields);
    let labels = match tantivy_doc
        .get_first(fields.labels)
        .map(OwnedValue::from)
        .expect("a labels object")
    {
        OwnedValue::Object(tenants) => match tenants.as_slice() {
            [(tenant, OwnedValue::Object(labels))] if tenant == "t" => labels.clone(),
            other => panic!("labels not under the tenant: {other:?}"),
        },
        other => panic!("labels is not an object: {other:?}"),
    };
    let (stream, metadata) = (doc.stream_labels(), doc.metadata());
    let names: std::collections::BTreeSet<&str> =
        labels.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names.len(), labels.len(), "one value per name: {labels:?}");
    for (name, value) in &labels {
        let viewed = stream.get(name).or_else(|| metadata.get(name));
        // The record's own trace id is only named: its value is a term of
        // the `trace_id` field.
        let viewed = match name.as_str() {
            "trace_id" => Some(""),
            _ => viewed,
        };
        assert_eq!(
            Some(value),
            viewed.map(|v| OwnedValue::Str(v.to_owned())).as_ref(),
            "{name}"
        );
    }
    assert!(names.contains("trace_id") && names.contains("span_id"));
    assert!(labels.contains(&(
        "span_id".to_owned(),
        OwnedValue::Str("from-resource".into())
    )));
    assert!(labels.contains(&(
        "host_name".to_owned(),
        OwnedValue::Str("from-resource".into())
    )));
    assert!(labels.contains(&("service_name".to_owned(), OwnedValue::Str("api".into()))));
}
