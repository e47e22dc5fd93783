//! Configuration errors stop the binary with exit code 2 and a message
//! naming the key; the shipped example config is accepted.

mod common;

use std::path::Path;

use common::{Workspace, weir};

#[test]
fn unknown_key_exits_2_naming_the_key() {
    let workspace =
        Workspace::with_config("[log.topic_defaults]\npartitions = 2\nretension = \"1d\"\n");
    for args in [&["serve"][..], &["log", "topics"]] {
        let output = workspace.run(args);
        output.expect_code(2);
        assert!(output.stderr.starts_with("error: "), "{}", output.stderr);
        assert!(
            output
                .stderr
                .contains("weir.toml:3: log.topic_defaults.retension: unknown key"),
            "{}",
            output.stderr
        );
    }
    assert!(
        !workspace.data_dir.exists(),
        "nothing is created before the config is accepted"
    );
}

#[test]
fn bad_value_exits_2_naming_the_field() {
    let workspace = Workspace::with_config("[log.topic_defaults]\npartitions = 0\n");
    let output = workspace.run(&["serve"]);
    output.expect_code(2);
    assert!(
        output
            .stderr
            .contains("log.topic_defaults.partitions: 0 is not in 1..=1024"),
        "{}",
        output.stderr
    );

    let workspace = Workspace::with_config("[listen]\nhttp = \"x\"\n");
    let output = workspace.run(&["serve"]);
    output.expect_code(2);
    assert!(
        output
            .stderr
            .contains("listen.http: \"x\" is not a socket address"),
        "{}",
        output.stderr
    );
}

#[test]
fn missing_config_file_exits_2() {
    let workspace = Workspace::new();
    let output = weir()
        .args(["serve", "--config"])
        .arg(workspace.root.path().join("absent.toml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("read config"));
}

#[test]
fn usage_error_exits_2() {
    let output = weir().args(["serve", "--no-such-flag"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = weir().args(["log", "dump"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "dump needs a topic");
}

#[test]
fn example_config_is_accepted() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/weir.example.toml");
    let workspace = Workspace::new();
    std::fs::create_dir_all(&workspace.data_dir).unwrap();
    // A read-only tool validates the whole config without binding anything.
    let output = weir()
        .args(["log", "topics", "--config"])
        .arg(&example)
        .arg("--data-dir")
        .arg(&workspace.data_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("TOPIC"));
}
