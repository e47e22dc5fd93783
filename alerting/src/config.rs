//! The engine's settings and the routing file.
//!
//! The routing file is Alertmanager's configuration, restricted to what
//! Weir implements, read with `deny_unknown_fields`:
//!
//! ```yaml
//! route: {receiver, group_by, group_wait, group_interval, repeat_interval,
//!         matchers, continue, routes: [...]}
//! receivers: [{name, webhook_configs, alertmanager_configs,
//!              pagerduty_configs, slack_configs}]
//! inhibit_rules: [{source_matchers, target_matchers, equal}]
//! ```
//!
//! Errors name the file and the field path
//! (`routing.yml: receivers[1].webhook_configs[0].url: not an absolute URL`).
//! Without a routing file every alert goes to the receiver [`NULL_RECEIVER`],
//! which has no integrations: alerts are evaluated, listed and silenced,
//! and notify nobody.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{AlertingError, Result};
use crate::inhibit::{InhibitRule, InhibitRuleConfig, Inhibitor};
use crate::model::LabelSet;
use crate::notify::ReceiverConfig;
use crate::outbox::OutboxConfig;
use crate::route::{Route, RouteConfig};
use crate::silence::SilenceConfig;

/// The receiver of a configuration without a routing file.
pub const NULL_RECEIVER: &str = "null";

/// Largest routing file; Alertmanager configurations of large
/// organisations are tens of kilobytes.
pub const MAX_ROUTING_FILE_BYTES: u64 = 4 << 20;

/// Paths one `rule_files` glob may expand to.
pub const MAX_RULE_FILES: usize = 10_000;

