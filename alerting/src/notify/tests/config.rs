//! Receivers as the routing file writes them: defaults, validation
//! errors naming the field path, integration ids and hashes.

use serde::Deserialize;

use super::*;

#[derive(Deserialize)]
struct File {
    receivers: Vec<ReceiverConfig>,
}

const ROUTING: &str = r#"
receivers:
  - name: blackhole
  - name: oncall
    webhook_configs:
      - url: https://hooks.example/weir
        signing_secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
        headers: {Authorization: Bearer t0ken}
      - url: http://127.0.0.1:8080/alerts
        send_resolved: false
        max_alerts: 10
        timeout: 3s
    pagerduty_configs:
      - routing_key: 0123456789abcdef0123456789abcdef
  - name: team
    alertmanager_configs:
      - url: http://127.0.0.1:9093
    slack_configs:
      - api_url: https://hooks.slack.com/services/T/B/X
        channel: '#team'
"#;

fn parse(yaml: &str) -> Vec<ReceiverConfig> {
    serde_yaml_ng::from_str::<File>(yaml).unwrap().receivers
}

/// Validates every receiver as the routing file does, by position.
fn validate(receivers: &[ReceiverConfig]) -> crate::error::Result<()> {
    for (i, r) in receivers.iter().enumerate() {
        r.validate(&format!("receivers[{i}]"))?;
    }
    Ok(())
}

#[test]
fn routing_file_parses_with_defaults() {
    let receivers = parse(ROUTING);
    validate(&receivers).unwrap();
    let oncall = &receivers[1];
    assert!(oncall.webhook_configs[0].send_resolved);
    assert_eq!(oncall.webhook_configs[0].timeout, Duration::from_secs(10));
    assert_eq!(oncall.webhook_configs[1].timeout, Duration::from_secs(3));
    let pd = &oncall.pagerduty_configs[0];
    assert_eq!(pd.url, pagerduty::DEFAULT_URL);
    assert_eq!(
        (pd.severity_label.as_str(), pd.client.as_str()),
        ("severity", "Weir")
    );
    assert!(!receivers[2].slack_configs[0].send_resolved);

    let ids: Vec<String> = receivers
        .iter()
        .flat_map(|r| r.integrations())
        .map(|i| i.id())
        .collect();
    assert_eq!(
        ids,
        [
            "oncall/webhook/0",
            "oncall/webhook/1",
            "oncall/pagerduty/0",
            "team/alertmanager/0",
            "team/slack/0"
        ]
    );
    let integrations = oncall.integrations();
    let resolved: Vec<bool> = integrations.iter().map(|i| i.send_resolved()).collect();
    assert_eq!(resolved, [true, false, true]);
}

#[test]
fn config_hash_follows_the_configuration() {
    let receivers = parse(ROUTING);
    let before = receivers[1].integrations()[0].config_hash();
    assert_eq!(before, parse(ROUTING)[1].integrations()[0].config_hash());
    let mut changed = receivers[1].clone();
    changed.webhook_configs[0].url = "https://hooks.example/other".into();
    assert_ne!(before, changed.integrations()[0].config_hash());
    let hashes: Vec<u64> = receivers[1]
        .integrations()
        .iter()
        .map(|i| i.config_hash())
        .collect();
    assert_ne!(hashes[0], hashes[1]);
}

/// Replaces `from` by `to` in the example and returns the first error.
fn error_after(from: &str, to: &str) -> String {
    assert!(ROUTING.contains(from), "{from}");
    let receivers = parse(&ROUTING.replacen(from, to, 1));
    validate(&receivers).unwrap_err().to_string()
}

#[test]
fn validation_errors_name_the_field_path() {
    let cases = [
        (
            "url: http://127.0.0.1:9093",
            "url: 127.0.0.1:9093",
            "receivers[2].alertmanager_configs[0].url: not an absolute URL",
        ),
        (
            "url: http://127.0.0.1:8080/alerts",
            "url: ftp://127.0.0.1/alerts",
            "receivers[1].webhook_configs[1].url: scheme \"ftp\"",
        ),
        (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "receivers[1].webhook_configs[0].signing_secret: must start with",
        ),
        (
            "{Authorization: Bearer t0ken}",
            "{Host: example.com}",
            "receivers[1].webhook_configs[0].headers.Host: reserved header",
        ),
        (
            "timeout: 3s",
            "timeout: 0s",
            "receivers[1].webhook_configs[1].timeout: must be positive",
        ),
        (
            "routing_key: 0123456789abcdef0123456789abcdef",
            "routing_key: ''",
            "receivers[1].pagerduty_configs[0].routing_key: required",
        ),
        (
            "routing_key: 0123456789abcdef0123456789abcdef",
            "{routing_key: k, default_severity: fatal}",
            "receivers[1].pagerduty_configs[0].default_severity: must be one of",
        ),
        (
            "api_url: https://hooks.slack.com/services/T/B/X",
            "api_url: ''",
            "receivers[2].slack_configs[0].api_url: required",
        ),
        (
            "name: blackhole",
            "name: ' '",
            "receivers[0].name: required",
        ),
    ];
    for (from, to, expected) in cases {
        let error = error_after(from, to);
        assert!(
            error.starts_with(expected),
            "{error:?} should start with {expected:?}"
        );
    }
}

#[test]
fn unknown_fields_are_refused() {
    let yaml = "receivers: [{name: a, webhook_configs: [{url: 'http://h', send_resolve: true}]}]";
    let error = serde_yaml_ng::from_str::<File>(yaml)
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("send_resolve"), "{error}");
    let yaml = "receivers: [{name: a, email_configs: []}]";
    assert!(serde_yaml_ng::from_str::<File>(yaml).is_err());
}
