//! What the outbox shows of itself: the bounded history of attempts and
//! decisions ([`Attempt`]), and views of pending entries
//! ([`PendingView`]) and of stored values it could not read
//! ([`CorruptEntry`]). All serialise as the API's camelCase JSON.
//!
//! History lives in memory only (a ring of `history_len` records); what
//! must survive a restart is the entries themselves.

use std::collections::VecDeque;

use serde::Serialize;

use crate::notify::IntegrationKind;

/// How an attempt, or a decision about an entry, ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The receiver accepted it (or there was nothing to send).
    Delivered,
    /// Failed; another attempt is scheduled.
    Retrying,
    /// The receiver refused it; not retried.
    Rejected,
    /// Still failing when `max_age` ran out.
    GaveUp,
    /// The endpoint answered 410, or was already disabled.
    Disabled,
    /// Its integration left the configuration.
    Dropped,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Retrying => "retrying",
            AttemptOutcome::Rejected => "rejected",
            AttemptOutcome::GaveUp => "gave_up",
            AttemptOutcome::Disabled => "disabled",
            AttemptOutcome::Dropped => "dropped",
        }
    }

    /// Whether the entry is finished (deleted) with this outcome.
    pub fn is_final(self) -> bool {
        self != AttemptOutcome::Retrying
    }
}

/// One attempt or decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub notification_id: String,
    pub receiver: String,
    /// The integration's id (`receiver/kind/index`).
    pub integration: String,
    /// Unknown when the integration has left the configuration.
    pub kind: Option<IntegrationKind>,
    pub group_key: String,
    /// The attempt's number (1 for the first); 0 for a decision taken
    /// without one, such as skipping a disabled endpoint.
    pub attempt: u32,
    pub at_ms: i64,
    pub outcome: AttemptOutcome,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub next_attempt_ms: Option<i64>,
}

/// The newest `capacity` attempts.
#[derive(Debug)]
pub struct History {
    attempts: VecDeque<Attempt>,
    capacity: usize,
}

impl History {
    pub fn new(capacity: usize) -> History {
        History {
            attempts: VecDeque::with_capacity(capacity.min(4096)),
            capacity,
        }
    }

    pub fn push(&mut self, attempt: Attempt) {
        if self.capacity == 0 {
            return;
        }
        if self.attempts.len() == self.capacity {
            self.attempts.pop_front();
        }
        self.attempts.push_back(attempt);
    }

    /// Up to `limit` attempts, newest first.
    pub fn newest(&self, limit: usize) -> Vec<Attempt> {
        self.attempts.iter().rev().take(limit).cloned().collect()
    }
}

/// A pending entry, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingView {
    /// The entry's key: `<notification id>/<integration id>`.
    pub key: String,
    pub notification_id: String,
    pub receiver: String,
    pub integration: String,
    pub group_key: String,
    pub enqueued_at_ms: i64,
    pub attempts: u32,
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
    /// An attempt is running now.
    pub in_flight: bool,
}

/// A stored value that did not decode when the outbox opened; it was
/// skipped and left in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CorruptEntry {
    pub key: String,
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_the_newest() {
        let mut history = History::new(2);
        for n in 1..=3 {
            history.push(Attempt {
                notification_id: format!("msg_{n}"),
                receiver: "r".into(),
                integration: "r/webhook/0".into(),
                kind: Some(IntegrationKind::Webhook),
                group_key: "{}".into(),
                attempt: n,
                at_ms: 0,
                outcome: AttemptOutcome::GaveUp,
                status: None,
                error: None,
                next_attempt_ms: None,
            });
        }
        let newest = history.newest(10);
        assert_eq!(newest.len(), 2);
        assert_eq!(newest[0].attempt, 3);
        let json = serde_json::to_value(&newest[0]).unwrap();
        assert_eq!(json["outcome"], "gave_up");
        assert_eq!(json["notificationId"], "msg_3");
        assert_eq!(json["kind"], "webhook");
    }
}
