//! `weir logs ...`: the log index from the command line.
//!
//! `search` and `tail` are clients of a running server's native search API
//! (`--server`, default: the configured `listen.http` on loopback), so
//! they work while `weir serve` runs and see exactly what the API serves.
//! `reindex` is offline: it takes the data dir's lock, deletes the log
//! index and rebuilds it from the start of `otlp_logs`.
//!
//! # Layout
//! - [`search`]: `search`, one request, hits printed newest first.
//! - [`tail`]: `tail`, the server-sent events of `/api/v1/logs/tail`.
//! - [`reindex`]: `reindex`, with a progress bar on stderr.

mod reindex;
mod search;
mod tail;

use std::net::SocketAddr;
use std::process::ExitCode;

use serde_json::Value;

use crate::cli::{LogsArgs, LogsCommand};
use crate::config::Settings;
use crate::diagnostics;

/// Runs one `weir logs` command.
pub fn run(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(
        args.config.config.as_deref(),
        args.config.data_dir.as_deref(),
    )?;
    diagnostics::init_tracing("warn");
    let server = args
        .server
        .unwrap_or_else(|| format!("http://{}", loopback(settings.listen.http)));
    let server = server.trim_end_matches('/').to_owned();
    match args.command {
        LogsCommand::Search(search) => search::run(&server, args.token.as_deref(), &search),
        LogsCommand::Tail { query, json } => {
            tail::run(&server, args.token.as_deref(), query.as_deref(), json)
        }
        LogsCommand::Reindex => reindex::run(&settings),
    }
}

/// Where a local client reaches a listener bound to `address`.
pub(crate) fn loopback(address: SocketAddr) -> SocketAddr {
    let mut address = address;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    address
}

/// One hit as a line: time, service, severity, body.
fn hit_line(hit: &Value) -> String {
    let nanos = hit["timestamp_nanos"].as_i64().unwrap_or(0);
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos.max(0) as u64);
    format!(
        "{} {} {} {}",
        humantime::format_rfc3339_millis(time),
        hit["service_name"].as_str().unwrap_or(""),
        hit["severity_text"].as_str().unwrap_or(""),
        hit["body"].as_str().unwrap_or(""),
    )
}
