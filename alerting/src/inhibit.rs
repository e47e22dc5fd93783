//! Inhibition: a firing alert (the source) mutes other alerts (the
//! targets) while it fires, as Alertmanager's `inhibit_rules` do.
//!
//! A target is muted when some rule's target matchers match it and some
//! alert firing at that instant matches the rule's source matchers and has
//! the same value for every `equal` label (a label missing on both sides
//! counts as equal; missing and empty are the same, as in Alertmanager).
//! When the target matches the rule's source matchers too, sources that
//! also match the target matchers do not count, so alerts that match both
//! sides of a rule neither inhibit themselves nor each other.
//!
//! Rules are built once from the routing file ([`InhibitRuleConfig`], with
//! errors naming the field path); each evaluation builds an
//! [`InhibitIndex`] of the firing sources, so a target is checked in one
//! hash lookup per rule rather than a scan of every alert.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::error::{AlertingError, Result};
use crate::matcher::{MatchOp, Matcher, matches_all};
use crate::model::{Alert, LabelSet};

/// One entry of `inhibit_rules` in the routing file, with Alertmanager's
/// field names. The legacy `*_match` (equality) and `*_match_re` (anchored
/// regex) maps are ANDed with the `*_matchers` lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InhibitRuleConfig {
    /// Matcher strings (`severity="critical"`); one entry may hold several
    /// separated by commas, as in Alertmanager.
    pub source_matchers: Vec<String>,
    pub target_matchers: Vec<String>,
    /// Labels that must have the same value on source and target.
    pub equal: Vec<String>,
    pub source_match: BTreeMap<String, String>,
    pub source_match_re: BTreeMap<String, String>,
    pub target_match: BTreeMap<String, String>,
    pub target_match_re: BTreeMap<String, String>,
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InhibitRule {
    pub source: Vec<Matcher>,
    pub target: Vec<Matcher>,
    /// Deduplicated, in the order written.
    pub equal: Vec<String>,
}

impl InhibitRule {
    /// Validates `config`; errors name the field under `path` (for
    /// example `inhibit_rules[1].source_matchers[0]`).
    pub fn build(config: &InhibitRuleConfig, path: &str) -> Result<InhibitRule> {
        let source = side(
            path,
            "source",
            &config.source_matchers,
            &config.source_match,
            &config.source_match_re,
        )?;
        let target = side(
            path,
            "target",
            &config.target_matchers,
            &config.target_match,
            &config.target_match_re,
        )?;
        let mut equal: Vec<String> = Vec::with_capacity(config.equal.len());
        for (i, name) in config.equal.iter().enumerate() {
            if name.is_empty() {
                return Err(AlertingError::invalid(
                    format!("{path}.equal[{i}]"),
                    "a label name must not be empty",
                ));
            }
            if !equal.contains(name) {
                equal.push(name.clone());
            }
        }
        Ok(InhibitRule {
            source,
            target,
            equal,
        })
    }

    /// Builds every rule of an `inhibit_rules` list.
    pub fn build_all(configs: &[InhibitRuleConfig]) -> Result<Vec<InhibitRule>> {
        configs
            .iter()
            .enumerate()
            .map(|(i, c)| InhibitRule::build(c, &format!("inhibit_rules[{i}]")))
            .collect()
    }

    /// The values of the `equal` labels, missing ones as empty.
    fn equal_values<'a>(&self, labels: &'a LabelSet) -> Vec<&'a str> {
        self.equal
            .iter()
            .map(|name| labels.get(name).map_or("", String::as_str))
            .collect()
    }
}

/// One side's matchers from the list and the two legacy maps.
fn side(
    path: &str,
    side: &str,
    list: &[String],
    equal: &BTreeMap<String, String>,
    regex: &BTreeMap<String, String>,
) -> Result<Vec<Matcher>> {
    let invalid = |field: String, e: AlertingError| {
        let message = match e {
            AlertingError::BadRequest(message) => message,
            other => other.to_string(),
        };
        AlertingError::invalid(format!("{path}.{field}"), message)
    };
    let mut matchers = Vec::new();
    for (i, text) in list.iter().enumerate() {
        let parsed =
            Matcher::parse_list(text).map_err(|e| invalid(format!("{side}_matchers[{i}]"), e))?;
        matchers.extend(parsed);
    }
    for (op, field, map) in [
        (MatchOp::Eq, "match", equal),
        (MatchOp::Re, "match_re", regex),
    ] {
        for (name, value) in map {
            let matcher = Matcher::new(name.clone(), op, value.clone())
                .map_err(|e| invalid(format!("{side}_{field}.{name}"), e))?;
            matchers.push(matcher);
        }
    }
    Ok(matchers)
}

/// The configured rules.
#[derive(Debug, Clone, Default)]
pub struct Inhibitor {
    rules: Vec<InhibitRule>,
}

impl Inhibitor {
    pub fn new(rules: Vec<InhibitRule>) -> Inhibitor {
        Inhibitor { rules }
    }

