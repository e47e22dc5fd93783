//! The running alert engine: rule groups evaluated on their intervals, the
//! dispatcher, silences, inhibition and the outbox, with their state in
//! the log's compacted topics.
//!
//! # Tasks
//! - One task per rule group ([`rules`]): evaluate every `interval` on a
//!   blocking thread, hand the alerts to send to the dispatcher, persist
//!   the group's alert state when it changed.
//! - The dispatch loop ([`delivery`]): flush due aggregation groups, with
//!   silences and inhibition muting; enqueue each notification in the
//!   outbox and only then commit it; persist the dispatcher's state.
//! - The outbox's delivery loop ([`Outbox::run`]).
//!
//! # State (in [`STATE_TOPIC`])
//! - `rules/<file>/<group>`: the group's [`GroupSnapshot`] (active since,
//!   last sent), restored by rule position and name on start.
//! - `dispatch`: the dispatcher's [`Snapshot`](crate::dispatch::Snapshot).
//! - `silence/<id>` ([`crate::silence`]), `disabled/<integration>`
//!   ([`crate::outbox`]).
//!
//! # Reload
//! [`Engine::reload`] reads every rule file and the routing file; if any
//! has a problem, nothing changes and every problem is returned. Otherwise
//! groups whose (file, name) survive keep their alerts and health
//! ([`RuleGroup::carry_state_from`]), the dispatcher re-routes its alerts
//! and the outbox takes the new receivers.

mod delivery;
mod rules;
mod views;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use bytes::Bytes;
use log_core::Log;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::clock::SharedClock;
use crate::config::{EngineConfig, Routing};
use crate::dispatch::{DispatchConfig, Dispatcher, Snapshot};
use crate::error::{AlertingError, Result};
use crate::inhibit::Inhibitor;
use crate::outbox::{Deliver, HttpDeliver, Outbox};
use crate::query::{RuleQuerier, SampleSink};
use crate::rules::{GroupSnapshot, RuleGroup};
use crate::silence::Silences;
use crate::store::{KeyedTopic, OUTBOX_TOPIC, STATE_TOPIC};

pub use views::NotificationsView;

/// Names of the engine's metrics.
pub mod metric {
    /// Rule group evaluations, by `outcome` (`ok`, or `error` when a rule
    /// of the group failed).
    pub const EVALUATIONS_TOTAL: &str = "weir_alerting_group_evaluations_total";
    /// Time to evaluate one group.
    pub const EVALUATION_DURATION: &str = "weir_alerting_group_evaluation_duration_seconds";
}

/// The state-topic key of the dispatcher's snapshot.
const DISPATCH_KEY: &str = "dispatch";

/// The state-topic key of a rule group's snapshot.
fn group_key(group: &RuleGroup) -> String {
    format!("rules/{}/{}", group.file, group.name)
}

/// What the engine's tasks share.
struct Inner {
    config: EngineConfig,
    clock: SharedClock,
    querier: Arc<dyn RuleQuerier>,
    sink: Option<Arc<dyn SampleSink>>,
    state: KeyedTopic,
    silences: Silences,
    outbox: Arc<Outbox>,
    dispatcher: Mutex<Dispatcher>,
    inhibitor: RwLock<Inhibitor>,
    groups: RwLock<Vec<Arc<Mutex<RuleGroup>>>>,
    /// Woken when alerts reach the dispatcher.
    dispatch_wake: Notify,
    stop: watch::Receiver<bool>,
}

impl Inner {
    fn dispatcher(&self) -> MutexGuard<'_, Dispatcher> {
        self.dispatcher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    async fn put_json(&self, key: &str, value: &impl serde::Serialize) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| AlertingError::Corruption {
            what: key.to_owned(),
            detail: e.to_string(),
        })?;
        self.state.put(key, Bytes::from(bytes)).await
    }
}

/// The running engine.
pub struct Engine {
    inner: Arc<Inner>,
    stop: watch::Sender<bool>,
    group_tasks: Mutex<Vec<JoinHandle<()>>>,
    loops: Mutex<Vec<JoinHandle<()>>>,
    reloading: tokio::sync::Mutex<()>,
}

impl Engine {
    /// Loads the rule files and the routing file (every problem is
    /// returned at once), restores state from `log`, and starts
    /// evaluating and delivering over HTTP.
    pub async fn start(
        log: &Log,
        config: EngineConfig,
        querier: Arc<dyn RuleQuerier>,
        sink: Option<Arc<dyn SampleSink>>,
        clock: SharedClock,
    ) -> Result<Engine> {
        let deliver = Arc::new(HttpDeliver::new(config.outbox.client_timeout()));
        Engine::start_with(log, config, querier, sink, deliver, clock).await
    }

