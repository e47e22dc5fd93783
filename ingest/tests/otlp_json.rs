//! OTLP/JSON over HTTP, checked against the specification's encoding
//! rules with hand-written bodies: hex trace and span ids, 64-bit integers
//! as strings and as numbers, enums as integers, lowerCamelCase names,
//! unknown fields ignored, nested kvlist and array values, base64 bytes.
//! What was stored is read back from the log and compared field by field.

mod common;

use common::{Stored, attribute, bounded, service_name, start_with_log, stored_requests};
use ingest::{Auth, PipelineConfig};
use log_core::partitioner::partition_for_key;
use log_core::{OTLP_LOGS, OTLP_METRICS, OTLP_SPANS};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point;
use opentelemetry_proto::tonic::metrics::v1::{Metric, exemplar};
use serde_json::json;

const TRACE_ID: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];
const SPAN_ID: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];
const PARENT_ID: [u8; 8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];

/// Posts a JSON body and returns the status and the parsed response.
async fn post_json(url: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let response = common::http_client()
        .post(url)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "response content type {content_type}"
    );
    let bytes = response.bytes().await.unwrap();
    let parsed = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("response is not JSON ({e}): {bytes:?}"));
    (status, parsed)
}

/// `partialSuccess.<field>` of a response (an int64, so a string or a
/// number), 0 when there is no partial success.
fn rejected(response: &serde_json::Value, field: &str) -> i64 {
    match &response["partialSuccess"][field] {
        serde_json::Value::Null => 0,
        serde_json::Value::Number(n) => n.as_i64().unwrap(),
        serde_json::Value::String(s) => s.parse().unwrap(),
        other => panic!("{field} is {other}"),
    }
}

fn int(value: &Value) -> i64 {
    match value {
        Value::IntValue(i) => *i,
        other => panic!("expected an int, got {other:?}"),
    }
}

fn values(value: &Value) -> &[AnyValue] {
    match value {
        Value::ArrayValue(a) => &a.values,
        other => panic!("expected an array, got {other:?}"),
    }
}

fn kvlist(value: &Value) -> &[KeyValue] {
    match value {
        Value::KvlistValue(l) => &l.values,
        other => panic!("expected a kvlist, got {other:?}"),
    }
}

