//! OTLP/HTTP: `POST /v1/logs`, `/v1/metrics`, `/v1/traces` on
//! `listen.otlp_http`, over HTTP/1.1 and h2c.
//!
//! Bodies are `application/x-protobuf` or `application/json` (OTLP/JSON:
//! hex ids, 64-bit integers as strings or numbers, enums as integers,
//! lowerCamelCase, unknown fields ignored), optionally `Content-Encoding:
//! gzip` or `zstd`. The body is read up to `max_request_bytes` and
//! decompressed through a reader cut at the same bound, so a compression
//! bomb costs at most that much memory. The response uses the request's
//! content type; refusals carry a `google.rpc.Status` in it, and 429/503
//! carry `Retry-After`, as the OTLP specification asks.

use std::future::Future;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use log_core::Appender;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tokio::net::TcpListener;

use crate::auth::Auth;
use crate::concurrency::Slots;
use crate::error::IngestError;
use crate::pipeline::{Accepted, Pipeline};
use crate::signal::Export;
use crate::telemetry;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// How a request body (and so its response) is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => PROTOBUF,
            Format::Json => JSON,
        }
    }
}

struct HttpState<A> {
    pipeline: Arc<Pipeline<A>>,
    auth: Arc<Auth>,
    /// Bodies being read or decoded are not yet under the in-flight
    /// budget; this bounds how many there are.
    slots: Slots,
}

impl<A> Clone for HttpState<A> {
    fn clone(&self) -> Self {
        HttpState {
            pipeline: Arc::clone(&self.pipeline),
            auth: Arc::clone(&self.auth),
            slots: self.slots.clone(),
        }
    }
}

/// The OTLP/HTTP routes.
pub fn router<A: Appender>(pipeline: Arc<Pipeline<A>>, auth: Arc<Auth>) -> Router {
    Router::new()
        .route("/v1/logs", post(handle::<A, ExportLogsServiceRequest>))
        .route(
            "/v1/metrics",
            post(handle::<A, ExportMetricsServiceRequest>),
        )
        .route("/v1/traces", post(handle::<A, ExportTraceServiceRequest>))
        // Bodies are bounded explicitly in `read_body`.
        .layer(DefaultBodyLimit::disable())
        .with_state(HttpState {
            slots: Slots::new(
                crate::otlp_grpc::MAX_CONCURRENT_REQUESTS,
                pipeline.retry_after(),
            ),
            pipeline,
            auth,
        })
}

/// Serves OTLP/HTTP on `listener` until `shutdown` completes.
pub async fn serve<A: Appender>(
    listener: TcpListener,
    pipeline: Arc<Pipeline<A>>,
    auth: Arc<Auth>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Without TCP_NODELAY a small response waits for the client's delayed
    // ACK (Nagle), about 40 ms per request.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(pipeline, auth))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn handle<A: Appender, R: Export>(
    State(state): State<HttpState<A>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let format = match content_type(&headers) {
        Ok(format) => format,
        Err(error) => {
            telemetry::request(R::SIGNAL, "http", error.outcome(), started.elapsed());
            return refusal(Format::Json, error);
        }
    };
    let result = export::<A, R>(&state, &headers, body).await;
    let outcome = result.as_ref().map_or_else(IngestError::outcome, |_| "ok");
    telemetry::request(R::SIGNAL, "http", outcome, started.elapsed());
    match result {
        Ok(accepted) => match format {
            Format::Protobuf => protobuf_success(&R::response(accepted.rejected, accepted.message)),
            Format::Json => json_success(R::SIGNAL, &accepted),
        },
        Err(error) => refusal(format, error),
    }
}

async fn export<A: Appender, R: Export>(
    state: &HttpState<A>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Accepted, IngestError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let tenant = state.auth.tenant(authorization)?.to_owned();
    let limit = state.pipeline.limits().max_request_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large(limit));
    }
    let _slot = state.slots.acquire().await?;
    let raw = read_body(body, limit).await?;
    let bytes = decompress(headers, raw, limit)?;
    let request: R = match content_type(headers)? {
        Format::Protobuf => R::decode(bytes.clone()).map_err(|e| {
            IngestError::BadRequest(format!(
                "invalid OTLP protobuf {} request: {e}",
                R::SIGNAL.name()
            ))
        })?,
        Format::Json => R::from_json(&bytes).map_err(|e| {
            IngestError::BadRequest(format!(
                "invalid OTLP/JSON {} request: {e}",
                R::SIGNAL.name()
            ))
        })?,
    };
    let accepted = state.pipeline.export(&tenant, request, bytes.len()).await?;
    Ok(accepted)
}

