//! One consumer group's membership, as Kafka's classic group protocol
//! has it: Empty → PreparingRebalance → CompletingRebalance → Stable.
//!
//! A join starts (or joins) a rebalance; it completes once every member
//! has rejoined (after [`INITIAL_REBALANCE_DELAY`] when the group was
//! empty, so members starting together land in one generation), or at
//! the rebalance deadline, when members that did not rejoin are dropped.
//! Completing bumps the generation, picks the protocol every member
//! supports and answers every waiting join; the leader gets the members'
//! metadata and sends the assignments in its SyncGroup, which answers
//! every waiting sync. Members that stop heartbeating for their session
//! timeout are dropped and the group rebalances.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError;
use tokio::sync::oneshot;

/// How long a rebalance of an empty group waits for more members
/// (Kafka's `group.initial.rebalance.delay.ms` is 3 s; Weir's single
/// node has no slow peers to wait for).
pub const INITIAL_REBALANCE_DELAY: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl Phase {
    /// The name DescribeGroups and ListGroups report.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Empty => "Empty",
            Phase::PreparingRebalance => "PreparingRebalance",
            Phase::CompletingRebalance => "CompletingRebalance",
            Phase::Stable => "Stable",
        }
    }
}

/// What a completed join tells a member.
#[derive(Debug, Clone)]
pub struct Joined {
    pub generation: i32,
    pub protocol: String,
    pub leader: String,
    pub member_id: String,
    /// The members and their metadata, for the leader only.
    pub members: Vec<(String, Bytes)>,
}

#[derive(Debug)]
pub struct Member {
    pub client_id: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocols: Vec<(String, Bytes)>,
    pub last_seen: Instant,
    pub assignment: Bytes,
    /// Waiting for the rebalance to complete.
    pub join: Option<oneshot::Sender<Result<Joined, ResponseError>>>,
    /// Waiting for the leader's assignments.
    pub sync: Option<oneshot::Sender<Result<Bytes, ResponseError>>>,
}

#[derive(Debug)]
pub struct Group {
    pub phase: Phase,
    pub generation: i32,
    pub protocol_type: String,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// When the rebalance in progress may complete at the earliest, and
    /// when it must.
    pub earliest: Instant,
    pub deadline: Instant,
}

impl Group {
    pub fn new(protocol_type: String) -> Group {
        let now = Instant::now();
        Group {
            phase: Phase::Empty,
            generation: 0,
            protocol_type,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            earliest: now,
            deadline: now,
        }
    }

    /// Starts a rebalance unless one is in progress; waiting syncs are
    /// told to rejoin.
    pub fn prepare_rebalance(&mut self, now: Instant) {
        if self.phase == Phase::PreparingRebalance {
            return;
        }
        let was_empty = self.phase == Phase::Empty || self.members.is_empty();
        self.phase = Phase::PreparingRebalance;
        self.earliest = if was_empty {
            now + INITIAL_REBALANCE_DELAY
        } else {
            now
        };
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or(Duration::from_secs(60));
        self.deadline = now + timeout;
        for member in self.members.values_mut() {
            if let Some(sync) = member.sync.take() {
                let _ = sync.send(Err(ResponseError::RebalanceInProgress));
            }
        }
    }

    /// Completes the rebalance if it can: every member has rejoined and
    /// the initial delay passed, or the deadline passed.
    pub fn try_complete(&mut self, now: Instant) {
        if self.phase != Phase::PreparingRebalance {
            return;
        }
        let all_joined = self.members.values().all(|m| m.join.is_some());
        if !(now >= self.deadline || (all_joined && now >= self.earliest)) {
            return;
        }
        self.members.retain(|_, m| m.join.is_some());
        if self.members.is_empty() {
            self.phase = Phase::Empty;
            self.leader = None;
            self.protocol = None;
            self.generation += 1;
            return;
        }
        self.generation += 1;
        let protocol = self.choose_protocol();
        if self
            .leader
            .as_ref()
            .is_none_or(|l| !self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        let leader = self.leader.clone().unwrap_or_default();
        self.protocol = Some(protocol.clone());
        self.phase = Phase::CompletingRebalance;
        let metadata: Vec<(String, Bytes)> = self
            .members
            .iter()
            .map(|(id, m)| {
                let meta = m
                    .protocols
                    .iter()
                    .find(|(name, _)| *name == protocol)
                    .map(|(_, meta)| meta.clone())
                    .unwrap_or_default();
                (id.clone(), meta)
            })
            .collect();
        for (id, member) in &mut self.members {
            member.last_seen = now;
            member.assignment = Bytes::new();
            if let Some(join) = member.join.take() {
                let _ = join.send(Ok(Joined {
                    generation: self.generation,
                    protocol: protocol.clone(),
                    leader: leader.clone(),
                    member_id: id.clone(),
                    members: if *id == leader {
                        metadata.clone()
                    } else {
                        Vec::new()
                    },
                }));
            }
        }
    }

    /// The first protocol of the leader (or first member) that every
    /// member supports; Kafka votes, which agrees when all list the same.
    fn choose_protocol(&self) -> String {
        let first = self
            .leader
            .as_ref()
            .and_then(|l| self.members.get(l))
            .or_else(|| self.members.values().next());
        let Some(first) = first else {
            return String::new();
        };
        first
            .protocols
            .iter()
            .map(|(name, _)| name)
            .find(|name| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(n, _)| n == *name))
            })
            .cloned()
            .unwrap_or_default()
    }

    /// Drops `id`; the others rebalance.
    pub fn remove(&mut self, id: &str, now: Instant) {
        if let Some(mut member) = self.members.remove(id) {
            if let Some(join) = member.join.take() {
                let _ = join.send(Err(ResponseError::UnknownMemberId));
            }
            if let Some(sync) = member.sync.take() {
                let _ = sync.send(Err(ResponseError::UnknownMemberId));
            }
        }
        if self.leader.as_deref() == Some(id) {
            self.leader = None;
        }
        if self.members.is_empty() && self.phase != Phase::PreparingRebalance {
            self.phase = Phase::Empty;
            self.protocol = None;
            return;
        }
        self.prepare_rebalance(now);
        self.try_complete(now);
    }

    /// Drops members whose session expired and completes a rebalance whose
    /// time has come.
    pub fn tick(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| {
                m.join.is_none() && now.duration_since(m.last_seen) > m.session_timeout
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            tracing::info!(member = id, "consumer group member's session expired");
            self.remove(&id, now);
        }
        self.try_complete(now);
    }

    /// Checks a member's generation for Heartbeat, SyncGroup and
    /// OffsetCommit.
    pub fn check(&self, member: &str, generation: i32) -> Result<(), ResponseError> {
        if !self.members.contains_key(member) {
            return Err(ResponseError::UnknownMemberId);
        }
        if generation != self.generation {
            return Err(ResponseError::IllegalGeneration);
        }
        Ok(())
    }
}
