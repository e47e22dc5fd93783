//! Day-two lifecycle: a SIGTERM under load loses no acknowledged record,
//! and after a SIGKILL `/ready` stays false until recovery has finished.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Server, Workspace};

fn field(report: &str, name: &str) -> u64 {
    report
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in the loadgen report:\n{report}"))
        .trim()
        .parse()
        .unwrap()
}

/// `GET path` over a fresh connection; the status code, or `None` when
/// nothing answers.
fn status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: weir\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn searchable(addr: SocketAddr) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let body: serde_json::Value = reqwest::get(format!(
            "http://{addr}/api/v1/logs/search?query=*&limit=0&since=1h"
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        body["num_hits"].as_u64().unwrap()
    })
}

#[test]
fn sigterm_under_load_loses_no_acknowledged_record() {
    let ws = Workspace::new();
    let server = Server::start(&ws);
    let otlp = server.listen_address("otlp_http");
    let loadgen = common::weir()
        .args([
            "loadgen",
            "--signal",
            "logs",
            "--protocol",
            "http",
            "--concurrency",
            "8",
        ])
        .args(["--batch-size", "100", "--duration", "6s", "--endpoint"])
        .arg(format!("http://{otlp}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start weir loadgen");
    thread::sleep(Duration::from_secs(2));
    let stopped = server.stop(libc::SIGTERM);
    assert!(stopped.success(), "weir serve exited with {stopped}");
    let report = loadgen.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&report.stdout).into_owned();
    let acknowledged = field(&report, "records_acknowledged");
    let rejected = field(&report, "records_rejected");
    assert!(acknowledged > 1000, "the load was real: {report}");

    // Everything acknowledged is in the log, hence indexed after the
    // restart.
    let server = Server::start(&ws);
    let http = server.listen_address("http");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut found = searchable(http);
    while found < acknowledged - rejected && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(250));
        found = searchable(http);
    }
    eprintln!(
        "{acknowledged} acknowledged ({rejected} rejected), {found} searchable after the restart"
    );
    assert!(
        found >= acknowledged - rejected,
        "{found} of {acknowledged} acknowledged records survived"
    );
    assert!(server.stop(libc::SIGTERM).success());
}

#[test]
fn after_a_sigkill_ready_waits_for_recovery() {
    let http_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = common::TEST_CONFIG.replace(
        "\nhttp = \"127.0.0.1:0\"",
        &format!("\nhttp = \"127.0.0.1:{http_port}\""),
    );
    let ws = Workspace::with_config(&config);
    let server = Server::start(&ws);
    let otlp = server.listen_address("otlp_http");
    let load = common::weir()
        .args([
            "loadgen",
            "--signal",
            "logs",
            "--protocol",
            "http",
            "--requests",
            "400",
            "--endpoint",
        ])
        .arg(format!("http://{otlp}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(load.success());
    let killed = server.stop(libc::SIGKILL);
    assert!(!killed.success());

    let addr: SocketAddr = format!("127.0.0.1:{http_port}").parse().unwrap();
    let (tx, rx) = mpsc::channel();
    let poller = thread::spawn(move || {
        // (when, /health, /ready) until /ready answers 200.
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let ready = status(addr, "/ready");
            let health = status(addr, "/health");
            let _ = tx.send((Instant::now(), health, ready));
            if ready == Some(200) {
                return;
            }
            thread::sleep(Duration::from_millis(2));
        }
    });
    let mut child = ws
        .command(&["serve"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut recovered_at = None;
    let mut unclean = false;
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.contains("recovery finished") {
            recovered_at = Some(Instant::now());
            unclean = line.contains("clean_shutdown=false")
                || line.contains("clean_shutdown\u{1b}[0m\u{1b}[2m=\u{1b}[0mfalse");
        }
        if line.contains("weir is ready") {
            break;
        }
    }
    poller.join().unwrap();
    let samples: Vec<_> = rx.try_iter().collect();
    // SAFETY: kill(2) on our own child's pid has no memory effects.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let _ = child.wait();
    let recovered_at = recovered_at.expect("a recovery line");
    assert!(unclean, "the restart after SIGKILL is an unclean one");
    let first_ready = samples
        .iter()
        .find(|(_, _, ready)| *ready == Some(200))
        .map(|(at, ..)| *at)
        .expect("/ready turned 200");
    assert!(
        first_ready >= recovered_at,
        "/ready answered 200 before recovery finished"
    );
    let not_ready_while_up = samples
        .iter()
        .filter(|(at, health, ready)| {
            *at < first_ready && *health == Some(200) && *ready == Some(503)
        })
        .count();
    eprintln!(
        "{} polls; /health up and /ready 503 in {not_ready_while_up} of them before ready",
        samples.len()
    );
}
