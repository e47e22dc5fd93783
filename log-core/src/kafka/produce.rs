//! Produce, and idempotent producers: InitProducerId hands out producer
//! ids, and each (producer, partition) keeps the sequence numbers of its
//! last five batches, as a Kafka broker does, so a retried batch is
//! answered with its first offset instead of being stored twice, and a
//! gap is refused with `OUT_OF_ORDER_SEQUENCE_NUMBER`.
//!
//! Producer state is in memory: after a restart the first batch of a
//! producer on a partition is accepted whatever its sequence (a Kafka
//! broker would have the state in its log). Transactions are not
//! supported; a transactional id is refused.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::produce_response::*;
use kafka_protocol::messages::*;

use super::metadata::error_code;
use super::server::{Broker, str_bytes};
use crate::batch::BatchHeader;
use crate::error::LogError;
use crate::partition::PendingAppend;

/// Batches remembered per (producer, partition), as Kafka's
/// `max.in.flight.requests.per.connection` limit for idempotence.
const REMEMBERED_BATCHES: usize = 5;
/// The compression codec bits of a batch's attributes meaning zstd.
const ZSTD: i16 = 4;
/// (producer, partition) states kept; the least recently used go first.
const MAX_PRODUCER_STATES: usize = 100_000;

/// The sequence state of every idempotent producer.
pub struct Producers {
    next_id: AtomicI64,
    /// Counts batches remembered, to age states least recently used.
    clock: std::sync::atomic::AtomicU64,
    states: Mutex<HashMap<(i64, String, u32), ProducerState>>,
}

impl Default for Producers {
    fn default() -> Producers {
        // Ids start from the clock, so ids handed out before a restart are
        // not handed out again after it.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_millis() as i64);
        Producers {
            next_id: AtomicI64::new(now),
            clock: std::sync::atomic::AtomicU64::new(0),
            states: Mutex::new(HashMap::new()),
        }
    }
}

#[derive(Debug, Clone)]
struct ProducerState {
    epoch: i16,
    /// (first sequence, last sequence, base offset), oldest first.
    batches: VecDeque<(i32, i32, u64)>,
    used: u64,
}

/// What the sequence check decided for one batch.
enum Sequence {
    /// Store it (and remember it when the producer is idempotent).
    Append,
    /// Stored before, at this offset.
    Duplicate(u64),
    Refuse(ResponseError),
}

impl Producers {
    fn check(&self, key: &(i64, String, u32), header: &BatchHeader) -> Sequence {
        let states = self.states.lock().unwrap();
        let Some(state) = states.get(key) else {
            return Sequence::Append;
        };
        if header.producer_epoch < state.epoch {
            return Sequence::Refuse(ResponseError::InvalidProducerEpoch);
        }
        if header.producer_epoch > state.epoch {
            return if header.base_sequence == 0 {
                Sequence::Append
            } else {
                Sequence::Refuse(ResponseError::OutOfOrderSequenceNumber)
            };
        }
        let last = last_sequence(header);
        if let Some(&(_, _, offset)) = state
            .batches
            .iter()
            .find(|(first, end, _)| *first == header.base_sequence && *end == last)
        {
            return Sequence::Duplicate(offset);
        }
        let expected = state.batches.back().map_or(0, |(_, end, _)| next(*end));
        if header.base_sequence == expected {
            Sequence::Append
        } else {
            Sequence::Refuse(ResponseError::OutOfOrderSequenceNumber)
        }
    }

    fn remember(&self, key: (i64, String, u32), header: &BatchHeader, offset: u64) {
        let mut states = self.states.lock().unwrap();
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        if states.len() >= MAX_PRODUCER_STATES
            && !states.contains_key(&key)
            && let Some(oldest) = states
                .iter()
                .min_by_key(|(_, s)| s.used)
                .map(|(k, _)| k.clone())
        {
            states.remove(&oldest);
        }
        let state = states.entry(key).or_insert_with(|| ProducerState {
            epoch: header.producer_epoch,
            batches: VecDeque::new(),
            used: tick,
        });
        if header.producer_epoch != state.epoch {
            state.epoch = header.producer_epoch;
            state.batches.clear();
        }
        state.used = tick;
        state
            .batches
            .push_back((header.base_sequence, last_sequence(header), offset));
        while state.batches.len() > REMEMBERED_BATCHES {
            state.batches.pop_front();
        }
    }
}

fn last_sequence(header: &BatchHeader) -> i32 {
    let count = header.record_count.saturating_sub(1) as i64;
    ((header.base_sequence as i64 + count) % (i32::MAX as i64 + 1)) as i32
}

/// Sequence numbers wrap from `i32::MAX` to 0.
fn next(sequence: i32) -> i32 {
    if sequence == i32::MAX {
        0
    } else {
        sequence + 1
    }
}

/// Whether a request names a transactional id (null or empty: none).
fn transactional(id: &Option<TransactionalId>) -> bool {
    id.as_ref().is_some_and(|id| !id.0.is_empty())
}

