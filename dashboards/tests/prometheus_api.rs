//! The Prometheus-compatible API over an in-memory source with known
//! series: every endpoint's whole answer against what the series imply,
//! worked out by hand, and every error shape.
//!
//! Series of tenant `default` (10 s windows ending at `T0 + k * 10 s`):
//!
//! | series | windows |
//! |---|---|
//! | `http_requests_total{job="api", code="200"}` | counter, +1/window for 30 windows |
//! | `http_requests_total{job="api", code="500"}` | counter, +0.5/window for 30 windows |
//! | `queue_depth{job="worker"}` | gauge 7 at `T0 + 10 s`, 9 at `T0 + 20 s` |
//! | `latency_seconds{job="api"}` | histogram of 0.1, 0.2, 0.3, 0.4 at `T0 + 10 s` |
//!
//! Tenant `other` holds `queue_depth{job="other"}` = 1.

use std::sync::Arc;
use std::time::Duration;

use aggregator::labels::Labels;
use aggregator::metrics::memory::{MemorySource, counter_windows, gauge_window, histogram_window};
use aggregator::metrics::source::{MetricMetadata, SeriesSource};
use aggregator::query::QueryLimits;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use dashboards::{MetricsState, Tenancy, metrics_router};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// 2023-11-14T22:00:00Z.
const T0: i64 = 1_699_999_200_000;
const W: i64 = 10_000;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    )
}

fn source() -> Arc<MemorySource> {
    let source = MemorySource::new(W);
    source.insert(
        "default",
        labels(&[
            ("__name__", "http_requests_total"),
            ("job", "api"),
            ("code", "200"),
        ]),
        counter_windows(T0 + W, W, &[1.0; 30]),
    );
    source.insert(
        "default",
        labels(&[
            ("__name__", "http_requests_total"),
            ("job", "api"),
            ("code", "500"),
        ]),
        counter_windows(T0 + W, W, &[0.5; 30]),
    );
    source.insert(
        "default",
        labels(&[("__name__", "queue_depth"), ("job", "worker")]),
        [
            gauge_window(T0 + W, W, 7.0),
            gauge_window(T0 + 2 * W, W, 9.0),
        ],
    );
    source.insert(
        "default",
        labels(&[("__name__", "latency_seconds"), ("job", "api")]),
        [histogram_window(T0 + W, W, &[0.1, 0.2, 0.3, 0.4])],
    );
    source.insert(
        "other",
        labels(&[("__name__", "queue_depth"), ("job", "other")]),
        [gauge_window(T0 + W, W, 1.0)],
    );
    for (name, kind, help) in [
        ("http_requests_total", "counter", "requests served"),
        ("queue_depth", "gauge", "jobs waiting"),
    ] {
        source.insert_metadata(
            "default",
            MetricMetadata {
                name: name.to_owned(),
                kind,
                help: help.to_owned(),
                unit: String::new(),
            },
        );
    }
    Arc::new(source)
}

fn app(limits: QueryLimits) -> axum::Router {
    let source: Arc<dyn SeriesSource> = source();
    metrics_router(MetricsState::new(
        source,
        limits,
        Tenancy::new(Default::default()),
    ))
}

/// Sends a request; returns the status and the JSON body.
async fn send(app: axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, body)
}

fn encode(params: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (n, v) in params {
        out.append_pair(n, v);
    }
    out.finish()
}

async fn get(path: &str, params: &[(&str, &str)]) -> (StatusCode, Value) {
    get_as(path, params, None).await
}

async fn get_as(path: &str, params: &[(&str, &str)], tenant: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::get(format!("{path}?{}", encode(params)));
    if let Some(tenant) = tenant {
        request = request.header("X-Scope-OrgID", tenant);
    }
    send(
        app(QueryLimits::default()),
        request.body(Body::empty()).unwrap(),
    )
    .await
}

async fn post(path: &str, params: &[(&str, &str)]) -> (StatusCode, Value) {
    let request = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(encode(params)))
        .unwrap();
    send(app(QueryLimits::default()), request).await
}

fn secs(t_ms: i64) -> String {
    (t_ms / 1000).to_string()
}

