//! OTLP/gRPC: the `LogsService`, `MetricsService` and `TraceService`
//! `Export` methods on `listen.otlp_grpc`.
//!
//! Requests may be gzip- or zstd-compressed (`grpc-encoding`); tonic bounds
//! the message size both before and while decompressing. Refusals follow
//! the OTLP specification: `UNAVAILABLE` with `RetryInfo` when the exporter
//! should retry, `INVALID_ARGUMENT` and `RESOURCE_EXHAUSTED` (without retry
//! information) when it should not. tonic refuses some requests itself,
//! before they reach the services, with other codes; [`otlp_codes`] maps
//! those to the same two.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use log_core::Appender;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::service::interceptor::InterceptedService;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::auth::Auth;
use crate::concurrency::{SlotLayer, Slots};
use crate::error::IngestError;
use crate::pipeline::Pipeline;
use crate::signal::Export;
use crate::telemetry;

/// Concurrent requests per connection (HTTP/2 streams).
const MAX_CONCURRENT_STREAMS: u32 = 64;
/// Requests being decoded or stored at once, over all connections. With the
/// request size bound this bounds the memory held by bodies still being
/// decoded (the in-flight budget covers them once decoded); further
/// requests wait their turn, for at most `concurrency::SLOT_WAIT`, before
/// their bodies are read. Sixteen keep two
/// cores busy (decoding is CPU-bound) while bounding bodies in decoding to
/// 16 × 2 × `max_request_bytes` per transport (compressed and decoded).
pub const MAX_CONCURRENT_REQUESTS: usize = 16;

/// The tenant of a request, set by the authentication interceptor.
#[derive(Debug, Clone)]
struct Tenant(String);

/// The three services over one pipeline.
pub struct Otlp<A> {
    pipeline: Arc<Pipeline<A>>,
}

impl<A> Clone for Otlp<A> {
    fn clone(&self) -> Self {
        Otlp {
            pipeline: Arc::clone(&self.pipeline),
        }
    }
}

/// Serves OTLP/gRPC on `listener` until `shutdown` completes, then
/// finishes the requests in progress.
pub async fn serve<A: Appender>(
    listener: TcpListener,
    pipeline: Arc<Pipeline<A>>,
    auth: Arc<Auth>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let max = pipeline.limits().max_request_bytes;
    let slots = Slots::new(MAX_CONCURRENT_REQUESTS, pipeline.retry_after());
    let otlp = Otlp { pipeline };
    // Tokens are checked before a message is decoded, so a client without
    // one cannot make the server decode anything.
    let authenticate = move |mut request: Request<()>| {
        let authorization = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let tenant = auth.tenant(authorization).map_err(status)?.to_owned();
        request.extensions_mut().insert(Tenant(tenant));
        Ok(request)
    };
    // Without TCP_NODELAY a small response waits for the client's delayed
    // ACK (Nagle), about 40 ms per request.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .layer(tower::util::MapResponseLayer::new(otlp_codes))
        .layer(SlotLayer(slots))
        .add_service(InterceptedService::new(
            LogsServiceServer::new(otlp.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd)
                .max_decoding_message_size(max),
            authenticate.clone(),
        ))
        .add_service(InterceptedService::new(
            MetricsServiceServer::new(otlp.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd)
                .max_decoding_message_size(max),
            authenticate.clone(),
        ))
        .add_service(InterceptedService::new(
            TraceServiceServer::new(otlp)
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd)
                .max_decoding_message_size(max),
            authenticate,
        ))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

impl<A: Appender> Otlp<A> {
    async fn handle<R: Export>(
        &self,
        request: Request<R>,
    ) -> Result<Response<R::Response>, Status> {
        let started = Instant::now();
        let result = self.export(request).await;
        let outcome = result.as_ref().map_or_else(IngestError::outcome, |_| "ok");
        telemetry::request(R::SIGNAL, "grpc", outcome, started.elapsed());
        result.map(Response::new).map_err(status)
    }

    async fn export<R: Export>(&self, request: Request<R>) -> Result<R::Response, IngestError> {
        let tenant = request
            .extensions()
            .get::<Tenant>()
            .map(|t| t.0.clone())
            .ok_or_else(|| {
                IngestError::Internal("request reached a service without authentication".into())
            })?;
        let message = request.into_inner();
        let bytes = message.encoded_len();
        let accepted = self.pipeline.export(&tenant, message, bytes).await?;
        Ok(R::response(accepted.rejected, accepted.message))
    }
}

/// Rewrites the codes of the refusals tonic answers itself (as
/// trailers-only responses) to what the OTLP specification expects:
/// - a message over `max_request_bytes` gets `OUT_OF_RANGE` from tonic,
///   which OTLP exporters retry — forever, as it never fits — so it
///   becomes `RESOURCE_EXHAUSTED` (no retry information: not retryable);
/// - a message that does not decode or decompress gets `INTERNAL`; it
///   becomes `INVALID_ARGUMENT`, as a malformed HTTP body gets 400.
///
/// The services themselves never answer `OUT_OF_RANGE`, nor `INTERNAL`
/// with these messages.
pub fn otlp_codes<B>(mut response: http::Response<B>) -> http::Response<B> {
    let code = response
        .headers()
        .get("grpc-status")
        .map(|v| Code::from_bytes(v.as_bytes()));
    if !matches!(code, Some(Code::OutOfRange | Code::Internal)) {
        return response;
    }
    let Some(status) = Status::from_header_map(response.headers()) else {
        return response;
    };
    let malformed = |m: &str| {
        m.starts_with("failed to decode Protobuf message") || m.starts_with("Error decompressing")
    };
    let code = match status.code() {
        Code::OutOfRange => Code::ResourceExhausted,
        Code::Internal if malformed(status.message()) => Code::InvalidArgument,
        _ => return response,
    };
    // Only the code changes; the message is tonic's.
    let _ = Status::new(code, status.message()).add_header(response.headers_mut());
    response
}

/// The gRPC status for a refusal.
pub fn status(error: IngestError) -> Status {
    match error {
        IngestError::Unauthenticated(m) => Status::unauthenticated(m),
        IngestError::BadRequest(m) | IngestError::UnsupportedMedia(m) => {
            Status::invalid_argument(m)
        }
        IngestError::TooLarge(m) => Status::resource_exhausted(m),
        IngestError::Overloaded {
            reason,
            retry_after,
        }
        | IngestError::Unavailable {
            reason,
            retry_after,
        } => Status::with_error_details(
            Code::Unavailable,
            reason,
            ErrorDetails::with_retry_info(Some(retry_after)),
        ),
        IngestError::Internal(m) => Status::internal(m),
    }
}

#[tonic::async_trait]
impl<A: Appender> LogsService for Otlp<A> {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.handle(request).await
    }
}

#[tonic::async_trait]
impl<A: Appender> MetricsService for Otlp<A> {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.handle(request).await
    }
}

#[tonic::async_trait]
impl<A: Appender> TraceService for Otlp<A> {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.handle(request).await
    }
}
