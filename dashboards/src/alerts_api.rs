//! The alert engine's HTTP API: Prometheus' `/api/v1/rules` and
//! `/api/v1/alerts`, Alertmanager's v2 silences, the aggregation groups,
//! the notification history, and `POST /-/reload`.
//!
//! The engine starts after the log has recovered, later than the HTTP
//! server; until it is there these routes answer 503.

use std::sync::{Arc, OnceLock};

use alerting::AlertingError;
use alerting::api::{Failure, Success};
use alerting::engine::Engine;
use alerting::matcher::Matcher;
use alerting::silence::{PostableSilence, SilenceCreated};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

/// Where the routes find the engine once it runs.
pub type EngineSlot = Arc<OnceLock<Arc<Engine>>>;

/// Most attempts the history returns by default.
const DEFAULT_HISTORY: usize = 100;

pub fn router(slot: EngineSlot) -> Router {
    Router::new()
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/alerts/groups", get(groups))
        .route("/api/v1/notifications", get(notifications))
        .route("/api/v2/silences", get(list_silences).post(post_silence))
        .route(
            "/api/v2/silence/{id}",
            get(get_silence).delete(expire_silence),
        )
        .route("/-/reload", post(reload))
        .with_state(slot)
}

/// An error in Prometheus' shape with its status code.
struct Error(StatusCode, Failure);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

impl From<AlertingError> for Error {
    fn from(e: AlertingError) -> Error {
        let (status, kind) = match &e {
            AlertingError::BadRequest(_) | AlertingError::Invalid { .. } => {
                (StatusCode::BAD_REQUEST, "bad_data")
            }
            AlertingError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            AlertingError::Config(_) => (StatusCode::INTERNAL_SERVER_ERROR, "config"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        Error(status, Failure::new(kind, e.to_string()))
    }
}

fn engine(slot: &EngineSlot) -> Result<&Arc<Engine>, Error> {
    slot.get().ok_or_else(|| {
        Error(
            StatusCode::SERVICE_UNAVAILABLE,
            Failure::new("unavailable", "the alert engine is starting"),
        )
    })
}

#[derive(Deserialize)]
struct RulesParams {
    #[serde(rename = "type")]
    kind: Option<String>,
}

async fn rules(
    State(slot): State<EngineSlot>,
    Query(params): Query<RulesParams>,
) -> Result<Response, Error> {
    let data = engine(&slot)?.rules(params.kind.as_deref())?;
    Ok(Json(Success::new(data)).into_response())
}

async fn alerts(State(slot): State<EngineSlot>) -> Result<Response, Error> {
    Ok(Json(Success::new(engine(&slot)?.alerts())).into_response())
}

async fn groups(State(slot): State<EngineSlot>) -> Result<Response, Error> {
    Ok(Json(Success::new(engine(&slot)?.alert_groups())).into_response())
}

#[derive(Deserialize)]
struct HistoryParams {
    limit: Option<usize>,
}

async fn notifications(
    State(slot): State<EngineSlot>,
    Query(params): Query<HistoryParams>,
) -> Result<Response, Error> {
    let limit = params.limit.unwrap_or(DEFAULT_HISTORY);
    Ok(Json(Success::new(engine(&slot)?.notifications(limit))).into_response())
}

/// `GET /api/v2/silences?filter=<matcher>&filter=...`, as Alertmanager.
async fn list_silences(
    State(slot): State<EngineSlot>,
    RawQuery(query): RawQuery,
) -> Result<Response, Error> {
    let engine = engine(&slot)?;
    let mut filter = Vec::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if key == "filter" {
            filter.extend(Matcher::parse_list(&value)?);
        }
    }
    Ok(Json(engine.silences().list(&filter)).into_response())
}

async fn post_silence(
    State(slot): State<EngineSlot>,
    body: Result<Json<PostableSilence>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, Error> {
    let engine = engine(&slot)?;
    let Json(silence) = body.map_err(|e| {
        Error(
            StatusCode::BAD_REQUEST,
            Failure::new("bad_data", format!("silence: {}", e.body_text())),
        )
    })?;
    let id = engine.silences().upsert(silence).await?;
    Ok(Json(SilenceCreated { silence_id: id }).into_response())
}

async fn get_silence(
    State(slot): State<EngineSlot>,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    match engine(&slot)?.silences().get(&id) {
        Some(silence) => Ok(Json(silence).into_response()),
        None => Err(AlertingError::NotFound {
            what: "silence",
            id,
        }
        .into()),
    }
}

async fn expire_silence(
    State(slot): State<EngineSlot>,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    engine(&slot)?.silences().expire(&id).await?;
    Ok(StatusCode::OK.into_response())
}

async fn reload(State(slot): State<EngineSlot>) -> Result<Response, Error> {
    engine(&slot)?.reload().await?;
    Ok((StatusCode::OK, "configuration reloaded\n").into_response())
}
