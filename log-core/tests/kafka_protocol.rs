//! The Kafka listener at the protocol level, where the real clients'
//! interop tests (`tests/kafka_interop.rs` at the root) cannot reach: the
//! ApiVersions header quirk, refused versions and frames, idempotent
//! sequence checks, errors for internal and unknown topics, long-poll
//! fetches and topic auto-creation.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use log_core::kafka::{KafkaConfig, serve};
use log_core::{Log, NewRecord, OpenMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TOPIC: &str = "events";

struct Broker {
    addr: std::net::SocketAddr,
    _log: Arc<Log>,
    _dir: tempfile::TempDir,
}

async fn broker() -> Broker {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(
        dir.path(),
        common::log_config(log_core::Durability::Fsync),
        OpenMode::ReadWrite,
    )
    .unwrap();
    log.create_topic(TOPIC, common::topic_config(1 << 20))
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = KafkaConfig {
        advertised_port: addr.port(),
        ..KafkaConfig::default()
    };
    tokio::spawn(serve(
        listener,
        Arc::clone(&log),
        config,
        std::future::pending(),
    ));
    Broker {
        addr,
        _log: log,
        _dir: dir,
    }
}

struct Client {
    stream: TcpStream,
    correlation: i32,
}

impl Client {
    async fn connect(broker: &Broker) -> Client {
        Client {
            stream: TcpStream::connect(broker.addr).await.unwrap(),
            correlation: 0,
        }
    }

    /// Sends a request; the response frame after its size, or `None` when
    /// the broker closed the connection.
    async fn call<R: Encodable>(
        &mut self,
        api: ApiKey,
        version: i16,
        request: &R,
    ) -> Option<Bytes> {
        self.call_as(api, version, version, request).await
    }

    /// [`Client::call`] claiming `version` in the header while the body is
    /// encoded as `body_version`: a client newer than the broker.
    async fn call_as<R: Encodable>(
        &mut self,
        api: ApiKey,
        version: i16,
        body_version: i16,
        request: &R,
    ) -> Option<Bytes> {
        self.correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("protocol-test")));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, api.request_header_version(body_version))
            .unwrap();
        request.encode(&mut body, body_version).unwrap();
        let mut frame = BytesMut::new();
        frame.put_i32(body.len() as i32);
        frame.extend_from_slice(&body);
        self.stream.write_all(&frame).await.unwrap();
        let size = match self.stream.read_i32().await {
            Ok(size) => size,
            Err(_) => return None,
        };
        let mut response = vec![0; size as usize];
        self.stream.read_exact(&mut response).await.ok()?;
        let mut response = Bytes::from(response);
        let correlation = response.get_i32();
        assert_eq!(correlation, self.correlation);
        if api.response_header_version(version) >= 1 && api != ApiKey::ApiVersions {
            // The tagged fields of a flexible response header: none.
            assert_eq!(response.get_u8(), 0);
        }
        Some(response)
    }

    async fn decode<Req: Encodable, Resp: Decodable>(
        &mut self,
        api: ApiKey,
        version: i16,
        request: &Req,
    ) -> Resp {
        let mut body = self.call(api, version, request).await.expect("an answer");
        Resp::decode(&mut body, version).unwrap()
    }
}

/// A record batch of `count` records with the producer fields set.
fn batch(count: usize, producer_id: i64, epoch: i16, sequence: i32) -> Bytes {
    let records: Vec<NewRecord> = (0..count)
        .map(|i| NewRecord {
            timestamp: 1_700_000_000_000 + i as i64,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(format!("v{i}"))),
            headers: Vec::new(),
        })
        .collect();
    let mut bytes = log_core::batch::encode(&records, None).unwrap();
    bytes[43..51].copy_from_slice(&producer_id.to_be_bytes());
    bytes[51..53].copy_from_slice(&epoch.to_be_bytes());
    bytes[53..57].copy_from_slice(&sequence.to_be_bytes());
    let crc = crc32c::crc32c(&bytes[21..]);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    bytes.freeze()
}

fn produce_request(topic: &str, records: Bytes) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records)),
                ]),
        ])
}

async fn produce(client: &mut Client, topic: &str, records: Bytes) -> (i16, i64) {
    let response: ProduceResponse = client
        .decode(ApiKey::Produce, 9, &produce_request(topic, records))
        .await;
    let p = &response.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

#[tokio::test]
async fn api_versions_answers_with_a_v0_header_and_refuses_unknown_versions() {
    let broker = broker().await;
    let mut client = Client::connect(&broker).await;
    let mut body = client
        .call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default())
        .await
        .unwrap();
    let response = ApiVersionsResponse::decode(&mut body, 3).unwrap();
    assert_eq!(response.error_code, 0);
    let produce = response
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::Produce as i16)
        .unwrap();
    assert_eq!((produce.min_version, produce.max_version), (3, 9));

    // A version from the future: UNSUPPORTED_VERSION, answered as v0 so
    // the client can read the supported ranges.
    let mut body = client
        .call_as(ApiKey::ApiVersions, 9, 3, &ApiVersionsRequest::default())
        .await
        .unwrap();
    let response = ApiVersionsResponse::decode(&mut body, 0).unwrap();
    assert_eq!(response.error_code, 35);
    assert!(!response.api_keys.is_empty());
}

#[tokio::test]
async fn unsupported_versions_and_oversized_frames_close_the_connection() {
    let broker = broker().await;
    let mut client = Client::connect(&broker).await;
    // Produce v2 predates record batches v2.
    let answer = client
        .call_as(
            ApiKey::Produce,
            2,
            3,
            &produce_request(TOPIC, batch(1, -1, -1, -1)),
        )
        .await;
    assert!(answer.is_none());

    let mut stream = TcpStream::connect(broker.addr).await.unwrap();
    stream
        .write_all(&(200i32 << 20).to_be_bytes())
        .await
        .unwrap();
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "closed without an answer");
}

