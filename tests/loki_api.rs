//! The read APIs on `listen.http`, end to end through `weir serve`: a known
//! set of log records goes in over OTLP/HTTP (JSON), and every answer of
//! the Loki-compatible API (`/loki/api/v1/...`) and of the native search
//! API (`/api/v1/logs/...`) is compared, whole, with what those records
//! imply — Loki's exact JSON shapes, counts worked out by hand.
//!
//! The records (see [`records`]) lie between five and two and a half
//! minutes ago, at whole-second offsets (plus a sub-second part, so
//! nanosecond timestamps are checked) from `t0`, a minute boundary, so
//! that `[1m]` windows ending at `t0 + 60s`, `t0 + 120s` and `t0 + 180s`
//! hold known records:
//!
//! | s after t0 | service | severity | body |
//! |---|---|---|---|
//! | 10 | checkout | INFO | `order 1001 placed` (http.method GET) |
//! | 15 | payments | INFO | logfmt, amount=42 |
//! | 20 | checkout | ERROR | `connection refused by payment gateway` (POST, trace) |
//! | 30 | frontend | INFO | `GET /index.html 200` |
//! | 70 | checkout | WARN | `{"status":503,...}` (GET) |
//! | 75 | payments | ERROR | logfmt, amount=17 (POST) |
//! | 80 | checkout | ERROR | `{"status":500,...}` |
//! | 90 | checkout | INFO | `{"status":200,...}` |
//! | 130 | checkout | INFO | `order 1002 placed` (GET) |
//! | 140 | payments | WARN | `retrying after connection refused` |
//! | 150 | frontend | INFO | `GET /cart 200` |

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Server, Workspace};
use serde_json::{Value, json};

/// Every listener on a kernel-chosen port; the index commits every 200 ms
/// so that what was sent is searchable quickly.
const CONFIG: &str = r#"
[listen]
otlp_grpc = "127.0.0.1:0"
otlp_http = "127.0.0.1:0"
http = "127.0.0.1:0"
kafka = "127.0.0.1:0"

[logs]
commit_interval = "200ms"
"#;

/// How long sent records may take to become searchable before a test
/// gives up (the freshness test asserts a much tighter bound).
const INDEX_TIMEOUT: Duration = Duration::from_secs(20);
/// The freshness bound: acknowledged by ingest to found by a search.
const FRESHNESS_BOUND: Duration = Duration::from_secs(2);
/// Added to every record's whole-second offset, so that nanosecond
/// timestamps must survive exactly.
const SUB_SECOND_NANOS: i64 = 123_456_789;
const NANOS: i64 = 1_000_000_000;
const TRACE_ID: &str = "5b8efff798038103d269b633813fc60c";
const SPAN_ID: &str = "eee19b7ec3c1b174";
const CATEGORIZE: (&str, &str) = ("X-Loki-Response-Encoding-Flags", "categorize-labels");

// ---------------------------------------------------------------------------
// The records
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Sent {
    service: &'static str,
    /// Seconds after `t0`.
    at: i64,
    severity: (&'static str, i32),
    body: &'static str,
    attributes: &'static [(&'static str, &'static str)],
    traced: bool,
}

const INFO: (&str, i32) = ("INFO", 9);
const WARN: (&str, i32) = ("WARN", 13);
const ERROR: (&str, i32) = ("ERROR", 17);

/// Resource attributes besides `service.name`.
fn resource_of(service: &str) -> &'static [(&'static str, &'static str)] {
    match service {
        "checkout" => &[("deployment.environment", "prod")],
        _ => &[],
    }
}

fn records() -> Vec<Sent> {
    let sent = |service, at, severity, body, attributes| Sent {
        service,
        at,
        severity,
        body,
        attributes,
        traced: false,
    };
    vec![
        sent(
            "checkout",
            10,
            INFO,
            "order 1001 placed",
            &[("http.method", "GET")],
        ),
        sent(
            "payments",
            15,
            INFO,
            r#"level=info msg="charge accepted" amount=42 duration=120ms"#,
            &[],
        ),
        Sent {
            traced: true,
            ..sent(
                "checkout",
                20,
                ERROR,
                "connection refused by payment gateway",
                &[("http.method", "POST")],
            )
        },
        sent("frontend", 30, INFO, "GET /index.html 200", &[]),
        sent(
            "checkout",
            70,
            WARN,
            r#"{"status":503,"msg":"upstream unavailable"}"#,
            &[("http.method", "GET")],
        ),
        sent(
            "payments",
            75,
            ERROR,
            r#"level=error msg="card declined" amount=17 duration=30ms"#,
            &[("http.method", "POST")],
        ),
        sent(
            "checkout",
            80,
            ERROR,
            r#"{"status":500,"msg":"internal error"}"#,
            &[],
        ),
        sent("checkout", 90, INFO, r#"{"status":200,"msg":"ok"}"#, &[]),
        sent(
            "checkout",
            130,
            INFO,
            "order 1002 placed",
            &[("http.method", "GET")],
        ),
        sent(
            "payments",
            140,
            WARN,
            "retrying after connection refused",
            &[],
        ),
        sent("frontend", 150, INFO, "GET /cart 200", &[]),
    ]
}

fn key_values(pairs: &[(&str, &str)]) -> Vec<Value> {
    pairs
        .iter()
        .map(|(k, v)| json!({"key": k, "value": {"stringValue": v}}))
        .collect()
}

/// An OTLP/JSON logs request with one resource per record.
fn otlp_json(t0: i64, sent: &[Sent]) -> Value {
    let resource_logs: Vec<Value> = sent
        .iter()
        .map(|s| {
            let mut resource = vec![("service.name", s.service)];
            resource.extend_from_slice(resource_of(s.service));
            let mut record = json!({
                "timeUnixNano": nanos_at(t0, s.at).to_string(),
                "severityNumber": s.severity.1,
                "severityText": s.severity.0,
                "body": {"stringValue": s.body},
                "attributes": key_values(s.attributes),
            });
            if s.traced {
                record["traceId"] = json!(TRACE_ID);
                record["spanId"] = json!(SPAN_ID);
            }
            json!({
                "resource": {"attributes": key_values(&resource)},
                "scopeLogs": [{"scope": {"name": "weir.test"}, "logRecords": [record]}],
            })
        })
        .collect();
    json!({ "resourceLogs": resource_logs })
}

/// The timestamp of a record `at` seconds after `t0` (seconds).
fn nanos_at(t0: i64, at: i64) -> i64 {
    (t0 + at) * NANOS + SUB_SECOND_NANOS
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// ---------------------------------------------------------------------------
// A server and its clients
// ---------------------------------------------------------------------------

/// A `weir serve` and the addresses of its listeners.
struct Weir {
    // Dropped (killed) before the workspace it runs in is removed.
    _server: Server,
    _workspace: Workspace,
    http: SocketAddr,
    otlp_http: SocketAddr,
    client: reqwest::Client,
}

/// An HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    /// The JSON body of a 200 answer.
    fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "{}", self.body);
        assert!(
            self.content_type.starts_with("application/json"),
            "content type {}",
            self.content_type
        );
        self.json()
    }
}

