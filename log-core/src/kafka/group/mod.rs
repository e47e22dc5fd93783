//! The group coordinator: FindCoordinator, JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup, ListGroups and DescribeGroups over the groups'
//! in-memory membership ([`state`]), and OffsetCommit / OffsetFetch over
//! the log's durable offset store ([`crate::offsets`]).
//!
//! Partition assignment is the clients' (range, roundrobin,
//! cooperative-sticky): the coordinator only relays the leader's
//! assignments, as Kafka's does.

pub mod state;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_groups_response::*;
use kafka_protocol::messages::join_group_response::*;
use kafka_protocol::messages::leave_group_response::*;
use kafka_protocol::messages::list_groups_response::*;
use kafka_protocol::messages::offset_commit_request::*;
use kafka_protocol::messages::offset_commit_response::*;
use kafka_protocol::messages::offset_fetch_response::*;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use tokio::sync::oneshot;

use super::metadata::error_code;
use super::server::{Broker, NODE_ID, str_bytes};
use state::{Group, Joined, Member, Phase};

/// How often sessions and rebalance deadlines are checked.
const TICK: Duration = Duration::from_millis(100);
/// Bounds on client-chosen timeouts (Kafka's
/// `group.min.session.timeout.ms` and `group.max.session.timeout.ms`).
const MIN_SESSION: Duration = Duration::from_secs(1);
const MAX_SESSION: Duration = Duration::from_secs(30 * 60);
/// Groups the coordinator holds; more is a client creating group ids
/// without bound.
const MAX_GROUPS: usize = 10_000;
/// Members of one group.
const MAX_MEMBERS: usize = 1_000;

pub struct Coordinator {
    groups: Mutex<HashMap<String, Group>>,
    next_member: std::sync::atomic::AtomicU64,
}

impl Default for Coordinator {
    fn default() -> Coordinator {
        Coordinator {
            groups: Mutex::new(HashMap::new()),
            next_member: std::sync::atomic::AtomicU64::new(1),
        }
    }
}

impl Coordinator {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Group>> {
        self.groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn member_id(&self, client: &str) -> String {
        let n = self
            .next_member
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!(
            "{}-{nanos:x}-{n}",
            if client.is_empty() { "member" } else { client }
        )
    }
}

/// Drops expired members and completes rebalances whose time has come.
pub async fn expire_members(broker: Arc<Broker>) {
    let mut tick = tokio::time::interval(TICK);
    loop {
        tick.tick().await;
        let now = Instant::now();
        let mut groups = broker.groups.lock();
        for group in groups.values_mut() {
            group.tick(now);
        }
        groups
            .retain(|_, g| !(g.phase == Phase::Empty && g.members.is_empty() && g.generation == 0));
    }
}

pub async fn find_coordinator(
    broker: &Broker,
    request: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let host = str_bytes(broker.config.advertised_host.clone());
    let port = i32::from(broker.config.advertised_port);
    let mut response = FindCoordinatorResponse::default()
        .with_node_id(BrokerId(NODE_ID))
        .with_host(host.clone())
        .with_port(port);
    if version >= 4 {
        response.coordinators = request
            .coordinator_keys
            .iter()
            .map(|key| {
                find_coordinator_response::Coordinator::default()
                    .with_key(key.clone())
                    .with_node_id(BrokerId(NODE_ID))
                    .with_host(host.clone())
                    .with_port(port)
            })
            .collect();
    }
    response
}

fn clamp(ms: i32) -> Duration {
    Duration::from_millis(ms.max(0) as u64).clamp(MIN_SESSION, MAX_SESSION)
}

pub async fn join(
    broker: &Broker,
    request: JoinGroupRequest,
    version: i16,
    client: String,
) -> JoinGroupResponse {
    let mut response = JoinGroupResponse::default().with_generation_id(-1);
    let fail = |mut r: JoinGroupResponse, e: ResponseError| {
        r.error_code = e.code();
        r
    };
    let group_id = request.group_id.0.to_string();
    if group_id.is_empty() {
        return fail(response, ResponseError::InvalidGroupId);
    }
    let session = Duration::from_millis(request.session_timeout_ms.max(0) as u64);
    if !(MIN_SESSION..=MAX_SESSION).contains(&session) {
        return fail(response, ResponseError::InvalidSessionTimeout);
    }
    let rebalance = if version >= 1 {
        clamp(request.rebalance_timeout_ms)
    } else {
        session
    };
    let mut member_id = request.member_id.to_string();
    let receiver = {
        let coordinator = &broker.groups;
        let mut groups = coordinator.lock();
        if !groups.contains_key(&group_id) && groups.len() >= MAX_GROUPS {
            return fail(response, ResponseError::CoordinatorNotAvailable);
        }
        let group = groups
            .entry(group_id.clone())
            .or_insert_with(|| Group::new(request.protocol_type.to_string()));
        if !group.members.is_empty() && group.protocol_type != request.protocol_type.as_str() {
            return fail(response, ResponseError::InconsistentGroupProtocol);
        }
        let protocols: Vec<(String, Bytes)> = request
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.clone()))
            .collect();
        if protocols.is_empty() {
            return fail(response, ResponseError::InconsistentGroupProtocol);
        }
        if member_id.is_empty() {
            member_id = coordinator.member_id(&client);
            if version >= 4 {
                // The client must rejoin with the id it was given.
                response.member_id = str_bytes(member_id);
                return fail(response, ResponseError::MemberIdRequired);
            }
        } else if !group.members.contains_key(&member_id) && version < 4 {
            return fail(response, ResponseError::UnknownMemberId);
        }
        if !group.members.contains_key(&member_id) && group.members.len() >= MAX_MEMBERS {
            return fail(response, ResponseError::GroupMaxSizeReached);
        }
        let now = Instant::now();
        group.protocol_type = request.protocol_type.to_string();
        let (tx, rx) = oneshot::channel();
        let member = group
            .members
            .entry(member_id.clone())
            .or_insert_with(|| Member {
                client_id: client.clone(),
                session_timeout: session,
                rebalance_timeout: rebalance,
                protocols: Vec::new(),
                last_seen: now,
                assignment: Bytes::new(),
                join: None,
                sync: None,
            });
        member.session_timeout = session;
        member.rebalance_timeout = rebalance;
        member.protocols = protocols;
        member.last_seen = now;
        if let Some(old) = member.join.replace(tx) {
            let _ = old.send(Err(ResponseError::RebalanceInProgress));
        }
        group.prepare_rebalance(now);
        group.try_complete(now);
        rx
    };
    let wait = rebalance + Duration::from_secs(5);
    match tokio::time::timeout(wait, receiver).await {
        Ok(Ok(Ok(joined))) => answer_join(response, joined, &request.protocol_type),
        Ok(Ok(Err(error))) => {
            response.member_id = str_bytes(member_id);
            fail(response, error)
        }
        _ => fail(response, ResponseError::RebalanceInProgress),
    }
}

