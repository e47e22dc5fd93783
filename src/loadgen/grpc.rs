//! OTLP/gRPC: unary `Export` calls over one HTTP/2 connection (tonic),
//! concurrent calls multiplexed on it as an OpenTelemetry exporter does.
//!
//! Requests leave the pool already encoded, so the client uses a codec that
//! writes those bytes as the message instead of the generated clients'
//! prost codec, which would need an owned message to encode on every call.
//! The wire format — method path, framing, compression flag, metadata — is
//! the same as the generated `LogsServiceClient` and its siblings send.

use std::error::Error as _;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::{Buf, BufMut, Bytes};
use tonic::client::Grpc;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

use super::signal::Signal;
use super::transport::Failure;

/// Connecting takes longer than this only when something is wrong.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct GrpcSender {
    grpc: Grpc<Channel>,
    path: PathAndQuery,
    authorization: Option<AsciiMetadataValue>,
}

impl GrpcSender {
    /// Connects to `endpoint` (failing if it cannot), with a deadline of
    /// `timeout` on every call.
    pub async fn connect(
        endpoint: &str,
        signal: Signal,
        gzip: bool,
        token: Option<&str>,
        timeout: Duration,
    ) -> Result<GrpcSender> {
        let channel = Endpoint::from_shared(endpoint.to_string())
            .with_context(|| format!("endpoint {endpoint}: not a valid URI"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(timeout)
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|e| anyhow::anyhow!("connect to {endpoint}: {}", chain(&e)))?;
        let mut grpc = Grpc::new(channel);
        if gzip {
            grpc = grpc.send_compressed(CompressionEncoding::Gzip);
        }
        let authorization = token
            .map(|t| MetadataValue::try_from(format!("Bearer {t}")))
            .transpose()
            .context("token: not valid in a gRPC metadata value")?;
        Ok(GrpcSender {
            grpc,
            path: PathAndQuery::from_static(signal.grpc_path()),
            authorization,
        })
    }

    /// Sends one encoded request; returns the encoded response.
    pub async fn send(&self, body: Bytes) -> Result<Bytes, Failure> {
        let mut grpc = self.grpc.clone();
        grpc.ready()
            .await
            .map_err(|e| Failure::unanswered(format!("grpc connection: {e}")))?;
        let mut request = Request::new(body);
        if let Some(value) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        match grpc.unary(request, self.path.clone(), PassThrough).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => Err(failure(&status)),
        }
    }
}

/// A status the client made up (no answer: refused, reset, timed out)
/// carries the transport error as its source; one from the server does not.
fn failure(status: &Status) -> Failure {
    let label = format!("grpc {:?}", status.code());
    if status.source().is_some() {
        Failure::unanswered(label)
    } else {
        Failure::answered(label)
    }
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Sends pre-encoded request bytes as the message; hands back the
/// response's bytes for [`Signal::rejected`] to decode.
#[derive(Debug, Clone, Copy, Default)]
struct PassThrough;

impl Codec for PassThrough {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = PassThrough;
    type Decoder = PassThrough;

    fn encoder(&mut self) -> PassThrough {
        PassThrough
    }

    fn decoder(&mut self) -> PassThrough {
        PassThrough
    }
}

impl Encoder for PassThrough {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for PassThrough {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
