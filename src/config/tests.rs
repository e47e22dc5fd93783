use std::time::Duration;

use log_core::{CleanupPolicy, Durability, TopicConfig};

use super::log::telemetry_base;
use super::*;

const EXAMPLE: &str = include_str!("../../deploy/weir.example.toml");

fn parse_err(text: &str) -> String {
    let result = RawConfig::parse(text).and_then(|raw| raw.validate());
    result.expect_err("config should be refused").to_string()
}

/// The settings must be compared field by field: `log_core::LogConfig`
/// has no `PartialEq`, so its `Debug` rendering stands in for it.
fn assert_same(a: &Settings, b: &Settings) {
    assert_eq!(a.data_dir, b.data_dir);
    assert_eq!(a.listen, b.listen);
    assert_eq!(format!("{:?}", a.log), format!("{:?}", b.log));
    assert_eq!(a.telemetry_topics, b.telemetry_topics);
    assert_eq!(a.ingest, b.ingest);
    assert_eq!(a.logs, b.logs);
    assert_eq!(format!("{:?}", a.metrics), format!("{:?}", b.metrics));
    assert_eq!(format!("{:?}", a.alerting), format!("{:?}", b.alerting));
    assert_eq!(format!("{:?}", a.kafka), format!("{:?}", b.kafka));
    assert_eq!(a.dashboards_dir, b.dashboards_dir);
    assert_eq!(a.query, b.query);
}

#[test]
fn example_config_equals_defaults() {
    let example = RawConfig::parse(EXAMPLE)
        .expect("example parses")
        .validate()
        .expect("example is valid");
    let defaults = RawConfig::default().validate().expect("defaults are valid");
    assert_same(&example, &defaults);
    let empty = RawConfig::parse("")
        .expect("empty file parses")
        .validate()
        .unwrap();
    assert_same(&empty, &defaults);
}

