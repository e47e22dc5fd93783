//! A full disk: requests are refused with 503 and a retry hint, nothing
//! crashes, every record acknowledged before is intact, and once space is
//! freed requests succeed again without a restart.
//!
//! The data dir lives on a 4 MiB tmpfs, so the test needs root (to mount
//! it), as the test command and CI have.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Server, TEST_CONFIG, Workspace};

const TMPFS_BYTES: u64 = 4 << 20;

/// A tmpfs mounted for the test's lifetime.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={TMPFS_BYTES}")])
            .arg("tmpfs")
            .arg(at)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (the test command runs as root)"
        );
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// An OTLP/JSON logs request of about 64 KiB of incompressible text.
fn request(n: u64) -> String {
    let mut state = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let body: String = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            format!("{:016x}", state)
        })
        .collect();
    format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"filler"}}}}]}},"scopeLogs":[{{"logRecords":[{{"body":{{"stringValue":"request {n} {body}"}}}}]}}]}}]}}"#
    )
}

/// Posts the `n`-th request.
async fn post(client: &reqwest::Client, endpoint: &str, n: u64) -> reqwest::Response {
    client
        .post(endpoint)
        .header("content-type", "application/json")
        .body(request(n))
        .send()
        .await
        .expect("send")
}

#[test]
fn a_full_disk_gets_503_with_a_retry_hint_and_keeps_what_was_acknowledged() {
    let workspace = Workspace::with_config(TEST_CONFIG);
    let _tmpfs = Tmpfs::mount(&workspace.data_dir);
    // Ballast the operator will delete to free space.
    let ballast = workspace.data_dir.join("ballast");
    std::fs::write(&ballast, vec![0u8; 1 << 20]).unwrap();
    let server = Server::start(&workspace);
    let endpoint = format!("http://{}/v1/logs", server.listen_address("otlp_http"));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (acknowledged, refusal) = runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut acknowledged = 0u64;
        // 4 MiB hold about 64 such requests; stop well past that.
        for n in 0..400 {
            let response = post(&client, &endpoint, n).await;
            if response.status() == 200 {
                acknowledged += 1;
                continue;
            }
            let status = response.status();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = response.text().await.unwrap();
            return (acknowledged, Some((status, retry_after, body)));
        }
        (acknowledged, None)
    });
    let (status, retry_after, body) = refusal.expect("the disk never filled up");
    assert_eq!(status, 503, "{body}");
    assert!(retry_after.is_some(), "503 without Retry-After");
    assert!(
        body.to_lowercase().contains("space"),
        "the message says the disk is full: {body}"
    );
    assert!(acknowledged > 10, "only {acknowledged} requests fitted");

    // Still serving (refusing, not crashed), and the metrics say so.
    let metrics = runtime.block_on(async {
        reqwest::get(format!("http://{}/metrics", server.listen_address("http")))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert!(metrics.contains("outcome=\"unavailable\""), "{metrics}");

    // Space freed: appends go on, no restart needed.
    std::fs::remove_file(&ballast).unwrap();
    let after = runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut statuses = Vec::new();
        for n in 1000..1005 {
            statuses.push(post(&client, &endpoint, n).await.status().as_u16());
        }
        statuses
    });
    assert_eq!(after, [200; 5], "requests after space was freed");
    let acknowledged = acknowledged + 5;
    server.stop(libc::SIGTERM);

    let stored = common::topic_records(&workspace.data_dir, "otlp_logs");
    assert_eq!(
        stored.len() as u64,
        acknowledged,
        "every acknowledged request is stored once, and nothing else"
    );
}
