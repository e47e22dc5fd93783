//! The Loki-compatible API, for Grafana's Loki data source and LogQL
//! clients (`logcli`), with Loki's exact JSON shapes:
//!
//! | endpoint | answers |
//! |---|---|
//! | `GET|POST /loki/api/v1/query` | `vector` or `scalar` (metric queries; log queries are refused, as Loki 3 does) |
//! | `GET|POST /loki/api/v1/query_range` | `streams` (log queries) or `matrix` |
//! | `GET|POST /loki/api/v1/labels` (also `/label`) | label names |
//! | `GET|POST /loki/api/v1/label/{name}/values` | one label's values |
//! | `GET|POST /loki/api/v1/series` | label sets of the streams matching `match[]` |
//! | `GET|POST /loki/api/v1/index/stats` | `{streams, chunks, entries, bytes}` |
//!
//! Streams: without the `X-Loki-Response-Encoding-Flags: categorize-labels`
//! request header an entry's structured metadata is merged into its stream
//! labels (Loki 3's default); with it, stream labels stay apart and every
//! value carries `{"structuredMetadata": {...}}` as its third element
//! (`{}` when the entry has no metadata, as Loki writes it).
//! Errors are plain text with status 400 (bad query), 422 (a limit), 503
//! (timeout) or 500, as Loki answers.

use std::collections::BTreeMap;
use std::sync::Arc;

use aggregator::labels::{Labels, Matcher};
use aggregator::logs::logql::{self, QueryOutput, QueryResult, RangeWindow, Stream};
use aggregator::logs::source::{Direction, LogSource};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::LogsState;
use crate::error::{ApiError, blocking};
use crate::params::{Params, now_nanos};

/// Loki's default `limit`.
const DEFAULT_LIMIT: usize = 100;
/// Loki's default resolution: about this many points per range query.
const DEFAULT_POINTS: i64 = 250;
/// The header and flag that ask for categorised labels.
const ENCODING_FLAGS: &str = "x-loki-response-encoding-flags";
const CATEGORIZE_LABELS: &str = "categorize-labels";

pub fn router() -> Router<LogsState> {
    Router::new()
        .route("/loki/api/v1/query", get(query).post(query))
        .route(
            "/loki/api/v1/query_range",
            get(query_range).post(query_range),
        )
        .route("/loki/api/v1/labels", get(labels).post(labels))
        .route("/loki/api/v1/label", get(labels).post(labels))
        .route(
            "/loki/api/v1/label/{name}/values",
            get(label_values).post(label_values),
        )
        .route("/loki/api/v1/series", get(series).post(series))
        .route(
            "/loki/api/v1/index/stats",
            get(index_stats).post(index_stats),
        )
}

fn direction(params: &Params) -> Result<Direction, ApiError> {
    match params
        .get("direction")
        .unwrap_or("backward")
        .to_ascii_lowercase()
        .as_str()
    {
        "backward" => Ok(Direction::Backward),
        "forward" => Ok(Direction::Forward),
        other => Err(ApiError::bad_request(format!(
            "direction: {other:?} is neither \"forward\" nor \"backward\""
        ))),
    }
}

fn categorized(headers: &HeaderMap) -> bool {
    headers
        .get_all(ENCODING_FLAGS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|flag| flag.trim() == CATEGORIZE_LABELS))
}

async fn query(State(state): State<LogsState>, headers: HeaderMap, params: Params) -> Response {
    run_query(state, headers, params, false).await
}

async fn query_range(
    State(state): State<LogsState>,
    headers: HeaderMap,
    params: Params,
) -> Response {
    run_query(state, headers, params, true).await
}

