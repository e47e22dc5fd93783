//! The routing tree: which receivers an alert goes to and how it is grouped,
//! with Alertmanager's semantics.
//!
//! A [`Route`] is built once from the routing file's `route` section
//! ([`RouteConfig`], see [`config`]) and is immutable afterwards.
//!
//! # Invariants
//! - Every route has a receiver, a grouping and three timers: children
//!   inherit what they do not set from their parent; the root sets them or
//!   takes the defaults (30s, 5m, 4h).
//! - `group_interval` and `repeat_interval` are positive, and every
//!   receiver named exists.
//! - The root has no matchers, so every alert matches at least the root and
//!   [`Route::matching`] never returns an empty list.
//! - A route's key is its parent's key, `/` and its own matchers
//!   (`{}/{severity="critical"}`); its id is its key, `/` and its index among
//!   its siblings (the root's id is its key). Ids are unique in a tree and
//!   identify aggregation groups, so they must stay stable across reloads of
//!   an unchanged file.

mod config;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use config::RouteConfig;

use crate::error::Result;
use crate::matcher::{Matcher, matches_all};
use crate::model::LabelSet;

/// The `group_by` entry meaning "every label".
pub const GROUP_BY_ALL: &str = "...";

/// How a route groups the alerts it receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    /// One group per distinct label set (`group_by: ['...']`).
    All,
    /// One group per distinct value of these labels; an empty list puts
    /// every alert of the route in one group.
    Labels(Vec<String>),
}

/// One validated node of the routing tree.
#[derive(Debug, Clone)]
pub struct Route {
    key: String,
    id: String,
    receiver: String,
    matchers: Vec<Matcher>,
    group_by: GroupBy,
    group_wait: Duration,
    group_interval: Duration,
    repeat_interval: Duration,
    continue_matching: bool,
    routes: Vec<Route>,
}

impl Route {
    /// Validates the root `config`; errors name the field path under
    /// `route` (`route.routes[0].routes[2].receiver`).
    pub fn build(config: &RouteConfig, receiver_names: &[String]) -> Result<Route> {
        config::build_root(config, receiver_names)
    }

    /// The routes an alert with `labels` is dispatched to: depth first, the
    /// deepest matching routes; a route none of whose children match is
    /// itself the result, and a matching child without `continue` ends the
    /// search among its later siblings.
    pub fn matching(&self, labels: &LabelSet) -> Vec<&Route> {
        let mut found = Vec::new();
        if !self.collect(labels, &mut found) {
            // The root has no matchers, so this only happens on a subtree.
            found.clear();
        }
        found
    }

    /// Whether this route matches; if it does, its results are appended.
    fn collect<'a>(&'a self, labels: &LabelSet, found: &mut Vec<&'a Route>) -> bool {
        if !matches_all(&self.matchers, labels) {
            return false;
        }
        let mut any_child = false;
        for child in &self.routes {
            if child.collect(labels, found) {
                any_child = true;
                if !child.continue_matching {
                    break;
                }
            }
        }
        if !any_child {
            found.push(self);
        }
        true
    }

    pub fn receiver(&self) -> &str {
        &self.receiver
    }

    /// The route's path of matchers (`{}/{team="db"}`), as Alertmanager
    /// prefixes its group keys.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The key and the index among siblings: unique within the tree.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn matchers(&self) -> &[Matcher] {
        &self.matchers
    }

    pub fn group_by(&self) -> &GroupBy {
        &self.group_by
    }

    pub fn group_wait(&self) -> Duration {
        self.group_wait
    }

    pub fn group_interval(&self) -> Duration {
        self.group_interval
    }

    pub fn repeat_interval(&self) -> Duration {
        self.repeat_interval
    }

    /// Whether matching goes on with later siblings after this route.
    pub fn continue_matching(&self) -> bool {
        self.continue_matching
    }

    /// The child routes, in the order written.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The group labels of an alert with `labels` on this route: the values
    /// of the `group_by` labels it has (all its labels for `...`).
    pub fn group_labels(&self, labels: &LabelSet) -> LabelSet {
        match &self.group_by {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => names
                .iter()
                .filter_map(|name| labels.get(name).map(|v| (name.clone(), v.clone())))
                .collect(),
        }
    }

    /// This route and every route below it, level by level.
    pub fn descendants(&self) -> Vec<&Route> {
        let mut all = vec![self];
        let mut at = 0;
        while at < all.len() {
            let route = all[at];
            all.extend(route.routes.iter());
            at += 1;
        }
        all
    }

    /// The route with this id, if the tree has one.
    pub fn find(&self, id: &str) -> Option<&Route> {
        if self.id == id {
            return Some(self);
        }
        self.routes.iter().find_map(|child| child.find(id))
    }
}