fn answer_join(
    mut response: JoinGroupResponse,
    joined: Joined,
    protocol_type: &StrBytes,
) -> JoinGroupResponse {
    response.generation_id = joined.generation;
    response.protocol_type = Some(protocol_type.clone());
    response.protocol_name = Some(str_bytes(joined.protocol));
    response.leader = str_bytes(joined.leader);
    response.member_id = str_bytes(joined.member_id);
    response.members = joined
        .members
        .into_iter()
        .map(|(id, metadata)| {
            JoinGroupResponseMember::default()
                .with_member_id(str_bytes(id))
                .with_metadata(metadata)
        })
        .collect();
    response
}

pub async fn sync(broker: &Broker, request: SyncGroupRequest) -> SyncGroupResponse {
    let mut response = SyncGroupResponse::default();
    let member_id = request.member_id.to_string();
    let receiver = {
        let mut groups = broker.groups.lock();
        let Some(group) = groups.get_mut(request.group_id.0.as_str()) else {
            response.error_code = ResponseError::UnknownMemberId.code();
            return response;
        };
        if let Err(e) = group.check(&member_id, request.generation_id) {
            response.error_code = e.code();
            return response;
        }
        response.protocol_type = Some(str_bytes(group.protocol_type.clone()));
        response.protocol_name = group.protocol.clone().map(str_bytes);
        match group.phase {
            Phase::PreparingRebalance => {
                response.error_code = ResponseError::RebalanceInProgress.code();
                return response;
            }
            Phase::Stable => {
                response.assignment = group.members[&member_id].assignment.clone();
                return response;
            }
            Phase::Empty | Phase::CompletingRebalance => {}
        }
        let now = Instant::now();
        if group.leader.as_deref() == Some(member_id.as_str()) {
            let mut assigned: HashMap<String, Bytes> = request
                .assignments
                .iter()
                .map(|a| (a.member_id.to_string(), a.assignment.clone()))
                .collect();
            for (id, member) in &mut group.members {
                member.assignment = assigned.remove(id).unwrap_or_default();
                member.last_seen = now;
                if let Some(waiting) = member.sync.take() {
                    let _ = waiting.send(Ok(member.assignment.clone()));
                }
            }
            group.phase = Phase::Stable;
            response.assignment = group.members[&member_id].assignment.clone();
            return response;
        }
        let (tx, rx) = oneshot::channel();
        let member = group.members.get_mut(&member_id).expect("checked");
        member.last_seen = now;
        member.sync = Some(tx);
        (rx, member.rebalance_timeout)
    };
    let (rx, timeout) = receiver;
    let answer = tokio::time::timeout(timeout, rx).await;
    // The wait counts as being seen: the session restarts from the answer.
    if let Some(m) = broker
        .groups
        .lock()
        .get_mut(request.group_id.0.as_str())
        .and_then(|g| g.members.get_mut(&member_id))
    {
        m.last_seen = Instant::now();
        m.sync = None;
    }
    match answer {
        Ok(Ok(Ok(assignment))) => response.assignment = assignment,
        Ok(Ok(Err(e))) => response.error_code = e.code(),
        _ => response.error_code = ResponseError::RebalanceInProgress.code(),
    }
    response
}