#[tokio::test]
async fn idempotent_producers_get_duplicates_answered_and_gaps_refused() {
    let broker = broker().await;
    let mut client = Client::connect(&broker).await;
    let init: InitProducerIdResponse = client
        .decode(
            ApiKey::InitProducerId,
            4,
            &InitProducerIdRequest::default()
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        )
        .await;
    assert_eq!(init.error_code, 0);
    let pid = init.producer_id.0;
    assert!(pid > 0);

    assert_eq!(
        produce(&mut client, TOPIC, batch(3, pid, 0, 0)).await,
        (0, 0)
    );
    // The same batch again (a retry after a lost answer): its offset, not
    // a second copy.
    assert_eq!(
        produce(&mut client, TOPIC, batch(3, pid, 0, 0)).await,
        (0, 0)
    );
    // A gap: sequence 5 after 0..=2.
    let (code, _) = produce(&mut client, TOPIC, batch(1, pid, 0, 5)).await;
    assert_eq!(code, 45, "OUT_OF_ORDER_SEQUENCE_NUMBER");
    // An old epoch.
    assert_eq!(
        produce(&mut client, TOPIC, batch(1, pid, 1, 0)).await,
        (0, 3)
    );
    let (code, _) = produce(&mut client, TOPIC, batch(1, pid, 0, 3)).await;
    assert_eq!(code, 47, "INVALID_PRODUCER_EPOCH");
    assert_eq!(
        produce(&mut client, TOPIC, batch(2, pid, 1, 1)).await,
        (0, 4)
    );

    let list: ListOffsetsResponse = client
        .decode(
            ApiKey::ListOffsets,
            7,
            &ListOffsetsRequest::default().with_topics(vec![
                list_offsets_request::ListOffsetsTopic::default()
                    .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
                    .with_partitions(vec![
                        list_offsets_request::ListOffsetsPartition::default().with_timestamp(-1),
                    ]),
            ]),
        )
        .await;
    assert_eq!(
        list.topics[0].partitions[0].offset, 6,
        "three, one and two records"
    );
}

#[tokio::test]
async fn internal_unknown_and_corrupt_produces_get_kafka_errors() {
    let broker = broker().await;
    let mut client = Client::connect(&broker).await;
    let (code, _) = produce(&mut client, "__consumer_offsets", batch(1, -1, -1, -1)).await;
    assert_eq!(code, 17, "INVALID_TOPIC_EXCEPTION");
    let (code, _) = produce(&mut client, "nowhere", batch(1, -1, -1, -1)).await;
    assert_eq!(code, 3, "UNKNOWN_TOPIC_OR_PARTITION");
    let mut corrupt = BytesMut::from(&batch(2, -1, -1, -1)[..]);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let (code, _) = produce(&mut client, TOPIC, corrupt.freeze()).await;
    assert_eq!(code, 2, "CORRUPT_MESSAGE");
    // The partition is unharmed.
    assert_eq!(
        produce(&mut client, TOPIC, batch(1, -1, -1, -1)).await,
        (0, 0)
    );
}

fn fetch_request(offset: i64, wait_ms: i32) -> FetchRequest {
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str(TOPIC)))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_fetch_offset(offset)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ])
}

#[tokio::test]
async fn fetches_long_poll_and_report_offsets_out_of_range() {
    let broker = broker().await;
    let mut client = Client::connect(&broker).await;
    let response: FetchResponse = client
        .decode(ApiKey::Fetch, 12, &fetch_request(10, 100))
        .await;
    assert_eq!(
        response.responses[0].partitions[0].error_code, 1,
        "OFFSET_OUT_OF_RANGE"
    );

    // Nothing to read: the answer waits for max_wait_ms.
    let started = Instant::now();
    let response: FetchResponse = client
        .decode(ApiKey::Fetch, 12, &fetch_request(0, 300))
        .await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(
        response.responses[0].partitions[0]
            .records
            .as_ref()
            .is_none_or(Bytes::is_empty)
    );

    // A produce on another connection ends the wait early, with the batch.
    let mut producer = Client::connect(&broker).await;
    let started = Instant::now();
    let waiting = tokio::spawn(async move {
        let response: FetchResponse = client
            .decode(ApiKey::Fetch, 12, &fetch_request(0, 10_000))
            .await;
        response
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    produce(&mut producer, TOPIC, batch(2, -1, -1, -1)).await;
    let response = waiting.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let partition = &response.responses[0].partitions[0];
    assert_eq!(partition.high_watermark, 2);
    let records = partition.records.clone().unwrap();
    assert_eq!(log_core::batch::decode(records, 1 << 20).unwrap().len(), 2);
}

#[tokio::test]
async fn metadata_creates_missing_topics_only_when_the_client_allows_it() {
    let broker = broker().await;
    let mut client = Client::connect(&broker).await;
    let ask = |name: &'static str, allow: bool| {
        MetadataRequest::default()
            .with_allow_auto_topic_creation(allow)
            .with_topics(Some(vec![
                MetadataRequestTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_static_str(name)))),
            ]))
    };
    let response: MetadataResponse = client
        .decode(ApiKey::Metadata, 9, &ask("fresh", false))
        .await;
    assert_eq!(response.topics[0].error_code, 3);
    let response: MetadataResponse = client
        .decode(ApiKey::Metadata, 9, &ask("fresh", true))
        .await;
    assert_eq!(response.topics[0].error_code, 0);
    assert!(!response.topics[0].partitions.is_empty());
    assert_eq!(response.topics[0].partitions[0].leader_epoch, -1);
    assert_eq!(response.brokers[0].port, broker.addr.port() as i32);
}
