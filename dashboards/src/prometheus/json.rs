//! Results and errors as the Prometheus HTTP API encodes them.

use aggregator::labels::Labels;
use aggregator::metrics::promql::Value;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json, json};

use crate::error::ApiError;

/// A float as Prometheus prints a sample value: Go's `'f', -1` format
/// (shortest round-trip decimal, never an exponent), `NaN`, `+Inf`, `-Inf`.
pub fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        // Rust's `Display` for f64 is the shortest round-trip decimal
        // without an exponent, as Go's 'f' with precision -1.
        format!("{v}")
    }
}

/// A timestamp in milliseconds as Unix seconds with up to three decimals.
pub fn seconds(t_ms: i64) -> Json {
    if t_ms % 1000 == 0 {
        json!(t_ms / 1000)
    } else {
        json!(t_ms as f64 / 1000.0)
    }
}

pub fn labels(labels: &Labels) -> Json {
    let map: Map<String, Json> = labels
        .iter()
        .map(|(n, v)| (n.to_owned(), Json::String(v.to_owned())))
        .collect();
    Json::Object(map)
}

/// `data` of a query answer.
pub fn result(value: &Value) -> Json {
    match value {
        Value::Scalar(t, v) => json!({"resultType": "scalar", "result": [seconds(*t), float(*v)]}),
        Value::String(t, s) => json!({"resultType": "string", "result": [seconds(*t), s]}),
        Value::Vector(samples) => json!({
            "resultType": "vector",
            "result": samples
                .iter()
                .map(|s| json!({"metric": labels(&s.labels), "value": [seconds(s.t_ms), float(s.value)]}))
                .collect::<Vec<_>>(),
        }),
        Value::Matrix(series) => json!({
            "resultType": "matrix",
            "result": series
                .iter()
                .map(|s| json!({
                    "metric": labels(&s.labels),
                    "values": s.points.iter().map(|(t, v)| json!([seconds(*t), float(*v)])).collect::<Vec<_>>(),
                }))
                .collect::<Vec<_>>(),
        }),
    }
}

pub fn success(data: Json) -> Response {
    axum::Json(json!({"status": "success", "data": data})).into_response()
}

/// Prometheus' error shape, its `errorType` chosen from the status.
pub fn error(e: ApiError) -> Response {
    let kind = match e.status {
        StatusCode::BAD_REQUEST => "bad_data",
        StatusCode::UNPROCESSABLE_ENTITY => "execution",
        StatusCode::SERVICE_UNAVAILABLE => "timeout",
        StatusCode::UNAUTHORIZED => "unauthorized",
        _ => "internal",
    };
    (
        e.status,
        axum::Json(json!({"status": "error", "errorType": kind, "error": e.message})),
    )
        .into_response()
}

/// The answer of a handler's result.
pub fn answer(result: Result<Json, ApiError>) -> Response {
    match result {
        Ok(data) => success(data),
        Err(e) => error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_prometheus_prints_them() {
        let cases = [
            (2.0, "2"),
            (0.1, "0.1"),
            (1e21, "1000000000000000000000"),
            (1.5e-7, "0.00000015"),
            (-3.25, "-3.25"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (v, text) in cases {
            assert_eq!(float(v), text);
        }
        assert_eq!(seconds(1_700_000_000_000), json!(1_700_000_000));
        assert_eq!(seconds(1_700_000_000_250), json!(1_700_000_000.25));
    }
}