    /// [`Engine::start`] with another way to deliver (tests).
    pub async fn start_with(
        log: &Log,
        config: EngineConfig,
        querier: Arc<dyn RuleQuerier>,
        sink: Option<Arc<dyn SampleSink>>,
        deliver: Arc<dyn Deliver>,
        clock: SharedClock,
    ) -> Result<Engine> {
        let (mut groups, routing) = rules::load_config(&config, querier.as_ref())?;
        let state = KeyedTopic::open(log, STATE_TOPIC)?;
        let outbox_topic = KeyedTopic::open(log, OUTBOX_TOPIC)?;
        let stored = state.load()?;
        for group in &mut groups {
            if let Some(value) = stored.get(&group_key(group)) {
                match serde_json::from_slice::<GroupSnapshot>(value) {
                    Ok(snapshot) => group.restore(snapshot),
                    Err(error) => {
                        warn!(group = group.name, %error, "skipping rule state that does not decode")
                    }
                }
            }
        }
        let snapshot = match stored.get(DISPATCH_KEY) {
            Some(value) => serde_json::from_slice::<Snapshot>(value).unwrap_or_else(|error| {
                warn!(%error, "skipping dispatcher state that does not decode");
                Snapshot::default()
            }),
            None => Snapshot::default(),
        };
        let silences = Silences::open(state.clone(), Arc::clone(&clock), config.silences.clone())?;
        let outbox = Outbox::open(
            outbox_topic,
            state.clone(),
            config.outbox.clone(),
            routing.receivers.clone(),
            deliver,
            Arc::clone(&clock),
        )?;
        let (stop, stop_rx) = watch::channel(false);
        let dispatch_config = dispatch_config(&config, &routing);
        let inner = Arc::new(Inner {
            dispatcher: Mutex::new(Dispatcher::restore(
                routing.route.clone(),
                dispatch_config,
                snapshot,
            )),
            inhibitor: RwLock::new(routing.inhibitor()),
            config,
            clock,
            querier,
            sink,
            state,
            silences,
            outbox: Arc::clone(&outbox),
            groups: RwLock::new(Vec::new()),
            dispatch_wake: Notify::new(),
            stop: stop_rx,
        });
        let engine = Engine {
            inner: Arc::clone(&inner),
            stop,
            group_tasks: Mutex::new(Vec::new()),
            loops: Mutex::new(Vec::new()),
            reloading: tokio::sync::Mutex::new(()),
        };
        engine.start_groups(groups);
        let mut loops = lock(&engine.loops);
        loops.push(tokio::spawn(delivery::run(Arc::clone(&inner))));
        let stopped = stop_signal(inner.stop.clone());
        loops.push(tokio::spawn(outbox.run(stopped)));
        drop(loops);
        info!(
            groups = engine.group_count(),
            silences = inner.silences.len(),
            "alert engine started"
        );
        Ok(engine)
    }

    fn group_count(&self) -> usize {
        self.inner
            .groups
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn start_groups(&self, groups: Vec<RuleGroup>) {
        let groups: Vec<Arc<Mutex<RuleGroup>>> = groups
            .into_iter()
            .map(|g| Arc::new(Mutex::new(g)))
            .collect();
        let mut tasks = lock(&self.group_tasks);
        for task in tasks.drain(..) {
            task.abort();
        }
        for group in &groups {
            tasks.push(tokio::spawn(rules::run(
                Arc::clone(&self.inner),
                Arc::clone(group),
            )));
        }
        *self
            .inner
            .groups
            .write()
            .unwrap_or_else(PoisonError::into_inner) = groups;
    }

    /// Re-reads the rule files and the routing file. On any problem
    /// nothing changes and every problem is returned.
    pub async fn reload(&self) -> Result<()> {
        let _one_at_a_time = self.reloading.lock().await;
        let inner = Arc::clone(&self.inner);
        let loaded = tokio::task::spawn_blocking(move || {
            rules::load_config(&inner.config, inner.querier.as_ref())
        })
        .await
        .map_err(|e| AlertingError::Query(format!("reload task failed: {e}")))?;
        let (mut groups, routing) = loaded?;
        let old = self
            .inner
            .groups
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for group in &mut groups {
            let previous = old.iter().find(|o| lock(o).identity() == group.identity());
            if let Some(previous) = previous {
                group.carry_state_from(&lock(previous));
            }
        }
        let count = groups.len();
        self.start_groups(groups);
        let dispatch_config = dispatch_config(&self.inner.config, &routing);
        self.inner
            .dispatcher()
            .set_route(routing.route.clone(), dispatch_config);
        *self
            .inner
            .inhibitor
            .write()
            .unwrap_or_else(PoisonError::into_inner) = routing.inhibitor();
        self.inner.outbox.set_receivers(routing.receivers.clone());
        self.inner.dispatch_wake.notify_one();
        info!(groups = count, "alerting configuration reloaded");
        Ok(())
    }

    /// Stops every task and persists the rule and dispatcher state.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        for task in lock(&self.group_tasks).drain(..) {
            task.abort();
        }
        let loops: Vec<JoinHandle<()>> = lock(&self.loops).drain(..).collect();
        for task in loops {
            let _ = task.await;
        }
        let groups = self
            .inner
            .groups
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for group in groups {
            let (key, snapshot) = {
                let group = lock(&group);
                (group_key(&group), group.snapshot())
            };
            if let Err(error) = self.inner.put_json(&key, &snapshot).await {
                warn!(%error, key, "rule state not persisted at stop");
            }
        }
        let snapshot = self.inner.dispatcher().snapshot();
        if let Err(error) = self.inner.put_json(DISPATCH_KEY, &snapshot).await {
            warn!(%error, "dispatcher state not persisted at stop");
        }
        info!("alert engine stopped");
    }

    pub fn silences(&self) -> &Silences {
        &self.inner.silences
    }

    pub fn outbox(&self) -> &Outbox {
        &self.inner.outbox
    }
}

fn dispatch_config(config: &EngineConfig, routing: &Routing) -> DispatchConfig {
    DispatchConfig {
        external_url: config.external_url.clone(),
        resend: routing.resend(config.resend_delay),
        without_resolved: routing.without_resolved(),
        ..DispatchConfig::default()
    }
}

/// Locks `mutex`, ignoring poisoning: every holder leaves its data
/// consistent before anything that can panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Resolves once `stop` turns true.
async fn stop_signal(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}
