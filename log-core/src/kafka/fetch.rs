//! Fetch (stored bytes, long-polling) and ListOffsets (earliest, latest,
//! by timestamp).

use std::time::{Duration, Instant};

use futures::future::select_all;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::fetch_response::*;
use kafka_protocol::messages::list_offsets_response::*;
use kafka_protocol::messages::*;

use super::metadata::error_code;
use super::server::Broker;
use crate::error::LogError;

/// The longest a fetch waits, whatever it asks: clients ask for 500 ms
/// (librdkafka, kafka-python) and fetch again.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// ListOffsets' special timestamps.
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;

pub async fn fetch(broker: &Broker, request: FetchRequest) -> FetchResponse {
    let wait = Duration::from_millis(request.max_wait_ms.max(0) as u64).min(MAX_WAIT);
    let deadline = Instant::now() + wait;
    let min_bytes = request.min_bytes.max(0) as usize;
    loop {
        let (response, bytes, failed) = read_once(broker, &request);
        let now = Instant::now();
        if bytes >= min_bytes.max(1) || failed || now >= deadline {
            return response;
        }
        // Wait for any requested partition to grow, or the deadline.
        let waits: Vec<_> = request
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().filter_map(|p| {
                    let partition = broker
                        .log
                        .partition(&t.topic.0, u32::try_from(p.partition).ok()?)
                        .ok()?;
                    let offset = u64::try_from(p.fetch_offset).ok()?;
                    Some(Box::pin(async move {
                        let mut rx = partition.subscribe();
                        let _ = rx.wait_for(|&hw| hw > offset).await;
                    }))
                })
            })
            .collect();
        if waits.is_empty() {
            tokio::time::sleep(deadline - now).await;
            continue;
        }
        let _ = tokio::time::timeout(deadline - now, select_all(waits)).await;
    }
}

/// One pass over the requested partitions: the response, how many bytes
/// it holds, and whether a partition failed (which ends the wait).
fn read_once(broker: &Broker, request: &FetchRequest) -> (FetchResponse, usize, bool) {
    let mut response = FetchResponse::default();
    let mut budget = if request.max_bytes > 0 {
        request.max_bytes as usize
    } else {
        usize::MAX
    };
    let mut total = 0usize;
    let mut failed = false;
    for topic in &request.topics {
        let mut out = FetchableTopicResponse::default().with_topic(topic.topic.clone());
        for p in &topic.partitions {
            let mut data = PartitionData::default()
                .with_partition_index(p.partition)
                .with_high_watermark(-1)
                .with_last_stable_offset(-1)
                .with_log_start_offset(-1)
                .with_preferred_read_replica(BrokerId(-1))
                .with_aborted_transactions(Some(Vec::new()));
            let found = u32::try_from(p.partition)
                .map_err(|_| LogError::UnknownPartition {
                    topic: topic.topic.0.to_string(),
                    partition: u32::MAX,
                })
                .and_then(|index| broker.log.partition(&topic.topic.0, index));
            match found {
                Err(e) => {
                    data.error_code = error_code(&e);
                    failed = true;
                }
                Ok(partition) => {
                    data.high_watermark = partition.high_watermark() as i64;
                    data.last_stable_offset = data.high_watermark;
                    data.log_start_offset = partition.log_start() as i64;
                    let offset = u64::try_from(p.fetch_offset).unwrap_or(u64::MAX);
                    // At least one batch is returned whatever the limits,
                    // so a batch larger than them still makes progress.
                    let limit = (p.partition_max_bytes.max(1) as usize).min(budget.max(1));
                    match partition.read(offset, limit) {
                        Ok(fetched) => {
                            let bytes = fetched.bytes;
                            total += bytes.len();
                            budget = budget.saturating_sub(bytes.len());
                            data.records = Some(bytes);
                        }
                        Err(e) => {
                            data.error_code = error_code(&e);
                            failed = true;
                        }
                    }
                }
            }
            out.partitions.push(data);
        }
        response.responses.push(out);
    }
    (response, total, failed)
}

pub async fn list_offsets(broker: &Broker, request: ListOffsetsRequest) -> ListOffsetsResponse {
    let mut response = ListOffsetsResponse::default();
    for topic in request.topics {
        let mut out = ListOffsetsTopicResponse::default().with_name(topic.name.clone());
        for p in topic.partitions {
            let mut answer = ListOffsetsPartitionResponse::default()
                .with_partition_index(p.partition_index)
                .with_timestamp(-1)
                .with_offset(-1)
                .with_leader_epoch(-1);
            let found = u32::try_from(p.partition_index)
                .map_err(|_| LogError::UnknownTopic(topic.name.0.to_string()))
                .and_then(|index| broker.log.partition(&topic.name.0, index));
            match found {
                Err(e) => answer.error_code = error_code(&e),
                Ok(partition) => match p.timestamp {
                    LATEST => answer.offset = partition.high_watermark() as i64,
                    EARLIEST => answer.offset = partition.log_start() as i64,
                    MAX_TIMESTAMP => {
                        answer.error_code = ResponseError::UnsupportedVersion.code();
                    }
                    at => match partition.offset_for_timestamp(at) {
                        Ok(Some((offset, timestamp))) => {
                            answer.offset = offset as i64;
                            answer.timestamp = timestamp;
                        }
                        // No record that late: Kafka answers -1.
                        Ok(None) => {}
                        Err(e) => answer.error_code = error_code(&e),
                    },
                },
            }
            out.partitions.push(answer);
        }
        response.topics.push(out);
    }
    response
}
