//! The read APIs on `listen.http`, end to end through `weir serve`: a known
//! set of log records goes in over OTLP/HTTP (JSON), and every answer of
//! the Loki-compatible API (`/loki/api/v1/...`) and of the native search
//! API (`/api/v1/logs/...`) is compared, whole, with what those records
//! imply — Loki's exact JSON shapes, counts worked out by hand.
//!
//! This file holds the records and the harness; `loki_queries.rs` the
//! Loki query endpoints, `loki_metadata.rs` labels, series, stats and
//! errors, `native.rs` the native API, tenancy and freshness.
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

#[path = "../common/mod.rs"]
mod common;
mod loki_metadata;
mod loki_queries;
mod native;

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