#[test]
fn example_config_lists_every_key() {
    // Exhaustive patterns: a new field fails to compile here until it is
    // added to the lists below (and so to the example).
    let RawConfig {
        data_dir: _,
        listen: _,
        log,
        ingest,
        logs,
        metrics,
        query,
        alerting,
        kafka,
        ui,
    } = RawConfig::default();
    let RawUi { dashboards_dir: _ } = ui;
    let RawKafka {
        advertised_host: _,
        advertised_port: _,
        max_request_bytes: _,
        max_connections: _,
    } = kafka;
    let RawAlerting {
        rule_files: _,
        log_rule_files: _,
        routing_file: _,
        evaluation_interval: _,
        resend_delay: _,
        external_url: _,
        external_labels: _,
        outbox,
        silences,
    } = alerting;
    let alerting::outbox::OutboxConfig {
        max_age: _,
        initial_backoff: _,
        max_backoff: _,
        max_pending: _,
        max_in_flight: _,
        history_len: _,
        // Commented out in the example: it has no single default.
        attempt_timeout: _,
    } = outbox;
    let RawSilences {
        max_silences: _,
        retention: _,
    } = silences;
    let RawLogs {
        commit_interval: _,
        commit_docs: _,
        split_duration: _,
        retention: _,
        writer_memory_bytes: _,
        max_open_splits: _,
    } = logs;
    let RawQuery {
        timeout: _,
        max_series: _,
        max_samples: _,
        max_hits: _,
    } = query;
    let RawMetrics {
        tiers: _,
        lateness: _,
        histogram_precision: _,
        checkpoint_interval: _,
        series_idle: _,
        max_series_per_tenant: _,
        max_series_per_metric: _,
        cache_bytes: _,
    } = metrics;
    let metrics_keys = [
        "tiers",
        "lateness",
        "histogram_precision",
        "checkpoint_interval",
        "series_idle",
        "max_series_per_tenant",
        "max_series_per_metric",
        "cache_bytes",
    ];
    let RawIngest {
        max_request_bytes: _,
        max_inflight_bytes: _,
        max_attributes: _,
        max_attribute_value_bytes: _,
        retry_after: _,
        tokens: _,
    } = ingest;
    let RawListen {
        otlp_grpc: _,
        otlp_http: _,
        http: _,
        kafka: _,
    } = RawListen::default();
    let RawLog {
        durability: _,
        group_commit_window: _,
        sync_threads: _,
        max_record_bytes: _,
        max_batch_bytes: _,
        zstd_level: _,
        cleanup_interval: _,
        compaction_max_keys: _,
        topic_defaults,
        telemetry_topics: _,
    } = log;
    let RawTopic {
        partitions: _,
        retention: _,
        retention_bytes: _,
        segment_bytes: _,
        segment_age: _,
        index_interval_bytes: _,
        cleanup_policy: _,
        delete_retention: _,
    } = topic_defaults;
    let topic_keys = [
        "partitions",
        "retention",
        "retention_bytes",
        "segment_bytes",
        "segment_age",
        "index_interval_bytes",
        "cleanup_policy",
        "delete_retention",
    ];
    let expected: &[(&str, &[&str])] = &[
        (
            "",
            &[
                "data_dir", "listen", "log", "ingest", "logs", "metrics", "query", "alerting",
                "kafka", "ui",
            ],
        ),
        (
            "alerting",
            &[
                "rule_files",
                "log_rule_files",
                "routing_file",
                "evaluation_interval",
                "resend_delay",
                "external_url",
                "external_labels",
                "outbox",
                "silences",
            ],
        ),
        (
            "alerting.outbox",
            &[
                "max_age",
                "initial_backoff",
                "max_backoff",
                "max_pending",
                "max_in_flight",
                "history_len",
            ],
        ),
        ("alerting.silences", &["max_silences", "retention"]),
        ("ui", &["dashboards_dir"]),
        (
            "kafka",
            &[
                "advertised_host",
                "advertised_port",
                "max_request_bytes",
                "max_connections",
            ],
        ),
        (
            "logs",
            &[
                "commit_interval",
                "commit_docs",
                "split_duration",
                "retention",
                "writer_memory_bytes",
                "max_open_splits",
            ],
        ),
        (
            "query",
            &["timeout", "max_series", "max_samples", "max_hits"],
        ),
        ("metrics", &metrics_keys),
        (
            "ingest",
            &[
                "max_request_bytes",
                "max_inflight_bytes",
                "max_attributes",
                "max_attribute_value_bytes",
                "retry_after",
                "tokens",
            ],
        ),
        ("listen", &["otlp_grpc", "otlp_http", "http", "kafka"]),
        (
            "log",
            &[
                "durability",
                "group_commit_window",
                "sync_threads",
                "max_record_bytes",
                "max_batch_bytes",
                "zstd_level",
                "cleanup_interval",
                "compaction_max_keys",
                "topic_defaults",
                "telemetry_topics",
            ],
        ),
        ("log.topic_defaults", &topic_keys),
        ("log.telemetry_topics", &topic_keys),
    ];
    let table: toml::Table = toml::from_str(EXAMPLE).unwrap();
    for (section, keys) in expected {
        let mut at = &table;
        for part in section.split('.').filter(|p| !p.is_empty()) {
            at = at[part].as_table().unwrap();
        }
        let mut found: Vec<&str> = at.keys().map(String::as_str).collect();
        let mut keys = keys.to_vec();
        found.sort_unstable();
        keys.sort_unstable();
        assert_eq!(found, keys, "keys of [{section}] in the example config");
    }
}

#[test]
fn telemetry_topics_differ_from_topic_defaults_only_where_documented() {
    let settings = RawConfig::default().validate().unwrap();
    let telemetry = &settings.telemetry_topics;
    assert_eq!(telemetry.partitions, 4);
    assert_eq!(
        telemetry.retention,
        Some(Duration::from_secs(3 * 24 * 3600))
    );
    assert_eq!(telemetry.segment_age, Duration::from_secs(3600));
    assert_eq!(*telemetry, telemetry_base(&settings.log.topic_defaults));
}

#[test]
fn telemetry_topics_inherit_unset_keys_from_topic_defaults() {
    let text = "[log.topic_defaults]\nsegment_bytes = 8192\nretention = \"30d\"\n";
    let settings = RawConfig::parse(text).unwrap().validate().unwrap();
    assert_eq!(settings.log.topic_defaults.segment_bytes, 8192);
    assert_eq!(settings.telemetry_topics.segment_bytes, 8192);
    assert_eq!(
        settings.telemetry_topics.retention,
        Some(Duration::from_secs(3 * 24 * 3600))
    );
}

