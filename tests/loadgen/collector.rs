//! In-test OTLP receivers for the loadgen tests: a tonic server of
//! opentelemetry-proto's generated Logs/Metrics/Trace services, and an
//! axum OTLP/HTTP server. Both decode every request, count it and note
//! anything malformed (see [`crate::inspect`]), and answer as [`Reply`]
//! says.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response as GrpcResponse, Status};

use crate::inspect::{Received, Tracker};

/// How the receiver answers every request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reply {
    /// Items reported rejected in a partial success.
    pub rejected: i64,
    /// Answer OTLP/HTTP with this status instead of 200.
    pub http_status: u16,
    /// Answer gRPC with `UNAVAILABLE`.
    pub grpc_unavailable: bool,
}

struct Shared {
    reply: Reply,
    tracker: Mutex<Tracker>,
}

pub struct Collector {
    addr: SocketAddr,
    protocol: &'static str,
    shared: Arc<Shared>,
    _runtime: tokio::runtime::Runtime,
}

impl Collector {
    pub fn grpc(reply: Reply) -> Collector {
        Collector::start("grpc", reply, |listener, shared| {
            Box::pin(async move {
                let service = Grpc(shared);
                tonic::transport::Server::builder()
                    .add_service(
                        LogsServiceServer::new(service.clone())
                            .accept_compressed(CompressionEncoding::Gzip),
                    )
                    .add_service(
                        MetricsServiceServer::new(service.clone())
                            .accept_compressed(CompressionEncoding::Gzip),
                    )
                    .add_service(
                        TraceServiceServer::new(service)
                            .accept_compressed(CompressionEncoding::Gzip),
                    )
                    .serve_with_incoming(
                        tonic::transport::server::TcpIncoming::from(listener)
                            .with_nodelay(Some(true)),
                    )
                    .await
                    .expect("grpc server");
            })
        })
    }

    pub fn http(reply: Reply) -> Collector {
        Collector::start("http", reply, |listener, shared| {
            Box::pin(async move {
                let app = axum::Router::new()
                    .route("/v1/{signal}", axum::routing::post(http_export))
                    .layer(DefaultBodyLimit::max(64 << 20))
                    .with_state(shared);
                axum::serve(listener, app).await.expect("http server");
            })
        })
    }

    fn start(
        protocol: &'static str,
        reply: Reply,
        serve: impl FnOnce(
            tokio::net::TcpListener,
            Arc<Shared>,
        ) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Collector {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let shared = Arc::new(Shared {
            reply,
            tracker: Mutex::default(),
        });
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(serve(listener, Arc::clone(&shared)));
        Collector {
            addr,
            protocol,
            shared,
            _runtime: runtime,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn protocol(&self) -> &'static str {
        self.protocol
    }

    pub fn received(&self) -> Received {
        let tracker = self.shared.tracker.lock().unwrap();
        Received {
            series: tracker.series.len(),
            ..tracker.received.clone()
        }
    }
}

#[derive(Clone)]
struct Grpc(Arc<Shared>);

impl Grpc {
    fn record<T>(
        &self,
        request: &Request<T>,
        count: impl FnOnce(&mut Tracker, &T),
    ) -> Result<i64, Status> {
        let mut tracker = self.0.tracker.lock().unwrap();
        tracker.authorization(
            request
                .metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok()),
        );
        count(&mut tracker, request.get_ref());
        if self.0.reply.grpc_unavailable {
            return Err(Status::unavailable("try later"));
        }
        Ok(self.0.reply.rejected)
    }
}

#[tonic::async_trait]
impl LogsService for Grpc {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<GrpcResponse<ExportLogsServiceResponse>, Status> {
        let rejected = self.record(&request, Tracker::logs)?;
        let partial_success = (rejected > 0).then(|| ExportLogsPartialSuccess {
            rejected_log_records: rejected,
            error_message: "rejected".into(),
        });
        Ok(GrpcResponse::new(ExportLogsServiceResponse {
            partial_success,
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Grpc {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<GrpcResponse<ExportMetricsServiceResponse>, Status> {
        let rejected = self.record(&request, Tracker::metrics)?;
        let partial_success = (rejected > 0).then(|| ExportMetricsPartialSuccess {
            rejected_data_points: rejected,
            error_message: "rejected".into(),
        });
        Ok(GrpcResponse::new(ExportMetricsServiceResponse {
            partial_success,
        }))
    }
}

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<GrpcResponse<ExportTraceServiceResponse>, Status> {
        let rejected = self.record(&request, Tracker::traces)?;
        let partial_success = (rejected > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: rejected,
            error_message: "rejected".into(),
        });
        Ok(GrpcResponse::new(ExportTraceServiceResponse {
            partial_success,
        }))
    }
}

async fn http_export(
    State(shared): State<Arc<Shared>>,
    Path(signal): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut tracker = shared.tracker.lock().unwrap();
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    tracker.authorization(text(header::AUTHORIZATION));
    if text(header::CONTENT_TYPE) != Some("application/x-protobuf") {
        tracker.problem(format!("content type {:?}", text(header::CONTENT_TYPE)));
    }
    let body = if text(header::CONTENT_ENCODING) == Some("gzip") {
        tracker.received.gzipped += 1;
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .take(64 << 20)
            .read_to_end(&mut plain)
            .expect("gzip body");
        Bytes::from(plain)
    } else {
        body
    };
    let rejected = shared.reply.rejected;
    let response = match signal.as_str() {
        "logs" => {
            tracker.logs(&ExportLogsServiceRequest::decode(body).expect("logs request"));
            let partial_success = (rejected > 0).then(|| ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message: String::new(),
            });
            ExportLogsServiceResponse { partial_success }.encode_to_vec()
        }
        "metrics" => {
            tracker.metrics(&ExportMetricsServiceRequest::decode(body).expect("metrics request"));
            let partial_success = (rejected > 0).then(|| ExportMetricsPartialSuccess {
                rejected_data_points: rejected,
                error_message: String::new(),
            });
            ExportMetricsServiceResponse { partial_success }.encode_to_vec()
        }
        "traces" => {
            tracker.traces(&ExportTraceServiceRequest::decode(body).expect("traces request"));
            let partial_success = (rejected > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message: String::new(),
            });
            ExportTraceServiceResponse { partial_success }.encode_to_vec()
        }
        other => return (StatusCode::NOT_FOUND, format!("no signal {other}")).into_response(),
    };
    if shared.reply.http_status != 0 {
        return StatusCode::from_u16(shared.reply.http_status)
            .unwrap()
            .into_response();
    }
    ([(header::CONTENT_TYPE, "application/x-protobuf")], response).into_response()
}
