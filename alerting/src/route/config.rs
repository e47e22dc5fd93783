//! The `route` section of the routing file as written ([`RouteConfig`],
//! Alertmanager's field names) and its validation into a [`Route`].
//!
//! Validation walks the tree once, carrying the inherited receiver,
//! grouping and timers down, and names the field path of the first
//! problem (`route.routes[1].group_interval`). Matchers are sorted (name,
//! operator, value), as Alertmanager does, so a route's key does not
//! depend on the order they are written in.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;

use super::{GROUP_BY_ALL, GroupBy, Route};
use crate::error::{AlertingError, Result};
use crate::matcher::{MatchOp, Matcher};

/// Alertmanager's defaults for the root route.
const DEFAULT_GROUP_WAIT: Duration = Duration::from_secs(30);
const DEFAULT_GROUP_INTERVAL: Duration = Duration::from_secs(5 * 60);
const DEFAULT_REPEAT_INTERVAL: Duration = Duration::from_secs(4 * 3600);

/// One node of the `route` section. Unset fields inherit the parent's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteConfig {
    pub receiver: Option<String>,
    /// Label names; `['...']` groups by every label.
    pub group_by: Option<Vec<String>>,
    /// Matcher strings (`severity="critical"`); one entry may hold several
    /// separated by commas.
    pub matchers: Vec<String>,
    /// Legacy equality matchers.
    #[serde(rename = "match")]
    pub match_eq: BTreeMap<String, String>,
    /// Legacy regex matchers (anchored).
    pub match_re: BTreeMap<String, String>,
    /// Whether matching goes on with later siblings after this route.
    #[serde(rename = "continue")]
    pub continue_matching: bool,
    #[serde(with = "crate::time::prom_duration::option")]
    pub group_wait: Option<Duration>,
    #[serde(with = "crate::time::prom_duration::option")]
    pub group_interval: Option<Duration>,
    #[serde(with = "crate::time::prom_duration::option")]
    pub repeat_interval: Option<Duration>,
    pub routes: Vec<RouteConfig>,
}

/// What a child takes from its parent.
struct Inherited<'a> {
    key: &'a str,
    receiver: &'a str,
    group_by: &'a GroupBy,
    group_wait: Duration,
    group_interval: Duration,
    repeat_interval: Duration,
}

pub(super) fn build_root(config: &RouteConfig, receiver_names: &[String]) -> Result<Route> {
    let path = "route";
    let Some(receiver) = config.receiver.as_deref() else {
        return Err(AlertingError::invalid(
            format!("{path}.receiver"),
            "the root route needs a receiver",
        ));
    };
    if !config.matchers.is_empty() || !config.match_eq.is_empty() || !config.match_re.is_empty() {
        return Err(AlertingError::invalid(
            format!("{path}.matchers"),
            "the root route must match every alert and cannot have matchers",
        ));
    }
    if config.continue_matching {
        return Err(AlertingError::invalid(
            format!("{path}.continue"),
            "the root route cannot have continue",
        ));
    }
    let defaults = Inherited {
        key: "",
        receiver,
        group_by: &GroupBy::Labels(Vec::new()),
        group_wait: DEFAULT_GROUP_WAIT,
        group_interval: DEFAULT_GROUP_INTERVAL,
        repeat_interval: DEFAULT_REPEAT_INTERVAL,
    };
    let route = build_node(config, path, None, &defaults, receiver_names)?;
    let mut ids = BTreeSet::new();
    for node in route.descendants() {
        if !ids.insert(node.id.as_str()) {
            return Err(AlertingError::invalid(
                path,
                format!(
                    "two routes share the id {}; give nested routes under identical siblings distinct matchers",
                    node.id
                ),
            ));
        }
    }
    Ok(route)
}