impl Weir {
    fn start(config: &str) -> Weir {
        let workspace = Workspace::with_config(config);
        let server = Server::start(&workspace);
        Weir {
            http: server.listen_address("http"),
            otlp_http: server.listen_address("otlp_http"),
            _server: server,
            _workspace: workspace,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("http client"),
        }
    }

    /// Starts a server holding [`records`] (all indexed), and their `t0`.
    async fn with_records() -> (Weir, i64) {
        let weir = Weir::start(CONFIG);
        let t0 = (now_secs() / 60) * 60 - 300;
        let records = records();
        weir.send(&otlp_json(t0, &records), None).await;
        weir.wait_for_hits("*", &[], records.len() as u64).await;
        (weir, t0)
    }

    /// Posts an OTLP/JSON logs request and checks it was accepted whole.
    async fn send(&self, request: &Value, token: Option<&str>) {
        let mut post = self
            .client
            .post(format!("http://{}/v1/logs", self.otlp_http))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(request).unwrap());
        if let Some(token) = token {
            post = post.bearer_auth(token);
        }
        let response = post.send().await.expect("send logs");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert_eq!(status, 200, "ingest answered {body}");
        assert!(!body.contains("rejected"), "ingest rejected some: {body}");
    }

    /// Waits until a native search for `query` counts `hits` documents.
    async fn wait_for_hits(&self, query: &str, headers: &[(&str, &str)], hits: u64) {
        let deadline = Instant::now() + INDEX_TIMEOUT;
        loop {
            let found = self
                .get(
                    "/api/v1/logs/search",
                    &[("query", query), ("limit", "0")],
                    headers,
                )
                .await
                .ok()["num_hits"]
                .as_u64()
                .unwrap();
            if found == hits {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{query:?}: {found} of {hits} hits searchable after {INDEX_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn url(&self, path: &str, params: &[(&str, &str)]) -> reqwest::Url {
        reqwest::Url::parse_with_params(&format!("http://{}{path}", self.http), params).unwrap()
    }

    async fn get(&self, path: &str, params: &[(&str, &str)], headers: &[(&str, &str)]) -> Answer {
        let mut request = self.client.get(self.url(path, params));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request).await
    }

    /// The same parameters as a form-encoded POST body.
    async fn post_form(&self, path: &str, params: &[(&str, &str)]) -> Answer {
        let mut form = reqwest::Url::parse("http://form.invalid/").unwrap();
        form.query_pairs_mut().extend_pairs(params);
        let request = self
            .client
            .post(self.url(path, &[]))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.query().unwrap_or("").to_owned());
        answer(request).await
    }
}

async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("request to the read API");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Answer {
        status,
        content_type,
        body: response.text().await.unwrap(),
    }
}

// ---------------------------------------------------------------------------
// Expectations
// ---------------------------------------------------------------------------

/// `["<ns>", "<line>"]` of a record.
fn value_of(t0: i64, sent: &Sent) -> Value {
    json!([nanos_at(t0, sent.at).to_string(), sent.body])
}

/// The record `at` seconds after `t0`.
fn record_at(at: i64) -> Sent {
    records()
        .into_iter()
        .find(|r| r.at == at)
        .unwrap_or_else(|| panic!("no record at {at}"))
}

/// `data.result` with its streams or series sorted by their labels (Loki
/// does not promise an order between streams).
fn sorted_result(data: &Value) -> Vec<Value> {
    let mut result = data["result"].as_array().expect("result array").clone();
    result.sort_by_key(|r| {
        let labels = if r.get("stream").is_some() {
            &r["stream"]
        } else {
            &r["metric"]
        };
        labels.to_string()
    });
    result
}

/// Every `[ts, line]` of a streams answer, in answer order per stream, and
/// checks each stream's values run in `direction`.
fn entries(data: &Value, direction: &str) -> Vec<(i64, String)> {
    assert_eq!(data["resultType"], "streams", "{data}");
    let mut all = Vec::new();
    for stream in data["result"].as_array().unwrap() {
        let values = stream["values"].as_array().unwrap();
        let times: Vec<i64> = values
            .iter()
            .map(|v| {
                v[0].as_str()
                    .expect("timestamps are strings")
                    .parse()
                    .unwrap()
            })
            .collect();
        let ordered = match direction.to_ascii_lowercase().as_str() {
            "backward" => times.windows(2).all(|w| w[0] >= w[1]),
            _ => times.windows(2).all(|w| w[0] <= w[1]),
        };
        assert!(ordered, "{direction} values out of order: {stream}");
        for (time, value) in times.into_iter().zip(values) {
            all.push((time, value[1].as_str().unwrap().to_owned()));
        }
    }
    all
}

fn lines(mut found: Vec<(i64, String)>) -> Vec<String> {
    found.sort();
    found.into_iter().map(|(_, line)| line).collect()
}

fn bodies(ats: &[i64]) -> Vec<String> {
    ats.iter()
        .map(|at| record_at(*at).body.to_owned())
        .collect()
}

fn ns(t0: i64, seconds: i64) -> String {
    ((t0 + seconds) * NANOS).to_string()
}

/// The `data` of a successful Loki query answer.
fn loki_data(answer: &Answer) -> Value {
    let body = answer.ok();
    assert_eq!(body["status"], "success", "{body}");
    let data = body["data"].clone();
    let summary = &data["stats"]["summary"];
    assert!(summary.is_object(), "stats.summary in {data}");
    data
}

