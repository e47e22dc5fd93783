//! The Prometheus-compatible HTTP API, for Grafana's Prometheus data
//! source and PromQL clients, with Prometheus' exact JSON shapes:
//!
//! | endpoint | answers |
//! |---|---|
//! | `GET|POST /api/v1/query` | `vector`, `scalar`, `string` or `matrix` |
//! | `GET|POST /api/v1/query_range` | `matrix` |
//! | `GET|POST /api/v1/series` | label sets matching `match[]` (required) |
//! | `GET|POST /api/v1/labels` | label names (optionally of `match[]`) |
//! | `GET /api/v1/label/{name}/values` | one label's values |
//! | `GET /api/v1/metadata` | type, help and unit per metric name |
//! | `GET /api/v1/status/buildinfo` | version, for Grafana's detection |
//!
//! Every answer is `{"status": "success", "data": ...}` or
//! `{"status": "error", "errorType": ..., "error": ...}`: `bad_data` with
//! 400 for a request or query that is wrong, `execution` with 422 for a
//! limit, `timeout` with 503, `internal` with 500. Times are Unix seconds
//! (with decimals) or RFC 3339; durations are Prometheus durations
//! (`15s`, `1m`) or seconds. Samples are `[<unix seconds>, "<value>"]`
//! with values as Prometheus formats them (`NaN`, `+Inf`, `-Inf`,
//! shortest decimal, no exponent).
//!
//! - [`query`]: instant and range queries.
//! - [`metadata`]: series, labels, label values, metadata, build info.
//! - [`json`]: result encoding and the error shape.

pub mod json;
pub mod metadata;
pub mod query;

use std::sync::Arc;

use aggregator::metrics::promql::PromQlEngine;
use aggregator::metrics::source::SeriesSource;
use aggregator::query::QueryLimits;
use axum::Router;
use axum::routing::get;

use crate::Tenancy;

/// What the Prometheus-compatible API serves from.
#[derive(Clone)]
pub struct MetricsState {
    pub source: Arc<dyn SeriesSource>,
    pub limits: QueryLimits,
    pub engine: Arc<PromQlEngine>,
    pub tenancy: Arc<Tenancy>,
}

impl MetricsState {
    pub fn new(source: Arc<dyn SeriesSource>, limits: QueryLimits, tenancy: Tenancy) -> Self {
        MetricsState {
            engine: Arc::new(PromQlEngine::new(Arc::clone(&source), limits)),
            source,
            limits,
            tenancy: Arc::new(tenancy),
        }
    }
}

pub fn router() -> Router<MetricsState> {
    Router::new()
        .route("/api/v1/query", get(query::instant).post(query::instant))
        .route("/api/v1/query_range", get(query::range).post(query::range))
        .route(
            "/api/v1/series",
            get(metadata::series).post(metadata::series),
        )
        .route(
            "/api/v1/labels",
            get(metadata::labels).post(metadata::labels),
        )
        .route("/api/v1/label/{name}/values", get(metadata::label_values))
        .route("/api/v1/metadata", get(metadata::metadata))
        .route("/api/v1/status/buildinfo", get(metadata::buildinfo))
}