pub async fn heartbeat(broker: &Broker, request: HeartbeatRequest) -> HeartbeatResponse {
    let mut response = HeartbeatResponse::default();
    let mut groups = broker.groups.lock();
    let Some(group) = groups.get_mut(request.group_id.0.as_str()) else {
        response.error_code = ResponseError::UnknownMemberId.code();
        return response;
    };
    let member = request.member_id.to_string();
    if let Err(e) = group.check(&member, request.generation_id) {
        response.error_code = e.code();
        return response;
    }
    if let Some(m) = group.members.get_mut(&member) {
        m.last_seen = Instant::now();
    }
    if group.phase == Phase::PreparingRebalance {
        response.error_code = ResponseError::RebalanceInProgress.code();
    }
    response
}

pub async fn leave(
    broker: &Broker,
    request: LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    let mut response = LeaveGroupResponse::default();
    let ids: Vec<String> = if version >= 3 {
        request
            .members
            .iter()
            .map(|m| m.member_id.to_string())
            .collect()
    } else {
        vec![request.member_id.to_string()]
    };
    let mut groups = broker.groups.lock();
    let Some(group) = groups.get_mut(request.group_id.0.as_str()) else {
        response.error_code = ResponseError::UnknownMemberId.code();
        return response;
    };
    let now = Instant::now();
    for id in ids {
        let known = group.members.contains_key(&id);
        if known {
            group.remove(&id, now);
        } else if version < 3 {
            response.error_code = ResponseError::UnknownMemberId.code();
        }
        if version >= 3 {
            let mut member = MemberResponse::default().with_member_id(str_bytes(id));
            if !known {
                member.error_code = ResponseError::UnknownMemberId.code();
            }
            response.members.push(member);
        }
    }
    response
}