/// The engine's settings, validated by the binary's configuration.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Prometheus rule files (globs allowed); groups default to PromQL.
    pub rule_files: Vec<String>,
    /// Loki ruler files (globs allowed); groups default to LogQL.
    pub log_rule_files: Vec<String>,
    /// The Alertmanager-style routing file.
    pub routing_file: Option<PathBuf>,
    /// A group's interval when it sets none.
    pub evaluation_interval: Duration,
    /// How often firing alerts are re-sent (Prometheus' resend delay),
    /// which is also how often Alertmanager receivers hear of them.
    pub resend_delay: Duration,
    /// Weir's base URL for links in notifications.
    pub external_url: String,
    /// Labels added to every alert and recorded series.
    pub external_labels: LabelSet,
    pub outbox: OutboxConfig,
    pub silences: SilenceConfig,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            rule_files: Vec::new(),
            log_rule_files: Vec::new(),
            routing_file: None,
            evaluation_interval: Duration::from_secs(60),
            resend_delay: Duration::from_secs(60),
            external_url: "http://localhost:7070".to_owned(),
            external_labels: LabelSet::new(),
            outbox: OutboxConfig::default(),
            silences: SilenceConfig::default(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutingFile {
    route: RouteConfig,
    #[serde(default)]
    receivers: Vec<ReceiverConfig>,
    #[serde(default)]
    inhibit_rules: Vec<InhibitRuleConfig>,
}

/// A validated routing file.
#[derive(Debug, Clone)]
pub struct Routing {
    pub route: Route,
    pub receivers: Vec<ReceiverConfig>,
    pub inhibit_rules: Vec<InhibitRule>,
}

impl Routing {
    /// Everything to [`NULL_RECEIVER`].
    pub fn none() -> Routing {
        let receiver = ReceiverConfig {
            name: NULL_RECEIVER.to_owned(),
            webhook_configs: Vec::new(),
            alertmanager_configs: Vec::new(),
            pagerduty_configs: Vec::new(),
            slack_configs: Vec::new(),
        };
        let config = RouteConfig {
            receiver: Some(NULL_RECEIVER.to_owned()),
            ..RouteConfig::default()
        };
        let route =
            Route::build(&config, &[NULL_RECEIVER.to_owned()]).expect("the null route is valid");
        Routing {
            route,
            receivers: vec![receiver],
            inhibit_rules: Vec::new(),
        }
    }

    /// Reads and validates the routing file at `path`.
    pub fn load(path: &Path) -> Result<Routing> {
        let text = read_bounded(path, MAX_ROUTING_FILE_BYTES)?;
        Routing::parse(&path.display().to_string(), &text)
    }

    /// Validates routing-file `text`; errors are prefixed with `name`.
    pub fn parse(name: &str, text: &str) -> Result<Routing> {
        let in_file = |e: AlertingError| match e {
            AlertingError::Invalid { location, message } => {
                AlertingError::invalid(format!("{name}: {location}"), message)
            }
            other => other,
        };
        let file: RoutingFile = serde_yaml_ng::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!("{name}:{}:{}", l.line(), l.column()))
                .unwrap_or_else(|| name.to_owned());
            AlertingError::invalid(at, e.to_string())
        })?;
        let mut names = BTreeSet::new();
        for (i, receiver) in file.receivers.iter().enumerate() {
            let path = format!("receivers[{i}]");
            receiver.validate(&path).map_err(in_file)?;
            if !names.insert(receiver.name.clone()) {
                return Err(in_file(AlertingError::invalid(
                    format!("{path}.name"),
                    format!("receiver {:?} is defined twice", receiver.name),
                )));
            }
        }
        let names: Vec<String> = names.into_iter().collect();
        let route = Route::build(&file.route, &names).map_err(in_file)?;
        let inhibit_rules = InhibitRule::build_all(&file.inhibit_rules).map_err(in_file)?;
        Ok(Routing {
            route,
            receivers: file.receivers,
            inhibit_rules,
        })
    }

    pub fn inhibitor(&self) -> Inhibitor {
        Inhibitor::new(self.inhibit_rules.clone())
    }

    /// Receivers with an Alertmanager integration, which must hear about
    /// firing alerts every `resend_delay` so the Alertmanager does not
    /// resolve them on its own.
    pub fn resend(&self, resend_delay: Duration) -> BTreeMap<String, Duration> {
        self.receivers
            .iter()
            .filter(|r| !r.alertmanager_configs.is_empty())
            .map(|r| (r.name.clone(), resend_delay))
            .collect()
    }

    /// Receivers none of whose integrations sends resolutions.
    pub fn without_resolved(&self) -> BTreeSet<String> {
        self.receivers
            .iter()
            .filter(|r| !r.integrations().iter().any(|i| i.send_resolved()))
            .map(|r| r.name.clone())
            .collect()
    }
}

/// Reads at most `limit` bytes of `path`; a longer file is an error.
pub fn read_bounded(path: &Path, limit: u64) -> Result<String> {
    let io = |source| AlertingError::Io {
        context: format!("read {}", path.display()),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    file.take(limit + 1).read_to_string(&mut text).map_err(io)?;
    if text.len() as u64 > limit {
        return Err(AlertingError::invalid(
            path.display().to_string(),
            format!("larger than {limit} bytes"),
        ));
    }
    Ok(text)
}

/// Expands `patterns` (paths or globs) into files, sorted per pattern. A
/// plain path must exist; a glob may match nothing.
pub fn expand_paths(patterns: &[String], field: &str) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for (i, pattern) in patterns.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let is_glob = pattern.contains(['*', '?', '[']);
        if !is_glob {
            let path = PathBuf::from(pattern);
            if !path.is_file() {
                return Err(AlertingError::invalid(
                    at,
                    format!("{pattern}: no such file"),
                ));
            }
            paths.push(path);
            continue;
        }
        let found = glob::glob(pattern).map_err(|e| AlertingError::invalid(&at, e.to_string()))?;
        let mut matched: Vec<PathBuf> = found
            .filter_map(|entry| entry.ok())
            .filter(|p| p.is_file())
            .collect();
        matched.sort();
        paths.extend(matched);
        if paths.len() > MAX_RULE_FILES {
            return Err(AlertingError::invalid(
                at,
                format!("matches more than {MAX_RULE_FILES} files"),
            ));
        }
    }
    Ok(paths)
}
