//! The `alertmanager` receiver against a real Alertmanager (Debian's
//! `prometheus-alertmanager`, started here on loopback): Weir's alerts
//! appear in its v2 API with their labels (external labels included),
//! annotations, start time and generator URL; resends keep pushing
//! `endsAt` ahead, as Prometheus' do; and a resolution removes the alert
//! from its list of active alerts.

#[path = "common/mod.rs"]
mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Server, Workspace};
use serde_json::{Value, json};

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
const PATIENCE: Duration = Duration::from_secs(30);

/// Fires while no `maintenance_done` series exists.
const RULES: &str = r#"
groups:
  - name: interop
    interval: 1s
    rules:
      - alert: WeirInterop
        expr: absent(maintenance_done)
        labels:
          severity: page
        annotations:
          summary: "maintenance still pending"
"#;

struct Alertmanager {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_alertmanager(rt: &tokio::runtime::Runtime, client: &reqwest::Client) -> Alertmanager {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n",
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(ALERTMANAGER)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        // No gossip: a single instance on loopback.
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start alertmanager");
    let am = Alertmanager {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let deadline = Instant::now() + PATIENCE;
    rt.block_on(async {
        loop {
            let ready = client.get(format!("{}/-/ready", am.url)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(Instant::now() < deadline, "alertmanager never became ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    am
}

fn workspace(am: &Alertmanager) -> Workspace {
    let ws = Workspace::with_config("");
    let dir = ws.root.path();
    std::fs::write(dir.join("rules.yml"), RULES).unwrap();
    let routing = format!(
        r#"
route:
  receiver: upstream
  group_wait: 0s
  group_interval: 1s
receivers:
  - name: upstream
    alertmanager_configs:
      - url: {}
"#,
        am.url
    );
    std::fs::write(dir.join("routing.yml"), routing).unwrap();
    let config = format!(
        r#"{listen}
[metrics]
tiers = [{{ window = "1s", retention = "1h" }}]
lateness = "0s"

[alerting]
rule_files = ["{dir}/rules.yml"]
routing_file = "{dir}/routing.yml"
evaluation_interval = "1s"
resend_delay = "1s"
external_url = "http://weir.test:7070"
external_labels = {{ cluster = "lab" }}
"#,
        listen = common::TEST_CONFIG,
        dir = dir.display()
    );
    std::fs::write(&ws.config, config).unwrap();
    ws
}

fn ms(rfc3339: &str) -> i64 {
    let parsed = humantime::parse_rfc3339_weak(rfc3339.trim_end_matches('Z'))
        .unwrap_or_else(|e| panic!("{rfc3339}: {e}"));
    parsed.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn am_alerts(client: &reqwest::Client, am: &str) -> Vec<Value> {
    let answer: Value = client
        .get(format!("{am}/api/v2/alerts"))
        .send()
        .await
        .expect("alertmanager alerts")
        .json()
        .await
        .expect("JSON");
    answer
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["labels"]["alertname"] == "WeirInterop")
        .cloned()
        .collect()
}

#[test]
fn a_real_alertmanager_lists_weirs_alerts() {
    if !Path::new(ALERTMANAGER).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{ALERTMANAGER} is missing: scripts/setup-interop installs Debian's prometheus-alertmanager"
        );
        eprintln!("skipped: {ALERTMANAGER} is not installed (scripts/setup-interop installs it)");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let am = start_alertmanager(&rt, &client);
    let ws = workspace(&am);
    let started = now_ms();
    let server = Server::start(&ws);
    let http = server.listen_address("http");
    let otlp = server.listen_address("otlp_http");

    // The alert arrives with Weir's labels, annotations and times.
    let deadline = Instant::now() + PATIENCE;
    let listed = rt.block_on(async {
        loop {
            let found = am_alerts(&client, &am.url).await;
            if let Some(alert) = found.into_iter().next() {
                return alert;
            }
            assert!(
                Instant::now() < deadline,
                "the alert never reached alertmanager"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    assert_eq!(
        listed["labels"],
        json!({"alertname": "WeirInterop", "severity": "page", "cluster": "lab"})
    );
    assert_eq!(
        listed["annotations"]["summary"],
        "maintenance still pending"
    );
    assert_eq!(listed["status"]["state"], "active");
    assert_eq!(listed["receivers"][0]["name"], "blackhole");
    let generator = listed["generatorURL"].as_str().unwrap();
    assert!(
        generator.starts_with("http://weir.test:7070/graph?g0.expr=absent%28maintenance_done%29"),
        "{generator}"
    );
    let weir: Value = rt.block_on(async {
        client
            .get(format!("http://{http}/api/v1/alerts"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let active_at = weir["data"]["alerts"][0]["activeAt"].as_str().unwrap();
    let starts_at = listed["startsAt"].as_str().unwrap();
    assert_eq!(
        ms(starts_at),
        ms(active_at),
        "alertmanager {starts_at}, weir {active_at}"
    );
    assert!(
        ms(starts_at) >= started - 1000,
        "{starts_at} is before the test began"
    );
    let first_ends = ms(listed["endsAt"].as_str().unwrap());
    assert!(
        first_ends > now_ms(),
        "endsAt lies ahead while the alert fires"
    );

    // Resends push endsAt ahead, so the Alertmanager never times it out.
    std::thread::sleep(Duration::from_secs(3));
    let later = rt.block_on(am_alerts(&client, &am.url));
    let later_ends = ms(later[0]["endsAt"].as_str().unwrap());
    assert!(
        later_ends > first_ends,
        "endsAt {later_ends} did not move past {first_ends}"
    );

    // The condition clears: the resolution reaches the Alertmanager and
    // the alert leaves its active list.
    let feeding = Arc::new(AtomicBool::new(true));
    let feeder = {
        let feeding = Arc::clone(&feeding);
        let client = client.clone();
        rt.spawn(async move {
            while feeding.load(Ordering::SeqCst) {
                let nanos = (now_ms() as u64) * 1_000_000;
                let body = json!({"resourceMetrics": [{
                    "resource": {"attributes": []},
                    "scopeMetrics": [{"metrics": [{
                        "name": "maintenance_done",
                        "gauge": {"dataPoints": [{"timeUnixNano": nanos.to_string(), "asDouble": 1.0}]}
                    }]}]
                }]});
                let _ = client
                    .post(format!("http://{otlp}/v1/metrics"))
                    .json(&body)
                    .send()
                    .await;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let deadline = Instant::now() + PATIENCE;
    rt.block_on(async {
        while !am_alerts(&client, &am.url).await.is_empty() {
            assert!(
                Instant::now() < deadline,
                "the resolution never reached alertmanager"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    feeding.store(false, Ordering::SeqCst);
    rt.block_on(feeder).unwrap();
    let status = server.stop(libc::SIGTERM);
    assert!(status.success(), "weir serve exited with {status}");
}
