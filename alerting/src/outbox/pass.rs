//! Writing entries and settling attempts: `enqueue`, one delivery pass,
//! and what each [`Outcome`] does to an entry.
//!
//! A pass first drops entries whose integration left the configuration
//! or was disabled, then claims every unclaimed entry that is due and
//! attempts them, at most `max_in_flight` at once, then drops again (an
//! integration may have been disabled during the pass). Outcomes:
//! - delivered, or nothing to send: tombstone;
//! - retryable: rewrite with one more attempt and the next time, from the
//!   doubling backoff with jitter, not before `Retry-After`; if that time
//!   is past `max_age`, give up instead (tombstone);
//! - rejected: tombstone, no retry;
//! - gone (410): store the endpoint as disabled, tombstone; its other
//!   entries are dropped by the sweep.
//!
//! Every claim is an RAII [`Claim`], released when its task ends or is
//! cancelled; a claim is never dropped while the state lock is held.

use std::sync::Arc;

use tokio::task::JoinSet;
use tracing::warn;

use crate::error::{AlertingError, Result};
use crate::model::Notification;
use crate::notify::{Integration, Outcome};
use crate::time::format_duration;

use super::entry::{DisabledRecord, Entry, backoff, disabled_key, entry_key, jittered};
use super::history::AttemptOutcome;
use super::state::{Record, State};
use super::{Shared, metric};

/// Exclusive right to attempt or write one entry.
struct Claim {
    shared: Arc<Shared>,
    key: String,
}