#[test]
fn values_map_onto_log_core_settings() {
    let text = r#"
        data_dir = "/var/lib/weir"
        [listen]
        http = "127.0.0.1:0"
        kafka = "127.0.0.1:0"
        [log]
        durability = "os"
        group_commit_window = "5ms"
        [log.topic_defaults]
        retention = "forever"
        retention_bytes = 1000000
        cleanup_policy = "compact"
        [log.telemetry_topics]
        partitions = 16
        retention_bytes = "unlimited"
        cleanup_policy = "delete"
    "#;
    let settings = RawConfig::parse(text).unwrap().validate().unwrap();
    assert_eq!(settings.data_dir, PathBuf::from("/var/lib/weir"));
    assert_eq!(settings.listen.http, "127.0.0.1:0".parse().unwrap());
    assert_eq!(settings.log.durability, Durability::Os);
    assert_eq!(settings.log.group_commit_window, Duration::from_millis(5));
    let defaults = &settings.log.topic_defaults;
    assert_eq!(defaults.retention, None);
    assert_eq!(defaults.retention_bytes, Some(1_000_000));
    assert_eq!(defaults.cleanup_policy, CleanupPolicy::Compact);
    let telemetry: &TopicConfig = &settings.telemetry_topics;
    assert_eq!(telemetry.partitions, 16);
    assert_eq!(telemetry.retention_bytes, None);
}

#[test]
fn unknown_key_is_named_with_its_path_and_line() {
    let message = parse_err("[log.topic_defaults]\npartitions = 2\nretension = \"1d\"\n");
    assert!(
        message.starts_with("line 3: log.topic_defaults.retension: unknown key"),
        "{message}"
    );
    let message = parse_err("bogus = 1\n");
    assert!(message.contains("bogus: unknown key"), "{message}");
}

#[test]
fn bad_values_name_their_field() {
    let cases = [
        (
            "[logs]\nsplit_duration = \"7m\"",
            "logs.split_duration: 420s must be whole seconds, at least a minute, and divide a day",
        ),
        (
            "[logs]\nwriter_memory_bytes = 1000",
            "logs.writer_memory_bytes: 1000 is below tantivy's minimum",
        ),
        (
            "[logs]\ncommit_docs = 0",
            "logs.commit_docs: must be at least 1",
        ),
        ("[logs]\nretention = \"soon\"", "logs.retention:"),
        (
            "[query]\nmax_hits = 0",
            "query.max_hits: must be more than 0",
        ),
        (
            "[metrics]\ntiers = [{ window = \"10s\", retention = \"1d\" }, { window = \"15s\", retention = \"1d\" }]",
            "metrics.tiers[1]: window must be a larger multiple of the previous tier's 10s",
        ),
        (
            "[metrics]\ntiers = [{ window = \"10s\", retention = \"5s\" }]",
            "metrics.tiers[0]: retention must be at least the window",
        ),
        (
            "[metrics]\nhistogram_precision = 7",
            "metrics.histogram_precision: must be 1 to 5 significant figures",
        ),
        (
            "[metrics]\nseries_idle = \"30m\"",
            "metrics.series_idle: must be longer than the coarsest window plus the lateness (1h 5s)",
        ),
        (
            "[[ingest.tokens]]\ntoken = \"a-long-secret\"\ntenant = \"a\\u0001b\"",
            "ingest.tokens[0].tenant: must not be empty or hold control characters",
        ),
        (
            "[log.topic_defaults]\npartitions = 0",
            "log.topic_defaults.partitions: 0 is not in 1..=1024",
        ),
        (
            "[log.telemetry_topics]\nsegment_bytes = 10",
            "log.telemetry_topics.segment_bytes: 10 is not in",
        ),
        (
            "[listen]\nhttp = \"x\"",
            "listen.http: \"x\" is not a socket address",
        ),
        (
            "[listen]\nkafka = \"0.0.0.0:4317\"",
            "listen.kafka: 0.0.0.0:4317 is already used by listen.otlp_grpc",
        ),
        (
            "[log]\nsync_threads = 0",
            "log.sync_threads: 0 is not in 1..=64",
        ),
        (
            "[log]\ndurability = \"always\"",
            "log.durability: unknown variant `always`",
        ),
        (
            "[log]\ngroup_commit_window = \"soon\"",
            "log.group_commit_window:",
        ),
        ("[log]\nmax_record_bytes = 0", "log.max_record_bytes:"),
        (
            "[log]\ncompaction_max_keys = 0",
            "log.compaction_max_keys: must be positive",
        ),
        (
            "[log.topic_defaults]\nretention = \"0s\"",
            "log.topic_defaults.retention: must be positive",
        ),
        (
            "[log.topic_defaults]\nretention = 5",
            "log.topic_defaults.retention:",
        ),
        (
            "[log.topic_defaults]\nretention_bytes = \"lots\"",
            "log.topic_defaults.retention_bytes:",
        ),
        (
            "[log.topic_defaults]\nretention_bytes = -1",
            "log.topic_defaults.retention_bytes: -1 is negative",
        ),
        (
            "[log.telemetry_topics]\ncleanup_policy = \"compact\"",
            "log.telemetry_topics.cleanup_policy:",
        ),
        ("data_dir = \"\"", "data_dir: must not be empty"),
    ];
    for (text, expected) in cases {
        let message = parse_err(text);
        assert!(
            message.contains(expected),
            "{text:?}: {message:?} should contain {expected:?}"
        );
    }
}

