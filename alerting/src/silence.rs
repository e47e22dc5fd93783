//! Silences: time-boxed matchers that mute notifications for the alerts
//! they match, with Alertmanager's v2 API semantics.
//!
//! [`Silences`] owns every silence, in memory and in the state topic
//! ([`crate::store::STATE_TOPIC`]) under `silence/<id>` (the value format is
//! described in `silence/stored.rs`). The JSON shapes of the HTTP API
//! live in `silence/api.rs` and are re-exported here; validation of a
//! posted silence lives in `silence/draft.rs`.
//!
//! # Invariants
//! - A change is durable in the state topic before it is visible to
//!   readers or acknowledged to the caller; writers are serialized, so the
//!   in-memory map is always what loading the topic would produce.
//! - A silence's state is a function of its times and the clock: pending
//!   before `starts_at`, expired at or after `ends_at`, active in between.
//! - History is kept: an update that would change what a silence muted in
//!   the past (its matchers, or its start once it has started) expires the
//!   old silence and creates a new one with a new id, as Alertmanager
//!   does. Expired silences are kept for [`SilenceConfig::retention`] after
//!   they end, then deleted by [`Silences::gc`].
//! - Bounded: at most [`SilenceConfig::max_silences`] retained silences
//!   (expired ones count until collected), [`MAX_MATCHERS`] matchers per
//!   silence, and bounded text fields (see `silence/draft.rs`).

mod api;
mod draft;
mod stored;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use tracing::warn;

use crate::clock::SharedClock;
use crate::error::{AlertingError, Result};
use crate::matcher::{Matcher, matches_all};
use crate::model::LabelSet;
use crate::store::KeyedTopic;

pub use api::{GettableSilence, PostableSilence, SilenceCreated, SilenceStatus};
use draft::Draft;
pub use draft::{MAX_COMMENT_BYTES, MAX_CREATED_BY_BYTES, MAX_MATCHER_BYTES, MAX_MATCHERS};

/// Where a silence stands at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    Active,
    Pending,
    Expired,
}

/// One silence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence {
    /// A random UUID (v4), fixed at creation.
    pub id: String,
    /// All must match for the silence to mute an alert.
    pub matchers: Vec<Matcher>,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub created_by: String,
    pub comment: String,
    /// When it was last created, updated or expired.
    pub updated_at_ms: i64,
}

impl Silence {
    pub fn state(&self, now_ms: i64) -> SilenceState {
        if now_ms < self.starts_at_ms {
            SilenceState::Pending
        } else if now_ms >= self.ends_at_ms {
            SilenceState::Expired
        } else {
            SilenceState::Active
        }
    }

    /// Whether the silence mutes an alert with `labels` at `now_ms`.
    pub fn mutes(&self, labels: &LabelSet, now_ms: i64) -> bool {
        self.state(now_ms) == SilenceState::Active && matches_all(&self.matchers, labels)
    }

    /// The silence as `GET /api/v2/silences` shows it at `now_ms`.
    pub fn to_gettable(&self, now_ms: i64) -> GettableSilence {
        GettableSilence::new(self, now_ms)
    }

    /// This silence ended at `now_ms` (a pending one also starts then).
    fn expired_at(&self, now_ms: i64) -> Silence {
        let mut expired = self.clone();
        if self.state(now_ms) == SilenceState::Pending {
            expired.starts_at_ms = now_ms;
        }
        expired.ends_at_ms = now_ms;
        expired.updated_at_ms = now_ms;
        expired
    }
}

/// Limits and retention.
#[derive(Debug, Clone)]
pub struct SilenceConfig {
    /// Retained silences (pending, active, and expired ones not yet
    /// collected) beyond which creating one fails.
    pub max_silences: usize,
    /// How long an expired silence is kept after it ends, so it can be
    /// looked at and recreated.
    pub retention: Duration,
}

impl Default for SilenceConfig {
    fn default() -> SilenceConfig {
        SilenceConfig {
            max_silences: 10_000,
            // Alertmanager's default `--data.retention`.
            retention: Duration::from_secs(120 * 3600),
        }
    }
}

/// Every silence, shared between the API and the notification pipeline.
pub struct Silences {
    topic: KeyedTopic,
    clock: SharedClock,
    config: SilenceConfig,
    silences: RwLock<BTreeMap<String, Silence>>,
    /// Held by every change from validation until it is applied, so changes
    /// are decided and persisted one at a time.
    writes: tokio::sync::Mutex<()>,
}

impl Silences {
    /// Loads every `silence/<id>` from `topic`; values that do not decode
    /// are skipped with a warning.
    pub fn open(topic: KeyedTopic, clock: SharedClock, config: SilenceConfig) -> Result<Silences> {
        let mut silences = BTreeMap::new();
        for (key, value) in topic.load()? {
            if !key.starts_with(stored::KEY_PREFIX) {
                continue;
            }
            match stored::decode(&key, &value) {
                Ok(silence) => {
                    silences.insert(silence.id.clone(), silence);
                }
                Err(error) => warn!(key, %error, "skipping a stored silence that does not decode"),
            }
        }
        Ok(Silences {
            topic,
            clock,
            config,
            silences: RwLock::new(silences),
            writes: tokio::sync::Mutex::new(()),
        })
    }