async fn run_query(state: LogsState, headers: HeaderMap, params: Params, ranged: bool) -> Response {
    let answer = async {
        let tenant = state.tenancy.tenant(&headers)?;
        let text = params.required("query")?.to_owned();
        let limit = params.usize("limit", DEFAULT_LIMIT)?;
        let direction = direction(&params)?;
        let engine = Arc::clone(&state.logql);
        let output = if ranged {
            let (start_nanos, end_nanos) = params.range()?;
            let step_nanos = match params.duration("step")? {
                Some(step) if step > 0 => step,
                Some(_) => {
                    return Err(ApiError::bad_request(
                        "zero or negative query resolution step widths are not accepted. \
                         Try a positive integer",
                    ));
                }
                None => ((end_nanos - start_nanos) / DEFAULT_POINTS / 1_000_000_000)
                    .max(1)
                    .saturating_mul(1_000_000_000),
            };
            let window = RangeWindow {
                start_nanos,
                end_nanos,
                step_nanos,
                limit,
                direction,
            };
            blocking(move || engine.range(&tenant, &text, &window)).await?
        } else {
            let time = params.time("time", now_nanos())?;
            blocking(move || engine.instant(&tenant, &text, time)).await?
        };
        Ok::<Value, ApiError>(render_output(&output, categorized(&headers)))
    }
    .await;
    match answer {
        Ok(data) => axum::Json(json!({ "status": "success", "data": data })).into_response(),
        Err(e) => e.into_text(),
    }
}

/// `data` of a query answer.
pub fn render_output(output: &QueryOutput, categorize: bool) -> Value {
    let (result_type, result) = match &output.result {
        QueryResult::Streams(streams) => ("streams", render_streams(streams, categorize)),
        QueryResult::Vector(samples) => (
            "vector",
            samples
                .iter()
                .map(|s| {
                    json!({
                        "metric": label_object(&s.labels),
                        "value": [seconds(s.timestamp_ms), number(s.value)],
                    })
                })
                .collect(),
        ),
        QueryResult::Matrix(series) => (
            "matrix",
            series
                .iter()
                .map(|s| {
                    let values: Vec<Value> = s
                        .points
                        .iter()
                        .map(|(t, v)| json!([seconds(*t), number(*v)]))
                        .collect();
                    json!({ "metric": label_object(&s.labels), "values": values })
                })
                .collect(),
        ),
        QueryResult::Scalar {
            timestamp_ms,
            value,
        } => ("scalar", json!([seconds(*timestamp_ms), number(*value)])),
    };
    let stats = &output.stats;
    let mut data = json!({
        "resultType": result_type,
        "result": result,
        "stats": {
            "summary": {
                "totalLinesProcessed": stats.entries_scanned,
                "totalBytesProcessed": stats.bytes_scanned,
                "totalEntriesReturned": returned_entries(&output.result),
            }
        },
    });
    if categorize && result_type == "streams" {
        data["encodingFlags"] = json!([CATEGORIZE_LABELS]);
    }
    data
}

fn returned_entries(result: &QueryResult) -> usize {
    match result {
        QueryResult::Streams(streams) => streams.iter().map(|s| s.entries.len()).sum(),
        QueryResult::Vector(samples) => samples.len(),
        QueryResult::Matrix(series) => series.len(),
        QueryResult::Scalar { .. } => 1,
    }
}

fn render_streams(streams: &[Stream], categorize: bool) -> Value {
    if categorize {
        return streams
            .iter()
            .map(|stream| {
                let values: Vec<Value> = stream
                    .entries
                    .iter()
                    .map(|e| {
                        // Loki writes the categories object on every value,
                        // `{}` when an entry has none.
                        let mut categories = Map::new();
                        if !e.metadata.is_empty() {
                            categories
                                .insert("structuredMetadata".into(), label_object(&e.metadata));
                        }
                        json!([e.timestamp_nanos.to_string(), e.line, categories])
                    })
                    .collect();
                json!({ "stream": label_object(&stream.labels), "values": values })
            })
            .collect();
    }
    // Loki's default: metadata joins the stream labels, so entries of one
    // engine stream may belong to several answer streams.
    let mut merged: BTreeMap<Labels, Vec<Value>> = BTreeMap::new();
    for stream in streams {
        for entry in &stream.entries {
            let labels = Labels::new(
                stream
                    .labels
                    .iter()
                    .chain(entry.metadata.iter())
                    .map(|(n, v)| (n.to_owned(), v.to_owned())),
            );
            merged
                .entry(labels)
                .or_default()
                .push(json!([entry.timestamp_nanos.to_string(), entry.line]));
        }
    }
    merged
        .into_iter()
        .map(|(labels, values)| json!({ "stream": label_object(&labels), "values": values }))
        .collect()
}

fn label_object(labels: &Labels) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|(n, v)| (n.to_owned(), Value::String(v.to_owned())))
            .collect::<Map<String, Value>>(),
    )
}