impl Claim {
    /// Claims `key`; the caller holds the lock (`state`).
    fn take(shared: &Arc<Shared>, state: &mut State, key: &str) -> Claim {
        state.claimed.insert(key.to_owned());
        Claim {
            shared: Arc::clone(shared),
            key: key.to_owned(),
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.shared.lock().claimed.remove(&self.key);
    }
}

/// A claimed entry and the integration it is for.
struct Job {
    claim: Claim,
    entry: Entry,
    integration: Integration,
}

fn disabled_error(error: &str) -> String {
    format!("integration disabled after 410 Gone: {error}")
}

pub(super) async fn enqueue(shared: &Arc<Shared>, notification: Notification) -> Result<()> {
    let now = shared.clock.now_ms();
    let fresh = {
        let mut state = shared.lock();
        let Some(ids) = state.receivers.get(&notification.receiver).cloned() else {
            return Err(AlertingError::NotFound {
                what: "receiver",
                id: notification.receiver.clone(),
            });
        };
        let (mut fresh, mut skipped) = (Vec::new(), Vec::new());
        for id in ids {
            if state
                .entries
                .contains_key(&entry_key(&notification.id, &id))
            {
                continue;
            }
            let disabled = state.disabled.get(&id).map(|r| disabled_error(&r.error));
            let entry = Entry::new(notification.clone(), id, now);
            match disabled {
                Some(error) => skipped.push((entry, error)),
                None => fresh.push(entry),
            }
        }
        let pending = state.entries.len();
        if pending + fresh.len() > shared.config.max_pending {
            metrics::counter!(metric::OUTBOX_FULL_TOTAL).increment(1);
            return Err(AlertingError::invalid(
                "outbox",
                format!(
                    "full: {pending} entries pending (max_pending {}), notification {} \
                     for receiver {} not accepted",
                    shared.config.max_pending, notification.id, notification.receiver
                ),
            ));
        }
        for (entry, error) in skipped {
            let record = Record {
                attempt: 0,
                at_ms: now,
                outcome: AttemptOutcome::Disabled,
                status: None,
                error: Some(error),
                next_attempt_ms: None,
            };
            state.record(&entry, record);
        }
        let mut claimed = Vec::with_capacity(fresh.len());
        for entry in fresh {
            let key = entry.key();
            claimed.push((Claim::take(shared, &mut state, &key), entry.clone()));
            state.entries.insert(key, entry);
        }
        state.report_pending();
        claimed
    };
    let mut first_error = None;
    for (claim, entry) in fresh {
        let written = match entry.encode() {
            Ok(value) => shared.topic.put(&claim.key, value).await,
            Err(error) => Err(error),
        };
        if let Err(error) = written {
            {
                let mut state = shared.lock();
                state.entries.remove(&claim.key);
                state.report_pending();
            }
            first_error.get_or_insert(error);
        }
        drop(claim);
    }
    shared.wake.notify_one();
    first_error.map_or(Ok(()), Err)
}

pub(super) async fn deliver_due(shared: &Arc<Shared>) -> usize {
    sweep(shared).await;
    let jobs = claim_due(shared);
    let count = jobs.len();
    let mut jobs = jobs.into_iter();
    let mut running = JoinSet::new();
    loop {
        while running.len() < shared.config.max_in_flight {
            let Some(job) = jobs.next() else { break };
            running.spawn(attempt(Arc::clone(shared), job));
        }
        match running.join_next().await {
            Some(Err(error)) if error.is_panic() => warn!(%error, "an outbox attempt panicked"),
            Some(_) => {}
            None => break,
        }
    }
    sweep(shared).await;
    count
}

/// Claims every unclaimed, due entry of an enabled, configured
/// integration, oldest schedule first.
fn claim_due(shared: &Arc<Shared>) -> Vec<Job> {
    let now = shared.clock.now_ms();
    let mut guard = shared.lock();
    let state = &mut *guard;
    let mut due: Vec<(i64, String)> = state
        .entries
        .iter()
        .filter(|(key, entry)| entry.next_attempt_ms <= now && !state.claimed.contains(*key))
        .map(|(key, entry)| (entry.next_attempt_ms, key.clone()))
        .collect();
    due.sort();
    let mut jobs = Vec::with_capacity(due.len());
    for (_, key) in due {
        let Some(entry) = state.entries.get(&key).cloned() else {
            continue;
        };
        // Entries of removed or disabled integrations are the sweep's.
        let Some(integration) = state.integrations.get(&entry.integration_id).cloned() else {
            continue;
        };
        if state.disabled.contains_key(&entry.integration_id) {
            continue;
        }
        let claim = Claim::take(shared, state, &key);
        jobs.push(Job {
            claim,
            entry,
            integration,
        });
    }
    jobs
}

/// Drops unclaimed entries of integrations that are gone from the
/// configuration or disabled, and deletes stale `disabled/` keys.
async fn sweep(shared: &Arc<Shared>) {
    let now = shared.clock.now_ms();
    let (stale, drops) = {
        let mut guard = shared.lock();
        let state = &mut *guard;
        let stale = std::mem::take(&mut state.stale_disabled);
        let doomed: Vec<(String, AttemptOutcome, String)> = state
            .entries
            .iter()
            .filter(|(key, _)| !state.claimed.contains(*key))
            .filter_map(|(key, entry)| {
                let id = &entry.integration_id;
                if !state.integrations.contains_key(id) {
                    let why = "receiver removed from configuration".to_owned();
                    Some((key.clone(), AttemptOutcome::Dropped, why))
                } else {
                    let record = state.disabled.get(id)?;
                    let why = disabled_error(&record.error);
                    Some((key.clone(), AttemptOutcome::Disabled, why))
                }
            })
            .collect();
        let mut drops = Vec::with_capacity(doomed.len());
        for (key, outcome, why) in doomed {
            let Some(entry) = state.entries.get(&key).cloned() else {
                continue;
            };
            let record = Record {
                attempt: 0,
                at_ms: now,
                outcome,
                status: None,
                error: Some(why),
                next_attempt_ms: None,
            };
            drops.push((Claim::take(shared, state, &key), entry, record));
        }
        (stale, drops)
    };
    for id in stale {
        if let Err(error) = shared.state_topic.delete(&disabled_key(&id)).await {
            warn!(integration = %id, %error, "disabled endpoint's key not deleted");
        }
    }
    let mut running = JoinSet::new();
    for (claim, entry, record) in drops {
        if running.len() >= shared.config.max_in_flight {
            running.join_next().await;
        }
        running.spawn(finish(Arc::clone(shared), claim, entry, record));
    }
    while running.join_next().await.is_some() {}
}

/// Attempts one claimed entry and settles its outcome.
async fn attempt(shared: Arc<Shared>, job: Job) {
    let Job {
        claim,
        entry,
        integration,
    } = job;
    let at_ms = shared.clock.now_ms();
    let disabled = shared
        .lock()
        .disabled
        .get(&entry.integration_id)
        .map(|r| disabled_error(&r.error));
    if let Some(error) = disabled {
        // Disabled by another attempt of this pass.
        let record = Record {
            attempt: 0,
            at_ms,
            outcome: AttemptOutcome::Disabled,
            status: None,
            error: Some(error),
            next_attempt_ms: None,
        };
        return finish(shared, claim, entry, record).await;
    }
    let outcome = shared
        .deliver
        .deliver(&integration, &entry.notification, at_ms)
        .await;
    let record = |outcome, status, error| Record {
        attempt: entry.attempts.saturating_add(1),
        at_ms,
        outcome,
        status,
        error,
        next_attempt_ms: None,
    };
    let record = match outcome {
        None => record(AttemptOutcome::Delivered, None, None),
        Some(Outcome::Delivered { status }) => {
            record(AttemptOutcome::Delivered, Some(status), None)
        }
        Some(Outcome::Rejected { status, error }) => {
            record(AttemptOutcome::Rejected, status, Some(error))
        }
        Some(Outcome::Gone { error }) => {
            disable(&shared, &integration, &error, at_ms).await;
            record(AttemptOutcome::Disabled, Some(410), Some(error))
        }
        Some(Outcome::Retryable {
            status,
            error,
            retry_after,
        }) => {
            return retry(shared, claim, entry, at_ms, status, error, retry_after).await;
        }
    };
    finish(shared, claim, entry, record).await;
}

/// Schedules the next attempt, or gives up past `max_age`.
async fn retry(
    shared: Arc<Shared>,
    claim: Claim,
    mut entry: Entry,
    at_ms: i64,
    status: Option<u16>,
    error: String,
    retry_after: Option<std::time::Duration>,
) {
    let config = &shared.config;
    let now = shared.clock.now_ms();
    let attempts = entry.attempts.saturating_add(1);
    let delay = jittered(backoff(config, attempts)).max(retry_after.unwrap_or_default());
    let next = now.saturating_add(delay.as_millis() as i64);
    if next > entry.deadline_ms(config) {
        let error = format!(
            "gave up after {attempts} attempts over {}: {error}",
            format_duration(config.max_age)
        );
        let record = Record {
            attempt: attempts,
            at_ms,
            outcome: AttemptOutcome::GaveUp,
            status,
            error: Some(error),
            next_attempt_ms: None,
        };
        return finish(shared, claim, entry, record).await;
    }
    entry.attempts = attempts;
    entry.next_attempt_ms = next;
    entry.last_error = Some(error.clone());
    let written = match entry.encode() {
        Ok(value) => shared.topic.put(&claim.key, value).await,
        Err(error) => Err(error),
    };
    if let Err(error) = written {
        warn!(key = %claim.key, %error, "outbox retry schedule not stored; a restart retries sooner");
    }
    {
        let mut state = shared.lock();
        let record = Record {
            attempt: attempts,
            at_ms,
            outcome: AttemptOutcome::Retrying,
            status,
            error: Some(error),
            next_attempt_ms: Some(next),
        };
        state.record(&entry, record);
        state.entries.insert(claim.key.clone(), entry);
    }
    drop(claim);
}

/// Deletes a finished entry and records how it ended.
async fn finish(shared: Arc<Shared>, claim: Claim, entry: Entry, record: Record) {
    if let Err(error) = shared.topic.delete(&claim.key).await {
        warn!(key = %claim.key, %error, "outbox tombstone not stored; the entry returns after a restart");
    }
    {
        let mut state = shared.lock();
        state.entries.remove(&claim.key);
        state.record(&entry, record);
        state.report_pending();
    }
    drop(claim);
}

/// Disables `integration` after a 410, unless its configuration changed
/// since the attempt began.
async fn disable(shared: &Arc<Shared>, integration: &Integration, error: &str, at_ms: i64) {
    let id = integration.id();
    let record = DisabledRecord {
        config_hash: integration.config_hash(),
        disabled_at_ms: at_ms,
        error: error.to_owned(),
    };
    {
        let mut state = shared.lock();
        let current = state.integrations.get(&id).map(Integration::config_hash);
        if current != Some(record.config_hash) {
            return;
        }
        state.stale_disabled.remove(&id);
        state.disabled.insert(id.clone(), record.clone());
    }
    warn!(integration = %id, error, "endpoint answered 410 Gone; disabled until its configuration changes");
    if let Err(error) = shared
        .state_topic
        .put(&disabled_key(&id), record.encode())
        .await
    {
        warn!(integration = %id, %error, "disabled endpoint not stored; it is tried again after a restart");
    }
}