    pub fn rules(&self) -> &[InhibitRule] {
        &self.rules
    }

    /// Indexes the alerts of `firing` that fire at `now_ms` by rule and by
    /// their `equal` values; build it once per evaluation and ask it about
    /// every target.
    pub fn index<'a>(&'a self, firing: &'a [Alert], now_ms: i64) -> InhibitIndex<'a> {
        let rules = self
            .rules
            .iter()
            .map(|rule| {
                let mut sources: HashMap<Vec<&'a str>, Sources> = HashMap::new();
                for alert in firing {
                    if alert.is_resolved_at(now_ms) || !matches_all(&rule.source, &alert.labels) {
                        continue;
                    }
                    let entry = sources.entry(rule.equal_values(&alert.labels)).or_default();
                    let fp = alert.fingerprint();
                    entry.any.get_or_insert(fp);
                    if !matches_all(&rule.target, &alert.labels) {
                        entry.not_target.get_or_insert(fp);
                    }
                }
                RuleIndex { rule, sources }
            })
            .collect();
        InhibitIndex { rules }
    }

    /// Whether `target` is inhibited by an alert of `firing` at `now_ms`.
    /// For many targets, build an [`index`](Self::index) once instead.
    pub fn mutes(&self, firing: &[Alert], target: &LabelSet, now_ms: i64) -> bool {
        self.index(firing, now_ms).mutes(target)
    }
}

/// Firing sources of every rule, grouped by their `equal` values.
pub struct InhibitIndex<'a> {
    rules: Vec<RuleIndex<'a>>,
}

struct RuleIndex<'a> {
    rule: &'a InhibitRule,
    sources: HashMap<Vec<&'a str>, Sources>,
}

/// Fingerprints of a source with given `equal` values: any one, and one
/// that does not match the rule's target side.
#[derive(Default)]
struct Sources {
    any: Option<u64>,
    not_target: Option<u64>,
}

