//! Exactly-once indexing across crashes: `weir loadgen` sends log records
//! to `weir serve` until every one is acknowledged, then the server is
//! SIGKILLed while its indexers are still catching up, twice, and
//! restarted. Once indexing finishes, the log index must hold exactly one
//! document per acknowledged log record: none lost, none duplicated by
//! the replays. A clean restart afterwards must change nothing, and
//! `weir logs reindex` must rebuild the same count from the log.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Server, TEST_CONFIG, Workspace, weir};
use serde_json::Value;

/// Log records sent: enough that a debug build is still indexing when the
/// first kill lands.
const REQUESTS: u64 = 40;
const BATCH: u64 = 500;
const INDEXED_TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn sigkill_during_indexing_loses_and_duplicates_nothing() {
    let config = format!("{TEST_CONFIG}\n[logs]\ncommit_interval = \"100ms\"\n");
    let workspace = Workspace::with_config(&config);
    let mut server = Server::start(&workspace);
    let acknowledged = send(&server);
    assert_eq!(
        acknowledged,
        REQUESTS * BATCH,
        "every record is acknowledged"
    );

    for round in 0..2 {
        let hits = count(server.listen_address("http"));
        eprintln!("round {round}: {hits} of {acknowledged} indexed at the kill");
        server.stop(libc::SIGKILL);
        server = Server::start(&workspace);
        // Let the indexers replay and commit a little before the next kill.
        std::thread::sleep(Duration::from_millis(300));
    }

    let http = server.listen_address("http");
    wait_for_count(http, acknowledged);
    // Nothing more arrives: a replay that duplicated documents would show
    // up as commits past the acknowledged count.
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(
        count(http),
        acknowledged,
        "documents after indexing settled"
    );
    let status = server.stop(libc::SIGTERM);
    assert_eq!(status.code(), Some(0));

    let server = Server::start(&workspace);
    assert_eq!(
        count(server.listen_address("http")),
        acknowledged,
        "documents after a clean restart"
    );
    server.stop(libc::SIGTERM);

    let output = workspace.run(&["logs", "reindex"]);
    output.expect_code(0);
    let server = Server::start(&workspace);
    assert_eq!(
        count(server.listen_address("http")),
        acknowledged,
        "documents after weir logs reindex; stdout: {}",
        output.stdout
    );
    server.stop(libc::SIGTERM);
}

/// Runs `weir loadgen` against the server; returns the records it saw
/// acknowledged.
fn send(server: &Server) -> u64 {
    let endpoint = format!("http://{}", server.listen_address("otlp_grpc"));
    let output = weir()
        .args(["loadgen", "--signal", "logs", "--endpoint", &endpoint])
        .args(["--requests", &REQUESTS.to_string()])
        .args(["--batch-size", &BATCH.to_string()])
        .args(["--concurrency", "4"])
        .output()
        .expect("run weir loadgen");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "loadgen failed: {stdout}");
    let report: BTreeMap<&str, &str> = stdout
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    assert_eq!(
        report.get("requests_failed").copied(),
        Some("0"),
        "{stdout}"
    );
    report["records_acknowledged"].parse().expect("a count")
}

/// Documents of tenant `default` in the index (all time).
fn count(http: SocketAddr) -> u64 {
    let url = format!("http://{http}/api/v1/logs/search?query=*&limit=0&start=0");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = reqwest::get(&url).await.expect("search");
        assert!(response.status().is_success(), "{}", response.status());
        let answer: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        answer["num_hits"].as_u64().expect("num_hits")
    })
}

fn wait_for_count(http: SocketAddr, want: u64) {
    let deadline = Instant::now() + INDEXED_TIMEOUT;
    loop {
        let found = count(http);
        assert!(
            found <= want,
            "{found} documents for {want} records: duplicates"
        );
        if found == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {found} of {want} records indexed after {INDEXED_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
