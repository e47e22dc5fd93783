//! The native log search API.
//!
//! - `GET|POST /api/v1/logs/search` — `query` (tantivy syntax; empty or
//!   `*` for all), `start`/`end` (default: the last `since`, 1h), `limit`
//!   (default 100), `order` (`desc`, newest first, or `asc`). Answers
//!   `{"num_hits", "hits": [document...], "elapsed_time_micros"}`; a
//!   document has the Quickwit OTLP field names.
//! - `GET|POST /api/v1/logs/histogram` — `query`, `start`, `end`,
//!   `interval` (default: about 100 buckets), `by=severity` to split.
//! - `GET|POST /api/v1/logs/fields` — field names of the newest 1,000
//!   matching documents with their top values.
//! - `GET /api/v1/logs/tail` — server-sent events: one `log` event per
//!   newly indexed matching document (its JSON), a `dropped` event with a
//!   count when a poll found more than it may send; a comment every 15 s
//!   keeps idle connections open.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use aggregator::logs::search::SearchRequest;
use aggregator::logs::source::Direction;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::Stream;
use tokio::sync::Semaphore;

use crate::LogsState;
use crate::error::{ApiError, blocking};
use crate::params::Params;

/// Hits returned when a request gives no `limit`.
const DEFAULT_LIMIT: usize = 100;
/// Buckets of a histogram whose request gives no `interval`.
const DEFAULT_BUCKETS: i64 = 100;
/// Live tails served at once; each holds a connection and polls the index.
const MAX_TAILS: usize = 64;

pub fn router() -> Router<LogsState> {
    Router::new()
        .route("/api/v1/logs/search", get(search).post(search))
        .route("/api/v1/logs/histogram", get(histogram).post(histogram))
        .route("/api/v1/logs/fields", get(fields).post(fields))
        .route("/api/v1/logs/tail", get(tail))
}

fn query_text(params: &Params) -> String {
    params
        .get("query")
        .or_else(|| params.get("q"))
        .unwrap_or("")
        .to_owned()
}

async fn search(
    State(state): State<LogsState>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let tenant = state.tenancy.tenant(&headers)?;
    let (start_nanos, end_nanos) = params.range()?;
    let direction = match params.get("order").unwrap_or("desc") {
        "desc" => Direction::Backward,
        "asc" => Direction::Forward,
        other => {
            return Err(ApiError::bad_request(format!(
                "order: {other:?} is neither \"desc\" nor \"asc\""
            )));
        }
    };
    let request = SearchRequest {
        tenant,
        query: query_text(&params),
        start_nanos,
        end_nanos,
        limit: params.usize("limit", DEFAULT_LIMIT)?,
        direction,
    };
    let search = Arc::clone(&state.search);
    let response = blocking(move || search.search(&request)).await?;
    Ok(axum::Json(response).into_response())
}

async fn histogram(
    State(state): State<LogsState>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let tenant = state.tenancy.tenant(&headers)?;
    let (start, end) = params.range()?;
    let interval = match params.duration("interval")? {
        Some(interval) => interval,
        None => ((end - start) / DEFAULT_BUCKETS).max(1_000_000_000),
    };
    let by_severity = match params.get("by") {
        None | Some("") => false,
        Some("severity") | Some("severity_text") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "by: {other:?} is not \"severity\""
            )));
        }
    };
    let query = query_text(&params);
    let search = Arc::clone(&state.search);
    let response =
        blocking(move || search.histogram(&tenant, &query, start, end, interval, by_severity))
            .await?;
    Ok(axum::Json(response).into_response())
}

async fn fields(
    State(state): State<LogsState>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let tenant = state.tenancy.tenant(&headers)?;
    let (start, end) = params.range()?;
    let query = query_text(&params);
    let search = Arc::clone(&state.search);
    let response = blocking(move || search.field_summary(&tenant, &query, start, end)).await?;
    Ok(axum::Json(response).into_response())
}

async fn tail(
    State(state): State<LogsState>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    static TAILS: Semaphore = Semaphore::const_new(MAX_TAILS);
    let permit = TAILS.try_acquire().map_err(|_| ApiError {
        status: axum::http::StatusCode::TOO_MANY_REQUESTS,
        message: format!("{MAX_TAILS} live tails are open already; close one"),
    })?;
    let tenant = state.tenancy.tenant(&headers)?;
    let query = query_text(&params);
    let search = Arc::clone(&state.search);
    // Refuse a bad query now rather than in the stream.
    search.parse(&query)?;
    let position = {
        let search = Arc::clone(&search);
        blocking(move || Ok(search.tail_start())).await?
    };
    let mut commits = search.store().subscribe();
    let stream = async_stream(move |sender| async move {
        let _permit = permit;
        let mut position = position;
        loop {
            let search = Arc::clone(&search);
            let (tenant, query) = (tenant.clone(), query.clone());
            let polled = blocking(move || {
                let mut position = position;
                let found = search.tail(&tenant, &query, &mut position)?;
                Ok((found, position))
            })
            .await;
            let ((docs, dropped), next) = match polled {
                Ok(polled) => polled,
                Err(e) => {
                    let _ = sender
                        .send(Event::default().event("error").data(e.message))
                        .await;
                    return;
                }
            };
            position = next;
            for doc in docs {
                let event = Event::default().event("log").json_data(&doc);
                if let Ok(event) = event
                    && sender.send(event).await.is_err()
                {
                    return;
                }
            }
            if dropped > 0
                && sender
                    .send(Event::default().event("dropped").data(dropped.to_string()))
                    .await
                    .is_err()
            {
                return;
            }
            tokio::select! {
                changed = commits.changed() => if changed.is_err() { return },
                () = sender.closed() => return,
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// A stream fed by a task through a small bounded channel, so a slow
/// client holds back the producer instead of growing a buffer.
fn async_stream<F, Fut>(produce: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel(64);
    tokio::spawn(produce(sender));
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|event| (Ok(event), receiver))
    })
}
