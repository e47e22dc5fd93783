//! The listener and its connections: framing, header decoding, dispatch
//! to the handlers and encoding of their answers.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, warn};

use super::group::Coordinator;
use super::produce::Producers;
use super::{fetch, group, metadata, produce, versions};
use crate::log::Log;

/// How the listener behaves.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// The host and port clients are told to connect to (Metadata,
    /// FindCoordinator): what they can reach, not necessarily the bound
    /// address.
    pub advertised_host: String,
    pub advertised_port: u16,
    /// Largest request frame. Produce requests carry whole batches, so
    /// this bounds a batch too.
    pub max_request_bytes: usize,
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
}

impl Default for KafkaConfig {
    fn default() -> KafkaConfig {
        KafkaConfig {
            advertised_host: "127.0.0.1".to_owned(),
            advertised_port: 9092,
            // Kafka's socket.request.max.bytes.
            max_request_bytes: 100 << 20,
            max_connections: 1024,
        }
    }
}

/// What every connection shares.
pub struct Broker {
    pub log: Arc<Log>,
    pub config: KafkaConfig,
    pub producers: Producers,
    pub groups: Coordinator,
}

/// The one node of this cluster.
pub const NODE_ID: i32 = 0;
/// Reported as the cluster id, fixed: one data dir is one cluster.
pub const CLUSTER_ID: &str = "weir";

/// Serves the Kafka protocol on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    log: Arc<Log>,
    config: KafkaConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let limit = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    let broker = Arc::new(Broker {
        producers: Producers::default(),
        groups: Coordinator::default(),
        log,
        config,
    });
    let expiry = tokio::spawn(group::expire_members(Arc::clone(&broker)));
    tokio::pin!(shutdown);
    let result = loop {
        let permit = tokio::select! {
            () = &mut shutdown => break Ok(()),
            permit = Arc::clone(&limit).acquire_owned() => permit.expect("never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    warn!(error = %e, "kafka accept failed");
                    continue;
                }
            },
        };
        let broker = Arc::clone(&broker);
        tokio::spawn(async move {
            if let Err(e) = connection(broker, stream, peer).await {
                debug!(%peer, error = %e, "kafka connection closed");
            }
            drop(permit);
        });
    };
    expiry.abort();
    result
}

async fn connection(
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::with_capacity(64 << 10, read);
    loop {
        let size = match read.read_i32().await {
            Ok(size) => size,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        if size < 0 || size as usize > broker.config.max_request_bytes {
            warn!(%peer, size, limit = broker.config.max_request_bytes, "kafka request too large, closing");
            return Ok(());
        }
        let mut frame = BytesMut::zeroed(size as usize);
        read.read_exact(&mut frame).await?;
        let frame = frame.freeze();
        let started = std::time::Instant::now();
        let api = api_name(&frame);
        let reply = handle(&broker, frame, peer).await;
        crate::telemetry::kafka_request(api, started.elapsed());
        match reply {
            Reply::Send(bytes) => write.write_all(&bytes).await?,
            Reply::Nothing => {}
            Reply::Close => return Ok(()),
        }
    }
}

/// The name of a frame's API, for metrics: a fixed set of labels.
fn api_name(frame: &[u8]) -> &'static str {
    let key = frame
        .get(0..2)
        .map_or(-1, |b| i16::from_be_bytes([b[0], b[1]]));
    match ApiKey::try_from(key) {
        Ok(api) if versions::range(api).is_some() => match api {
            ApiKey::Produce => "produce",
            ApiKey::Fetch => "fetch",
            ApiKey::ListOffsets => "list_offsets",
            ApiKey::Metadata => "metadata",
            ApiKey::OffsetCommit => "offset_commit",
            ApiKey::OffsetFetch => "offset_fetch",
            ApiKey::FindCoordinator => "find_coordinator",
            ApiKey::JoinGroup => "join_group",
            ApiKey::Heartbeat => "heartbeat",
            ApiKey::LeaveGroup => "leave_group",
            ApiKey::SyncGroup => "sync_group",
            ApiKey::DescribeGroups => "describe_groups",
            ApiKey::ListGroups => "list_groups",
            ApiKey::ApiVersions => "api_versions",
            ApiKey::CreateTopics => "create_topics",
            ApiKey::DeleteTopics => "delete_topics",
            ApiKey::InitProducerId => "init_producer_id",
            ApiKey::DescribeConfigs => "describe_configs",
            _ => "other",
        },
        _ => "unsupported",
    }
}

/// What a request gets back.
enum Reply {
    Send(Bytes),
    /// `acks=0`.
    Nothing,
    Close,
}