#[test]
fn syntax_error_names_the_line() {
    let message = parse_err("[listen]\nhttp = \n");
    assert!(message.starts_with("line 2: "), "{message}");
}

#[test]
fn data_dir_flag_overrides_the_file() {
    let settings = Settings::load(None, Some(Path::new("/tmp/elsewhere"))).unwrap();
    assert_eq!(settings.data_dir, PathBuf::from("/tmp/elsewhere"));
    assert_eq!(
        Settings::load(None, None).unwrap().data_dir,
        PathBuf::from(DEFAULT_DATA_DIR)
    );
}

#[test]
fn missing_file_is_a_read_error_naming_it() {
    let error = Settings::load(Some(Path::new("/nonexistent/weir.toml")), None).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("read config /nonexistent/weir.toml: "),
        "{error}"
    );
}

#[test]
fn alerting_errors_name_the_key() {
    assert!(
        parse_err("[alerting]\nevaluation_interval = \"0s\"")
            .contains("alerting.evaluation_interval")
    );
    assert!(
        parse_err("[alerting]\nexternal_url = \"localhost\"").contains("alerting.external_url")
    );
    assert!(
        parse_err("[alerting.external_labels]\n\"a-b\" = \"x\"")
            .contains("alerting.external_labels.a-b")
    );
    assert!(
        parse_err("[alerting.outbox]\nmax_in_flight = 0").contains("alerting.outbox.max_in_flight")
    );
    assert!(parse_err("[alerting.outbox]\nretries = 3").contains("retries"));
    assert!(
        parse_err("[alerting.silences]\nmax_silences = 0")
            .contains("alerting.silences.max_silences")
    );
    let settings = RawConfig::parse(
        "[alerting]\nrouting_file = \"r.yml\"\nexternal_url = \"https://weir.example/\"",
    )
    .unwrap()
    .validate()
    .unwrap();
    assert_eq!(
        settings.alerting.routing_file.as_deref(),
        Some(std::path::Path::new("r.yml"))
    );
    assert_eq!(settings.alerting.external_url, "https://weir.example");
}

#[test]
fn kafka_errors_name_the_key() {
    assert!(parse_err("[kafka]\nadvertised_host = \"\"").contains("kafka.advertised_host"));
    assert!(parse_err("[kafka]\nmax_request_bytes = 10").contains("kafka.max_request_bytes"));
    assert!(parse_err("[kafka]\nmax_connections = 0").contains("kafka.max_connections"));
}

#[test]
fn the_configuration_reference_documents_every_key() {
    // The example lists every key the code has (example_config_lists_every_key);
    // the reference must name each of them, as `section.key`.
    let reference = include_str!("../../docs/configuration.md");
    let table: toml::Table = toml::from_str(EXAMPLE).unwrap();
    fn keys(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
        for (key, value) in table {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                toml::Value::Table(inner) if !inner.is_empty() || key != "external_labels" => {
                    keys(&path, inner, out)
                }
                _ => out.push(path),
            }
        }
    }
    let mut all = Vec::new();
    keys("", &table, &mut all);
    assert!(all.len() > 50, "{all:?}");
    let missing: Vec<&String> = all
        .iter()
        .filter(|k| !reference.contains(&format!("`{k}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not document {missing:?}"
    );
}
