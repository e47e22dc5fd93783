//! Series, label and metric metadata endpoints, and build info.
//!
//! `start` and `end` default to all time and now, as in Prometheus; every
//! `match[]` is a series selector, its `or` branches and the selectors
//! themselves united. `series` answers at most `max_series` label sets
//! and fails past that, naming the limit; `limit` truncates the answer of
//! `series`, `labels` and `label values` as Prometheus' does.

use std::collections::{BTreeMap, BTreeSet};

use aggregator::labels::{Labels, Matcher};
use aggregator::metrics::promql::selector_matchers;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value as Json, json};

use super::MetricsState;
use super::json::{answer, labels as labels_json};
use crate::error::{ApiError, blocking};
use crate::params::{Params, now_nanos};

const NS_PER_MS: i64 = 1_000_000;

/// `(start_ms, end_ms)` of a metadata request.
fn range(params: &Params) -> Result<(i64, i64), ApiError> {
    let end = params.time("end", now_nanos())? / NS_PER_MS;
    let start = params.time("start", i64::MIN)?;
    let start = if start == i64::MIN {
        i64::MIN / 2
    } else {
        start / NS_PER_MS
    };
    if end < start {
        return Err(ApiError::bad_request(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    Ok((start, end))
}

/// Every matcher set of the request's `match[]` selectors.
fn matcher_sets(params: &Params) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let mut sets = Vec::new();
    for text in params.get_all("match[]") {
        sets.extend(selector_matchers(text)?);
    }
    Ok(sets)
}

/// Truncates to the request's `limit` (0 or absent: no limit).
fn limited<T>(mut items: Vec<T>, params: &Params) -> Result<Vec<T>, ApiError> {
    let limit = params.usize("limit", 0)?;
    if limit > 0 {
        items.truncate(limit);
    }
    Ok(items)
}

pub async fn series(
    State(state): State<MetricsState>,
    headers: HeaderMap,
    params: Params,
) -> Response {
    answer(
        async {
            let tenant = state.tenancy.tenant(&headers)?;
            let sets = matcher_sets(&params)?;
            if sets.is_empty() {
                return Err(ApiError::bad_request("no match[] parameter provided"));
            }
            let (start, end) = range(&params)?;
            let source = std::sync::Arc::clone(&state.source);
            let max = state.limits.max_series;
            let found = blocking(move || {
                let mut all: BTreeSet<Labels> = BTreeSet::new();
                for set in &sets {
                    all.extend(source.series(&tenant, set, start, end, max)?);
                    if all.len() > max {
                        return Err(aggregator::AggregatorError::TooMany {
                            what: "series",
                            limit: max,
                        });
                    }
                }
                Ok(all.into_iter().collect::<Vec<_>>())
            })
            .await?;
            let found = limited(found, &params)?;
            Ok(Json::Array(found.iter().map(labels_json).collect()))
        }
        .await,
    )
}

pub async fn labels(
    State(state): State<MetricsState>,
    headers: HeaderMap,
    params: Params,
) -> Response {
    answer(
        async {
            let tenant = state.tenancy.tenant(&headers)?;
            let sets = matcher_sets(&params)?;
            let (start, end) = range(&params)?;
            let source = std::sync::Arc::clone(&state.source);
            let names = blocking(move || {
                if sets.is_empty() {
                    return source.label_names(&tenant, &[], start, end);
                }
                let mut all = BTreeSet::new();
                for set in &sets {
                    all.extend(source.label_names(&tenant, set, start, end)?);
                }
                Ok(all.into_iter().collect())
            })
            .await?;
            Ok(json!(limited(names, &params)?))
        }
        .await,
    )
}

pub async fn label_values(
    State(state): State<MetricsState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    params: Params,
) -> Response {
    answer(
        async {
            let tenant = state.tenancy.tenant(&headers)?;
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ApiError::bad_request(format!(
                    "invalid label name: {name:?}"
                )));
            }
            let sets = matcher_sets(&params)?;
            let (start, end) = range(&params)?;
            let source = std::sync::Arc::clone(&state.source);
            let values = blocking(move || {
                if sets.is_empty() {
                    return source.label_values(&tenant, &name, &[], start, end);
                }
                let mut all = BTreeSet::new();
                for set in &sets {
                    all.extend(source.label_values(&tenant, &name, set, start, end)?);
                }
                Ok(all.into_iter().collect())
            })
            .await?;
            Ok(json!(limited(values, &params)?))
        }
        .await,
    )
}

pub async fn metadata(
    State(state): State<MetricsState>,
    headers: HeaderMap,
    params: Params,
) -> Response {
    answer(
        async {
            let tenant = state.tenancy.tenant(&headers)?;
            let name = params
                .get("metric")
                .filter(|m| !m.is_empty())
                .map(str::to_owned);
            let limit = params.usize("limit", 0)?;
            let source = std::sync::Arc::clone(&state.source);
            let found = blocking(move || source.metadata(&tenant, name.as_deref())).await?;
            let mut out: BTreeMap<String, Json> = BTreeMap::new();
            for m in found {
                if limit > 0 && out.len() == limit && !out.contains_key(&m.name) {
                    break;
                }
                let entry = out.entry(m.name.clone()).or_insert_with(|| json!([]));
                if let Json::Array(items) = entry {
                    items.push(json!({"type": m.kind, "help": m.help, "unit": m.unit}));
                }
            }
            Ok(json!(out))
        }
        .await,
    )
}

/// Build information; Grafana reads `version` to tell the flavour.
pub async fn buildinfo() -> Response {
    answer(Ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "revision": "",
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
        "application": "weir",
    })))
}
