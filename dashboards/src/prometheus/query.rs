//! `/api/v1/query` and `/api/v1/query_range`.
//!
//! `timeout` may shorten the configured query timeout, never lengthen it.
//! Range requests are checked as Prometheus checks them, with its
//! messages: `start`, `end` and `step` are required, `end` not before
//! `start`, a positive `step`, at most 11,000 points per series.

use std::sync::Arc;
use std::time::Duration;

use aggregator::metrics::promql::{MAX_POINTS_PER_SERIES, PromQlEngine};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::MetricsState;
use super::json::{answer, result};
use crate::error::{ApiError, blocking};
use crate::params::{Params, now_nanos};

const NS_PER_MS: i64 = 1_000_000;

/// The engine for one request: the configured limits, with the timeout
/// shortened to the request's `timeout`.
fn engine(state: &MetricsState, params: &Params) -> Result<Arc<PromQlEngine>, ApiError> {
    match params.duration("timeout")? {
        None => Ok(Arc::clone(&state.engine)),
        Some(nanos) if nanos <= 0 => Err(ApiError::bad_request(
            "invalid parameter \"timeout\": must be positive",
        )),
        Some(nanos) => {
            let mut limits = state.limits;
            limits.timeout = limits.timeout.min(Duration::from_nanos(nanos as u64));
            Ok(Arc::new(PromQlEngine::new(
                Arc::clone(&state.source),
                limits,
            )))
        }
    }
}

pub async fn instant(
    State(state): State<MetricsState>,
    headers: HeaderMap,
    params: Params,
) -> Response {
    answer(
        async {
            let tenant = state.tenancy.tenant(&headers)?;
            let query = params.required("query")?.to_owned();
            let time_ms = params.time("time", now_nanos())? / NS_PER_MS;
            let engine = engine(&state, &params)?;
            let value = blocking(move || engine.instant(&tenant, &query, time_ms)).await?;
            Ok(result(&value))
        }
        .await,
    )
}

pub async fn range(
    State(state): State<MetricsState>,
    headers: HeaderMap,
    params: Params,
) -> Response {
    answer(
        async {
            let tenant = state.tenancy.tenant(&headers)?;
            let query = params.required("query")?.to_owned();
            let start = required_time(&params, "start")? / NS_PER_MS;
            let end = required_time(&params, "end")? / NS_PER_MS;
            if end < start {
                return Err(ApiError::bad_request(
                    "invalid parameter \"end\": end timestamp must not be before start time",
                ));
            }
            let step = params
                .duration("step")?
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid parameter \"step\": cannot parse \"\" to a valid duration",
                    )
                })?
                / NS_PER_MS;
            if step <= 0 {
                return Err(ApiError::bad_request(
                    "zero or negative query resolution step widths are not accepted. Try a positive integer",
                ));
            }
            if (end - start) / step >= MAX_POINTS_PER_SERIES {
                return Err(ApiError::bad_request(
                    "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
                ));
            }
            let engine = engine(&state, &params)?;
            let value = blocking(move || engine.range(&tenant, &query, start, end, step)).await?;
            Ok(result(&value))
        }
        .await,
    )
}

fn required_time(params: &Params, name: &str) -> Result<i64, ApiError> {
    if params.get(name).is_none_or(str::is_empty) {
        return Err(ApiError::bad_request(format!(
            "invalid parameter \"{name}\": cannot parse \"\" to a valid timestamp"
        )));
    }
    params.time(name, 0)
}
