//! Route tree scenarios: matching order, `continue`, legacy matchers,
//! inheritance, keys and ids, and configuration errors with their paths.

use std::time::Duration;

use super::*;

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn receivers() -> Vec<String> {
    ["default", "db", "web", "pager", "audit"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn build(yaml: &str) -> Result<Route> {
    let config: RouteConfig = serde_yaml_ng::from_str(yaml)
        .map_err(|e| crate::error::AlertingError::invalid("route", e.to_string()))?;
    Route::build(&config, &receivers())
}

fn ids<'a>(routes: &[&'a Route]) -> Vec<&'a str> {
    routes.iter().map(|r| r.id()).collect()
}

const TREE: &str = r#"
receiver: default
group_by: [alertname]
routes:
  - matchers: ['team="db"']
    receiver: db
    group_wait: 10s
    routes:
      - matchers: ['severity="critical"']
        receiver: pager
        group_by: [alertname, instance]
  - matchers: ['team=~"web|frontend"']
    receiver: web
    continue: true
  - match_re: {team: "web.*"}
    receiver: audit
  - match: {team: db}
    receiver: audit
"#;

#[test]
fn nested_routes_pick_the_deepest_match() {
    let root = build(TREE).unwrap();
    let found = root.matching(&labels(&[("team", "db"), ("severity", "critical")]));
    assert_eq!(ids(&found), ["{}/{team=\"db\"}/{severity=\"critical\"}/0"]);
    assert_eq!(found[0].receiver(), "pager");

    // No child of the db route matches: the db route itself.
    let found = root.matching(&labels(&[("team", "db"), ("severity", "info")]));
    assert_eq!(ids(&found), ["{}/{team=\"db\"}/0"]);

    // Nothing below the root matches: the root.
    let found = root.matching(&labels(&[("team", "ops")]));
    assert_eq!(ids(&found), ["{}"]);
    assert_eq!(found[0].receiver(), "default");
}

#[test]
fn a_match_without_continue_stops_at_its_siblings() {
    let root = build(TREE).unwrap();
    // The fourth route (`match: team=db`) would match too, but the first
    // matched without continue.
    let found = root.matching(&labels(&[("team", "db")]));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].receiver(), "db");
}

#[test]
fn continue_goes_on_with_later_siblings() {
    let root = build(TREE).unwrap();
    let found = root.matching(&labels(&[("team", "web")]));
    let receivers: Vec<&str> = found.iter().map(|r| r.receiver()).collect();
    assert_eq!(receivers, ["web", "audit"]);
    // The legacy regex is anchored: "frontend" does not match `web.*`.
    let found = root.matching(&labels(&[("team", "frontend")]));
    let receivers: Vec<&str> = found.iter().map(|r| r.receiver()).collect();
    assert_eq!(receivers, ["web"]);
    assert_eq!(found[0].id(), "{}/{team=~\"web|frontend\"}/1");
    let found = root.matching(&labels(&[("team", "xweb")]));
    assert_eq!(ids(&found), ["{}"]);
}

#[test]
fn legacy_maps_render_like_matchers() {
    let root = build(TREE).unwrap();
    assert_eq!(root.routes()[2].key(), "{}/{team=~\"web.*\"}");
    assert_eq!(root.routes()[3].key(), "{}/{team=\"db\"}");
    assert_eq!(root.routes()[3].id(), "{}/{team=\"db\"}/3");
}

#[test]
fn children_inherit_receiver_grouping_and_timers() {
    let root = build(TREE).unwrap();
    assert_eq!(root.key(), "{}");
    assert_eq!(root.id(), "{}");
    assert_eq!(root.group_wait(), Duration::from_secs(30));
    assert_eq!(root.group_interval(), Duration::from_secs(300));
    assert_eq!(root.repeat_interval(), Duration::from_secs(4 * 3600));

    let db = &root.routes()[0];
    assert_eq!(db.group_wait(), Duration::from_secs(10));
    assert_eq!(db.group_by(), &GroupBy::Labels(vec!["alertname".into()]));
    let pager = &db.routes()[0];
    assert_eq!(pager.group_wait(), Duration::from_secs(10));
    assert_eq!(pager.group_interval(), Duration::from_secs(300));
    assert_eq!(
        pager.group_by(),
        &GroupBy::Labels(vec!["alertname".into(), "instance".into()])
    );

    let root = build("receiver: default\nroutes: [{matchers: ['a=\"1\"']}]").unwrap();
    assert_eq!(root.routes()[0].receiver(), "default");
    assert_eq!(root.routes()[0].group_by(), &GroupBy::Labels(Vec::new()));
}

