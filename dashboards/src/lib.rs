//! `dashboards`: the HTTP read API on `listen.http` — the native log
//! search API, the Loki-compatible API (for Grafana's Loki data source)
//! and the Prometheus-compatible API (for Grafana's Prometheus data
//! source), the alert engine's API, and the web UI.
//!
//! # Invariants
//! - Every query runs on a blocking thread under the configured
//!   [`QueryLimits`](aggregator::query::QueryLimits); request bodies are
//!   bounded ([`MAX_BODY_BYTES`]).
//! - Every request is answered for one tenant: the bearer token's when
//!   tokens are configured, else `X-Scope-OrgID` (Loki's header), else
//!   `default` ([`tenant`]).
//! - Errors map to HTTP status codes only here ([`error`]).
//!
//! # Layout
//! - [`alerts_api`]: rules, alerts, silences, notification history and
//!   `/-/reload`.
//! - [`logs_api`]: the native search API under `/api/v1/logs/`.
//! - [`loki`]: `/loki/api/v1/...` with Loki's JSON shapes.
//! - [`prometheus`]: `/api/v1/query`, `/api/v1/series`, ... with
//!   Prometheus' JSON shapes.
//! - [`params`]: query-string and form parameters, times and durations.
//! - [`tenant`]: who a request is for.
//! - [`ui`]: the embedded web UI, the pipeline status and dashboards.
//! - [`error`]: errors and their status codes.

pub mod alerts_api;
pub mod error;
pub mod logs_api;
pub mod loki;
pub mod params;
pub mod prometheus;
pub mod tenant;
pub mod ui;

use std::sync::Arc;

use aggregator::logs::logql::LogQlEngine;
use aggregator::logs::search::LogSearch;
use axum::Router;
use axum::extract::DefaultBodyLimit;

pub use prometheus::MetricsState;
pub use tenant::Tenancy;

/// Largest request body (form-encoded queries); queries are short.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// What the log read APIs serve from.
#[derive(Clone)]
pub struct LogsState {
    pub search: Arc<LogSearch>,
    pub logql: Arc<LogQlEngine<LogSearch>>,
    pub tenancy: Arc<Tenancy>,
}

impl LogsState {
    pub fn new(search: Arc<LogSearch>, tenancy: Tenancy) -> LogsState {
        let limits = *search.limits();
        LogsState {
            logql: Arc::new(LogQlEngine::new(Arc::clone(&search), limits)),
            search,
            tenancy: Arc::new(tenancy),
        }
    }
}

/// The routes of the log read APIs.
pub fn logs_router(state: LogsState) -> Router {
    Router::new()
        .merge(logs_api::router())
        .merge(loki::router())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// The routes of the alert engine's API.
pub fn alerts_router(slot: alerts_api::EngineSlot) -> Router {
    alerts_api::router(slot).layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// The routes of the Prometheus-compatible API.
pub fn metrics_router(state: MetricsState) -> Router {
    prometheus::router()
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