async fn handle(broker: &Broker, mut frame: Bytes, peer: SocketAddr) -> Reply {
    if frame.len() < 4 {
        return Reply::Close;
    }
    let key = (&frame[0..2]).get_i16();
    let version = (&frame[2..4]).get_i16();
    let Ok(api) = ApiKey::try_from(key) else {
        warn!(%peer, key, "unknown kafka api, closing");
        return Reply::Close;
    };
    let header_version = api.request_header_version(version);
    let header = match RequestHeader::decode(&mut frame, header_version) {
        Ok(header) => header,
        Err(e) => {
            warn!(%peer, ?api, version, error = %e, "kafka request header does not decode, closing");
            return Reply::Close;
        }
    };
    let correlation = header.correlation_id;
    if !versions::supports(api, version) {
        if api == ApiKey::ApiVersions {
            let mut response = metadata::api_versions();
            response.error_code = ResponseError::UnsupportedVersion.code();
            return encode(correlation, 0, 0, &response);
        }
        warn!(%peer, ?api, version, "unsupported kafka api version, closing");
        return Reply::Close;
    }
    macro_rules! run {
        ($request:ty, $handler:expr) => {{
            match <$request>::decode(&mut frame, version) {
                Ok(request) => {
                    let response = $handler(request).await;
                    let header = api.response_header_version(version);
                    encode(correlation, header, version, &response)
                }
                Err(e) => {
                    warn!(%peer, ?api, version, error = %e, "kafka request does not decode, closing");
                    Reply::Close
                }
            }
        }};
    }
    let client = header
        .client_id
        .as_ref()
        .map(StrBytes::to_string)
        .unwrap_or_default();
    match api {
        ApiKey::ApiVersions => {
            let response = metadata::api_versions();
            // The v0 response header, for every version.
            encode(correlation, 0, version, &response)
        }
        ApiKey::Metadata => run!(MetadataRequest, |r| metadata::metadata(broker, r, version)),
        ApiKey::CreateTopics => run!(CreateTopicsRequest, |r| metadata::create_topics(broker, r)),
        ApiKey::DeleteTopics => run!(DeleteTopicsRequest, |r| metadata::delete_topics(
            broker, r, version
        )),
        ApiKey::DescribeConfigs => run!(DescribeConfigsRequest, |r| metadata::describe_configs(
            broker, r
        )),
        ApiKey::InitProducerId => run!(InitProducerIdRequest, |r| produce::init_producer_id(
            broker, r
        )),
        ApiKey::Produce => match ProduceRequest::decode(&mut frame, version) {
            Ok(request) => {
                let acks = request.acks;
                let response = produce::produce(broker, request, version).await;
                if acks == 0 {
                    Reply::Nothing
                } else {
                    encode(
                        correlation,
                        api.response_header_version(version),
                        version,
                        &response,
                    )
                }
            }
            Err(e) => {
                warn!(%peer, version, error = %e, "kafka produce request does not decode, closing");
                Reply::Close
            }
        },
        ApiKey::Fetch => run!(FetchRequest, |r| fetch::fetch(broker, r)),
        ApiKey::ListOffsets => run!(ListOffsetsRequest, |r| fetch::list_offsets(broker, r)),
        ApiKey::FindCoordinator => run!(FindCoordinatorRequest, |r| group::find_coordinator(
            broker, r, version
        )),
        ApiKey::JoinGroup => run!(JoinGroupRequest, |r| group::join(
            broker,
            r,
            version,
            client.clone()
        )),
        ApiKey::SyncGroup => run!(SyncGroupRequest, |r| group::sync(broker, r)),
        ApiKey::Heartbeat => run!(HeartbeatRequest, |r| group::heartbeat(broker, r)),
        ApiKey::LeaveGroup => run!(LeaveGroupRequest, |r| group::leave(broker, r, version)),
        ApiKey::ListGroups => run!(ListGroupsRequest, |r| group::list(broker, r)),
        ApiKey::DescribeGroups => run!(DescribeGroupsRequest, |r| group::describe(broker, r)),
        ApiKey::OffsetCommit => run!(OffsetCommitRequest, |r| group::offset_commit(
            broker, r, version
        )),
        ApiKey::OffsetFetch => run!(OffsetFetchRequest, |r| group::offset_fetch(
            broker, r, version
        )),
        _ => Reply::Close,
    }
}

/// Size, response header, body.
fn encode<R: Encodable>(correlation: i32, header_version: i16, version: i16, body: &R) -> Reply {
    let header = ResponseHeader::default().with_correlation_id(correlation);
    let mut buf = BytesMut::with_capacity(1024);
    buf.put_i32(0);
    let encoded = header
        .encode(&mut buf, header_version)
        .and_then(|()| body.encode(&mut buf, version));
    if let Err(e) = encoded {
        warn!(error = %e, "kafka response does not encode, closing");
        return Reply::Close;
    }
    let size = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&size.to_be_bytes());
    Reply::Send(buf.freeze())
}

/// A `StrBytes` of `text`.
pub fn str_bytes(text: impl Into<String>) -> StrBytes {
    StrBytes::from_string(text.into())
}
