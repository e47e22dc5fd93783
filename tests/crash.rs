//! Crash test: a `weir log produce` child appends under the `fsync` policy
//! and prints each acknowledged offset; it is SIGKILLed at random moments.
//! After every kill, every acknowledged record must read back byte-identical,
//! no acknowledged offset may be reused, and appends must continue.
//!
//! The producer keeps up to 32 appends in flight, so kills land while
//! batches wait in the partition's pending buffer and in sync rounds, and
//! small segments make them land during segment rolls too. The random
//! schedule is seeded; set `WEIR_CRASH_SEED` to replay one, and
//! `WEIR_CRASH_ROUNDS` to run longer.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use log_core::{Log, LogConfig, OpenMode};

const TOPIC: &str = "crash";
const DEFAULT_ROUNDS: u64 = 24;

fn weir() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weir"))
}

fn spawn_producer(data_dir: &Path, config: &Path) -> Child {
    weir()
        .args([
            "log",
            "produce",
            TOPIC,
            "--key",
            "k",
            "--partition",
            "0",
            "--in-flight",
            "32",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn weir log produce")
}

/// xorshift64, seeded per run so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Reads every record of partition 0 (read-only: nothing on disk changes).
fn read_back(data_dir: &Path) -> BTreeMap<u64, Vec<u8>> {
    let (log, _) =
        Log::open(data_dir, LogConfig::default(), OpenMode::ReadOnly).expect("open read-only");
    let partition = log.partition(TOPIC, 0).expect("partition 0");
    let mut out = BTreeMap::new();
    let mut offset = partition.log_start();
    while offset < partition.high_watermark() {
        let fetched = partition.read(offset, 1 << 20).expect("read");
        assert!(
            !fetched.is_empty(),
            "no batch at offset {offset} below the high watermark"
        );
        for record in fetched.records(64 << 20) {
            let record = record.expect("decode");
            offset = record.offset + 1;
            out.insert(record.offset, record.value.expect("value").to_vec());
        }
    }
    out
}

#[test]
fn sigkill_never_loses_an_acknowledged_record() {
    let seed: u64 = std::env::var("WEIR_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    let rounds: u64 = std::env::var("WEIR_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_ROUNDS);
    eprintln!("crash test seed {seed} ({rounds} rounds)");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let config = dir.path().join("weir.toml");
    std::fs::write(
        &config,
        "[log]\ndurability = \"fsync\"\n[log.topic_defaults]\npartitions = 1\nsegment_bytes = 16384\n",
    )
    .unwrap();

    let mut acknowledged: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for round in 0..rounds {
        let mut child = spawn_producer(&data_dir, &config);
        let mut stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        // Feed distinct lines until the child dies (the pipe breaks).
        let writer = thread::spawn(move || {
            let mut sent = Vec::new();
            for i in 0.. {
                let line = format!("round {round} line {i} {}", "x".repeat(i % 300));
                if stdin
                    .write_all(line.as_bytes())
                    .and_then(|_| stdin.write_all(b"\n"))
                    .is_err()
                {
                    break;
                }
                sent.push(line);
                if i > 200_000 {
                    break;
                }
            }
            sent
        });
        let (ack_tx, ack_rx) = mpsc::channel();
        let reader = thread::spawn(move || {
            let mut acks = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let offset: u64 = line
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("not an offset: {line:?}"));
                acks.push(offset);
                let _ = ack_tx.send(());
            }
            acks
        });
        // Kill at a random moment after the first acknowledgement, so that
        // every round proves appends continue after the previous crash.
        if ack_rx.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "round {round}: no acknowledgement within 30 s; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        thread::sleep(Duration::from_millis(rng.next() % 250));
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let acks = reader.join().unwrap();
        let sent = writer.join().unwrap();
        assert!(!acks.is_empty(), "round {round}: nothing acknowledged");
        for (line, offset) in acks.iter().enumerate() {
            let previous = acknowledged.insert(*offset, sent[line].clone().into_bytes());
            assert!(
                previous.is_none(),
                "round {round}: offset {offset} acknowledged twice (reused)"
            );
        }
        let stored = read_back(&data_dir);
        for (offset, value) in &acknowledged {
            let got = stored.get(offset).unwrap_or_else(|| {
                panic!("round {round}: acknowledged offset {offset} lost (seed {seed})")
            });
            assert_eq!(
                got, value,
                "round {round}: offset {offset} differs (seed {seed})"
            );
        }
        eprintln!(
            "round {round}: {} acknowledged, {} stored in total",
            acks.len(),
            stored.len()
        );
    }
    // A final read-write open recovers cleanly and keeps everything.
    let (log, report) = Log::open(&data_dir, LogConfig::default(), OpenMode::ReadWrite).unwrap();
    assert!(!report.clean_shutdown);
    drop(log);
    let stored = read_back(&data_dir);
    for (offset, value) in &acknowledged {
        assert_eq!(
            stored.get(offset),
            Some(value),
            "offset {offset} after final recovery"
        );
    }
}
