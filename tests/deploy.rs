//! The packaging in `deploy/` agrees with the code: every configuration it
//! ships parses and validates with the real config types, its ports,
//! probes and paths are the configured ones, every `weir` command line in
//! it parses with the real CLI, and `systemd-analyze verify` accepts the
//! unit.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use serde_yaml_ng::Value;
use weir::cli::Cli;
use weir::config::{RawConfig, Settings};

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(deploy(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn settings(text: &str, what: &str) -> Settings {
    RawConfig::parse(text)
        .and_then(|raw| raw.validate())
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// The four listener ports of `settings`.
fn ports(settings: &Settings) -> BTreeSet<u16> {
    let l = settings.listen;
    [l.otlp_grpc, l.otlp_http, l.http, l.kafka]
        .iter()
        .map(|a| a.port())
        .collect()
}

fn parses(args: &[&str], what: &str) {
    let mut all = vec!["weir"];
    all.extend_from_slice(args);
    if let Err(e) = Cli::try_parse_from(&all) {
        panic!("{what}: `{}` does not parse: {e}", all.join(" "));
    }
}

fn yaml_docs(path: &str) -> Vec<Value> {
    let text = read(path);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap_or_else(|e| panic!("{path}: {e}")))
        .collect()
}

#[test]
fn the_docker_image_exposes_the_configured_ports_and_checks_health() {
    let dockerfile = read("docker/Dockerfile");
    let config = settings(&read("docker/weir.toml"), "deploy/docker/weir.toml");
    let line = |prefix: &str| -> String {
        dockerfile
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in the Dockerfile"))
            .to_owned()
    };
    let exposed: BTreeSet<u16> = line("EXPOSE ")
        .split_whitespace()
        .skip(1)
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(exposed, ports(&config));
    assert!(line("VOLUME ").contains(&config.data_dir.display().to_string()));
    let user = line("USER ");
    assert!(!user.contains("root"), "runs as {user}");
    let health = dockerfile
        .split("HEALTHCHECK")
        .nth(1)
        .expect("a HEALTHCHECK");
    assert!(
        health.contains(&format!("127.0.0.1:{}/health", config.listen.http.port())),
        "HEALTHCHECK must hit /health on listen.http"
    );
    assert!(dockerfile.contains("COPY deploy/docker/weir.toml /etc/weir/weir.toml"));
    parses(
        &["serve", "--config", "/etc/weir/weir.toml"],
        "the image's CMD",
    );
}

#[test]
fn the_compose_file_publishes_the_ports_and_mounts_what_exists() {
    let compose = &yaml_docs("compose/compose.yml")[0];
    let defaults = settings("", "defaults");
    let weir = &compose["services"]["weir"];
    let published: BTreeSet<u16> = weir["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| {
            p.as_str()
                .unwrap()
                .split(':')
                .next_back()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(published, ports(&defaults));
    let grafana = &compose["services"]["grafana"];
    for volume in grafana["volumes"].as_sequence().unwrap() {
        let host = volume.as_str().unwrap().split(':').next().unwrap();
        let path = deploy("compose").join(host);
        assert!(path.exists(), "grafana mounts {host}, which does not exist");
    }
    assert_eq!(
        grafana["environment"]["WEIR_URL"].as_str(),
        Some(format!("http://weir:{}", defaults.listen.http.port()).as_str())
    );
    let command: Vec<&str> = compose["services"]["loadgen"]["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    parses(&command, "the compose loadgen command");
    assert!(
        command.contains(&format!("http://weir:{}", defaults.listen.otlp_grpc.port()).as_str())
    );
}

#[test]
fn the_kubernetes_manifests_match_the_configuration() {
    let config_map = &yaml_docs("k8s/configmap.yml")[0];
    let config = settings(
        config_map["data"]["weir.toml"].as_str().unwrap(),
        "the ConfigMap's weir.toml",
    );
    let set = &yaml_docs("k8s/statefulset.yml")[0];
    assert_eq!(set["kind"].as_str(), Some("StatefulSet"));
    let labels = &set["spec"]["template"]["metadata"]["labels"];
    assert_eq!(&set["spec"]["selector"]["matchLabels"], labels);
    let container = &set["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    parses(&args, "the container's args");
    let named: Vec<(String, u16)> = container["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["containerPort"].as_u64().unwrap() as u16,
            )
        })
        .collect();
    let container_ports: BTreeSet<u16> = named.iter().map(|(_, p)| *p).collect();
    assert_eq!(container_ports, ports(&config));
    let port_of = |name: &str| named.iter().find(|(n, _)| n == name).map(|(_, p)| *p);
    for (probe, path) in [
        ("livenessProbe", "/health"),
        ("readinessProbe", "/ready"),
        ("startupProbe", "/health"),
    ] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"].as_str(), Some(path), "{probe}");
        let port = port_of(get["port"].as_str().unwrap());
        assert_eq!(
            port,
            Some(config.listen.http.port()),
            "{probe} must hit listen.http"
        );
    }
    let mounts = container["volumeMounts"].as_sequence().unwrap();
    let mounted = |name: &str| {
        mounts
            .iter()
            .find(|m| m["name"].as_str() == Some(name))
            .and_then(|m| m["mountPath"].as_str())
            .unwrap_or_else(|| panic!("no {name} mount"))
            .to_owned()
    };
    assert_eq!(Path::new(&mounted("data")), config.data_dir);
    let config_arg = args[args.iter().position(|a| *a == "--config").unwrap() + 1];
    assert_eq!(
        Path::new(&mounted("config")).join("weir.toml"),
        Path::new(config_arg)
    );
    assert!(
        container["resources"]["requests"]["memory"]
            .as_str()
            .is_some()
    );
    assert!(
        container["resources"]["limits"]["memory"]
            .as_str()
            .is_some()
    );

    let services = yaml_docs("k8s/service.yml");
    let service = services
        .iter()
        .find(|s| s["metadata"]["name"] == "weir")
        .unwrap();
    assert_eq!(&service["spec"]["selector"], labels);
    let service_ports: BTreeSet<u16> = service["spec"]["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_u64().unwrap() as u16)
        .collect();
    assert_eq!(service_ports, ports(&config));
    for p in service["spec"]["ports"].as_sequence().unwrap() {
        assert!(
            port_of(p["targetPort"].as_str().unwrap()).is_some(),
            "{p:?}"
        );
    }
    let headless = services
        .iter()
        .find(|s| s["metadata"]["name"] == set["spec"]["serviceName"])
        .expect("the StatefulSet's headless Service");
    assert_eq!(headless["spec"]["clusterIP"].as_str(), Some("None"));
    assert_eq!(config.kafka.advertised_port, config.listen.kafka.port());
    assert!(
        config
            .kafka
            .advertised_host
            .ends_with(headless["metadata"]["name"].as_str().unwrap())
    );

    let pdb = &yaml_docs("k8s/pdb.yml")[0];
    assert_eq!(&pdb["spec"]["selector"]["matchLabels"], labels);
}

#[test]
fn systemd_accepts_the_unit() {
    let unit = read("systemd/weir.service");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/weir"));
    let args: Vec<&str> = words.collect();
    parses(&args, "ExecStart");
    let data_dir = args[args.iter().position(|a| *a == "--data-dir").unwrap() + 1];
    assert!(unit.contains(&format!("ReadWritePaths={data_dir}")));
    for hardening in ["ProtectSystem=strict", "DynamicUser=yes", "LimitNOFILE="] {
        assert!(unit.contains(hardening), "the unit lacks {hardening}");
    }

    let analyze = Path::new("/usr/bin/systemd-analyze");
    if !analyze.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "systemd-analyze is missing: scripts/setup-interop installs systemd"
        );
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    }
    // Verify with the binary this test was built with in place of the
    // installed path, which does not exist here.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("weir.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/weir", env!("CARGO_BIN_EXE_weir")),
    )
    .unwrap();
    let output = Command::new(analyze)
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("run systemd-analyze");
    let complaints = String::from_utf8_lossy(&output.stderr);
    let complaints: Vec<&str> = complaints
        .lines()
        // The sandbox these tests run in has no systemd as PID 1.
        .filter(|l| {
            !l.contains("System has not been booted with systemd")
                && !l.contains("Failed to connect to bus")
        })
        .collect();
    assert!(
        output.status.success() && complaints.is_empty(),
        "systemd-analyze verify: {complaints:#?}"
    );
}

#[test]
fn the_collector_example_sends_every_signal_to_weirs_otlp_port() {
    let collector = &yaml_docs("otel-collector.yml")[0];
    let defaults = settings("", "defaults");
    let endpoint = collector["exporters"]["otlp/weir"]["endpoint"]
        .as_str()
        .unwrap();
    assert!(
        endpoint.ends_with(&format!(":{}", defaults.listen.otlp_grpc.port())),
        "{endpoint}"
    );
    for signal in ["logs", "metrics", "traces"] {
        let exporters = &collector["service"]["pipelines"][signal]["exporters"];
        assert_eq!(exporters[0].as_str(), Some("otlp/weir"), "{signal}");
    }
}