fn record_for<'a, M>(stored: &'a [Stored<M>], key: &str) -> &'a Stored<M> {
    let matching: Vec<_> = stored.iter().filter(|s| s.key == key).collect();
    assert_eq!(matching.len(), 1, "one record keyed {key}");
    matching[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_follow_the_otlp_json_encoding() {
    bounded(async {
        let (log, servers) = start_with_log(PipelineConfig::default(), Auth::default()).await;
        let body = json!({
            "resourceLogs": [
                {
                    "resource": {
                        "attributes": [
                            {"key": "service.name", "value": {"stringValue": "checkout"}},
                            {"key": "host.cpus", "value": {"intValue": "8"}}
                        ],
                        "droppedAttributesCount": 1,
                        "resourceFieldFromTheFuture": {"a": [1, 2]}
                    },
                    "scopeLogs": [{
                        "scope": {"name": "weir.test", "version": "1.2.3", "unknownScopeField": 1},
                        "logRecords": [
                            {
                                "timeUnixNano": "1700000000123456789",
                                "observedTimeUnixNano": 1700000000987654321u64,
                                "severityNumber": 17,
                                "severityText": "ERROR",
                                "body": {"kvlistValue": {"values": [
                                    {"key": "msg", "value": {"stringValue": "payment declined"}},
                                    {"key": "codes", "value": {"arrayValue": {"values": [
                                        {"intValue": "402"},
                                        {"intValue": 7},
                                        {"doubleValue": 1.5},
                                        {"boolValue": true},
                                        {"bytesValue": "AQID"},
                                        {"kvlistValue": {"values": [
                                            {"key": "deep", "value": {"stringValue": "yes"}}
                                        ]}}
                                    ]}}}
                                ]}},
                                "attributes": [
                                    {"key": "http.status_code", "value": {"intValue": 402}},
                                    {"key": "big", "value": {"intValue": "9007199254740993"}},
                                    {"key": "raw", "value": {"bytesValue": "3q2+7w=="}},
                                    {"key": "ratio", "value": {"doubleValue": 0.25}}
                                ],
                                "droppedAttributesCount": 2,
                                "flags": 1,
                                "traceId": "5B8EFFF798038103D269B633813FC60C",
                                "spanId": "eee19b7ec3c1b174",
                                "eventName": "payment.declined",
                                "recordFieldFromTheFuture": {"nested": [1, "x"]}
                            },
                            {
                                "timeUnixNano": 1700000001000000000u64,
                                "body": {"stringValue": "second"},
                                "traceId": "",
                                "spanId": ""
                            }
                        ]
                    }],
                    "schemaUrl": "https://opentelemetry.io/schemas/1.21.0"
                },
                {
                    "resource": {"attributes": [
                        {"key": "service.name", "value": {"stringValue": "payments"}}
                    ]},
                    "scopeLogs": [{"logRecords": [
                        {"timeUnixNano": "5", "severityNumber": 9, "body": {"stringValue": "ok"}}
                    ]}]
                },
                {
                    "resource": {"attributes": [
                        {"key": "service.name", "value": {"stringValue": "search"}}
                    ]},
                    "scopeLogs": [{"logRecords": [
                        {"timeUnixNano": "6", "body": {"stringValue": "found"}}
                    ]}]
                }
            ],
            "requestFieldFromTheFuture": true
        });
        let (status, response) = post_json(&servers.url("logs"), &body).await;
        assert_eq!(status, 200, "{response}");
        assert_eq!(rejected(&response, "rejectedLogRecords"), 0, "{response}");

        // Three resources become three records, keyed by service.name,
        // routed by Kafka's murmur2 and stamped with the default tenant.
        let stored = stored_requests::<ExportLogsServiceRequest>(&log.log, OTLP_LOGS);
        assert_eq!(stored.len(), 3);
        for record in &stored {
            assert_eq!(record.request.resource_logs.len(), 1);
            assert_eq!(record.tenant, "default");
            assert_eq!(
                record.key,
                service_name(record.request.resource_logs[0].resource.as_ref())
            );
            assert_eq!(
                record.partition,
                partition_for_key(record.key.as_bytes(), 2)
            );
        }

        let checkout = &record_for(&stored, "checkout").request.resource_logs[0];
        let resource = checkout.resource.as_ref().unwrap();
        assert_eq!(int(attribute(&resource.attributes, "host.cpus")), 8);
        assert_eq!(resource.dropped_attributes_count, 1);
        assert_eq!(
            checkout.schema_url,
            "https://opentelemetry.io/schemas/1.21.0"
        );
        assert_eq!(checkout.scope_logs.len(), 1);
        let scope = &checkout.scope_logs[0];
        let scope_meta = scope.scope.as_ref().unwrap();
        assert_eq!(
            (scope_meta.name.as_str(), scope_meta.version.as_str()),
            ("weir.test", "1.2.3")
        );
        assert_eq!(scope.log_records.len(), 2);

        let first = &scope.log_records[0];
        assert_eq!(first.time_unix_nano, 1_700_000_000_123_456_789);
        assert_eq!(first.observed_time_unix_nano, 1_700_000_000_987_654_321);
        assert_eq!(first.severity_number, 17);
        assert_eq!(first.severity_text, "ERROR");
        assert_eq!(first.trace_id, TRACE_ID);
        assert_eq!(first.span_id, SPAN_ID);
        assert_eq!(first.flags, 1);
        assert_eq!(first.dropped_attributes_count, 2);
        assert_eq!(first.event_name, "payment.declined");
        assert_eq!(int(attribute(&first.attributes, "http.status_code")), 402);
        assert_eq!(
            int(attribute(&first.attributes, "big")),
            9_007_199_254_740_993
        );
        assert_eq!(
            attribute(&first.attributes, "raw"),
            &Value::BytesValue(vec![0xde, 0xad, 0xbe, 0xef])
        );
        assert_eq!(
            attribute(&first.attributes, "ratio"),
            &Value::DoubleValue(0.25)
        );

        let body = kvlist(first.body.as_ref().unwrap().value.as_ref().unwrap());
        assert_eq!(
            attribute(body, "msg"),
            &Value::StringValue("payment declined".into())
        );
        let codes = values(attribute(body, "codes"));
        let codes: Vec<&Value> = codes.iter().map(|v| v.value.as_ref().unwrap()).collect();
        assert_eq!(codes.len(), 6);
        assert_eq!(codes[0], &Value::IntValue(402));
        assert_eq!(codes[1], &Value::IntValue(7));
        assert_eq!(codes[2], &Value::DoubleValue(1.5));
        assert_eq!(codes[3], &Value::BoolValue(true));
        assert_eq!(codes[4], &Value::BytesValue(vec![1, 2, 3]));
        assert_eq!(
            attribute(kvlist(codes[5]), "deep"),
            &Value::StringValue("yes".into())
        );

        let second = &scope.log_records[1];
        assert_eq!(second.time_unix_nano, 1_700_000_001_000_000_000);
        assert!(second.trace_id.is_empty() && second.span_id.is_empty());
        assert_eq!(
            second.body.as_ref().unwrap().value,
            Some(Value::StringValue("second".into()))
        );

        let payments = &record_for(&stored, "payments").request.resource_logs[0];
        let record = &payments.scope_logs[0].log_records[0];
        assert_eq!((record.time_unix_nano, record.severity_number), (5, 9));
        let search = &record_for(&stored, "search").request.resource_logs[0];
        assert_eq!(search.scope_logs[0].log_records[0].time_unix_nano, 6);
    })
    .await
}

fn metric<'a>(metrics: &'a [Metric], name: &str) -> &'a Data {
    metrics
        .iter()
        .find(|m| m.name == name)
        .and_then(|m| m.data.as_ref())
        .unwrap_or_else(|| panic!("metric {name} with data"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_metrics_of_every_type_are_stored_field_by_field() {
    bounded(async {
        let (log, servers) = start_with_log(PipelineConfig::default(), Auth::default()).await;
        let body = json!({"resourceMetrics": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "metrics-svc"}}
            ]},
            "scopeMetrics": [{
                "scope": {"name": "meter"},
                "metrics": [
                    {
                        "name": "cpu.temp", "unit": "Cel", "description": "core temperature",
                        "gauge": {"dataPoints": [
                            {
                                "startTimeUnixNano": 1699999990000000000u64,
                                "timeUnixNano": "1700000000000000000",
                                "asDouble": 71.5,
                                "attributes": [{"key": "core", "value": {"intValue": "3"}}],
                                "pointFieldFromTheFuture": 0
                            },
                            {"timeUnixNano": "1700000000000000001", "asInt": "-17"}
                        ]},
                        "metricFieldFromTheFuture": "x"
                    },
                    {
                        "name": "requests",
                        "sum": {
                            "aggregationTemporality": 2,
                            "isMonotonic": true,
                            "dataPoints": [
                                {
                                    "timeUnixNano": 1700000000000000000u64,
                                    "asInt": 1234,
                                    "exemplars": [{
                                        "timeUnixNano": "1699999999000000000",
                                        "asDouble": 0.5,
                                        "traceId": "5b8efff798038103d269b633813fc60c",
                                        "spanId": "EEE19B7EC3C1B174",
                                        "filteredAttributes": [
                                            {"key": "user", "value": {"stringValue": "u1"}}
                                        ]
                                    }]
                                },
                                {"timeUnixNano": "1700000000000000000", "asInt": "9007199254740993"}
                            ]
                        }
                    },
                    {
                        "name": "latency",
                        "histogram": {
                            "aggregationTemporality": 1,
                            "dataPoints": [{
                                "timeUnixNano": "1700000000000000000",
                                "count": "6",
                                "sum": 12.5,
                                "bucketCounts": ["1", 2, "3"],
                                "explicitBounds": [0.5, 2.0],
                                "min": 0.1,
                                "max": 9.0
                            }]
                        }
                    },
                    {
                        "name": "size",
                        "exponentialHistogram": {
                            "aggregationTemporality": 2,
                            "dataPoints": [{
                                "timeUnixNano": "1700000000000000000",
                                "count": "10",
                                "sum": 100.0,
                                "scale": 3,
                                "zeroCount": "1",
                                "zeroThreshold": 0.001,
                                "positive": {"offset": -2, "bucketCounts": ["4", 3]},
                                "negative": {"offset": 1, "bucketCounts": [2]},
                                "min": -3.0,
                                "max": 40.0
                            }]
                        }
                    },
                    {
                        "name": "rpc.duration",
                        "summary": {"dataPoints": [{
                            "timeUnixNano": "1700000000000000000",
                            "count": 4,
                            "sum": 8.5,
                            "quantileValues": [
                                {"quantile": 0.5, "value": 1.5},
                                {"quantile": 0.99, "value": 4.0}
                            ]
                        }]}
                    }
                ]
            }]
        }]});
        let (status, response) = post_json(&servers.url("metrics"), &body).await;
        assert_eq!(status, 200, "{response}");
        assert_eq!(rejected(&response, "rejectedDataPoints"), 0, "{response}");

        let stored = stored_requests::<ExportMetricsServiceRequest>(&log.log, OTLP_METRICS);
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].key, "metrics-svc");
        assert_eq!(stored[0].tenant, "default");
        let metrics = &stored[0].request.resource_metrics[0].scope_metrics[0].metrics;
        assert_eq!(metrics.len(), 5);

        let cpu = metrics.iter().find(|m| m.name == "cpu.temp").unwrap();
        assert_eq!(
            (cpu.unit.as_str(), cpu.description.as_str()),
            ("Cel", "core temperature")
        );
        let Data::Gauge(gauge) = metric(metrics, "cpu.temp") else {
            panic!("cpu.temp is a gauge")
        };
        assert_eq!(gauge.data_points.len(), 2);
        let p = &gauge.data_points[0];
        assert_eq!(p.start_time_unix_nano, 1_699_999_990_000_000_000);
        assert_eq!(p.time_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(p.value, Some(number_data_point::Value::AsDouble(71.5)));
        assert_eq!(int(attribute(&p.attributes, "core")), 3);
        assert_eq!(
            gauge.data_points[1].time_unix_nano,
            1_700_000_000_000_000_001
        );
        assert_eq!(
            gauge.data_points[1].value,
            Some(number_data_point::Value::AsInt(-17))
        );

        let Data::Sum(sum) = metric(metrics, "requests") else {
            panic!("requests is a sum")
        };
        assert_eq!(sum.aggregation_temporality, 2);
        assert!(sum.is_monotonic);
        assert_eq!(
            sum.data_points[0].value,
            Some(number_data_point::Value::AsInt(1234))
        );
        assert_eq!(
            sum.data_points[1].value,
            Some(number_data_point::Value::AsInt(9_007_199_254_740_993))
        );
        let exemplar = &sum.data_points[0].exemplars[0];
        assert_eq!(exemplar.time_unix_nano, 1_699_999_999_000_000_000);
        assert_eq!(exemplar.value, Some(exemplar::Value::AsDouble(0.5)));
        assert_eq!(exemplar.trace_id, TRACE_ID);
        assert_eq!(exemplar.span_id, SPAN_ID);
        assert_eq!(
            attribute(&exemplar.filtered_attributes, "user"),
            &Value::StringValue("u1".into())
        );

        let Data::Histogram(histogram) = metric(metrics, "latency") else {
            panic!("latency is a histogram")
        };
        assert_eq!(histogram.aggregation_temporality, 1);
        let p = &histogram.data_points[0];
        assert_eq!(p.count, 6);
        assert_eq!(p.sum, Some(12.5));
        assert_eq!(p.bucket_counts, [1, 2, 3]);
        assert_eq!(p.explicit_bounds, [0.5, 2.0]);
        assert_eq!((p.min, p.max), (Some(0.1), Some(9.0)));

        let Data::ExponentialHistogram(exp) = metric(metrics, "size") else {
            panic!("size is an exponential histogram")
        };
        assert_eq!(exp.aggregation_temporality, 2);
        let p = &exp.data_points[0];
        assert_eq!((p.count, p.zero_count, p.scale), (10, 1, 3));
        assert_eq!(p.sum, Some(100.0));
        assert_eq!(p.zero_threshold, 0.001);
        let positive = p.positive.as_ref().unwrap();
        assert_eq!(
            (positive.offset, positive.bucket_counts.as_slice()),
            (-2, &[4, 3][..])
        );
        let negative = p.negative.as_ref().unwrap();
        assert_eq!(
            (negative.offset, negative.bucket_counts.as_slice()),
            (1, &[2][..])
        );
        assert_eq!((p.min, p.max), (Some(-3.0), Some(40.0)));

        let Data::Summary(summary) = metric(metrics, "rpc.duration") else {
            panic!("rpc.duration is a summary")
        };
        let p = &summary.data_points[0];
        assert_eq!((p.count, p.sum), (4, 8.5));
        let quantiles: Vec<(f64, f64)> = p
            .quantile_values
            .iter()
            .map(|q| (q.quantile, q.value))
            .collect();
        assert_eq!(quantiles, [(0.5, 1.5), (0.99, 4.0)]);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_traces_keep_ids_times_events_links_and_status() {
    bounded(async {
        let (log, servers) = start_with_log(PipelineConfig::default(), Auth::default()).await;
        let body = json!({"resourceSpans": [
            {
                "resource": {"attributes": [
                    {"key": "service.name", "value": {"stringValue": "frontend"}}
                ]},
                "scopeSpans": [{
                    "scope": {"name": "tracer"},
                    "spans": [
                        {
                            "traceId": "5B8EFFF798038103D269B633813FC60C",
                            "spanId": "EEE19B7EC3C1B174",
                            "parentSpanId": "0102030405060708",
                            "traceState": "vendor=1",
                            "name": "GET /checkout",
                            "kind": 2,
                            "startTimeUnixNano": "1700000000000000000",
                            "endTimeUnixNano": 1700000000250000000u64,
                            "attributes": [
                                {"key": "http.route", "value": {"stringValue": "/checkout"}},
                                {"key": "retries", "value": {"intValue": "2"}}
                            ],
                            "droppedAttributesCount": 3,
                            "events": [{
                                "timeUnixNano": "1700000000100000000",
                                "name": "retry",
                                "attributes": [{"key": "attempt", "value": {"intValue": 1}}],
                                "eventFieldFromTheFuture": []
                            }],
                            "links": [{
                                "traceId": "0102030405060708090a0b0c0d0e0f10",
                                "spanId": "1112131415161718",
                                "traceState": "linked=1",
                                "attributes": [{"key": "why", "value": {"stringValue": "batch"}}],
                                "flags": 256
                            }],
                            "status": {"code": 2, "message": "upstream failed"},
                            "flags": 257,
                            "spanFieldFromTheFuture": {"x": 1}
                        },
                        {
                            "traceId": "5b8efff798038103d269b633813fc60c",
                            "spanId": "0102030405060708",
                            "name": "SELECT",
                            "kind": 3,
                            "startTimeUnixNano": 1700000000010000000u64,
                            "endTimeUnixNano": "1700000000020000000"
                        }
                    ]
                }]
            },
            {
                "resource": {"attributes": [
                    {"key": "host.name", "value": {"stringValue": "no-service"}}
                ]},
                "scopeSpans": [{"spans": [{
                    "traceId": "0102030405060708090a0b0c0d0e0f10",
                    "spanId": "0102030405060708",
                    "name": "orphan"
                }]}]
            }
        ]});
        let (status, response) = post_json(&servers.url("traces"), &body).await;
        assert_eq!(status, 200, "{response}");
        assert_eq!(rejected(&response, "rejectedSpans"), 0, "{response}");

        let stored = stored_requests::<ExportTraceServiceRequest>(&log.log, OTLP_SPANS);
        assert_eq!(stored.len(), 2);
        // Without service.name, the key is a stable hash of the resource.
        let unnamed: Vec<_> = stored.iter().filter(|s| s.key != "frontend").collect();
        assert_eq!(unnamed.len(), 1);
        assert!(
            unnamed[0].key.starts_with("resource-"),
            "{}",
            unnamed[0].key
        );
        assert_eq!(
            unnamed[0].partition,
            partition_for_key(unnamed[0].key.as_bytes(), 2)
        );

        let frontend = &record_for(&stored, "frontend").request.resource_spans[0];
        assert_eq!(frontend.scope_spans[0].spans.len(), 2);
        let span = &frontend.scope_spans[0].spans[0];
        assert_eq!(span.trace_id, TRACE_ID);
        assert_eq!(span.span_id, SPAN_ID);
        assert_eq!(span.parent_span_id, PARENT_ID);
        assert_eq!(span.trace_state, "vendor=1");
        assert_eq!(span.name, "GET /checkout");
        assert_eq!(span.kind, 2);
        assert_eq!(span.start_time_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(span.end_time_unix_nano, 1_700_000_000_250_000_000);
        assert_eq!(int(attribute(&span.attributes, "retries")), 2);
        assert_eq!(span.dropped_attributes_count, 3);
        assert_eq!(span.flags, 257);
        let event = &span.events[0];
        assert_eq!(event.time_unix_nano, 1_700_000_000_100_000_000);
        assert_eq!(event.name, "retry");
        assert_eq!(int(attribute(&event.attributes, "attempt")), 1);
        let link = &span.links[0];
        assert_eq!(link.trace_id, (1..=16).collect::<Vec<u8>>());
        assert_eq!(link.span_id, (0x11..=0x18).collect::<Vec<u8>>());
        assert_eq!(link.trace_state, "linked=1");
        assert_eq!(link.flags, 256);
        let status = span.status.as_ref().unwrap();
        assert_eq!(
            (status.code, status.message.as_str()),
            (2, "upstream failed")
        );

        let child = &frontend.scope_spans[0].spans[1];
        assert_eq!(child.kind, 3);
        assert!(child.parent_span_id.is_empty());
        assert_eq!(child.start_time_unix_nano, 1_700_000_000_010_000_000);
        assert_eq!(child.end_time_unix_nano, 1_700_000_000_020_000_000);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_ignores_unknown_fields_inside_attribute_values() {
    bounded(async {
        let (log, servers) = start_with_log(PipelineConfig::default(), Auth::default()).await;
        let body = json!({"resourceLogs": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"aFieldFromTheFuture": {"x": [1]}, "stringValue": "svc", "zFieldFromTheFuture": 2}}
            ]},
            "scopeLogs": [{"logRecords": [{"body": {"stringValue": "x"}}]}]
        }]});
        let (status, response) = post_json(&servers.url("logs"), &body).await;
        assert_eq!(status, 200, "{response}");
        let stored = stored_requests::<ExportLogsServiceRequest>(&log.log, OTLP_LOGS);
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].key, "svc");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_response_to_a_full_success_reports_nothing_rejected() {
    bounded(async {
        let (_log, servers) = start_with_log(PipelineConfig::default(), Auth::default()).await;
        for (signal, field) in [
            ("logs", "rejectedLogRecords"),
            ("metrics", "rejectedDataPoints"),
            ("traces", "rejectedSpans"),
        ] {
            // An empty request is valid and stores nothing.
            let (status, response) = post_json(&servers.url(signal), &json!({})).await;
            assert_eq!(status, 200, "{signal}: {response}");
            assert_eq!(rejected(&response, field), 0);
        }
    })
    .await
}

