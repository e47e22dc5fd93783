//! The alerting command line and configuration lifecycle: `weir rules
//! check` on the shipped examples and on broken files, a server started
//! with the example routing file, `weir alerts list`, `weir silences
//! add|list|expire`, and reloads that succeed or leave the configuration
//! as it was.

mod common;

use std::path::Path;

use common::{Output, Server, Workspace};
use serde_json::Value;

const FIRING: &str = r#"
groups:
  - name: always
    interval: 1s
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        labels: {severity: ticket}
"#;

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/alerting")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn rules_check_accepts_the_examples_and_names_every_problem_with_its_position() {
    let ws = Workspace::new();
    let check = |args: &[&str]| Output::of(common::weir().arg("rules").arg("check").args(args));
    let ok = check(&[&example("rules.yml")]);
    ok.expect_code(0);
    assert!(ok.stdout.contains("ok, 1 groups, 3 rules"), "{}", ok.stdout);
    check(&["--logql", &example("log-rules.yml")]).expect_code(0);
    // Log rules are not PromQL.
    check(&[&example("log-rules.yml")]).expect_code(1);

    let bad = ws.root.path().join("bad.yml");
    std::fs::write(
        &bad,
        "groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: rate(x[5m]\n        annotations:\n          summary: \"{{ $labels.x \"\n",
    )
    .unwrap();
    let out = check(&[bad.to_str().unwrap()]);
    out.expect_code(1);
    let at = |line: usize| format!("{}:{line}:", bad.display());
    assert!(
        out.stdout.contains(&at(5)),
        "expression position: {}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&at(7)),
        "template position: {}",
        out.stdout
    );
}

fn config(rules: &Path) -> String {
    format!(
        "{}\n[alerting]\nrule_files = [\"{}\"]\nrouting_file = \"{}\"\nevaluation_interval = \"1s\"\n",
        common::TEST_CONFIG,
        rules.display(),
        example("routing.yml")
    )
}

#[test]
fn silences_and_alerts_from_the_command_line_and_reloads() {
    let ws = Workspace::new();
    let rules = ws.root.path().join("rules.yml");
    std::fs::write(&rules, FIRING).unwrap();
    std::fs::write(&ws.config, config(&rules)).unwrap();
    let server = Server::start(&ws);
    let url = format!("http://{}", server.listen_address("http"));
    let client = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--server", &url]);
        ws.run(&all)
    };

    // The alert fires at the first evaluation.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let listed = client(&["alerts", "list"]);
        listed.expect_code(0);
        if listed.stdout.contains("alertname=\"AlwaysFiring\"") {
            assert!(listed.stdout.starts_with("firing"), "{}", listed.stdout);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never fired: {}",
            listed.stdout
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    let added = client(&[
        "silences",
        "add",
        "alertname=\"AlwaysFiring\"",
        "severity=~\"tick.*\"",
        "--duration",
        "2h",
        "-m",
        "planned maintenance",
        "--author",
        "sre",
    ]);
    added.expect_code(0);
    let id = added.stdout.trim().to_owned();
    assert!(!id.is_empty());
    let listed = client(&["silences", "list", "--json"]);
    listed.expect_code(0);
    let silence: Value = serde_json::from_str(listed.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(silence["id"], id.as_str());
    assert_eq!(silence["status"]["state"], "active");
    assert_eq!(silence["createdBy"], "sre");
    assert_eq!(silence["comment"], "planned maintenance");
    let text = client(&["silences", "list", "--filter", "alertname=\"AlwaysFiring\""]);
    assert!(
        text.stdout.contains(&id) && text.stdout.contains("severity=~\"tick.*\""),
        "{}",
        text.stdout
    );
    let none = client(&["silences", "list", "--filter", "alertname=\"Other\""]);
    assert!(none.stdout.trim().is_empty(), "{}", none.stdout);

    // Bad input is refused with the reason.
    let bad = client(&["silences", "add", "alertname=", "-m", "x"]);
    bad.expect_code(1);
    let unknown = client(&["silences", "expire", "no-such-id"]);
    unknown.expect_code(1);
    assert!(unknown.stderr.contains("404"), "{}", unknown.stderr);

    client(&["silences", "expire", &id]).expect_code(0);
    let listed = client(&["silences", "list", "--json"]);
    let silence: Value = serde_json::from_str(listed.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(silence["status"]["state"], "expired");

    // A reload with a broken rule file is refused and changes nothing.
    std::fs::write(
        &rules,
        "groups:\n  - name: always\n    rules:\n      - alert: X\n        expr: sum(\n",
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::new();
    let reload = |http: &reqwest::Client| {
        rt.block_on(async {
            let response = http.post(format!("{url}/-/reload")).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    };
    let (status, body) = reload(&http);
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("rules.yml:5:"), "{body}");
    let listed = client(&["alerts", "list"]);
    assert!(listed.stdout.contains("AlwaysFiring"), "{}", listed.stdout);

    // A good one replaces the rules, over HTTP or on SIGHUP.
    std::fs::write(&rules, FIRING.replace("AlwaysFiring", "StillFiring")).unwrap();
    let (status, body) = reload(&http);
    assert_eq!(status, 200, "{body}");
    let listed = client(&["alerts", "list"]);
    assert!(!listed.stdout.contains("AlwaysFiring"), "{}", listed.stdout);
    std::fs::write(&rules, "groups: []\n").unwrap();
    // SAFETY: kill(2) on our own child's pid has no memory effects.
    assert_eq!(
        unsafe { libc::kill(server.pid() as libc::pid_t, libc::SIGHUP) },
        0
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let rules: Value = rt.block_on(async {
            http.get(format!("{url}/api/v1/rules"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        if rules["data"]["groups"] == serde_json::json!([]) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "SIGHUP did not reload: {rules}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let status = server.stop(libc::SIGTERM);
    assert!(status.success());
}

#[test]
fn a_bad_rule_file_stops_the_start_with_its_position() {
    let ws = Workspace::new();
    let rules = ws.root.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up >\n",
    )
    .unwrap();
    std::fs::write(&ws.config, config(&rules)).unwrap();
    let out = ws.run(&["serve"]);
    assert_ne!(out.code(), 0);
    assert!(out.stderr.contains("rules.yml:5:"), "{}", out.stderr);
}