/// A sample time as Prometheus and Loki write it: Unix seconds.
fn seconds(ms: i64) -> Value {
    if ms % 1000 == 0 {
        json!(ms / 1000)
    } else {
        json!(ms as f64 / 1000.0)
    }
}

/// A sample value as Prometheus and Loki write it: a string.
pub fn number(value: f64) -> Value {
    Value::String(if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        value.to_string()
    })
}

/// The stream matchers of an optional `query` (a stream selector or any
/// LogQL query whose first selector is used).
fn selector_matchers(text: Option<&str>) -> Result<Vec<Matcher>, ApiError> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let expr = logql::parse(text)?;
    Ok(expr
        .selectors()
        .first()
        .map(|m| m.to_vec())
        .unwrap_or_default())
}

async fn labels(State(state): State<LogsState>, headers: HeaderMap, params: Params) -> Response {
    let answer = async {
        let tenant = state.tenancy.tenant(&headers)?;
        let (start, end) = params.range()?;
        let matchers = selector_matchers(params.get("query"))?;
        let search = Arc::clone(&state.search);
        blocking(move || {
            if matchers.is_empty() {
                return search.label_names(&tenant, start, end);
            }
            // Names of the matching streams' labels and metadata.
            let mut names = std::collections::BTreeSet::new();
            for labels in search.series(&tenant, start, end, &matchers)? {
                names.extend(labels.iter().map(|(n, _)| n.to_owned()));
            }
            Ok(names.into_iter().collect())
        })
        .await
    }
    .await;
    list_answer(answer)
}

async fn label_values(
    State(state): State<LogsState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    params: Params,
) -> Response {
    let answer = async {
        let tenant = state.tenancy.tenant(&headers)?;
        let (start, end) = params.range()?;
        let matchers = selector_matchers(params.get("query"))?;
        let search = Arc::clone(&state.search);
        blocking(move || search.label_values(&tenant, &name, start, end, &matchers)).await
    }
    .await;
    list_answer(answer)
}

fn list_answer(answer: Result<Vec<String>, ApiError>) -> Response {
    match answer {
        Ok(values) => axum::Json(json!({ "status": "success", "data": values })).into_response(),
        Err(e) => e.into_text(),
    }
}

async fn series(State(state): State<LogsState>, headers: HeaderMap, params: Params) -> Response {
    let answer = async {
        let tenant = state.tenancy.tenant(&headers)?;
        let (start, end) = params.range()?;
        let mut selectors: Vec<&str> = params.get_all("match[]");
        selectors.extend(params.get_all("match"));
        if selectors.is_empty() {
            return Err(ApiError::bad_request("missing parameter \"match[]\""));
        }
        let selectors: Vec<Vec<Matcher>> = selectors
            .into_iter()
            .map(|s| selector_matchers(Some(s)))
            .collect::<Result<_, _>>()?;
        let search = Arc::clone(&state.search);
        blocking(move || {
            let mut found = std::collections::BTreeSet::new();
            for matchers in &selectors {
                found.extend(search.series(&tenant, start, end, matchers)?);
            }
            Ok(found.into_iter().collect::<Vec<Labels>>())
        })
        .await
    }
    .await;
    match answer {
        Ok(series) => {
            let data: Vec<Value> = series.iter().map(label_object).collect();
            axum::Json(json!({ "status": "success", "data": data })).into_response()
        }
        Err(e) => e.into_text(),
    }
}

async fn index_stats(
    State(state): State<LogsState>,
    headers: HeaderMap,
    params: Params,
) -> Response {
    let answer = async {
        let tenant = state.tenancy.tenant(&headers)?;
        let (start, end) = params.range()?;
        let matchers = selector_matchers(params.get("query"))?;
        if matchers.iter().all(Matcher::matches_empty) && !matchers.is_empty() {
            return Err(ApiError::bad_request(
                "queries require at least one regexp or equality matcher that does not have an \
                 empty-compatible value",
            ));
        }
        let search = Arc::clone(&state.search);
        blocking(move || search.stats(&tenant, start, end, &matchers)).await
    }
    .await;
    match answer {
        Ok(stats) => axum::Json(json!({
            "streams": stats.streams,
            "chunks": stats.chunks,
            "entries": stats.entries,
            "bytes": stats.bytes,
        }))
        .into_response(),
        Err(e) => e.into_text(),
    }
}