pub async fn init_producer_id(
    broker: &Broker,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let mut response = InitProducerIdResponse::default();
    if transactional(&request.transactional_id) {
        response.error_code = ResponseError::TransactionalIdAuthorizationFailed.code();
        response.producer_id = ProducerId(-1);
        response.producer_epoch = -1;
        return response;
    }
    if request.producer_id.0 >= 0 {
        // A producer bumping its epoch after an error keeps its id.
        response.producer_id = request.producer_id;
        response.producer_epoch = request.producer_epoch.saturating_add(1);
    } else {
        response.producer_id = ProducerId(broker.producers.next_id.fetch_add(1, Ordering::Relaxed));
        response.producer_epoch = 0;
    }
    response
}

pub async fn produce(broker: &Broker, request: ProduceRequest, version: i16) -> ProduceResponse {
    let mut response = ProduceResponse::default();
    if transactional(&request.transactional_id) {
        for topic in request.topic_data {
            let mut out = TopicProduceResponse::default().with_name(topic.name.clone());
            for data in topic.partition_data {
                out.partition_responses.push(
                    PartitionProduceResponse::default()
                        .with_index(data.index)
                        .with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code())
                        .with_error_message(Some(str_bytes("transactions are not supported"))),
                );
            }
            response.responses.push(out);
        }
        return response;
    }
    // Append everything first, then wait, so one request's partitions
    // share a sync round.
    let mut waiting: Vec<(usize, usize, Vec<PendingAppend>)> = Vec::new();
    for topic in request.topic_data {
        let name = topic.name.0.to_string();
        let mut out = TopicProduceResponse::default().with_name(topic.name.clone());
        for data in topic.partition_data {
            let mut partition = PartitionProduceResponse::default()
                .with_index(data.index)
                .with_log_append_time_ms(-1)
                .with_base_offset(-1);
            match append(
                broker,
                &name,
                data.index,
                data.records.unwrap_or_default(),
                version,
            ) {
                Ok((base, pending)) => {
                    partition.base_offset = base.map_or(-1, |b| b as i64);
                    if !pending.is_empty() {
                        waiting.push((
                            response.responses.len(),
                            out.partition_responses.len(),
                            pending,
                        ));
                    }
                }
                Err((code, message)) => {
                    partition.error_code = code;
                    partition.error_message = Some(str_bytes(message));
                }
            }
            if let Ok(p) = broker.log.partition(&name, data.index.max(0) as u32) {
                partition.log_start_offset = p.log_start() as i64;
            }
            out.partition_responses.push(partition);
        }
        response.responses.push(out);
    }
    for (topic, partition, pending) in waiting {
        for append in pending {
            if let Err(e) = append.durable().await {
                let slot = &mut response.responses[topic].partition_responses[partition];
                slot.error_code = error_code(&e);
                slot.error_message = Some(str_bytes(e.to_string()));
                slot.base_offset = -1;
                break;
            }
        }
    }
    response
}

/// Appends every batch of `records`; the first batch's base offset and
/// what to wait for.
fn append(
    broker: &Broker,
    topic: &str,
    index: i32,
    records: Bytes,
    version: i16,
) -> Result<(Option<u64>, Vec<PendingAppend>), (i16, String)> {
    let fail = |e: LogError| (error_code(&e), e.to_string());
    if topic.starts_with("__") {
        return Err((
            ResponseError::InvalidTopicException.code(),
            format!("{topic} is internal"),
        ));
    }
    let partition = broker
        .log
        .partition(topic, u32::try_from(index).unwrap_or(u32::MAX))
        .map_err(fail)?;
    let mut base = None;
    let mut pending = Vec::new();
    let mut rest = records;
    while !rest.is_empty() {
        let header = BatchHeader::parse(&rest).map_err(|e| {
            (
                ResponseError::CorruptMessage.code(),
                format!("record batch: {e}"),
            )
        })?;
        let size = (header.size as usize).min(rest.len());
        let batch = rest.split_to(size);
        // zstd batches need Produce v7, as Kafka requires.
        if header.attributes & 0x07 == ZSTD && version < 7 {
            return Err((
                ResponseError::UnsupportedCompressionType.code(),
                format!("zstd batches need Produce v7 or later, not v{version}"),
            ));
        }
        let key = (header.producer_id, topic.to_owned(), partition.id());
        let idempotent = header.producer_id >= 0;
        if idempotent {
            match broker.producers.check(&key, &header) {
                Sequence::Append => {}
                Sequence::Duplicate(offset) => {
                    base.get_or_insert(offset);
                    continue;
                }
                Sequence::Refuse(error) => {
                    return Err((error.code(), format!("{error}")));
                }
            }
        }
        let append = partition.append_encoded(batch).map_err(fail)?;
        let offset = append.info().base_offset;
        if idempotent {
            broker.producers.remember(key, &header, offset);
        }
        base.get_or_insert(offset);
        pending.push(append);
    }
    Ok((base, pending))
}