fn success(data: Value) -> Value {
    json!({"status": "success", "data": data})
}

#[tokio::test]
async fn an_instant_query_answers_a_vector() {
    let at = secs(T0 + 30 * W);
    let (status, body) = get(
        "/api/v1/query",
        &[
            ("query", "sum by (code) (increase(http_requests_total[1m]))"),
            ("time", &at),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let t = json!((T0 + 30 * W) / 1000);
    assert_eq!(
        body,
        success(json!({"resultType": "vector", "result": [
            {"metric": {"code": "200"}, "value": [t, "6"]},
            {"metric": {"code": "500"}, "value": [t, "3"]},
        ]}))
    );
}

#[tokio::test]
async fn grafanas_health_query_is_a_scalar_two() {
    let (status, body) = get(
        "/api/v1/query",
        &[("query", "1+1"), ("time", "1700000000.5")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        success(json!({"resultType": "scalar", "result": [1_700_000_000.5, "2"]}))
    );
}

#[tokio::test]
async fn strings_and_range_vectors_keep_their_result_types() {
    let (_, body) = get(
        "/api/v1/query",
        &[("query", "\"hi\""), ("time", "1700000000")],
    )
    .await;
    assert_eq!(
        body,
        success(json!({"resultType": "string", "result": [1_700_000_000, "hi"]}))
    );
    let at = secs(T0 + 2 * W);
    let (_, body) = get(
        "/api/v1/query",
        &[("query", "queue_depth[20s]"), ("time", &at)],
    )
    .await;
    assert_eq!(
        body,
        success(json!({"resultType": "matrix", "result": [{
            "metric": {"__name__": "queue_depth", "job": "worker"},
            "values": [[(T0 + W) / 1000, "7"], [(T0 + 2 * W) / 1000, "9"]],
        }]}))
    );
}

#[tokio::test]
async fn a_range_query_answers_a_matrix_and_a_post_the_same() {
    let (start, end) = (secs(T0 + 10 * W), secs(T0 + 12 * W));
    let params = [
        ("query", "rate(http_requests_total{code=\"500\"}[20s])"),
        ("start", start.as_str()),
        ("end", end.as_str()),
        ("step", "10s"),
    ];
    let (status, body) = get("/api/v1/query_range", &params).await;
    assert_eq!(status, StatusCode::OK);
    let point = |k: i64| json!([(T0 + k * W) / 1000, "0.05"]);
    assert_eq!(
        body,
        success(json!({"resultType": "matrix", "result": [{
            "metric": {"code": "500", "job": "api"},
            "values": [point(10), point(11), point(12)],
        }]}))
    );
    assert_eq!(post("/api/v1/query_range", &params).await, (status, body));
}

#[tokio::test]
async fn histogram_quantiles_read_the_distribution() {
    let at = secs(T0 + W);
    let (_, body) = get(
        "/api/v1/query",
        &[
            ("query", "histogram_quantile(0.5, latency_seconds)"),
            ("time", &at),
        ],
    )
    .await;
    let value: f64 = body["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (value - 0.2).abs() <= 0.2 * 1e-3,
        "p50 of 0.1..0.4 is 0.2, got {value}"
    );
}

#[tokio::test]
async fn series_labels_and_values_follow_match() {
    let (status, body) = get(
        "/api/v1/series",
        &[
            ("match[]", "http_requests_total{code=\"500\"}"),
            ("match[]", "queue_depth"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        success(json!([
            {"__name__": "http_requests_total", "code": "500", "job": "api"},
            {"__name__": "queue_depth", "job": "worker"},
        ]))
    );
    let (_, body) = get("/api/v1/labels", &[]).await;
    assert_eq!(body, success(json!(["__name__", "code", "job"])));
    let (_, body) = get("/api/v1/labels", &[("match[]", "queue_depth")]).await;
    assert_eq!(body, success(json!(["__name__", "job"])));
    let (_, body) = get("/api/v1/label/job/values", &[]).await;
    assert_eq!(body, success(json!(["api", "worker"])));
    let (_, body) = get("/api/v1/label/__name__/values", &[("limit", "2")]).await;
    assert_eq!(
        body,
        success(json!(["http_requests_total", "latency_seconds"]))
    );
}

#[tokio::test]
async fn metadata_and_buildinfo() {
    let (_, body) = get("/api/v1/metadata", &[]).await;
    assert_eq!(
        body,
        success(json!({
            "http_requests_total": [{"type": "counter", "help": "requests served", "unit": ""}],
            "queue_depth": [{"type": "gauge", "help": "jobs waiting", "unit": ""}],
        }))
    );
    let (_, body) = get("/api/v1/metadata", &[("metric", "queue_depth")]).await;
    assert_eq!(body["data"].as_object().unwrap().len(), 1);
    let (_, body) = get("/api/v1/metadata", &[("limit", "1")]).await;
    assert_eq!(
        body["data"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["http_requests_total"]
    );
    let (status, body) = get("/api/v1/status/buildinfo", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn each_tenant_sees_only_its_series() {
    let at = secs(T0 + W);
    let (_, body) = get_as(
        "/api/v1/query",
        &[("query", "queue_depth"), ("time", &at)],
        Some("other"),
    )
    .await;
    assert_eq!(body["data"]["result"][0]["metric"]["job"], "other");
    assert_eq!(body["data"]["result"].as_array().unwrap().len(), 1);
    let (_, body) = get_as("/api/v1/label/job/values", &[], Some("nobody")).await;
    assert_eq!(body, success(json!([])));
}

async fn error(path: &str, params: &[(&str, &str)], status: StatusCode, kind: &str, needle: &str) {
    let (got, body) = get(path, params).await;
    assert_eq!(got, status, "{path} {params:?}: {body}");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["errorType"], kind, "{body}");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains(needle),
        "{message:?} does not say {needle:?}"
    );
}

#[tokio::test]
async fn bad_requests_get_prometheus_errors() {
    let bad = StatusCode::BAD_REQUEST;
    error(
        "/api/v1/query",
        &[("query", "sum(rate(x[5m])")],
        bad,
        "bad_data",
        "parse error at position",
    )
    .await;
    error("/api/v1/query", &[], bad, "bad_data", "query").await;
    error(
        "/api/v1/query",
        &[("query", "1"), ("time", "yesterday")],
        bad,
        "bad_data",
        "time",
    )
    .await;
    let range = |step: &'static str| {
        [
            ("query", "1"),
            ("start", "1700000000"),
            ("end", "1700100000"),
            ("step", step),
        ]
    };
    error(
        "/api/v1/query_range",
        &range("0"),
        bad,
        "bad_data",
        "zero or negative",
    )
    .await;
    error(
        "/api/v1/query_range",
        &range("1s"),
        bad,
        "bad_data",
        "11,000 points",
    )
    .await;
    error(
        "/api/v1/query_range",
        &[("query", "1"), ("end", "1"), ("step", "1")],
        bad,
        "bad_data",
        "\"start\"",
    )
    .await;
    error("/api/v1/series", &[], bad, "bad_data", "match[]").await;
    error(
        "/api/v1/series",
        &[("match[]", "sum(x)")],
        bad,
        "bad_data",
        "series selector",
    )
    .await;
    error(
        "/api/v1/series",
        &[("match[]", "{job=~\".*\"}")],
        bad,
        "bad_data",
        "empty",
    )
    .await;
}

#[tokio::test]
async fn limits_are_execution_errors_naming_the_limit() {
    let limits = QueryLimits {
        max_series: 1,
        ..QueryLimits::default()
    };
    let at = secs(T0 + W);
    let request = Request::get(format!(
        "/api/v1/query?{}",
        encode(&[("query", "http_requests_total"), ("time", &at)])
    ))
    .body(Body::empty())
    .unwrap();
    let (status, body) = send(app(limits), request).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errorType"], "execution");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("limit of 1 series"),
        "{body}"
    );
    let timeout = QueryLimits {
        timeout: Duration::ZERO,
        ..QueryLimits::default()
    };
    let request = Request::get(format!(
        "/api/v1/query?{}",
        encode(&[("query", "queue_depth"), ("time", &at)])
    ))
    .body(Body::empty())
    .unwrap();
    let (status, body) = send(app(timeout), request).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["errorType"], "timeout");
}
