//! Outbox scenarios on a [`FakeClock`] with a scripted [`Deliver`] that
//! records every call, over a real log in a temporary directory. Passes
//! are driven by calling `deliver_due` directly.
//!
//! - [`retry`]: backoff, `Retry-After`, rejection, giving up.
//! - [`lifecycle`]: 410 and re-enabling, configuration reload, restart.
//! - [`bounds`]: `max_pending`, `max_in_flight`, corrupt values, config.

mod bounds;
mod lifecycle;
mod retry;

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use log_core::{Log, LogConfig, OpenMode};

use super::*;
use crate::clock::{Clock, FakeClock};
use crate::model::{Alert, LabelSet};
use crate::notify::{Integration, Outcome, ReceiverConfig};
use crate::store::{OUTBOX_TOPIC, STATE_TOPIC};

/// 2026-05-28T20:26:40Z.
pub const T0: i64 = 1_780_000_000_000;

/// One receiver, `team`, with one webhook: `team/webhook/0`.
pub const TEAM: &str = "
- name: team
  webhook_configs:
  - url: http://hooks.example/a
";
pub const HOOK: &str = "team/webhook/0";

pub fn receivers(yaml: &str) -> Vec<ReceiverConfig> {
    serde_yaml_ng::from_str(yaml).unwrap()
}

/// A firing notification for `team`, with a fresh id.
pub fn notification(receiver: &str) -> Notification {
    let labels: LabelSet = [("alertname".to_string(), "DiskFull".to_string())].into();
    Notification {
        id: Notification::new_id(),
        receiver: receiver.into(),
        group_key: "{}:{alertname=\"DiskFull\"}".into(),
        group_labels: labels.clone(),
        alerts: vec![Alert {
            labels,
            annotations: LabelSet::new(),
            starts_at_ms: T0 - 60_000,
            ends_at_ms: T0 + 600_000,
            generator_url: String::new(),
        }],
        created_at_ms: T0,
        external_url: "https://weir.example".into(),
    }
}

pub fn retryable(status: u16) -> Option<Outcome> {
    Some(Outcome::Retryable {
        status: Some(status),
        error: format!("HTTP {status}: down for maintenance"),
        retry_after: None,
    })
}

/// One call to the scripted receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub notification_id: String,
    pub integration: String,
    pub at_ms: i64,
}

/// Answers with the outcomes scripted per notification id, then with
/// `Delivered { status: 200 }`; records every call.
#[derive(Default)]
pub struct Script {
    calls: Mutex<Vec<Call>>,
    outcomes: Mutex<HashMap<String, VecDeque<Option<Outcome>>>>,
}

impl Script {
    pub fn answer(&self, notification_id: &str, outcomes: Vec<Option<Outcome>>) {
        self.outcomes
            .lock()
            .unwrap()
            .entry(notification_id.to_owned())
            .or_default()
            .extend(outcomes);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl Deliver for Script {
    fn deliver<'a>(
        &'a self,
        integration: &'a Integration,
        notification: &'a Notification,
        now_ms: i64,
    ) -> BoxFuture<'a, Option<Outcome>> {
        self.calls.lock().unwrap().push(Call {
            notification_id: notification.id.clone(),
            integration: integration.id(),
            at_ms: now_ms,
        });
        let outcome = self
            .outcomes
            .lock()
            .unwrap()
            .get_mut(&notification.id)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Some(Outcome::Delivered { status: 200 }));
        Box::pin(async move { outcome })
    }
}

/// An outbox over a log in `dir`.
pub struct Fixture {
    pub log: Arc<Log>,
    pub topic: KeyedTopic,
    pub state: KeyedTopic,
    pub clock: FakeClock,
    pub script: Arc<Script>,
    pub outbox: Arc<Outbox>,
}

impl Fixture {
    pub fn open(dir: &Path, config: OutboxConfig, yaml: &str) -> Fixture {
        Fixture::open_at(dir, config, yaml, T0)
    }

    pub fn open_at(dir: &Path, config: OutboxConfig, yaml: &str, now_ms: i64) -> Fixture {
        let (log, _) = Log::open(dir, LogConfig::default(), OpenMode::ReadWrite).unwrap();
        let topic = KeyedTopic::open(&log, OUTBOX_TOPIC).unwrap();
        let state = KeyedTopic::open(&log, STATE_TOPIC).unwrap();
        let clock = FakeClock::new(now_ms);
        let script = Arc::new(Script::default());
        let outbox = Outbox::open(
            topic.clone(),
            state.clone(),
            config,
            receivers(yaml),
            script.clone(),
            Arc::new(clock.clone()),
        )
        .unwrap();
        Fixture {
            log,
            topic,
            state,
            clock,
            script,
            outbox,
        }
    }

    pub fn close(self) {
        self.log.close().unwrap();
    }

    /// The only pending entry.
    pub fn single_pending(&self) -> PendingView {
        let pending = self.outbox.pending();
        assert_eq!(pending.len(), 1, "{pending:?}");
        pending.into_iter().next().unwrap()
    }

    /// Moves the clock to the next attempt of the only pending entry.
    pub fn to_next_attempt(&self) {
        self.clock.set(self.single_pending().next_attempt_ms);
    }
}

pub fn seconds(s: u64) -> Duration {
    Duration::from_secs(s)
}