impl InhibitIndex<'_> {
    pub fn mutes(&self, target: &LabelSet) -> bool {
        self.inhibited_by(target).is_some()
    }

    /// The fingerprint ([`Alert::fingerprint`]) of an alert that inhibits
    /// `target`, if one does (Alertmanager's `inhibitedBy`).
    pub fn inhibited_by(&self, target: &LabelSet) -> Option<u64> {
        self.rules.iter().find_map(|r| {
            if !matches_all(&r.rule.target, target) {
                return None;
            }
            let sources = r.sources.get(&r.rule.equal_values(target))?;
            if matches_all(&r.rule.source, target) {
                sources.not_target
            } else {
                sources.any
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn alert(pairs: &[(&str, &str)], ends_at_ms: i64) -> Alert {
        Alert {
            labels: labels(pairs),
            annotations: LabelSet::new(),
            starts_at_ms: 0,
            ends_at_ms,
            generator_url: String::new(),
        }
    }

    fn inhibitor(yaml: &str) -> Inhibitor {
        let configs: Vec<InhibitRuleConfig> = serde_yaml_ng::from_str(yaml).unwrap();
        Inhibitor::new(InhibitRule::build_all(&configs).unwrap())
    }

    fn build_error(yaml: &str) -> String {
        let configs: Vec<InhibitRuleConfig> = serde_yaml_ng::from_str(yaml).unwrap();
        InhibitRule::build_all(&configs).unwrap_err().to_string()
    }

    const CRITICAL_OVER_WARNING: &str = r#"
- source_matchers: ['severity="critical"']
  target_matchers: ['severity="warning"']
  equal: [cluster]
"#;

    #[test]
    fn critical_inhibits_warning_in_the_same_cluster() {
        let inhibitor = inhibitor(CRITICAL_OVER_WARNING);
        let source = alert(
            &[
                ("alertname", "Down"),
                ("severity", "critical"),
                ("cluster", "a"),
            ],
            NOW + 1,
        );
        let firing = [source.clone()];
        let index = inhibitor.index(&firing, NOW);
        let warning = |cluster: Option<&str>| {
            let mut l = labels(&[("alertname", "Slow"), ("severity", "warning")]);
            if let Some(c) = cluster {
                l.insert("cluster".into(), c.into());
            }
            l
        };
        assert_eq!(
            index.inhibited_by(&warning(Some("a"))),
            Some(source.fingerprint())
        );
        assert!(!index.mutes(&warning(Some("b"))), "another cluster");
        assert!(
            !index.mutes(&warning(None)),
            "cluster missing on one side only"
        );
        let critical = labels(&[("severity", "critical"), ("cluster", "a")]);
        assert!(
            !index.mutes(&critical),
            "targets must match the target side"
        );

        let unclustered = [alert(&[("severity", "critical")], NOW + 1)];
        assert!(
            inhibitor.mutes(&unclustered, &warning(None), NOW),
            "missing on both"
        );
        assert!(!inhibitor.mutes(&unclustered, &warning(Some("a")), NOW));
    }

    #[test]
    fn resolved_sources_do_not_inhibit() {
        let inhibitor = inhibitor(CRITICAL_OVER_WARNING);
        let firing = [alert(&[("severity", "critical"), ("cluster", "a")], NOW)];
        let target = labels(&[("severity", "warning"), ("cluster", "a")]);
        assert!(!inhibitor.mutes(&firing, &target, NOW), "ended at now");
        assert!(inhibitor.mutes(&firing, &target, NOW - 1));
    }

    #[test]
    fn alerts_matching_both_sides_do_not_inhibit_themselves_or_each_other() {
        let inhibitor = inhibitor(
            r#"
- source_matchers: ['alertname="Flap"']
  target_matchers: ['alertname="Flap"']
  equal: [cluster]
"#,
        );
        let a = alert(
            &[("alertname", "Flap"), ("cluster", "a"), ("host", "1")],
            NOW + 1,
        );
        let b = alert(
            &[("alertname", "Flap"), ("cluster", "a"), ("host", "2")],
            NOW + 1,
        );
        let firing = [a.clone(), b.clone()];
        let index = inhibitor.index(&firing, NOW);
        assert!(!index.mutes(&a.labels));
        assert!(!index.mutes(&b.labels));
    }

    #[test]
    fn two_sided_exclusion_applies_only_when_the_target_matches_the_source_side() {
        let inhibitor = inhibitor(
            r#"
- source_matchers: ['severity="critical"']
  target_matchers: ['team="db"']
"#,
        );
        let db_critical = alert(&[("team", "db"), ("severity", "critical")], NOW + 1);
        let firing = [db_critical.clone()];
        let index = inhibitor.index(&firing, NOW);
        let db_warning = labels(&[("team", "db"), ("severity", "warning")]);
        assert_eq!(
            index.inhibited_by(&db_warning),
            Some(db_critical.fingerprint())
        );
        assert!(!index.mutes(&db_critical.labels));
        let web_critical = alert(&[("team", "web"), ("severity", "critical")], NOW + 1);
        let firing = [db_critical.clone(), web_critical.clone()];
        let index = inhibitor.index(&firing, NOW);
        assert_eq!(
            index.inhibited_by(&db_critical.labels),
            Some(web_critical.fingerprint()),
            "a source outside the target side still counts"
        );
    }

    #[test]
    fn legacy_match_maps_are_anded_with_matchers() {
        let inhibitor = inhibitor(
            r#"
- source_match: {severity: critical}
  source_matchers: ['alertname=~"Node.*"']
  target_match_re: {severity: "warn|info"}
  target_match: {team: db}
"#,
        );
        let firing = [alert(
            &[("alertname", "NodeDown"), ("severity", "critical")],
            NOW + 1,
        )];
        let index = inhibitor.index(&firing, NOW);
        assert!(index.mutes(&labels(&[("severity", "info"), ("team", "db")])));
        assert!(
            !index.mutes(&labels(&[("severity", "infos"), ("team", "db")])),
            "anchored"
        );
        assert!(!index.mutes(&labels(&[("severity", "warn"), ("team", "web")])));
        let other = [alert(
            &[("alertname", "DiskFull"), ("severity", "critical")],
            NOW + 1,
        )];
        assert!(!inhibitor.mutes(
            &other,
            &labels(&[("severity", "warn"), ("team", "db")]),
            NOW
        ));
    }

    #[test]
    fn config_errors_name_the_field() {
        let e = build_error(
            r#"
- source_matchers: ['a="1"']
- source_matchers: ['severity']
"#,
        );
        assert!(
            e.starts_with("inhibit_rules[1].source_matchers[0]: "),
            "{e}"
        );
        assert!(e.contains("expected an operator"), "{e}");
        let e = build_error("- target_match_re: {team: '('}\n");
        assert!(
            e.starts_with("inhibit_rules[0].target_match_re.team: "),
            "{e}"
        );
        let e = build_error("- equal: [cluster, '']\n");
        assert!(e.starts_with("inhibit_rules[0].equal[1]: "), "{e}");
        let e = serde_yaml_ng::from_str::<Vec<InhibitRuleConfig>>("- source_matcher: []\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `source_matcher`"), "{e}");
    }

    #[test]
    fn one_index_serves_thousands_of_targets() {
        let inhibitor = inhibitor(CRITICAL_OVER_WARNING);
        let firing: Vec<Alert> = (0..2000)
            .map(|i| {
                let cluster = format!("c{i}");
                let severity = if i % 2 == 0 { "critical" } else { "warning" };
                alert(&[("severity", severity), ("cluster", &cluster)], NOW + 1)
            })
            .collect();
        let index = inhibitor.index(&firing, NOW);
        let muted = (0..2000)
            .filter(|i| {
                let cluster = format!("c{}", i / 2 * 2);
                index.mutes(&labels(&[("severity", "warning"), ("cluster", &cluster)]))
            })
            .count();
        assert_eq!(muted, 2000);
        let muted = firing.iter().filter(|a| index.mutes(&a.labels)).count();
        assert_eq!(muted, 0, "each warning's cluster has no critical");
    }
}
