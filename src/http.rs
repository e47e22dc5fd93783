//! The HTTP API server on `listen.http`: `/health`, `/ready` and
//! `/metrics` (Prometheus text format), plus the read APIs of the
//! `dashboards` crate merged into the same router.
//!
//! `/health` answers 200 as soon as the process serves HTTP; `/ready`
//! answers 503 until recovery has finished and every listener is up, then
//! 200 until shutdown begins.

use std::future::Future;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

/// Histogram buckets for every latency histogram, in seconds: from half a
/// millisecond (a group-commit sync) to ten seconds (an exporter timeout).
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .expect("latency buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first, in which
            // case this handle renders an empty page rather than crashing.
            let _ = metrics::set_global_recorder(recorder);
            ingest::telemetry::describe();
            log_core::telemetry::describe();
            describe_http();
            aggregator::telemetry::describe();
            handle
        })
        .clone()
}

/// HTTP requests on `listen.http`, by `route` (the route's pattern, so a
/// fixed set) and `status`.
pub const HTTP_REQUESTS: &str = "weir_http_requests_total";
/// Time to answer an HTTP request (queries included), by `route`.
pub const HTTP_REQUEST_DURATION: &str = "weir_http_request_duration_seconds";

fn describe_http() {
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP API requests by route and status");
    metrics::describe_histogram!(
        HTTP_REQUEST_DURATION,
        metrics::Unit::Seconds,
        "time to answer an HTTP API request, queries included"
    );
}

/// Counts and times every request by its route's pattern.
async fn record(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(HTTP_REQUESTS, "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!(HTTP_REQUEST_DURATION, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Whether the process is ready to take traffic.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

#[derive(Clone)]
struct ApiState {
    readiness: Readiness,
    metrics: PrometheusHandle,
}

/// The process routes, with `apis` (the read APIs) merged in.
pub fn router(readiness: Readiness, metrics: PrometheusHandle, apis: Router) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .route("/metrics", get(render_metrics))
        .with_state(ApiState { readiness, metrics })
        .merge(apis)
        .route_layer(axum::middleware::from_fn(record))
}

async fn ready(State(state): State<ApiState>) -> impl IntoResponse {
    if state.readiness.get() {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: recovering or shutting down\n",
        )
    }
}

async fn render_metrics(State(state): State<ApiState>) -> impl IntoResponse {
    state.metrics.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
