//! `weir serve`: start, lock, telemetry topics, clean stop on a signal.

mod common;

use std::time::Duration;

use common::{Server, Workspace};
use weir::config::{RawConfig, Settings};

const TELEMETRY_TOPICS: [&str; 3] = ["otlp_logs", "otlp_metrics", "otlp_spans"];

#[test]
fn serve_locks_the_data_dir_creates_telemetry_topics_and_stops_cleanly() {
    let workspace = Workspace::new();
    let server = Server::start(&workspace);
    let lock =
        std::fs::read_to_string(workspace.data_dir.join("weir.lock")).expect("weir.lock exists");
    assert_eq!(
        lock.trim(),
        server.pid().to_string(),
        "the lock file names the server"
    );
    let topics = std::fs::read_to_string(workspace.log_dir().join("topics.json"))
        .expect("topics.json exists");
    for topic in TELEMETRY_TOPICS {
        assert!(
            topics.contains(&format!("\"{topic}\"")),
            "{topic} in {topics}"
        );
        for partition in 0..4 {
            assert!(
                workspace
                    .log_dir()
                    .join(format!("{topic}-{partition}"))
                    .is_dir()
            );
        }
    }
    assert!(
        !workspace.log_dir().join(".clean-shutdown").exists(),
        "marker removed while running"
    );

    // A second server and the offline tools refuse while the lock is held.
    let second = workspace.run(&["serve"]);
    second.expect_code(1);
    let locked = format!("is locked by another process (pid {})", server.pid());
    assert!(second.stderr.contains(&locked), "{}", second.stderr);
    for args in [
        &["log", "topics"][..],
        &["log", "describe", "otlp_logs"],
        &["log", "check"],
    ] {
        let output = workspace.run(args);
        output.expect_code(1);
        assert!(
            output.stderr.starts_with("error: data dir "),
            "{args:?}: {}",
            output.stderr
        );
        assert!(
            output.stderr.contains(&locked),
            "{args:?}: {}",
            output.stderr
        );
    }

    let status = server.stop(libc::SIGTERM);
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
    assert!(
        workspace.log_dir().join(".clean-shutdown").exists(),
        "clean-shutdown marker written"
    );

    // Now the tools run, and see the telemetry topics' settings.
    let output = workspace.run(&["log", "topics"]);
    output.expect_code(0);
    for topic in TELEMETRY_TOPICS {
        let line = output
            .stdout
            .lines()
            .find(|l| l.starts_with(topic))
            .unwrap_or_else(|| panic!("{}", output.stdout));
        let columns: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(columns[1..3], ["4", "delete"], "{line}");
    }
    let output = workspace.run(&["log", "describe", "otlp_spans"]);
    output.expect_code(0);
    assert!(
        output.stdout.contains("retention = \"3days\""),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("segment_age = \"1h\""),
        "{}",
        output.stdout
    );
}

#[test]
fn sigint_stops_the_server_cleanly_and_a_restart_reopens_the_dir() {
    let workspace = Workspace::new();
    let server = Server::start(&workspace);
    assert_eq!(server.stop(libc::SIGINT).code(), Some(0));
    let server = Server::start(&workspace);
    assert!(
        server
            .log
            .iter()
            .any(|l| l.contains("recovery finished") && l.contains("clean_shutdown=true")),
        "{:?}",
        server.log
    );
    assert_eq!(server.stop(libc::SIGTERM).code(), Some(0));
}

/// `serve::run` is what the binary runs; tests and later listeners drive it
/// with their own shutdown future.
#[tokio::test]
async fn run_returns_once_shutdown_completes() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings: Settings = RawConfig::default().validate().unwrap();
    settings.data_dir = dir.path().join("data");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(weir::serve::run(settings, async {
        let _ = stopped.await;
    }));
    let topics = dir.path().join("data/log/topics.json");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&topics).is_ok_and(|t| t.contains("otlp_spans")) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "telemetry topics not created"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(dir.path().join("data/log/.clean-shutdown").exists());
}
