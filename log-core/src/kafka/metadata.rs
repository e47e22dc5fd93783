//! ApiVersions, Metadata (creating missing topics when the client allows
//! it), CreateTopics (with Kafka's topic configs, `cleanup.policy=compact`
//! among them), DeleteTopics and DescribeConfigs.

use std::time::Duration;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::api_versions_response::*;
use kafka_protocol::messages::create_topics_response::*;
use kafka_protocol::messages::delete_topics_response::*;
use kafka_protocol::messages::describe_configs_response::*;
use kafka_protocol::messages::metadata_response::*;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use tracing::info;

use super::server::{Broker, CLUSTER_ID, NODE_ID, str_bytes};
use super::versions::SUPPORTED;
use crate::config::{CleanupPolicy, TopicConfig};
use crate::error::LogError;
use crate::log::Topic;
use crate::offsets::OFFSETS_TOPIC;

/// Partitions a topic created by Kafka may have; a larger number is a
/// typo, and each partition holds open files.
pub const MAX_PARTITIONS: i32 = 1024;

pub fn api_versions() -> ApiVersionsResponse {
    let mut response = ApiVersionsResponse::default();
    response.api_keys = SUPPORTED
        .iter()
        .map(|&(key, min, max)| {
            ApiVersion::default()
                .with_api_key(key as i16)
                .with_min_version(min)
                .with_max_version(max)
        })
        .collect();
    response
}

/// The Kafka error code of a log error.
pub fn error_code(error: &LogError) -> i16 {
    let code = match error {
        LogError::UnknownTopic(_) | LogError::UnknownPartition { .. } => {
            ResponseError::UnknownTopicOrPartition
        }
        LogError::TopicExists(_) => ResponseError::TopicAlreadyExists,
        LogError::InvalidTopicName { .. } => ResponseError::InvalidTopicException,
        LogError::InvalidConfig { .. } => ResponseError::InvalidConfig,
        LogError::InvalidBatch(_) | LogError::Corruption { .. } => ResponseError::CorruptMessage,
        LogError::RecordTooLarge { .. } | LogError::BatchTooLarge { .. } => {
            ResponseError::MessageTooLarge
        }
        LogError::EmptyBatch => ResponseError::InvalidRecord,
        LogError::MissingKey(_) => ResponseError::InvalidRecord,
        LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
        LogError::ReadOnly => ResponseError::PolicyViolation,
        LogError::ShuttingDown | LogError::PartitionFailed { .. } => {
            ResponseError::NotLeaderOrFollower
        }
        LogError::Io { source, .. } if source.raw_os_error() == Some(libc::ENOSPC) => {
            ResponseError::KafkaStorageError
        }
        _ => ResponseError::UnknownServerError,
    };
    code.code()
}

pub async fn metadata(broker: &Broker, request: MetadataRequest, version: i16) -> MetadataResponse {
    let mut response = MetadataResponse::default();
    response.brokers = vec![
        MetadataResponseBroker::default()
            .with_node_id(BrokerId(NODE_ID))
            .with_host(str_bytes(broker.config.advertised_host.clone()))
            .with_port(i32::from(broker.config.advertised_port)),
    ];
    response.cluster_id = Some(StrBytes::from_static_str(CLUSTER_ID));
    response.controller_id = BrokerId(NODE_ID);
    let names: Vec<String> = match &request.topics {
        // v0 used an empty list for "all"; v1+ null.
        None => broker.log.topic_names(),
        Some(topics) if topics.is_empty() && version == 0 => broker.log.topic_names(),
        Some(topics) => topics
            .iter()
            .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
            .collect(),
    };
    // Kafka's auto.create.topics.enable is on by default; v4+ clients
    // say whether they want it.
    let auto_create = version < 4 || request.allow_auto_topic_creation;
    for name in names {
        let mut topic = MetadataResponseTopic::default()
            .with_name(Some(TopicName(str_bytes(name.clone()))))
            .with_is_internal(name.starts_with("__"));
        let found = match broker.log.topic(&name) {
            Some(found) => Ok(found),
            None if auto_create && request.topics.is_some() => create(broker, &name, None, &[]),
            None => Err(LogError::UnknownTopic(name.clone())),
        };
        match found {
            Ok(found) => topic.partitions = partitions(&found),
            Err(e) => topic.error_code = error_code(&e),
        }
        response.topics.push(topic);
    }
    response
}