/// A plain-text error answer of the Loki API.
fn assert_text_error(answer: &Answer, status: u16, fragment: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert!(
        answer.content_type.starts_with("text/plain"),
        "content type {} of {}",
        answer.content_type,
        answer.body
    );
    assert!(
        answer.body.contains(fragment),
        "{fragment:?} not in {:?}",
        answer.body
    );
}

// ---------------------------------------------------------------------------
// Loki: log queries
// ---------------------------------------------------------------------------

/// A stream selector with a line filter; structured metadata merged into
/// the stream labels (Loki's default), nanosecond timestamps as strings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_log_query_merges_structured_metadata_into_stream_labels() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let data = loki_data(
        &weir
            .get(
                "/loki/api/v1/query_range",
                &[
                    ("query", r#"{service_name="checkout"} |= "order""#),
                    ("start", &start),
                    ("end", &end),
                ],
                &[],
            )
            .await,
    );
    assert_eq!(data["resultType"], "streams");
    assert!(data.get("encodingFlags").is_none(), "{data}");
    assert_eq!(
        data["result"],
        json!([{
            "stream": {
                "deployment_environment": "prod",
                "detected_level": "info",
                "http_method": "GET",
                "service_name": "checkout",
                "severity_text": "INFO",
            },
            // Backward (the default): newest first.
            "values": [value_of(t0, &record_at(130)), value_of(t0, &record_at(10))],
        }])
    );
    assert_eq!(data["stats"]["summary"]["totalEntriesReturned"], 2);
}

/// With `X-Loki-Response-Encoding-Flags: categorize-labels`, stream labels
/// stay apart and each value carries its structured metadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_log_query_categorizes_labels_when_asked() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let data = loki_data(
        &weir
            .get(
                "/loki/api/v1/query_range",
                &[
                    ("query", r#"{service_name="checkout"} |~ "order|refused""#),
                    ("start", &start),
                    ("end", &end),
                    ("direction", "forward"),
                ],
                &[CATEGORIZE],
            )
            .await,
    );
    assert_eq!(data["encodingFlags"], json!(["categorize-labels"]));
    let stream = |severity: &str| {
        json!({
            "deployment_environment": "prod",
            "service_name": "checkout",
            "severity_text": severity,
        })
    };
    let with_metadata = |at: i64, metadata: Value| {
        let mut value = value_of(t0, &record_at(at));
        value
            .as_array_mut()
            .unwrap()
            .push(json!({ "structuredMetadata": metadata }));
        value
    };
    let info = json!({"detected_level": "info", "http_method": "GET"});
    assert_eq!(
        sorted_result(&data),
        vec![
            json!({
                "stream": stream("ERROR"),
                "values": [with_metadata(20, json!({
                    "detected_level": "error",
                    "http_method": "POST",
                    "span_id": SPAN_ID,
                    "trace_id": TRACE_ID,
                }))],
            }),
            json!({
                "stream": stream("INFO"),
                // Forward: oldest first.
                "values": [with_metadata(10, info.clone()), with_metadata(130, info)],
            }),
        ]
    );
}

/// Loki writes a third element on every value once labels are
/// categorised, `{}` when an entry has neither metadata nor parsed labels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_categorized_values_always_have_a_third_element() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let data = loki_data(
        &weir
            .get(
                "/loki/api/v1/query_range",
                &[
                    (
                        "query",
                        r#"{service_name="frontend"} | drop detected_level"#,
                    ),
                    ("start", &start),
                    ("end", &end),
                ],
                &[CATEGORIZE],
            )
            .await,
    );
    let mut f2 = value_of(t0, &record_at(150));
    f2.as_array_mut().unwrap().push(json!({}));
    let mut f1 = value_of(t0, &record_at(30));
    f1.as_array_mut().unwrap().push(json!({}));
    assert_eq!(
        data["result"],
        json!([{
            "stream": {"service_name": "frontend", "severity_text": "INFO"},
            "values": [f2, f1],
        }])
    );
}

/// `direction` orders the values and `limit` keeps the first entries in
/// that order, across streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_log_query_direction_and_limit() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let query = |direction: &'static str, limit: &'static str| {
        let (start, end) = (start.clone(), end.clone());
        let weir = &weir;
        async move {
            let mut params = vec![
                ("query", r#"{service_name="checkout"}"#),
                ("start", start.as_str()),
                ("end", end.as_str()),
                ("direction", direction),
            ];
            if !limit.is_empty() {
                params.push(("limit", limit));
            }
            let data = loki_data(&weir.get("/loki/api/v1/query_range", &params, &[]).await);
            entries(&data, direction)
        }
    };
    let all_backward = query("backward", "").await;
    assert_eq!(lines(all_backward), bodies(&[10, 20, 70, 80, 90, 130]));
    let all_forward = query("forward", "").await;
    assert_eq!(lines(all_forward), bodies(&[10, 20, 70, 80, 90, 130]));
    // The newest two backward, the oldest two forward.
    let newest = query("backward", "2").await;
    assert_eq!(lines(newest.clone()), bodies(&[90, 130]));
    let times: Vec<i64> = newest.iter().map(|(t, _)| *t).collect();
    assert!(times.contains(&nanos_at(t0, 130)) && times.contains(&nanos_at(t0, 90)));
    assert_eq!(lines(query("forward", "2").await), bodies(&[10, 20]));
    assert_eq!(lines(query("BACKWARD", "1").await), bodies(&[130]));
}