    /// Creates or updates a silence as `POST /api/v2/silences` does and
    /// returns its id, which is new unless the silence was updated in
    /// place. Resolves once the change is durable.
    pub async fn upsert(&self, postable: PostableSilence) -> Result<String> {
        let _writing = self.writes.lock().await;
        let now = self.clock.now_ms();
        let draft = Draft::parse(&postable, now)?;
        let previous = match &draft.id {
            None => None,
            Some(id) => Some(self.read().get(id).cloned().ok_or_else(|| not_found(id))?),
        };
        if let Some(previous) = &previous {
            if previous.state(now) == SilenceState::Expired {
                return Err(AlertingError::BadRequest(format!(
                    "silence {} is expired and cannot be updated",
                    previous.id
                )));
            }
            if let Some(updated) = draft.update_in_place(previous, now) {
                let id = updated.id.clone();
                self.persist(updated).await?;
                return Ok(id);
            }
        }
        let retained = self.read().len();
        if retained >= self.config.max_silences {
            return Err(AlertingError::BadRequest(format!(
                "too many silences: {retained} are retained and the limit is {} \
                 (expired silences count until they are collected)",
                self.config.max_silences
            )));
        }
        let created = draft.create(uuid::Uuid::new_v4().to_string(), now);
        let id = created.id.clone();
        // The replacement is stored before the old silence is expired, so a
        // crash in between leaves both muting rather than neither.
        self.persist(created).await?;
        if let Some(previous) = previous {
            self.persist(previous.expired_at(now)).await?;
        }
        Ok(id)
    }

    /// Ends a silence now, as `DELETE /api/v2/silence/{id}` does.
    pub async fn expire(&self, id: &str) -> Result<()> {
        let _writing = self.writes.lock().await;
        let now = self.clock.now_ms();
        let silence = self.read().get(id).cloned().ok_or_else(|| not_found(id))?;
        if silence.state(now) == SilenceState::Expired {
            return Err(AlertingError::BadRequest(format!(
                "silence {id} already expired"
            )));
        }
        self.persist(silence.expired_at(now)).await
    }

    /// One silence as the API shows it.
    pub fn get(&self, id: &str) -> Option<GettableSilence> {
        let now = self.clock.now_ms();
        self.read().get(id).map(|s| s.to_gettable(now))
    }

    /// The silences that satisfy `filter` (see `keeps` in `silence/api.rs`:
    /// a filter matcher is met by the same matcher or by an equality matcher
    /// whose value it matches), sorted as Alertmanager lists them: active
    /// ones first by end, then pending by start, then expired by most
    /// recent end.
    pub fn list(&self, filter: &[Matcher]) -> Vec<GettableSilence> {
        let now = self.clock.now_ms();
        let mut listed: Vec<(SilenceState, i64, String, GettableSilence)> = self
            .read()
            .values()
            .filter(|s| api::keeps(s, filter))
            .map(|s| {
                let state = s.state(now);
                let key = match state {
                    SilenceState::Active => s.ends_at_ms,
                    SilenceState::Pending => s.starts_at_ms,
                    SilenceState::Expired => -s.ends_at_ms,
                };
                (state, key, s.id.clone(), s.to_gettable(now))
            })
            .collect();
        listed.sort_by(|a, b| (rank(a.0), a.1, &a.2).cmp(&(rank(b.0), b.1, &b.2)));
        listed.into_iter().map(|(.., g)| g).collect()
    }

    /// The ids of the silences muting an alert with `labels` now, in id
    /// order.
    pub fn mutes(&self, labels: &LabelSet) -> Vec<String> {
        let now = self.clock.now_ms();
        self.read()
            .values()
            .filter(|s| s.mutes(labels, now))
            .map(|s| s.id.clone())
            .collect()
    }

    /// Deletes silences that ended more than the retention ago; returns how
    /// many. Each deletion is durable before the next begins.
    pub async fn gc(&self) -> Result<usize> {
        let _writing = self.writes.lock().await;
        let now = self.clock.now_ms();
        let retention_ms = i64::try_from(self.config.retention.as_millis()).unwrap_or(i64::MAX);
        let old: Vec<String> = self
            .read()
            .values()
            .filter(|s| {
                s.state(now) == SilenceState::Expired
                    && s.ends_at_ms.saturating_add(retention_ms) <= now
            })
            .map(|s| s.id.clone())
            .collect();
        for id in &old {
            self.topic.delete(&stored::key(id)).await?;
            self.write().remove(id);
        }
        Ok(old.len())
    }

    /// Retained silences, in every state.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    async fn persist(&self, silence: Silence) -> Result<()> {
        let value = stored::encode(&silence)?;
        self.topic.put(&stored::key(&silence.id), value).await?;
        self.write().insert(silence.id.clone(), silence);
        Ok(())
    }

    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Silence>> {
        self.silences.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Silence>> {
        self.silences
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn not_found(id: &str) -> AlertingError {
    AlertingError::NotFound {
        what: "silence",
        id: id.to_owned(),
    }
}

/// Alertmanager's listing order of states.
fn rank(state: SilenceState) -> u8 {
    match state {
        SilenceState::Active => 0,
        SilenceState::Pending => 1,
        SilenceState::Expired => 2,
    }
}