fn content_type(headers: &HeaderMap) -> Result<Format, IngestError> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        PROTOBUF => Ok(Format::Protobuf),
        JSON => Ok(Format::Json),
        _ => Err(IngestError::UnsupportedMedia(format!(
            "unsupported content type {value:?}; send {PROTOBUF} or {JSON}"
        ))),
    }
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, IngestError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // The only error besides a broken connection is the length limit.
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
        {
            too_large(limit)
        } else {
            IngestError::BadRequest(format!("reading the request body failed: {e}"))
        }
    })
}

fn too_large(limit: usize) -> IngestError {
    IngestError::TooLarge(format!(
        "request body is larger than the limit of {limit} bytes after decompression"
    ))
}

/// Undoes `Content-Encoding`, producing at most `limit` bytes.
fn decompress(headers: &HeaderMap, raw: Bytes, limit: usize) -> Result<Bytes, IngestError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let bounded = |reader: &mut dyn Read| -> Result<Bytes, IngestError> {
        let mut out = Vec::new();
        reader
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| IngestError::BadRequest(format!("invalid {encoding} body: {e}")))?;
        if out.len() > limit {
            return Err(too_large(limit));
        }
        Ok(Bytes::from(out))
    };
    match encoding.as_str() {
        "identity" | "" => Ok(raw),
        "gzip" | "x-gzip" => bounded(&mut flate2::read::GzDecoder::new(&raw[..])),
        "zstd" => {
            let mut decoder = zstd::stream::read::Decoder::new(&raw[..])
                .map_err(|e| IngestError::Internal(format!("zstd decoder: {e}")))?;
            bounded(&mut decoder)
        }
        other => Err(IngestError::UnsupportedMedia(format!(
            "unsupported content encoding {other:?}; send gzip, zstd or none"
        ))),
    }
}

/// A success in OTLP/JSON: `{}` when everything was stored, else the
/// partial success with its count as a decimal string (OTLP/JSON encodes
/// 64-bit integers as strings).
fn json_success(signal: crate::signal::Signal, accepted: &Accepted) -> Response {
    let body = if accepted.rejected == 0 && accepted.message.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::json!({ "partialSuccess": {
            signal.rejected_field(): accepted.rejected.to_string(),
            "errorMessage": accepted.message,
        }})
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(JSON))],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response()
}

/// A success in protobuf: the `Export*ServiceResponse`.
fn protobuf_success<M: Message>(message: &M) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF))],
        message.encode_to_vec(),
    )
        .into_response()
}

/// The HTTP status, `Retry-After` and `google.rpc.Status` body of a refusal.
fn refusal(format: Format, error: IngestError) -> Response {
    let (status, code) = match &error {
        IngestError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, tonic::Code::Unauthenticated),
        IngestError::BadRequest(_) => (StatusCode::BAD_REQUEST, tonic::Code::InvalidArgument),
        IngestError::TooLarge(_) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            tonic::Code::ResourceExhausted,
        ),
        IngestError::UnsupportedMedia(_) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            tonic::Code::InvalidArgument,
        ),
        IngestError::Overloaded { .. } => (StatusCode::TOO_MANY_REQUESTS, tonic::Code::Unavailable),
        IngestError::Unavailable { .. } => {
            (StatusCode::SERVICE_UNAVAILABLE, tonic::Code::Unavailable)
        }
        IngestError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, tonic::Code::Internal),
    };
    let message = error.to_string();
    let body = match format {
        Format::Protobuf => tonic_types::pb::Status {
            code: code as i32,
            message,
            details: Vec::new(),
        }
        .encode_to_vec(),
        Format::Json => {
            serde_json::to_vec(&serde_json::json!({ "code": code as i32, "message": message }))
                .unwrap_or_default()
        }
    };
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        )],
        body,
    )
        .into_response();
    if let Some(after) = error.retry_after() {
        let seconds = after.as_secs_f64().ceil().max(1.0) as u64;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