/// `| json | status >= 500`: parsed labels join the stream labels. As in
/// Loki, a line the parser failed on keeps `__error__` and passes numeric
/// filters (only string matchers such as `__error__=""` drop it), while a
/// parsed line below the bound (`status` 200) is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_json_parser_and_numeric_filter() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let run = |query: &'static str| {
        let (start, end) = (start.clone(), end.clone());
        let weir = &weir;
        async move {
            let params = [
                ("query", query),
                ("start", start.as_str()),
                ("end", end.as_str()),
            ];
            let data = loki_data(&weir.get("/loki/api/v1/query_range", &params, &[]).await);
            sorted_result(&data)
        }
    };
    let parsed = vec![
        json!({
            "stream": {
                "deployment_environment": "prod",
                "detected_level": "error",
                "msg": "internal error",
                "service_name": "checkout",
                "severity_text": "ERROR",
                "status": "500",
            },
            "values": [value_of(t0, &record_at(80))],
        }),
        json!({
            "stream": {
                "deployment_environment": "prod",
                "detected_level": "warn",
                "http_method": "GET",
                "msg": "upstream unavailable",
                "service_name": "checkout",
                "severity_text": "WARN",
                "status": "503",
            },
            "values": [value_of(t0, &record_at(70))],
        }),
    ];
    assert_eq!(
        run(r#"{service_name="checkout"} | json | __error__="" | status >= 500"#).await,
        parsed
    );

    let mut all = run(r#"{service_name="checkout"} | json | status >= 500"#).await;
    // The parser's own wording of the failure is not Loki's; check it is
    // there, then compare the rest exactly.
    for stream in &mut all {
        if stream["stream"]["__error__"].is_string() {
            let details = stream["stream"]
                .as_object_mut()
                .unwrap()
                .remove("__error_details__")
                .unwrap_or_else(|| panic!("no __error_details__ in {stream}"));
            assert!(!details.as_str().unwrap().is_empty());
        }
    }
    let failed = |severity: &str, metadata: Value, ats: &[i64]| {
        let mut labels = json!({
            "__error__": "JSONParserErr",
            "deployment_environment": "prod",
            "service_name": "checkout",
            "severity_text": severity,
        });
        labels
            .as_object_mut()
            .unwrap()
            .extend(metadata.as_object().unwrap().clone());
        let values: Vec<Value> = ats.iter().map(|at| value_of(t0, &record_at(*at))).collect();
        json!({ "stream": labels, "values": values })
    };
    let mut expected = parsed.clone();
    expected.push(failed(
        "ERROR",
        json!({
            "detected_level": "error",
            "http_method": "POST",
            "span_id": SPAN_ID,
            "trace_id": TRACE_ID,
        }),
        &[20],
    ));
    expected.push(failed(
        "INFO",
        json!({"detected_level": "info", "http_method": "GET"}),
        &[130, 10],
    ));
    expected.sort_by_key(|s| s["stream"].to_string());
    assert_eq!(all, expected);
}

/// `| logfmt` with a numeric and a duration filter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_logfmt_parser_with_label_filters() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    for query in [
        r#"{service_name="payments"} | logfmt | amount > 20"#,
        r#"{service_name="payments"} | logfmt | duration >= 100ms"#,
    ] {
        let data = loki_data(
            &weir
                .get(
                    "/loki/api/v1/query_range",
                    &[("query", query), ("start", &start), ("end", &end)],
                    &[],
                )
                .await,
        );
        assert_eq!(
            data["result"],
            json!([{
                "stream": {
                    "amount": "42",
                    "detected_level": "info",
                    "duration": "120ms",
                    "level": "info",
                    "msg": "charge accepted",
                    "service_name": "payments",
                    "severity_text": "INFO",
                },
                "values": [value_of(t0, &record_at(15))],
            }]),
            "{query}"
        );
    }
}