pub async fn list(broker: &Broker, request: ListGroupsRequest) -> ListGroupsResponse {
    let mut response = ListGroupsResponse::default();
    let groups = broker.groups.lock();
    let mut listed: Vec<(String, String, &'static str)> = groups
        .iter()
        .map(|(id, g)| (id.clone(), g.protocol_type.clone(), g.phase.name()))
        .collect();
    drop(groups);
    // Groups known only by their committed offsets (Weir's own workers
    // among them) are listed as Empty.
    if let Some(offsets) = broker.log.consumer_offsets() {
        for id in offsets.groups() {
            if !listed.iter().any(|(known, ..)| *known == id) {
                listed.push((id, "consumer".to_owned(), "Empty"));
            }
        }
    }
    listed.sort();
    response.groups = listed
        .into_iter()
        .filter(|(_, _, phase)| {
            request.states_filter.is_empty()
                || request.states_filter.iter().any(|s| s.as_str() == *phase)
        })
        .map(|(id, kind, phase)| {
            ListedGroup::default()
                .with_group_id(GroupId(str_bytes(id)))
                .with_protocol_type(str_bytes(kind))
                .with_group_state(StrBytes::from_static_str(phase))
                .with_group_type(StrBytes::from_static_str("classic"))
        })
        .collect();
    response
}

pub async fn describe(broker: &Broker, request: DescribeGroupsRequest) -> DescribeGroupsResponse {
    let mut response = DescribeGroupsResponse::default();
    let groups = broker.groups.lock();
    for id in request.groups {
        let mut described = DescribedGroup::default().with_group_id(id.clone());
        match groups.get(id.0.as_str()) {
            Some(group) => {
                described.group_state = StrBytes::from_static_str(group.phase.name());
                described.protocol_type = str_bytes(group.protocol_type.clone());
                described.protocol_data = str_bytes(group.protocol.clone().unwrap_or_default());
                described.members = group
                    .members
                    .iter()
                    .map(|(member_id, m)| {
                        let metadata = group
                            .protocol
                            .as_ref()
                            .and_then(|p| m.protocols.iter().find(|(n, _)| n == p))
                            .map(|(_, meta)| meta.clone())
                            .unwrap_or_default();
                        DescribedGroupMember::default()
                            .with_member_id(str_bytes(member_id.clone()))
                            .with_client_id(str_bytes(m.client_id.clone()))
                            .with_client_host(StrBytes::from_static_str("/127.0.0.1"))
                            .with_member_metadata(metadata)
                            .with_member_assignment(m.assignment.clone())
                    })
                    .collect();
            }
            None => {
                // Known only by committed offsets: a group without members.
                let has_offsets = broker
                    .log
                    .consumer_offsets()
                    .is_some_and(|o| !o.group(id.0.as_str()).is_empty());
                described.group_state =
                    StrBytes::from_static_str(if has_offsets { "Empty" } else { "Dead" });
                if has_offsets {
                    described.protocol_type = StrBytes::from_static_str("consumer");
                }
            }
        }
        response.groups.push(described);
    }
    response
}

pub async fn offset_commit(
    broker: &Broker,
    request: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let group_id = request.group_id.0.to_string();
    let member = request.member_id.to_string();
    let generation = request.generation_id_or_member_epoch;
    // A commit from a member of a live group must carry its generation;
    // a commit without one (-1) is a standalone consumer's.
    let refused = if generation >= 0 || !member.is_empty() {
        let groups = broker.groups.lock();
        match groups.get(&group_id) {
            Some(group) if !group.members.is_empty() => group.check(&member, generation).err(),
            _ if generation >= 0 => Some(ResponseError::IllegalGeneration),
            _ => None,
        }
    } else {
        None
    };
    let _ = version;
    let mut response = OffsetCommitResponse::default();
    for topic in request.topics {
        let name = topic.name.0.to_string();
        let mut out = OffsetCommitResponseTopic::default().with_name(topic.name.clone());
        for p in topic.partitions {
            let mut result =
                OffsetCommitResponsePartition::default().with_partition_index(p.partition_index);
            let code = match refused {
                Some(e) => e.code(),
                None => commit(broker, &group_id, &name, p).await,
            };
            result.error_code = code;
            out.partitions.push(result);
        }
        response.topics.push(out);
    }
    response
}

async fn commit(broker: &Broker, group: &str, topic: &str, p: OffsetCommitRequestPartition) -> i16 {
    let Some(offsets) = broker.log.consumer_offsets() else {
        return ResponseError::CoordinatorNotAvailable.code();
    };
    if broker.log.topic(topic).is_none() {
        return ResponseError::UnknownTopicOrPartition.code();
    }
    let (Ok(partition), Ok(offset)) = (
        u32::try_from(p.partition_index),
        u64::try_from(p.committed_offset),
    ) else {
        return ResponseError::InvalidCommitOffsetSize.code();
    };
    let metadata = p.committed_metadata.as_ref().map_or("", |m| m.as_str());
    if metadata.len() > 4096 {
        return ResponseError::OffsetMetadataTooLarge.code();
    }
    match offsets
        .commit(group, topic, partition, offset, metadata)
        .await
    {
        Ok(()) => 0,
        Err(e) => error_code(&e),
    }
}

pub async fn offset_fetch(
    broker: &Broker,
    request: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    let _ = version;
    let group = request.group_id.0.to_string();
    let mut response = OffsetFetchResponse::default();
    let Some(offsets) = broker.log.consumer_offsets() else {
        response.error_code = ResponseError::CoordinatorNotAvailable.code();
        return response;
    };
    let wanted: Vec<(String, Vec<i32>)> = match request.topics {
        Some(topics) => topics
            .into_iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes))
            .collect(),
        None => {
            let mut all: std::collections::BTreeMap<String, Vec<i32>> = Default::default();
            for (topic, partition, _) in offsets.group(&group) {
                all.entry(topic).or_default().push(partition as i32);
            }
            all.into_iter().collect()
        }
    };
    for (topic, partitions) in wanted {
        let mut out =
            OffsetFetchResponseTopic::default().with_name(TopicName(str_bytes(topic.clone())));
        for index in partitions {
            let committed = u32::try_from(index)
                .ok()
                .and_then(|p| offsets.fetch(&group, &topic, p));
            let mut p = OffsetFetchResponsePartition::default()
                .with_partition_index(index)
                .with_committed_offset(-1)
                .with_committed_leader_epoch(-1);
            if let Some(c) = committed {
                p.committed_offset = c.offset as i64;
                p.metadata = Some(str_bytes(c.metadata));
            } else {
                p.metadata = Some(StrBytes::default());
            }
            out.partitions.push(p);
        }
        response.topics.push(out);
    }
    response
}