/// A metric's data that does not decode (here a bad hex id in an
/// exemplar, a string where a double belongs, two data types at once) must
/// be refused with a message naming it, not dropped while the exporter is
/// told it was stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_metric_data_that_does_not_decode_is_a_400() {
    bounded(async {
        let (log, servers) = start_with_log(PipelineConfig::default(), Auth::default()).await;
        let bodies = [
            (
                json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{
                    "name": "m",
                    "gauge": {"dataPoints": [{"asInt": "1", "exemplars": [{"traceId": "zz"}]}]}
                }]}]}]}),
                "invalid character 'z'",
            ),
            (
                json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{
                    "name": "m",
                    "histogram": {"dataPoints": [{"count": "1", "sum": "many", "bucketCounts": ["1"]}]}
                }]}]}]}),
                "invalid type",
            ),
            (
                json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{
                    "name": "m",
                    "gauge": {"dataPoints": [{"asInt": "1"}]},
                    "sum": {"dataPoints": [{"asInt": "1"}]}
                }]}]}]}),
                "more than one of gauge, sum",
            ),
        ];
        for (body, detail) in bodies {
            let (status, response) = post_json(&servers.url("metrics"), &body).await;
            assert_eq!(status, 400, "{body}: {response}");
            let message = response["message"].as_str().unwrap();
            assert!(message.contains("invalid OTLP/JSON metrics request"), "{message}");
            assert!(message.contains(detail), "{detail}: {message}");
        }
        assert!(common::stored(&log.log, OTLP_METRICS).is_empty());
    })
    .await
}

/// OTLP/JSON encodes 64-bit integers as decimal strings, and a response
/// without a partial success leaves the field out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_responses_use_strings_for_counts_and_omit_full_success() {
    bounded(async {
        let (_log, servers) = start_with_log(PipelineConfig::default(), Auth::default()).await;
        let record = |extra: serde_json::Value| {
            json!({"resourceLogs": [{
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "a"}}]},
                "scopeLogs": [{"logRecords": [{"body": {"stringValue": "ok"}}, extra]}]
            }]})
        };
        let (status, response) = post_json(
            &servers.url("logs"),
            &record(json!({"body": {"stringValue": "also ok"}})),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(response, json!({}));
        let (status, response) =
            post_json(&servers.url("logs"), &record(json!({"traceId": "abcd"}))).await;
        assert_eq!(status, 200);
        assert_eq!(
            response["partialSuccess"]["rejectedLogRecords"], "1",
            "{response}"
        );
    })
    .await;
}