fn partitions(topic: &Topic) -> Vec<MetadataResponsePartition> {
    (0..topic.partitions().len() as i32)
        .map(|index| {
            MetadataResponsePartition::default()
                .with_partition_index(index)
                .with_leader_id(BrokerId(NODE_ID))
                .with_leader_epoch(-1)
                .with_replica_nodes(vec![BrokerId(NODE_ID)])
                .with_isr_nodes(vec![BrokerId(NODE_ID)])
        })
        .collect()
}

/// Creates `name` with the log's topic defaults, `partitions` and the
/// Kafka `configs` given.
fn create(
    broker: &Broker,
    name: &str,
    partitions: Option<i32>,
    configs: &[(String, Option<String>)],
) -> Result<std::sync::Arc<Topic>, LogError> {
    let mut config = broker.log.settings().topic_defaults.clone();
    if let Some(count) = partitions {
        if !(1..=MAX_PARTITIONS).contains(&count) {
            return Err(LogError::InvalidConfig {
                key: "num_partitions".into(),
                reason: format!("{count} is not in 1..={MAX_PARTITIONS}"),
            });
        }
        config.partitions = count as u32;
    }
    for (key, value) in configs {
        apply_config(&mut config, key, value.as_deref())?;
    }
    let topic = broker.log.create_topic(name, config)?;
    info!(topic = name, "topic created over the kafka protocol");
    Ok(topic)
}

/// Applies one Kafka topic config to `config`.
fn apply_config(config: &mut TopicConfig, key: &str, value: Option<&str>) -> Result<(), LogError> {
    let invalid = |reason: &str| LogError::InvalidConfig {
        key: key.to_owned(),
        reason: reason.to_owned(),
    };
    let Some(value) = value else {
        return Ok(());
    };
    let number = || value.parse::<i64>().map_err(|_| invalid("not a number"));
    match key {
        "cleanup.policy" => {
            config.cleanup_policy = match value {
                "compact" => CleanupPolicy::Compact,
                "delete" => CleanupPolicy::Delete,
                _ => return Err(invalid("expected compact or delete")),
            }
        }
        "retention.ms" => {
            config.retention = match number()? {
                -1 => None,
                ms if ms > 0 => Some(Duration::from_millis(ms as u64)),
                _ => return Err(invalid("must be positive or -1")),
            }
        }
        "retention.bytes" => {
            config.retention_bytes = match number()? {
                -1 => None,
                bytes if bytes > 0 => Some(bytes as u64),
                _ => return Err(invalid("must be positive or -1")),
            }
        }
        "segment.bytes" => {
            config.segment_bytes =
                u64::try_from(number()?).map_err(|_| invalid("must be positive"))?
        }
        "segment.ms" => {
            config.segment_age = Duration::from_millis(
                u64::try_from(number()?).map_err(|_| invalid("must be positive"))?,
            )
        }
        "delete.retention.ms" => {
            config.delete_retention = Duration::from_millis(
                u64::try_from(number()?).map_err(|_| invalid("must be positive"))?,
            )
        }
        // Settings of a replicated cluster that mean nothing on one node.
        "min.insync.replicas"
        | "unclean.leader.election.enable"
        | "message.timestamp.type"
        | "compression.type"
        | "max.message.bytes" => {}
        _ => return Err(invalid("not a topic config Weir supports")),
    }
    Ok(())
}

/// The Kafka topic configs of `config`, as DescribeConfigs reports them.
fn describe(config: &TopicConfig) -> Vec<(&'static str, String)> {
    let ms = |d: Option<Duration>| d.map_or("-1".to_owned(), |d| d.as_millis().to_string());
    vec![
        (
            "cleanup.policy",
            match config.cleanup_policy {
                CleanupPolicy::Compact => "compact",
                CleanupPolicy::Delete => "delete",
            }
            .to_owned(),
        ),
        ("retention.ms", ms(config.retention)),
        (
            "retention.bytes",
            config
                .retention_bytes
                .map_or("-1".to_owned(), |b| b.to_string()),
        ),
        ("segment.bytes", config.segment_bytes.to_string()),
        ("segment.ms", config.segment_age.as_millis().to_string()),
        (
            "delete.retention.ms",
            config.delete_retention.as_millis().to_string(),
        ),
    ]
}