/// Builds the node at `path`; `index` is its position among its siblings
/// (`None` for the root).
fn build_node(
    config: &RouteConfig,
    path: &str,
    index: Option<usize>,
    parent: &Inherited<'_>,
    receiver_names: &[String],
) -> Result<Route> {
    let receiver = config.receiver.as_deref().unwrap_or(parent.receiver);
    if !receiver_names.iter().any(|name| name == receiver) {
        return Err(AlertingError::invalid(
            format!("{path}.receiver"),
            format!("no receiver named {receiver:?}"),
        ));
    }
    let group_by = match &config.group_by {
        Some(names) => group_by(names, path)?,
        None => parent.group_by.clone(),
    };
    let group_wait = config.group_wait.unwrap_or(parent.group_wait);
    let group_interval = config.group_interval.unwrap_or(parent.group_interval);
    let repeat_interval = config.repeat_interval.unwrap_or(parent.repeat_interval);
    for (field, value) in [
        ("group_interval", group_interval),
        ("repeat_interval", repeat_interval),
    ] {
        if value.is_zero() {
            return Err(AlertingError::invalid(
                format!("{path}.{field}"),
                "must be greater than zero",
            ));
        }
    }
    let matchers = matchers(config, path)?;
    let rendered: Vec<String> = matchers.iter().map(Matcher::to_string).collect();
    let own = format!("{{{}}}", rendered.join(","));
    let (key, id) = match index {
        None => (own.clone(), own),
        Some(i) => {
            let key = format!("{}/{own}", parent.key);
            let id = format!("{key}/{i}");
            (key, id)
        }
    };
    let inherited = Inherited {
        key: &key,
        receiver,
        group_by: &group_by,
        group_wait,
        group_interval,
        repeat_interval,
    };
    let routes = config
        .routes
        .iter()
        .enumerate()
        .map(|(i, child)| {
            build_node(
                child,
                &format!("{path}.routes[{i}]"),
                Some(i),
                &inherited,
                receiver_names,
            )
        })
        .collect::<Result<Vec<Route>>>()?;
    Ok(Route {
        receiver: receiver.to_owned(),
        key,
        id,
        matchers,
        group_by,
        group_wait,
        group_interval,
        repeat_interval,
        continue_matching: config.continue_matching,
        routes,
    })
}

fn group_by(names: &[String], path: &str) -> Result<GroupBy> {
    if names.iter().any(|n| n == GROUP_BY_ALL) {
        if names.len() > 1 {
            return Err(AlertingError::invalid(
                format!("{path}.group_by"),
                "'...' groups by every label and cannot be combined with other labels",
            ));
        }
        return Ok(GroupBy::All);
    }
    let mut seen = BTreeSet::new();
    for (i, name) in names.iter().enumerate() {
        let valid = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !valid {
            return Err(AlertingError::invalid(
                format!("{path}.group_by[{i}]"),
                format!("{name:?} is not a label name"),
            ));
        }
        if !seen.insert(name.as_str()) {
            return Err(AlertingError::invalid(
                format!("{path}.group_by[{i}]"),
                format!("{name:?} is listed twice"),
            ));
        }
    }
    Ok(GroupBy::Labels(names.to_vec()))
}

/// The `matchers` list and the legacy maps, ANDed and sorted.
fn matchers(config: &RouteConfig, path: &str) -> Result<Vec<Matcher>> {
    let invalid = |field: String, e: AlertingError| {
        let message = match e {
            AlertingError::BadRequest(message) => message,
            other => other.to_string(),
        };
        AlertingError::invalid(format!("{path}.{field}"), message)
    };
    let mut matchers = Vec::new();
    for (i, text) in config.matchers.iter().enumerate() {
        let parsed = Matcher::parse_list(text).map_err(|e| invalid(format!("matchers[{i}]"), e))?;
        matchers.extend(parsed);
    }
    for (op, field, map) in [
        (MatchOp::Eq, "match", &config.match_eq),
        (MatchOp::Re, "match_re", &config.match_re),
    ] {
        for (name, value) in map {
            let matcher = Matcher::new(name.clone(), op, value.clone())
                .map_err(|e| invalid(format!("{field}.{name}"), e))?;
            matchers.push(matcher);
        }
    }
    matchers.sort_by(|a, b| {
        (a.name.as_str(), a.op.as_str(), a.value.as_str()).cmp(&(
            b.name.as_str(),
            b.op.as_str(),
            b.value.as_str(),
        ))
    });
    matchers.dedup();
    Ok(matchers)
}
