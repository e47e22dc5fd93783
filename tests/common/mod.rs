//! Helpers for tests that run the `weir` binary.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to become ready or to stop.
const SERVER_TIMEOUT: Duration = Duration::from_secs(30);

/// A configuration for tests: every listener on a kernel-chosen loopback
/// port, so tests never collide.
pub const TEST_CONFIG: &str = r#"
[listen]
otlp_grpc = "127.0.0.1:0"
otlp_http = "127.0.0.1:0"
http = "127.0.0.1:0"
kafka = "127.0.0.1:0"
"#;

pub fn weir() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_weir"));
    command.env_remove("RUST_LOG");
    command
}

/// A temporary directory holding a data dir and a test config file.
pub struct Workspace {
    pub root: tempfile::TempDir,
    pub data_dir: PathBuf,
    pub config: PathBuf,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace::with_config(TEST_CONFIG)
    }

    pub fn with_config(text: &str) -> Workspace {
        let root = tempfile::tempdir().expect("temp dir");
        let data_dir = root.path().join("data");
        let config = root.path().join("weir.toml");
        std::fs::write(&config, text).expect("write config");
        Workspace {
            root,
            data_dir,
            config,
        }
    }

    /// `weir <args> --config <config> --data-dir <data_dir>`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = weir();
        command
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .arg("--data-dir")
            .arg(&self.data_dir);
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Output::of(self.command(args).stdin(Stdio::null()))
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn weir");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin)
            .expect("write stdin");
        Output::from(child.wait_with_output().expect("wait for weir"))
    }

    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("log")
    }
}

/// What a finished `weir` printed.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn of(command: &mut Command) -> Output {
        Output::from(command.output().expect("run weir"))
    }

    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("weir died by a signal: {self:?}"))
    }

    /// Asserts the exit code, showing everything printed when it differs.
    pub fn expect_code(&self, code: i32) -> &Output {
        assert_eq!(
            self.status.code(),
            Some(code),
            "exit code of weir; stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

impl From<std::process::Output> for Output {
    fn from(output: std::process::Output) -> Output {
        Output {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// A running `weir serve`, killed if the test ends without stopping it.
pub struct Server {
    child: Option<Child>,
    stderr: mpsc::Receiver<String>,
    /// Every stderr line seen so far.
    pub log: Vec<String>,
}

impl Server {
    /// Starts `weir serve` and waits until it logs that it is ready.
    pub fn start(workspace: &Workspace) -> Server {
        let child = workspace
            .command(&["serve"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn weir serve");
        let mut server = Server::attach(child);
        server.wait_for_line("weir is ready");
        server
    }

    fn attach(mut child: Child) -> Server {
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Server {
            child: Some(child),
            stderr: rx,
            log: Vec::new(),
        }
    }

    /// Waits (bounded) for a stderr line containing `needle`.
    pub fn wait_for_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + SERVER_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line containing {needle:?} from weir serve; stderr so far:\n{}",
                    self.log.join("\n")
                ),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The address `listener` (`http`, `otlp_grpc`, `otlp_http`) is bound
    /// to, as the readiness line reports it: with port 0 in the config, the
    /// port the kernel picked.
    pub fn listen_address(&self, listener: &str) -> SocketAddr {
        let ready = self
            .log
            .iter()
            .find(|l| l.contains("weir is ready"))
            .expect("the server has logged that it is ready");
        ready_address(ready, listener)
    }

    /// Sends `signal` and waits (bounded) for the process to exit.
    pub fn stop(mut self, signal: i32) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        let sent = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        assert_eq!(sent, 0, "kill({}, {signal})", child.id());
        let deadline = Instant::now() + SERVER_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("wait for weir serve") {
                while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(1)) {
                    self.log.push(line);
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "weir serve did not exit after signal {signal}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The address of `listener` in a readiness line
/// (`weir is ready ... http=ADDR otlp_grpc=ADDR otlp_http=ADDR`), coloured
/// or not.
pub fn ready_address(line: &str, listener: &str) -> SocketAddr {
    let field = format!("{listener}=");
    let plain = strip_ansi(line);
    let value = plain
        .split_whitespace()
        .find_map(|token| token.strip_prefix(&field))
        .unwrap_or_else(|| panic!("no {field}ADDR in the readiness line: {plain}"));
    value
        .parse()
        .unwrap_or_else(|e| panic!("{field}{value} in the readiness line: {e}"))
}

/// `line` without ANSI escape sequences (tracing colours its fields when
/// stderr is a terminal).
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters... final byte in @..=~.
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Every record of every partition of `topic`, read from a data dir no
/// server holds (read-only: nothing on disk changes).
pub fn topic_records(data_dir: &Path, topic: &str) -> Vec<log_core::Record> {
    let config = log_core::LogConfig::default();
    let max_batch_bytes = config.max_batch_bytes;
    let (log, _) = log_core::Log::open(data_dir, config, log_core::OpenMode::ReadOnly)
        .expect("open the log read-only");
    let topic_handle = log
        .topic(topic)
        .unwrap_or_else(|| panic!("topic {topic} exists"));
    let mut records = Vec::new();
    for partition in topic_handle.partitions() {
        let mut offset = partition.log_start();
        while offset < partition.high_watermark() {
            let fetched = partition.read(offset, 1 << 20).expect("read a partition");
            let batch_end = fetched
                .batches()
                .map(|(header, _)| header.next_offset())
                .max()
                .unwrap_or_else(|| panic!("no batch of {topic} at offset {offset}"));
            for record in fetched.records(max_batch_bytes) {
                let record = record.expect("decode a record");
                offset = record.offset + 1;
                records.push(record);
            }
            offset = offset.max(batch_end);
        }
    }
    records
}

/// The Python of the interop virtualenv that `scripts/setup-interop`
/// installs the real peers into.
pub fn interop_python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup-interop to install the interop peers",
        python.display()
    );
    python
}

/// The path of `name` in partition `partition` of `topic`.
pub fn segment_file(log_dir: &Path, topic: &str, partition: u32, name: &str) -> PathBuf {
    log_dir.join(format!("{topic}-{partition}")).join(name)
}