pub async fn create_topics(broker: &Broker, request: CreateTopicsRequest) -> CreateTopicsResponse {
    let mut response = CreateTopicsResponse::default();
    for topic in request.topics {
        let name = topic.name.0.to_string();
        let mut result = CreatableTopicResult::default()
            .with_name(topic.name.clone())
            .with_num_partitions(topic.num_partitions)
            .with_replication_factor(1);
        if !topic.assignments.is_empty() {
            result.error_code = ResponseError::InvalidReplicaAssignment.code();
            result.error_message = Some(str_bytes("manual replica assignment is not supported"));
            response.topics.push(result);
            continue;
        }
        if topic.replication_factor > 1 {
            result.error_code = ResponseError::InvalidReplicationFactor.code();
            result.error_message = Some(str_bytes(format!(
                "replication factor {} on a single node",
                topic.replication_factor
            )));
            response.topics.push(result);
            continue;
        }
        let configs: Vec<(String, Option<String>)> = topic
            .configs
            .iter()
            .map(|c| {
                (
                    c.name.to_string(),
                    c.value.as_ref().map(ToString::to_string),
                )
            })
            .collect();
        let partitions = (topic.num_partitions > 0).then_some(topic.num_partitions);
        let outcome = if request.validate_only {
            let mut config = broker.log.settings().topic_defaults.clone();
            configs
                .iter()
                .try_for_each(|(k, v)| apply_config(&mut config, k, v.as_deref()))
                .and_then(|()| crate::log::validate_topic_name(&name))
                .map(|()| config.partitions)
        } else {
            create(broker, &name, partitions, &configs).map(|t| t.partitions().len() as u32)
        };
        match outcome {
            Ok(count) => result.num_partitions = count as i32,
            Err(e) => {
                result.error_code = error_code(&e);
                result.error_message = Some(str_bytes(e.to_string()));
            }
        }
        response.topics.push(result);
    }
    response
}

pub async fn delete_topics(
    broker: &Broker,
    request: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    let names: Vec<String> = if version >= 6 {
        request
            .topics
            .iter()
            .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
            .collect()
    } else {
        request
            .topic_names
            .iter()
            .map(|n| n.0.to_string())
            .collect()
    };
    let mut response = DeleteTopicsResponse::default();
    for name in names {
        let mut result =
            DeletableTopicResult::default().with_name(Some(TopicName(str_bytes(name.clone()))));
        let outcome = if name == OFFSETS_TOPIC || broker.log.topic(&name).is_none() {
            Err(LogError::UnknownTopic(name.clone()))
        } else {
            broker.log.delete_topic(&name)
        };
        if let Err(e) = outcome {
            result.error_code = error_code(&e);
            result.error_message = Some(str_bytes(e.to_string()));
        }
        response.responses.push(result);
    }
    response
}

/// Resource types of DescribeConfigs.
const TOPIC_RESOURCE: i8 = 2;
const BROKER_RESOURCE: i8 = 4;

pub async fn describe_configs(
    broker: &Broker,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let mut response = DescribeConfigsResponse::default();
    for resource in request.resources {
        let mut result = DescribeConfigsResult::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name.clone());
        let entries: Vec<(&'static str, String)> = match resource.resource_type {
            TOPIC_RESOURCE => match broker.log.topic(&resource.resource_name) {
                Some(topic) => describe(&topic.config()),
                None => {
                    result.error_code = ResponseError::UnknownTopicOrPartition.code();
                    result.error_message = Some(str_bytes(format!(
                        "unknown topic {}",
                        resource.resource_name.as_str()
                    )));
                    Vec::new()
                }
            },
            BROKER_RESOURCE => describe(&broker.log.settings().topic_defaults),
            other => {
                result.error_code = ResponseError::InvalidRequest.code();
                result.error_message =
                    Some(str_bytes(format!("resource type {other} is not supported")));
                Vec::new()
            }
        };
        let wanted = resource.configuration_keys.as_ref();
        result.configs = entries
            .into_iter()
            .filter(|(name, _)| wanted.is_none_or(|keys| keys.iter().any(|k| k.as_str() == *name)))
            .map(|(name, value)| {
                DescribeConfigsResourceResult::default()
                    .with_name(StrBytes::from_static_str(name))
                    .with_value(Some(str_bytes(value)))
                    .with_read_only(true)
                    .with_config_source(1)
            })
            .collect();
        response.results.push(result);
    }
    response
}