/// `!=` drops lines containing a string, `|~` keeps lines matching an
/// unanchored regex, across services of a regex selector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_negative_and_regex_line_filters() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let run = |query: &'static str| {
        let (start, end) = (start.clone(), end.clone());
        let weir = &weir;
        async move {
            let params = [
                ("query", query),
                ("start", start.as_str()),
                ("end", end.as_str()),
            ];
            let data = loki_data(&weir.get("/loki/api/v1/query_range", &params, &[]).await);
            lines(entries(&data, "backward"))
        }
    };
    assert_eq!(
        run(r#"{service_name="checkout"} != "order""#).await,
        bodies(&[20, 70, 80, 90])
    );
    assert_eq!(
        run(r#"{service_name="checkout"} != "order" != "status""#).await,
        bodies(&[20])
    );
    assert_eq!(
        run(r#"{service_name=~"checkout|payments"} |~ "connection (refused|reset)""#).await,
        bodies(&[20, 140])
    );
    assert_eq!(
        run(r#"{service_name=~".+"} |~ "GET /[a-z]+\\.html""#).await,
        bodies(&[30])
    );
    assert_eq!(
        run(r#"{service_name=~".+", service_name!="frontend"} !~ "order|level=""#).await,
        bodies(&[20, 70, 80, 90, 140])
    );
}

/// The POST form-encoded query answers exactly as the GET one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_form_post_answers_as_get() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let (metric_start, metric_end) = (ns(t0, 60), ns(t0, 180));
    for params in [
        vec![
            (
                "query",
                r#"{service_name=~"checkout|payments"} |= "o" | json"#,
            ),
            ("start", start.as_str()),
            ("end", end.as_str()),
            ("limit", "5"),
            ("direction", "forward"),
        ],
        vec![
            (
                "query",
                r#"sum by (service_name) (count_over_time({service_name=~".+"}[1m]))"#,
            ),
            ("start", metric_start.as_str()),
            ("end", metric_end.as_str()),
            ("step", "60s"),
        ],
    ] {
        let got = weir
            .get("/loki/api/v1/query_range", &params, &[])
            .await
            .ok();
        let posted = weir
            .post_form("/loki/api/v1/query_range", &params)
            .await
            .ok();
        assert_eq!(got, posted);
        assert_eq!(got["status"], "success");
        assert!(
            !got["data"]["result"].as_array().unwrap().is_empty(),
            "{got}"
        );
    }
    let got = weir
        .get(
            "/loki/api/v1/series",
            &[("match[]", r#"{service_name="payments"}"#)],
            &[],
        )
        .await
        .ok();
    let posted = weir
        .post_form(
            "/loki/api/v1/series",
            &[("match[]", r#"{service_name="payments"}"#)],
        )
        .await
        .ok();
    assert_eq!(got, posted);
}

// ---------------------------------------------------------------------------
// Loki: metric queries
// ---------------------------------------------------------------------------

/// `sum by (service_name) (count_over_time(...[1m]))` and `rate` as
/// matrices: a point per step whose window `(t - 1m, t]` holds entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_metric_range_queries() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 60), ns(t0, 180));
    let range = |query: &'static str| {
        let (start, end) = (start.clone(), end.clone());
        let weir = &weir;
        async move {
            let params = [
                ("query", query),
                ("start", start.as_str()),
                ("end", end.as_str()),
                ("step", "60"),
            ];
            let data = loki_data(&weir.get("/loki/api/v1/query_range", &params, &[]).await);
            assert_eq!(data["resultType"], "matrix", "{data}");
            sorted_result(&data)
        }
    };
    let point = |at: i64, value: &str| json!([t0 + at, value]);
    assert_eq!(
        range(r#"sum by (service_name) (count_over_time({service_name=~".+"}[1m]))"#).await,
        vec![
            json!({
                "metric": {"service_name": "checkout"},
                "values": [point(60, "2"), point(120, "3"), point(180, "1")],
            }),
            // Nothing in (t0 + 60s, t0 + 120s]: no point.
            json!({
                "metric": {"service_name": "frontend"},
                "values": [point(60, "1"), point(180, "1")],
            }),
            json!({
                "metric": {"service_name": "payments"},
                "values": [point(60, "1"), point(120, "1"), point(180, "1")],
            }),
        ]
    );
    let per_second = |count: f64| (count / 60.0).to_string();
    assert_eq!(
        range(r#"sum(rate({service_name="checkout"}[1m]))"#).await,
        vec![json!({
            "metric": {},
            "values": [
                point(60, &per_second(2.0)),
                point(120, &per_second(3.0)),
                point(180, &per_second(1.0)),
            ],
        })]
    );
    assert_eq!(per_second(3.0), "0.05");
    // Grafana's logs volume query: by detected_level, `level` absent.
    assert_eq!(
        range(
            r#"sum by (level, detected_level) (count_over_time({service_name="checkout"} | drop __error__[1m]))"#
        )
        .await,
        vec![
            json!({
                "metric": {"detected_level": "error"},
                "values": [point(60, "1"), point(120, "1")],
            }),
            json!({
                "metric": {"detected_level": "info"},
                "values": [point(60, "1"), point(120, "1"), point(180, "1")],
            }),
            json!({
                "metric": {"detected_level": "warn"},
                "values": [point(120, "1")],
            }),
        ]
    );
}

/// Instant metric queries answer vectors at `time`; Grafana's health
/// check `vector(1)+vector(1)` answers 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_instant_queries_answer_vectors() {
    let (weir, t0) = Weir::with_records().await;
    // Unix seconds (10 digits) this time.
    let time = (t0 + 120).to_string();
    let data = loki_data(
        &weir
            .get(
                "/loki/api/v1/query",
                &[
                    (
                        "query",
                        r#"sum by (service_name) (count_over_time({service_name=~".+"}[1m]))"#,
                    ),
                    ("time", &time),
                ],
                &[],
            )
            .await,
    );
    assert_eq!(data["resultType"], "vector");
    assert_eq!(
        sorted_result(&data),
        vec![
            json!({"metric": {"service_name": "checkout"}, "value": [t0 + 120, "3"]}),
            json!({"metric": {"service_name": "payments"}, "value": [t0 + 120, "1"]}),
        ]
    );
    let data = loki_data(
        &weir
            .get(
                "/loki/api/v1/query",
                &[("query", "vector(1)+vector(1)"), ("time", &time)],
                &[],
            )
            .await,
    );
    assert_eq!(data["resultType"], "vector");
    assert_eq!(
        data["result"],
        json!([{"metric": {}, "value": [t0 + 120, "2"]}])
    );
    // A fractional time answers a fractional timestamp.
    let data = loki_data(
        &weir
            .post_form(
                "/loki/api/v1/query",
                &[("query", "vector(1)+vector(1)"), ("time", "1700000000.25")],
            )
            .await,
    );
    assert_eq!(
        data["result"],
        json!([{"metric": {}, "value": [1_700_000_000.25, "2"]}])
    );
}

// ---------------------------------------------------------------------------
// Loki: labels, series, index stats
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_labels_values_series_and_index_stats() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let range = [("start", start.as_str()), ("end", end.as_str())];
    let list = |path: &'static str| {
        let weir = &weir;
        async move {
            let body = weir.get(path, &range, &[]).await.ok();
            assert_eq!(body["status"], "success", "{body}");
            body["data"].clone()
        }
    };
    // Stream labels and structured metadata names.
    assert_eq!(
        list("/loki/api/v1/labels").await,
        json!([
            "deployment_environment",
            "detected_level",
            "http_method",
            "service_name",
            "severity_text",
            "span_id",
            "trace_id",
        ])
    );
    assert_eq!(
        list("/loki/api/v1/label").await,
        list("/loki/api/v1/labels").await
    );
    assert_eq!(
        list("/loki/api/v1/label/service_name/values").await,
        json!(["checkout", "frontend", "payments"])
    );
    assert_eq!(
        list("/loki/api/v1/label/detected_level/values").await,
        json!(["error", "info", "warn"])
    );
    assert_eq!(
        list("/loki/api/v1/label/no_such_label/values").await,
        json!([])
    );
    // Values among the streams a selector matches.
    let payments_levels = weir
        .get(
            "/loki/api/v1/label/severity_text/values",
            &[
                ("query", r#"{service_name="payments"}"#),
                range[0],
                range[1],
            ],
            &[],
        )
        .await
        .ok();
    assert_eq!(payments_levels["data"], json!(["ERROR", "INFO", "WARN"]));
    let frontend_levels = weir
        .get(
            "/loki/api/v1/label/detected_level/values",
            &[
                ("query", r#"{service_name="frontend"}"#),
                range[0],
                range[1],
            ],
            &[],
        )
        .await
        .ok();
    assert_eq!(frontend_levels["data"], json!(["info"]));

    // Series: stream label sets only, no structured metadata.
    let series = weir
        .get(
            "/loki/api/v1/series",
            &[
                ("match[]", r#"{service_name="checkout"}"#),
                range[0],
                range[1],
            ],
            &[],
        )
        .await
        .ok();
    assert_eq!(series["status"], "success");
    let mut sets = series["data"].as_array().unwrap().clone();
    sets.sort_by_key(|s| s.to_string());
    let checkout = |severity: &str| {
        json!({
            "deployment_environment": "prod",
            "service_name": "checkout",
            "severity_text": severity,
        })
    };
    assert_eq!(
        sets,
        vec![checkout("ERROR"), checkout("INFO"), checkout("WARN")]
    );
    // Several match[] are a union.
    let union = weir
        .get(
            "/loki/api/v1/series",
            &[
                ("match[]", r#"{service_name="frontend"}"#),
                (
                    "match[]",
                    r#"{service_name="payments", severity_text="WARN"}"#,
                ),
                range[0],
                range[1],
            ],
            &[],
        )
        .await
        .ok();
    let mut sets = union["data"].as_array().unwrap().clone();
    sets.sort_by_key(|s| s.to_string());
    assert_eq!(
        sets,
        vec![
            json!({"service_name": "frontend", "severity_text": "INFO"}),
            json!({"service_name": "payments", "severity_text": "WARN"}),
        ]
    );

    // Index stats: exact entries and bytes of the checkout records.
    let stats = weir
        .get(
            "/loki/api/v1/index/stats",
            &[
                ("query", r#"{service_name="checkout"}"#),
                range[0],
                range[1],
            ],
            &[],
        )
        .await
        .ok();
    let checkout_records: Vec<Sent> = records()
        .into_iter()
        .filter(|r| r.service == "checkout")
        .collect();
    let bytes: usize = checkout_records.iter().map(|r| r.body.len()).sum();
    let mut keys: Vec<&String> = stats.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["bytes", "chunks", "entries", "streams"], "{stats}");
    assert_eq!(stats["entries"], checkout_records.len());
    assert_eq!(stats["bytes"], bytes);
    assert!(stats["chunks"].as_u64().unwrap() >= 1, "{stats}");
    assert!(stats["streams"].as_u64().unwrap() >= 1, "{stats}");
    let errors = weir
        .get(
            "/loki/api/v1/index/stats",
            &[
                (
                    "query",
                    r#"{service_name="checkout", severity_text="ERROR"}"#,
                ),
                range[0],
                range[1],
            ],
            &[],
        )
        .await
        .ok();
    assert_eq!(errors["entries"], 2, "{errors}");
    assert_eq!(errors["streams"], 1, "{errors}");
}

/// Loki's `streams` of `/index/stats` counts distinct stream label sets:
/// as many as `/series` lists for the same selector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_index_stats_counts_the_streams_series_lists() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    for selector in [
        r#"{service_name="checkout"}"#,
        r#"{service_name=~".+"}"#,
        r#"{severity_text="INFO"}"#,
    ] {
        let params = [("start", start.as_str()), ("end", end.as_str())];
        let series = weir
            .get(
                "/loki/api/v1/series",
                &[("match[]", selector), params[0], params[1]],
                &[],
            )
            .await
            .ok();
        let stats = weir
            .get(
                "/loki/api/v1/index/stats",
                &[("query", selector), params[0], params[1]],
                &[],
            )
            .await
            .ok();
        assert_eq!(
            stats["streams"],
            series["data"].as_array().unwrap().len(),
            "{selector}: {stats} but series {series}"
        );
    }
}

// ---------------------------------------------------------------------------
// Loki: errors
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_errors_are_plain_text_with_loki_status_codes() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let range = |query: &'static str| {
        let (start, end) = (start.clone(), end.clone());
        let weir = &weir;
        async move {
            let params = [
                ("query", query),
                ("start", start.as_str()),
                ("end", end.as_str()),
            ];
            weir.get("/loki/api/v1/query_range", &params, &[]).await
        }
    };
    assert_text_error(
        &range(r#"{service_name="checkout""#).await,
        400,
        "parse error at position",
    );
    assert_text_error(
        &range(r#"{service_name="checkout"} | json | status >= "#).await,
        400,
        "parse error",
    );
    assert_text_error(
        &range(r#"sum by (service_name) (count_over_time({service_name="checkout"}))"#).await,
        400,
        "parse error",
    );
    assert_text_error(
        &range(r#"{service_name=~".*"}"#).await,
        400,
        "at least one matcher that does not match the empty",
    );
    assert_text_error(
        &range(r#"{service_name=~".*", severity_text=""}"#).await,
        400,
        "at least one matcher that does not match the empty",
    );
    // Log queries are not instant queries.
    assert_text_error(
        &weir
            .get(
                "/loki/api/v1/query",
                &[("query", r#"{service_name="checkout"}"#)],
                &[],
            )
            .await,
        400,
        "log queries are not supported as an instant query type",
    );
    assert_text_error(
        &weir.get("/loki/api/v1/query_range", &[], &[]).await,
        400,
        "query",
    );
    assert_text_error(
        &weir
            .get(
                "/loki/api/v1/query_range",
                &[
                    ("query", r#"{service_name="checkout"}"#),
                    ("start", &end),
                    ("end", &start),
                ],
                &[],
            )
            .await,
        400,
        "end timestamp must not be before the start time",
    );
    assert_text_error(
        &weir
            .get(
                "/loki/api/v1/query_range",
                &[
                    ("query", r#"count_over_time({service_name="checkout"}[1m])"#),
                    ("step", "0"),
                ],
                &[],
            )
            .await,
        400,
        "zero or negative query resolution step widths are not accepted",
    );
    assert_text_error(
        &weir
            .get(
                "/loki/api/v1/query_range",
                &[
                    ("query", r#"{service_name="checkout"}"#),
                    ("direction", "sideways"),
                ],
                &[],
            )
            .await,
        400,
        "sideways",
    );
    assert_text_error(
        &weir.get("/loki/api/v1/series", &[], &[]).await,
        400,
        "match[]",
    );
    assert_text_error(
        &weir
            .get(
                "/loki/api/v1/index/stats",
                &[("query", r#"{service_name=~".*"}"#)],
                &[],
            )
            .await,
        400,
        "matcher",
    );
    // Over the default hit limit (5,000): a limit to narrow.
    assert_text_error(
        &weir
            .get(
                "/loki/api/v1/query_range",
                &[("query", r#"{service_name="checkout"}"#), ("limit", "5001")],
                &[],
            )
            .await,
        422,
        "limit",
    );
}

// ---------------------------------------------------------------------------
// Tenancy
// ---------------------------------------------------------------------------

/// With `[[ingest.tokens]]`, each token reads only its tenant's records,
/// through both APIs, and a request without a token is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_apis_answer_for_the_token_tenant_only() {
    let config = format!(
        "{CONFIG}\n[[ingest.tokens]]\ntoken = \"alpha-token\"\ntenant = \"alpha\"\n\n\
         [[ingest.tokens]]\ntoken = \"beta-token\"\ntenant = \"beta\"\n"
    );
    let weir = Weir::start(&config);
    let t0 = (now_secs() / 60) * 60 - 300;
    let line = |body: &'static str| Sent {
        service: "shared",
        at: 10,
        severity: INFO,
        body,
        attributes: &[],
        traced: false,
    };
    weir.send(&otlp_json(t0, &[line("alpha secret")]), Some("alpha-token"))
        .await;
    weir.send(
        &otlp_json(t0, &[line("beta secret"), line("beta again")]),
        Some("beta-token"),
    )
    .await;
    let alpha = [("Authorization", "Bearer alpha-token")];
    let beta = [("Authorization", "Bearer beta-token")];
    weir.wait_for_hits("*", &alpha, 1).await;
    weir.wait_for_hits("*", &beta, 2).await;
    let query = [("query", r#"{service_name="shared"}"#)];
    for (headers, expected) in [
        (&alpha, vec!["alpha secret"]),
        (&beta, vec!["beta again", "beta secret"]),
    ] {
        let data = loki_data(&weir.get("/loki/api/v1/query_range", &query, headers).await);
        assert_eq!(lines(entries(&data, "backward")), expected);
        let search = weir
            .get("/api/v1/logs/search", &[("query", "secret")], headers)
            .await
            .ok();
        assert_eq!(search["num_hits"], 1, "{search}");
    }
    // An X-Scope-OrgID does not override the token's tenant.
    let spoofed = [
        ("Authorization", "Bearer alpha-token"),
        ("X-Scope-OrgID", "beta"),
    ];
    let data = loki_data(&weir.get("/loki/api/v1/query_range", &query, &spoofed).await);
    assert_eq!(lines(entries(&data, "backward")), ["alpha secret"]);
    for headers in [&[][..], &[("Authorization", "Bearer nobody")][..]] {
        let refused = weir.get("/loki/api/v1/query_range", &query, headers).await;
        assert_text_error(&refused, 401, "bearer token");
        let refused = weir.get("/api/v1/logs/search", &[], headers).await;
        assert_eq!(refused.status, 401, "{}", refused.body);
        assert!(refused.json()["error"].is_string(), "{}", refused.body);
    }
}

// ---------------------------------------------------------------------------
// The native search API
// ---------------------------------------------------------------------------

/// `(service_name, body)` of every hit, in answer order.
fn hits(answer: &Value) -> Vec<(String, String)> {
    answer["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| {
            (
                h["service_name"].as_str().unwrap().to_owned(),
                h["body"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn hit(at: i64) -> (String, String) {
    let sent = record_at(at);
    (sent.service.to_owned(), sent.body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_search_by_term_phrase_field_attribute_and_time() {
    let (weir, t0) = Weir::with_records().await;
    let search = |params: Vec<(&'static str, String)>| {
        let weir = &weir;
        async move {
            let params: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let answer = weir.get("/api/v1/logs/search", &params, &[]).await.ok();
            assert!(answer["elapsed_time_micros"].is_u64(), "{answer}");
            answer
        }
    };
    let q = |query: &str| vec![("query", query.to_owned())];

    let term = search(q("declined")).await;
    assert_eq!(term["num_hits"], 1);
    assert_eq!(hits(&term), [hit(75)]);

    // A phrase, newest first.
    let phrase = search(q(r#""connection refused""#)).await;
    assert_eq!(phrase["num_hits"], 2);
    assert_eq!(hits(&phrase), [hit(140), hit(20)]);
    // The words in the other order are not the phrase.
    assert_eq!(search(q(r#""refused connection""#)).await["num_hits"], 0);

    let fields = search(q("service_name:checkout AND severity_text:ERROR")).await;
    assert_eq!(fields["num_hits"], 2);
    assert_eq!(hits(&fields), [hit(80), hit(20)]);

    let attribute = search(q("attributes.http.method:GET")).await;
    assert_eq!(attribute["num_hits"], 3);
    assert_eq!(hits(&attribute), [hit(130), hit(70), hit(10)]);
    let resource = search(q("resource_attributes.deployment.environment:prod")).await;
    assert_eq!(resource["num_hits"], 6);

    // One whole document, field by field.
    let traced = search(q("span_id:eee19b7ec3c1b174")).await;
    assert_eq!(traced["num_hits"], 1);
    let doc = &traced["hits"][0];
    assert_eq!(doc["timestamp_nanos"], nanos_at(t0, 20));
    assert_eq!(doc["service_name"], "checkout");
    assert_eq!(doc["severity_text"], "ERROR");
    assert_eq!(doc["severity_number"], 17);
    assert_eq!(doc["body"], "connection refused by payment gateway");
    assert_eq!(doc["attributes"], json!({"http.method": "POST"}));
    assert_eq!(
        doc["resource_attributes"],
        json!({"deployment.environment": "prod", "service.name": "checkout"})
    );
    assert_eq!(doc["trace_id"], TRACE_ID);
    assert_eq!(doc["span_id"], SPAN_ID);
    assert_eq!(doc["scope_name"], "weir.test");
    assert!(
        doc["offset"].is_u64() && doc["observed_timestamp_nanos"].is_i64(),
        "{doc}"
    );

    // [t0 + 60s, t0 + 120s): start included, end excluded.
    let window = search(vec![
        ("query", "*".to_owned()),
        ("start", ns(t0, 60)),
        ("end", ns(t0, 120)),
    ])
    .await;
    assert_eq!(window["num_hits"], 4);
    assert_eq!(hits(&window), [hit(90), hit(80), hit(75), hit(70)]);
    let excluded = search(vec![
        ("query", "*".to_owned()),
        ("start", (nanos_at(t0, 20) + 1).to_string()),
        ("end", nanos_at(t0, 70).to_string()),
    ])
    .await;
    assert_eq!(hits(&excluded), [hit(30)]);
    assert_eq!(
        search(vec![
            ("query", "order".to_owned()),
            ("since", "1s".to_owned())
        ])
        .await["num_hits"],
        0
    );

    // Newest first with a limit; num_hits counts beyond it.
    let newest = search(vec![("query", "*".to_owned()), ("limit", "3".to_owned())]).await;
    assert_eq!(newest["num_hits"], 11);
    assert_eq!(hits(&newest), [hit(150), hit(140), hit(130)]);
    let oldest = search(vec![
        ("query", String::new()),
        ("limit", "2".to_owned()),
        ("order", "asc".to_owned()),
    ])
    .await;
    assert_eq!(oldest["num_hits"], 11);
    assert_eq!(hits(&oldest), [hit(10), hit(15)]);

    // POST with a JSON body answers as GET.
    let posted = weir
        .client
        .post(weir.url("/api/v1/logs/search", &[]))
        .json_body(&json!({"query": "service_name:payments", "limit": 2, "order": "asc"}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 200);
    let posted: Value = serde_json::from_str(&posted.text().await.unwrap()).unwrap();
    assert_eq!(posted["num_hits"], 3);
    assert_eq!(hits(&posted), [hit(15), hit(75)]);
}

/// `.json_body()` for a client built without reqwest's `json` feature.
trait JsonBody {
    fn json_body(self, body: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(serde_json::to_vec(body).unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_histogram_counts_by_severity() {
    let (weir, t0) = Weir::with_records().await;
    let (start, end) = (ns(t0, 0), ns(t0, 180));
    let answer = weir
        .get(
            "/api/v1/logs/histogram",
            &[
                ("start", &start),
                ("end", &end),
                ("interval", "1m"),
                ("by", "severity"),
            ],
            &[],
        )
        .await
        .ok();
    let ms = |at: i64| (t0 + at) * 1000;
    assert_eq!(answer["interval_ms"], 60_000);
    assert_eq!(answer["total"], 11);
    assert_eq!(
        answer["buckets"],
        json!([
            {"timestamp_ms": ms(0), "count": 4, "by_severity": {"ERROR": 1, "INFO": 3}},
            {"timestamp_ms": ms(60), "count": 4, "by_severity": {"ERROR": 2, "INFO": 1, "WARN": 1}},
            {"timestamp_ms": ms(120), "count": 3, "by_severity": {"INFO": 2, "WARN": 1}},
        ])
    );
    let checkout = weir
        .get(
            "/api/v1/logs/histogram",
            &[
                ("query", "service_name:checkout"),
                ("start", &start),
                ("end", &end),
                ("interval", "60s"),
            ],
            &[],
        )
        .await
        .ok();
    assert_eq!(checkout["total"], 6);
    assert_eq!(
        checkout["buckets"],
        json!([
            {"timestamp_ms": ms(0), "count": 2},
            {"timestamp_ms": ms(60), "count": 3},
            {"timestamp_ms": ms(120), "count": 1},
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_fields_report_top_values() {
    let (weir, _t0) = Weir::with_records().await;
    let answer = weir
        .get(
            "/api/v1/logs/fields",
            &[("query", "service_name:payments")],
            &[],
        )
        .await
        .ok();
    assert_eq!(answer["sampled_docs"], 3);
    assert_eq!(
        answer["fields"],
        json!([
            {"name": "attributes.http.method", "count": 1, "top_values": [{"value": "POST", "count": 1}]},
            {"name": "resource_attributes.service.name", "count": 3, "top_values": [{"value": "payments", "count": 3}]},
            {"name": "scope_name", "count": 3, "top_values": [{"value": "weir.test", "count": 3}]},
            {"name": "service_name", "count": 3, "top_values": [{"value": "payments", "count": 3}]},
            {"name": "severity_text", "count": 3, "top_values": [
                {"value": "ERROR", "count": 1},
                {"value": "INFO", "count": 1},
                {"value": "WARN", "count": 1},
            ]},
        ])
    );
    let all = weir.get("/api/v1/logs/fields", &[], &[]).await.ok();
    assert_eq!(all["sampled_docs"], 11);
    let severity = all["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "severity_text")
        .expect("severity_text");
    assert_eq!(
        severity["top_values"],
        json!([
            {"value": "INFO", "count": 6},
            {"value": "ERROR", "count": 3},
            {"value": "WARN", "count": 2},
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_errors_are_json() {
    let (weir, _t0) = Weir::with_records().await;
    let error = |answer: Answer, status: u16| {
        assert_eq!(answer.status, status, "{}", answer.body);
        assert!(
            answer.content_type.starts_with("application/json"),
            "{answer:?}"
        );
        let message = answer.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message: {}", answer.body))
            .to_owned();
        assert!(!message.is_empty());
        message
    };
    let bad_query = error(
        weir.get("/api/v1/logs/search", &[("query", "service_name:(")], &[])
            .await,
        400,
    );
    assert!(bad_query.contains("parse error"), "{bad_query}");
    let too_many = error(
        weir.get("/api/v1/logs/search", &[("limit", "5001")], &[])
            .await,
        422,
    );
    assert!(too_many.contains("5000 hits"), "{too_many}");
    error(
        weir.get("/api/v1/logs/search", &[("order", "sideways")], &[])
            .await,
        400,
    );
    error(
        weir.get("/api/v1/logs/search", &[("start", "yesterday")], &[])
            .await,
        400,
    );
    error(
        weir.get("/api/v1/logs/histogram", &[("by", "colour")], &[])
            .await,
        400,
    );
    error(
        weir.get(
            "/api/v1/logs/histogram",
            &[("interval", "1ms"), ("since", "1h")],
            &[],
        )
        .await,
        422,
    );
    error(
        weir.get("/api/v1/logs/fields", &[("query", "AND AND")], &[])
            .await,
        400,
    );
}

// ---------------------------------------------------------------------------
// Freshness
// ---------------------------------------------------------------------------

/// From ingest's acknowledgement to a search finding the record: at most
/// [`FRESHNESS_BOUND`] with a 200 ms commit interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_are_searchable_within_two_seconds() {
    let weir = Weir::start(CONFIG);
    let mut measured = Vec::new();
    for n in 0..4 {
        let word = format!("freshness{n}x{}", std::process::id());
        let record = json!({"resourceLogs": [{
            "resource": {"attributes": key_values(&[("service.name", "fresh")])},
            "scopeLogs": [{"logRecords": [{
                "timeUnixNano": (now_secs() * NANOS).to_string(),
                "severityText": "INFO",
                "severityNumber": 9,
                "body": {"stringValue": format!("just now {word}")},
            }]}],
        }]});
        weir.send(&record, None).await;
        let acknowledged = Instant::now();
        weir.wait_for_hits(&word, &[], 1).await;
        measured.push(acknowledged.elapsed());
    }
    // The first includes the index's start; all must meet the bound.
    println!("acknowledged → searchable: {measured:?}");
    for (n, latency) in measured.iter().enumerate() {
        assert!(
            *latency <= FRESHNESS_BOUND,
            "record {n} took {latency:?} to become searchable (all: {measured:?})"
        );
    }
}