#[test]
fn matchers_are_sorted_and_lists_split_into_the_key() {
    let root = build(
        r#"
receiver: default
routes:
  - matchers: ['team="db", severity=~"crit.*"', 'env!="dev"']
    match: {region: eu}
"#,
    )
    .unwrap();
    assert_eq!(
        root.routes()[0].key(),
        r#"{}/{env!="dev",region="eu",severity=~"crit.*",team="db"}"#
    );
    let l = labels(&[("team", "db"), ("severity", "critical"), ("region", "eu")]);
    assert_eq!(root.matching(&l)[0].id(), root.routes()[0].id());
}

#[test]
fn group_labels_take_present_labels_or_all() {
    let root = build(
        r#"
receiver: default
group_by: [alertname, cluster]
routes:
  - matchers: ['all="yes"']
    group_by: ['...']
"#,
    )
    .unwrap();
    let l = labels(&[("alertname", "Down"), ("instance", "a:1")]);
    assert_eq!(root.group_labels(&l), labels(&[("alertname", "Down")]));
    let l = labels(&[("alertname", "Down"), ("all", "yes")]);
    let all = root.matching(&l)[0];
    assert_eq!(all.group_by(), &GroupBy::All);
    assert_eq!(all.group_labels(&l), l);
}

#[test]
fn an_unknown_receiver_is_named_with_its_path() {
    let e = build(
        r#"
receiver: default
routes:
  - matchers: ['a="1"']
    routes:
      - receiver: db
      - receiver: db
      - receiver: nobody
"#,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        r#"route.routes[0].routes[2].receiver: no receiver named "nobody""#
    );

    let e = build("receiver: nobody").unwrap_err().to_string();
    assert!(e.starts_with("route.receiver:"), "{e}");
}

#[test]
fn invalid_trees_say_where() {
    let cases = [
        ("group_by: [a]", "route.receiver"),
        ("receiver: default\nmatchers: ['a=\"1\"']", "route.matchers"),
        ("receiver: default\ncontinue: true", "route.continue"),
        (
            "receiver: default\nroutes: [{group_interval: 0s}, {repeat_interval: 0}]",
            "route.routes[0].group_interval",
        ),
        (
            "receiver: default\nroutes: [{}, {repeat_interval: '0'}]",
            "route.routes[1].repeat_interval",
        ),
        (
            "receiver: default\ngroup_by: ['...', alertname]",
            "route.group_by",
        ),
        ("receiver: default\ngroup_by: [a, a]", "route.group_by[1]"),
        (
            "receiver: default\nroutes: [{matchers: ['ok=\"1\"', 'broken']}]",
            "route.routes[0].matchers[1]",
        ),
        (
            "receiver: default\nroutes: [{match_re: {a: '('}}]",
            "route.routes[0].match_re.a",
        ),
    ];
    for (yaml, path) in cases {
        let e = build(yaml).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{path}:")), "{yaml}: {e}");
    }
    let unknown: std::result::Result<RouteConfig, _> =
        serde_yaml_ng::from_str("receiver: default\ngroupby: [a]");
    assert!(unknown.is_err());
}

#[test]
fn nested_routes_under_identical_siblings_are_rejected() {
    let e = build(
        r#"
receiver: default
routes:
  - matchers: ['a="1"']
    routes: [{matchers: ['b="2"']}]
  - matchers: ['a="1"']
    routes: [{matchers: ['b="2"']}]
"#,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("share the id"), "{e}");
}

#[test]
fn find_and_descendants_cover_the_tree() {
    let root = build(TREE).unwrap();
    let all = root.descendants();
    assert_eq!(all.len(), 6);
    for route in all {
        assert_eq!(root.find(route.id()).map(Route::id), Some(route.id()));
    }
    assert!(root.find("{}/nothing/0").is_none());
}
