//! Every command in the `sh` blocks of README.md and docs/*.md runs as
//! shown, in the order shown, and succeeds.
//!
//! The commands run in a scratch directory (with `deploy/` linked in, so
//! relative paths resolve) on the default ports and data dir, as a user
//! following the README would. Substitutions, all mechanical:
//! `cargo run --release --` is the `weir` binary this test was built with
//! (the same CLI); `weir` is that binary too; `<id>` is the silence id the
//! preceding `weir silences add` printed and `<pid>` the server's pid.
//! Commands that run until interrupted (`serve`, `logs tail`) are run for
//! a few seconds and must not have failed by then. `scripts/test` is the
//! command that runs this test, so it is the one line not run here.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a command that runs until interrupted is given.
const FOREVER_FOR: Duration = Duration::from_secs(3);

fn blocks() -> Vec<(String, Vec<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut current: Option<Vec<String>> = None;
        for line in text.lines() {
            match (&mut current, line.trim_start()) {
                (None, "```sh") => current = Some(Vec::new()),
                (Some(_), "```") => out.push((file.display().to_string(), current.take().unwrap())),
                (Some(lines), l) => lines.push(l.to_owned()),
                _ => {}
            }
        }
    }
    out
}

/// The command of a line: comments (`#` at the start, or after two
/// spaces) removed; `None` for comment-only and empty lines.
fn command(line: &str) -> Option<String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let cut = line.find("  #").map_or(line, |at| &line[..at]);
    Some(cut.trim().to_owned())
}

struct Scratch {
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::os::unix::fs::symlink(root.join("deploy"), dir.path().join("deploy")).unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_weir"), bin.join("weir")).unwrap();
        Scratch { dir, bin }
    }

    fn shell(&self, text: &str) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg("-o").arg("pipefail").arg("-c").arg(text);
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.current_dir(self.dir.path())
            .env("PATH", path)
            .env_remove("RUST_LOG");
        cmd
    }
}

fn run(scratch: &Scratch, text: &str, where_: &str) -> String {
    let output = scratch.shell(text).stdin(Stdio::null()).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{where_}: `{text}` failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Starts `text` and checks it is still running (or exited 0) after
/// [`FOREVER_FOR`]; returns the child, still running, for `serve`.
fn run_for_a_while(scratch: &Scratch, text: &str, where_: &str) -> Child {
    let mut child = scratch
        .shell(&format!("exec {text}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + FOREVER_FOR;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            assert!(
                status.success(),
                "{where_}: `{text}` exited with {status}:\n{err}"
            );
            return child;
        }
        thread::sleep(Duration::from_millis(50));
    }
    child
}

/// Kills the child if the test ends without interrupting it, so a failed
/// run leaves no server holding the default ports.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn interrupt(mut child: Child) {
    // SAFETY: kill(2) on our own child's pid has no memory effects.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let status = child.wait().unwrap();
    // Stopping cleanly, or ended by the signal as Ctrl-C ends a tail.
    let by_sigint = std::os::unix::process::ExitStatusExt::signal(&status) == Some(libc::SIGINT);
    assert!(status.success() || by_sigint, "exit after SIGINT: {status}");
}

fn wait_ready() {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let ok = Command::new("curl")
            .args(["-fsS", "http://127.0.0.1:7070/ready"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return;
        }
        thread::sleep(Duration::from_millis(100));
    }
    panic!("the server from the README never became ready on 127.0.0.1:7070");
}

#[test]
fn every_documented_command_works_as_shown() {
    let kcat = Path::new("/usr/bin/kcat").exists();
    if !kcat {
        assert!(
            std::env::var_os("CI").is_none(),
            "kcat is missing: scripts/setup-interop installs it"
        );
    }
    let scratch = Scratch::new();
    let mut server = Running(None);
    let mut silence = String::new();
    let mut ran = 0;
    for (file, lines) in blocks() {
        for (n, line) in lines.iter().enumerate() {
            let Some(mut text) = command(line) else {
                continue;
            };
            let where_ = format!("{file} block line {}", n + 1);
            text = text.replace("cargo run --release -- ", "weir ");
            if text == "scripts/test" {
                continue; // the command that runs this test
            }
            if text.starts_with("export ") {
                run(&scratch, &text, &where_);
                ran += 1;
                continue;
            }
            if text.contains("kcat") && !kcat {
                eprintln!("skipped (no kcat): {text}");
                continue;
            }
            if text.starts_with("weir serve") {
                // A second serve replaces the first (the data dir is the same).
                if let Some(old) = server.0.take() {
                    interrupt(old);
                }
                server.0 = Some(run_for_a_while(&scratch, &text, &where_));
                wait_ready();
                ran += 1;
                continue;
            }
            if text.starts_with("weir log ") {
                // The offline tools refuse while a server holds the lock:
                // the README says so, and they run after it stops.
                if let Some(old) = server.0.take() {
                    interrupt(old);
                }
            }
            if text.starts_with("weir logs tail") {
                interrupt(run_for_a_while(&scratch, &text, &where_));
                ran += 1;
                continue;
            }
            if text.contains("<id>") {
                assert!(
                    !silence.is_empty(),
                    "{where_}: no silence id from an earlier line"
                );
                text = text.replace("<id>", &silence);
            }
            if text.contains("<pid>") {
                let pid = server.0.as_ref().expect("a running server").id();
                text = text.replace("<pid>", &pid.to_string());
            }
            let out = run(&scratch, &text, &where_);
            if text.starts_with("weir silences add") {
                silence = out.trim().to_owned();
            }
            ran += 1;
        }
    }
    if let Some(old) = server.0.take() {
        interrupt(old);
    }
    assert!(ran > 30, "only {ran} commands found in the docs");
    eprintln!("{ran} documented commands ran");
}
